import math
import os
import sys
import unittest

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import calibrate  # noqa: E402
import metrics  # noqa: E402


def trials(gen, syn):
    scores = np.array(list(gen) + list(syn), dtype=float)
    targets = np.array([0] * len(gen) + [1] * len(syn), dtype=float)
    return scores, targets


class MetricsTest(unittest.TestCase):
    def test_eer_known_examples(self):
        self.assertAlmostEqual(metrics.eer(*trials([0, 1, 2], [3, 4, 5])), 0.0)
        self.assertAlmostEqual(metrics.eer(*trials([3, 4, 5], [0, 1, 2])), 1.0)
        # At threshold 4 one of four genuine is flagged and one of four synthetic is missed.
        self.assertAlmostEqual(metrics.eer(*trials([1, 2, 3, 4], [3.5, 5, 6, 7])), 0.25)

    def test_eer_of_identical_distributions_is_half(self):
        rng = np.random.default_rng(0)
        s = rng.standard_normal(40000)
        self.assertAlmostEqual(metrics.eer(*trials(s[:20000], s[20000:])), 0.5, delta=0.01)

    def test_min_dcf_known_example(self):
        # Best threshold 2: no genuine flagged, half the synthetic missed:
        # 10 * 0.05 * 0.5 = 0.25, normalised by min(0.95, 0.5) -> 0.5.
        self.assertAlmostEqual(metrics.min_dcf(*trials([0, 1], [0.5, 2])), 0.5)
        self.assertAlmostEqual(metrics.min_dcf(*trials([0, 1], [2, 3])), 0.0)

    def test_act_dcf_uses_bayes_threshold(self):
        self.assertAlmostEqual(metrics.bayes_threshold_llr(), math.log(1.9))
        self.assertAlmostEqual(metrics.act_dcf(*trials([0.0], [1.0])), 0.0)
        # A genuine trial at 0.7 > log(1.9) is flagged: 0.95 / 0.5.
        self.assertAlmostEqual(metrics.act_dcf(*trials([0.7], [1.0])), 1.9)

    def test_cllr_known_values(self):
        self.assertAlmostEqual(metrics.cllr(*trials([0.0], [0.0])), 1.0)
        self.assertAlmostEqual(metrics.cllr(*trials([-math.log(3)], [math.log(3)])),
                               math.log2(4 / 3))
        self.assertLess(metrics.cllr(*trials([-30.0], [30.0])), 1e-10)


class CalibrateTest(unittest.TestCase):
    def test_recovers_known_affine_llr(self):
        # Genuine ~ N(0, 1), synthetic ~ N(mu, 1): the true LLR is mu * s - mu^2 / 2.
        rng = np.random.default_rng(1)
        mu = 2.0
        for n_gen, n_syn in ((20000, 20000), (40000, 8000)):
            gen = rng.standard_normal(n_gen)
            syn = rng.standard_normal(n_syn) + mu
            # A raw detector score that is an affine map of s: logit = 3 s - 1.
            scores, targets = trials(3 * gen - 1, 3 * syn - 1)
            a, b = calibrate.fit_affine(scores, targets)
            # llr = mu * (logit + 1) / 3 - mu^2 / 2
            self.assertAlmostEqual(a, mu / 3, delta=0.03)
            self.assertAlmostEqual(b, mu / 3 - mu * mu / 2, delta=0.06)

    def test_calibration_lowers_cllr_of_miscalibrated_scores(self):
        rng = np.random.default_rng(2)
        scores, targets = trials(rng.standard_normal(5000) * 4 + 7,
                                 rng.standard_normal(5000) * 4 + 15)
        a, b = calibrate.fit_affine(scores, targets)
        llr = calibrate.apply_affine(scores, a, b)
        self.assertLess(metrics.cllr(llr, targets), metrics.cllr(scores, targets))
        self.assertLess(metrics.cllr(llr, targets), 1.0)

    def test_separable_data_gives_finite_parameters(self):
        a, b = calibrate.fit_affine(*trials([0, 1, 2], [10, 11, 12]))
        self.assertTrue(math.isfinite(a) and math.isfinite(b) and a > 0)

    def test_call_means(self):
        llr = np.array([1.0, 3.0, 5.0, -2.0])
        clip = np.array([0, 0, 0, 2])
        seen = np.array([100, 150, 200, 100])
        full = calibrate.call_means(llr, clip, seen, 3)
        self.assertEqual(full[0], 3.0)
        self.assertTrue(np.isnan(full[1]))
        self.assertEqual(full[2], -2.0)
        self.assertEqual(calibrate.call_means(llr, clip, seen, 3, upto_frames=150)[0], 2.0)

    def test_threshold_flags_at_most_one_percent(self):
        rng = np.random.default_rng(3)
        probs = rng.uniform(size=1000)
        t = calibrate.choose_threshold(probs, 0.01)
        self.assertLessEqual(np.mean(probs >= t), 0.01)
        self.assertEqual(int(np.sum(probs >= t)), 10)
        # Smallest such threshold: the 11th largest genuine probability would be flagged below it.
        self.assertGreater(np.mean(probs >= np.sort(probs)[-11]), 0.01)
        # With 50 clips, no clip may be flagged.
        p = np.linspace(0, 0.9, 50)
        self.assertEqual(int(np.sum(p >= calibrate.choose_threshold(p))), 0)

    def test_threshold_leaves_room_for_onnx_runtime_to_score_a_little_higher(self):
        # The clip just under the threshold must stay under it when another runtime scores it
        # 2e-5 higher (PyTorch and ONNX Runtime logits differ by that much).
        p = np.linspace(0.0, 0.8, 200)
        t = calibrate.choose_threshold(p, 0.01)
        flagged = int(np.sum(p >= t))
        self.assertEqual(int(np.sum(p + 2e-5 >= t)), flagged)
        self.assertLess(t - np.sort(p)[-3], 2e-4)  # still the smallest threshold, within the margin


if __name__ == "__main__":
    unittest.main()
