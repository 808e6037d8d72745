import contextlib
import io
import os
import sys
import tempfile
import unittest

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

import accumulation  # noqa: E402
from fake_dump import write_scored_clips  # noqa: E402


def write_split(root: str, manifest_rows: list, lines: list, split: str, n: int, seed: int):
    """n clips per class, 1-12 windows each; every window LLR is independent, +-0.4 plus noise
    of standard deviation 1.5, so a sum of windows (gamma 1) is the exact call LLR."""
    rng = np.random.default_rng(seed)
    for i in range(2 * n):
        synthetic = i >= n
        path = f"clips/{split}/{'syn' if synthetic else 'gen'}{i}.wav"
        manifest_rows.append(f"{path},{'synthetic' if synthetic else 'genuine'},{split},src,"
                             f"spk,{'tts' if synthetic else 'bonafide'},mulaw,GPL,3.0")
        windows = int(rng.integers(1, 13))
        llrs = rng.normal(0.4 if synthetic else -0.4, 1.5, size=windows)
        timeline = [{"speech_seconds": 1.0 + 0.5 * k, "window_llr": float(v)}
                    for k, v in enumerate(llrs)]
        lines.append({"file": os.path.join(root, path), "llr": float(llrs.mean()),
                      "speech_seconds": 1.0 + 0.5 * (windows - 1) + 0.2, "timeline": timeline})
    # A clip under 1 s of speech has no score and is left out.
    lines.append({"file": os.path.join(root, f"clips/{split}/gen0.wav"), "llr": None,
                  "speech_seconds": 0.4, "timeline": []})


class AccumulationTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        root = cls.tmp.name
        rows, lines = [], []
        write_split(root, rows, lines, "dev", 300, seed=5)
        write_split(root, rows, lines, "test", 300, seed=6)
        cls.manifest, cls.jsonl = write_scored_clips(root, rows, lines, "timeline.jsonl")
        cls.splits = accumulation.load(cls.manifest, cls.jsonl)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_loads_the_scored_timelines_by_split(self):
        self.assertEqual(sorted(self.splits), ["dev", "test"])
        dev = self.splits["dev"]
        self.assertEqual(len(dev.windows), 600)  # the unscored line is left out
        self.assertEqual(sum(dev.target), 300)

    def test_gamma_zero_is_the_mean_and_a_condition_keeps_its_first_seconds(self):
        dev = self.splits["dev"]
        scores, _ = dev.scores(accumulation.Rule("gamma", 0.0), None)
        np.testing.assert_allclose(scores, [w.mean() for w in dev.windows])
        at_2s, _ = dev.scores(accumulation.Rule("gamma", 0.0), 2.0)
        long_enough = [w for w, s in zip(dev.windows, dev.speech) if s >= 2.0]
        self.assertEqual(len(at_2s), len(long_enough))
        np.testing.assert_allclose(at_2s, [w[:3].mean() for w in long_enough])  # 1, 1.5, 2 s
        summed, _ = dev.scores(accumulation.Rule("gamma", 1.0), None)
        np.testing.assert_allclose(summed, [w.sum() for w in dev.windows])
        shrunk, _ = dev.scores(accumulation.Rule("shrink", 2.0), None)
        np.testing.assert_allclose(shrunk, [w.mean() * w.size / (w.size + 2) for w in dev.windows])

    def test_with_independent_windows_the_sum_beats_the_mean(self):
        mean = accumulation.evaluate(accumulation.Rule("gamma", 0.0), *self.dev_test())
        total = accumulation.evaluate(accumulation.Rule("gamma", 1.0), *self.dev_test())
        self.assertLess(total["dev_cllr"], mean["dev_cllr"] - 0.02)
        self.assertLess(total["full"]["cllr"], mean["full"]["cllr"] - 0.02)
        # at a fixed number of seconds every clip has as many windows: the ranking is the same
        self.assertAlmostEqual(total[2.0]["eer"], mean[2.0]["eer"])
        self.assertLessEqual(mean["full"]["flagged"], 0.05)

    def test_shrinking_moves_from_the_mean_towards_the_sum(self):
        # n / (n + k) is the mean's weight at k = 0 and grows with n like the sum's (the exact
        # LLR here) as k grows, so with independent windows a larger k is better
        mean = accumulation.evaluate(accumulation.Rule("gamma", 0.0), *self.dev_test())
        none = accumulation.evaluate(accumulation.Rule("shrink", 0.0), *self.dev_test())
        some = accumulation.evaluate(accumulation.Rule("shrink", 1.0), *self.dev_test())
        more = accumulation.evaluate(accumulation.Rule("shrink", 4.0), *self.dev_test())
        self.assertAlmostEqual(none["dev_cllr"], mean["dev_cllr"])
        self.assertLess(some["dev_cllr"], mean["dev_cllr"] - 0.01)
        self.assertLess(more["dev_cllr"], some["dev_cllr"] - 0.01)

    def test_false_alarms_by_window_count_add_up_to_the_flagged_clips(self):
        rows = accumulation.flagged_by_windows(accumulation.Rule("gamma", 0.0), self.splits["dev"])
        self.assertEqual([r["windows"] for r in rows], ["1-2", "3-4", "5-8", "9-16", "17+"])
        self.assertEqual(sum(r["genuine"] for r in rows), 300)  # every genuine clip, once
        self.assertEqual(rows[-1]["genuine"], 0)  # the fake clips have at most 12 windows
        flagged = sum(r["flagged"] for r in rows)
        self.assertGreaterEqual(flagged, 1)
        self.assertLessEqual(flagged, 3)  # the threshold flags at most 1 % of 300

    def test_prints_one_line_per_rule(self):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            rc = accumulation.main([self.manifest, self.jsonl, "--gammas", "0,0.5",
                                    "--shrink", "2", "--by-windows"])
        self.assertEqual(rc, 0)
        lines = out.getvalue().splitlines()
        self.assertEqual(len(lines), 4)
        self.assertTrue(lines[3].startswith("dev genuine clips flagged, by windows"))
        self.assertTrue(lines[1].startswith("gamma 0.50 | dev Cllr"))
        self.assertTrue(lines[2].startswith("shrink 2.00 | dev Cllr"))
        self.assertIn("test full: EER", lines[0])

    def dev_test(self):
        return self.splits["dev"], self.splits["test"]


if __name__ == "__main__":
    unittest.main()
