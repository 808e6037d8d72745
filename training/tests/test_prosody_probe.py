import math
import os
import sys
import unittest
from pathlib import Path

import numpy as np

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads; see train.py

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "probes"))

import prosody_probe  # noqa: E402


def contour(f0: np.ndarray, energy: float = 60.0) -> np.ndarray:
    return np.stack([f0, np.full(len(f0), energy)], 1).astype(np.float32)


class FrameFeaturesTest(unittest.TestCase):
    def test_steady_voice_is_zero_but_for_voicing(self):
        f = prosody_probe.frame_features(contour(np.full(300, 150.0)))
        self.assertEqual(f.shape, (5, 300))
        np.testing.assert_array_equal(f[0], 1.0)
        np.testing.assert_allclose(f[1:], 0.0, atol=1e-6)

    def test_a_semitone_jump_and_unvoiced_frames(self):
        f0 = np.full(100, 200.0)
        f0[50:] = 200.0 * 2 ** (1 / 12)
        f0[80:90] = 0.0
        f = prosody_probe.frame_features(contour(f0))
        self.assertAlmostEqual(float(f[2, 50]), 20 * math.log(2) / 12, places=5)
        np.testing.assert_array_equal(f[2, 51:80], 0.0)
        np.testing.assert_array_equal(f[0, 80:90], 0.0)
        np.testing.assert_array_equal(f[1, 80:90], 0.0)
        # no step across the unvoiced gap, although F0 is the same on both sides
        self.assertEqual(float(f[2, 90]), 0.0)
        # log F0 less the mean over voiced frames: the two levels straddle zero
        self.assertLess(float(f[1, 10]), 0.0)
        self.assertGreater(float(f[1, 60]), 0.0)
        voiced = f[0] > 0
        self.assertAlmostEqual(float(f[1][voiced].mean()), 0.0, places=5)

    def test_energy_relative_to_the_loud_frames(self):
        energy = np.concatenate([np.full(50, 40.0), np.full(50, 60.0)])
        f = prosody_probe.frame_features(np.stack([np.zeros(100), energy], 1))
        self.assertAlmostEqual(float(f[3, 0]), -2.0, places=5)
        self.assertAlmostEqual(float(f[3, 99]), 0.0, places=5)
        self.assertAlmostEqual(float(f[4, 50]), 2.0, places=5)


class EnergyTest(unittest.TestCase):
    def test_constant_signal_and_frame_count(self):
        e = prosody_probe.energy_db(np.full(8000, 100.0, np.float32), 100)
        self.assertEqual(len(e), 100)
        # frame 10 covers samples 720..919: all 100
        self.assertAlmostEqual(float(e[10]), 10 * math.log10(100.0 ** 2 + 1), places=6)
        # frame 0 starts 10 ms before the signal: 80 of its 200 samples are padding
        self.assertAlmostEqual(float(e[0]), 10 * math.log10(0.6 * 100.0 ** 2 + 1), places=6)


class SelectionTest(unittest.TestCase):
    def test_speakers_need_both_classes_and_are_balanced(self):
        x = np.zeros((5, 300), np.float32)
        items = ([(x, 0, "a")] * 6 + [(x, 1, "a")] * 9 + [(x, 0, "b")] * 7
                 + [(x, 1, "c")] * 8 + [(x, 0, "d")] * 4 + [(x, 1, "d")] * 6)
        balanced = prosody_probe.same_speakers(items, balance=True)
        self.assertEqual([(y, s) for _, y, s in balanced], [(0, "a")] * 6 + [(1, "a")] * 6)
        self.assertEqual(len(prosody_probe.same_speakers(items, balance=False)), 15)

    def test_crops(self):
        self.assertEqual(len(prosody_probe.crops(np.zeros((5, 200)))), 1)
        long = np.arange(5 * 600, dtype=np.float32).reshape(5, 600)
        c = prosody_probe.crops(long)
        self.assertEqual([x.shape for x in c], [(5, prosody_probe.CROP)] * 3)
        self.assertEqual(float(c[0][0, 0]), 0.0)
        self.assertEqual(float(c[-1][0, -1]), 599.0)


class LearnsAnObviousContourTest(unittest.TestCase):
    """Smooth F0 against F0 that jumps every 120 ms: the probe's network must tell them apart."""

    @staticmethod
    def clip(jumpy: bool, rng: np.random.Generator) -> np.ndarray:
        n = 300
        t = np.arange(n)
        f0 = 150 * np.exp(0.1 * np.sin(2 * np.pi * t / rng.uniform(80, 200)))
        if jumpy:
            f0 *= np.exp(rng.choice([-0.15, 0.15], n // 12 + 1).repeat(12)[:n])
        return prosody_probe.frame_features(contour(f0, 50.0))

    def test_dev_eer_falls(self):
        import torch
        torch.set_num_threads(1)
        rng = np.random.default_rng(0)

        def items(n, speaker):
            return [(self.clip(y == 1, rng), y, speaker) for y in (0, 1) for _ in range(n)]

        data = {"train": items(24, "t"), "dev": items(10, "d"),
                "test_genuine": [self.clip(False, rng) for _ in range(6)],
                "test_unit_selection": [self.clip(True, rng) for _ in range(6)]}
        data["test_own_genuine"] = data["test_genuine"][:3]
        result = prosody_probe.run_seed(data, seed=1, epochs=3)
        self.assertEqual(len(result["dev_eer_per_epoch"]), 3)
        self.assertEqual(result["dev_eer"], min(result["dev_eer_per_epoch"]))
        self.assertLess(result["dev_eer"], 0.2)
        self.assertLess(result["test_unit_selection_vs_all_genuine_eer"], 0.3)
        self.assertEqual(len(result["scores"]["dev"]), 20)

    def test_average_of_runs_standardises_each_by_its_dev_scores(self):
        dev_labels = np.array([0, 0, 1, 1])

        def run(seed, scale, shift):
            def s(v):
                return (scale * np.asarray(v, float) + shift).tolist()
            return {"seed": seed, "scores": {
                "dev": s([0, 1, 2, 3]), "test_own_genuine": s([0, 1]), "test_genuine": s([0, 1, 1]),
                "test_unit_selection": s([2, 3])}}

        # the same ranking at two scales: the average ranks as either alone
        avg = prosody_probe.averaged([run(1, 1.0, 0.0), run(2, 10.0, -5.0)], dev_labels)
        self.assertEqual(avg["seeds"], [1, 2])
        self.assertEqual(avg["dev_eer"], 0.0)
        self.assertEqual(avg["test_unit_selection_vs_own_speaker_eer"], 0.0)
        # a second run that ranks everything the other way cancels the first exactly
        flat = prosody_probe.averaged([run(1, 1.0, 0.0), run(2, -1.0, 0.0)], dev_labels)
        self.assertEqual(flat["dev_eer"], 0.5)


class FuseTest(unittest.TestCase):
    """A contour score that sees concatenation, beside an LLR that sees everything else: fused on
    dev (with its concatenated clips), unit selection on test must be caught where the LLR alone
    misses it, and the other attacks must stay caught."""

    def test_the_contour_score_carries_unit_selection(self):
        import json
        import tempfile
        rng = np.random.default_rng(3)
        meta, llrs, clip_scores = [], [], {}
        kinds = {"dev": [("genuine", "bonafide", 60), ("synthetic", "tts", 40),
                         ("synthetic", prosody_probe.CONCAT, 40)],
                 "test": [("genuine", "bonafide", 60), ("synthetic", "tts", 40),
                          ("synthetic", prosody_probe.UNIT_SELECTION, 20)]}
        with tempfile.TemporaryDirectory() as d:
            for split, groups in kinds.items():
                for label, attack, n in groups:
                    for i in range(n):
                        path = os.path.join(d, f"{split}-{attack}-{i}.wav")
                        meta.append((path, label, split, attack, "s"))
                        joined = attack in (prosody_probe.CONCAT, prosody_probe.UNIT_SELECTION)
                        llr = rng.normal(3.0 if attack == "tts" else -3.0, 1.0)
                        llrs.append({"file": path, "llr": llr})
                        clip_scores[path] = rng.normal(2.0 if joined else -2.0, 0.7)
            np.savez(os.path.join(d, "p.npz"), meta=np.array(meta, dtype=object))
            dev_scores = [v for k, v in clip_scores.items() if "/dev-" in k]
            with open(os.path.join(d, "runs.json"), "w") as f:
                json.dump({"runs": [{"scores": {"dev": dev_scores}, "clips": clip_scores}]}, f)
            with open(os.path.join(d, "llrs.jsonl"), "w") as f:
                f.write("\n".join(json.dumps(j) for j in llrs) + "\n")
            out = prosody_probe.fuse(Path(d) / "p.npz", Path(d) / "runs.json",
                                     Path(d) / "llrs.jsonl")
        self.assertEqual(out["dev_concat"], 40)
        self.assertEqual(out["test_with_contour"], 120)
        alone, fused = out["detector"], out["detector+contour"]
        self.assertGreater(alone["test_unit_selection_eer"], 0.3)  # at chance: same LLRs as genuine
        self.assertLess(fused["test_unit_selection_eer"], 0.05)
        self.assertLess(fused["test_eer"], alone["test_eer"])
        self.assertLess(fused["test_eer_without_unit_selection"], 0.05)
        self.assertGreater(fused["test_synthetic_caught"], 0.9)


if __name__ == "__main__":
    unittest.main()
