import os
import sys
import tempfile
import unittest

import numpy as np

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads; see train.py
import torch  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "probes"))

import phase_probe  # noqa: E402
import splice_probe  # noqa: E402


def harmonic_sound(zero_phase: bool, seconds: float = 0.5, seed: int = 0) -> np.ndarray:
    """125 Hz, harmonics 1..31 of equal amplitude: sharp pulses every 8 ms with zero phases, the
    same magnitude spectrum smeared over the period with random phases."""
    rng = np.random.default_rng(seed)
    n = np.arange(int(seconds * 8000))
    phases = np.zeros(31) if zero_phase else rng.uniform(0, 2 * np.pi, 31)
    return 0.01 * sum(np.cos(2 * np.pi * 125 * h * n / 8000 + phases[h - 1])
                      for h in range(1, 32))


class MuLawTest(unittest.TestCase):
    def test_every_code_round_trips(self):
        codes = np.arange(256, dtype=np.uint8)
        back = phase_probe.linear_to_ulaw(phase_probe.ulaw_to_linear(codes))
        # 0x7F and 0xFF both decode to 0, which encodes as 0xFF.
        same = back == codes
        self.assertTrue(same[[c for c in range(256) if c != 0x7F]].all())
        self.assertEqual(phase_probe.ulaw_to_linear(np.array([0x00, 0x80], dtype=np.uint8))
                         .tolist(), [-32124, 32124])


class FineFrontEndTest(unittest.TestCase):
    def test_pulses_ripple_more_than_scrambled_phase(self):
        def ripple(x):
            f = phase_probe.front_end("fine6", torch.from_numpy(x[None].astype(np.float32)))
            return float(f[0, 0].std(dim=0).mean())  # spread over 2 ms steps, mean over bands
        self.assertGreater(ripple(harmonic_sound(True)),
                           ripple(harmonic_sound(False, seed=1)) + 0.5)

    def test_filterbank_matches_the_cpp_formula(self):
        bank = phase_probe.triangular_filterbank(6, 64)
        self.assertEqual(bank.shape, (6, 33))
        # Edges every 4000 / 7 Hz; filter 0 peaks at 571 Hz, between bins 4 (500) and 5 (625).
        self.assertAlmostEqual(bank[0, 4], 500 / (4000 / 7))
        self.assertEqual(bank[0, 0], 0.0)


class RunTest(unittest.TestCase):
    def test_pack_layout_and_a_short_run(self):
        # A hand-made pack: pulse trains are "copies", scrambled ones "genuine" origins.
        rng = np.random.default_rng(0)
        meta, codes, offsets, lengths, pair = [], [], [], [], []
        offset = 0
        for split in ("train", "dev", "test"):
            for k in range(4):
                for label in ("genuine", "synthetic"):
                    x = harmonic_sound(label == "synthetic", seed=int(rng.integers(1, 99)))
                    u = phase_probe.linear_to_ulaw(np.round(x * 32767).astype(np.int16))
                    meta.append([f"{split}/{label}/{k}", label, split, "mulaw", "s"])
                    codes.append(u)
                    offsets.append(offset)
                    lengths.append(u.size)
                    pair.append(len(meta) - 2 if label == "synthetic" else -1)
                    offset += u.size
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "pack.npz")
            np.savez_compressed(path, codes=np.concatenate(codes), offsets=np.array(offsets),
                                lengths=np.array(lengths), pair=np.array(pair),
                                meta=np.array(meta).astype(str))
            clips = phase_probe.Clips(path)
            self.assertEqual(clips.indices("dev").size, 8)
            result = phase_probe.run_one(clips, "fine6", 1, steps=2, device="cpu", eval_every=1,
                                         crop=1600, log=lambda *a: None)
            self.assertEqual([h["step"] for h in result["history"]], [1, 2])
            for key in ("dev_eer", "test_eer", "train_eer"):
                self.assertTrue(0.0 <= result["best"][key] <= 1.0)



class SpliceTest(unittest.TestCase):
    def test_splices_have_the_length_asked_and_only_the_clips_samples(self):
        rng = np.random.default_rng(3)
        ramp = np.arange(8000, dtype=np.float32)
        out = splice_probe.splice(ramp, 8000, rng)
        self.assertEqual(out.shape, (8000,))
        # Between joins, consecutive samples step by 1 as in the ramp; a join jumps. Several
        # 60-250 ms segments make a 1 s splice, so there are joins, and at most 8000 / 480.
        jumps = int(np.sum(np.abs(np.diff(out)) > 1.5))
        self.assertGreaterEqual(jumps, 2)
        self.assertLessEqual(jumps, 8000 // 480 * splice_probe.FADE)
        self.assertTrue(((out >= 0) & (out <= 7999)).all())

    def test_a_constant_clip_splices_to_itself(self):
        # The cross-fade of equal values is the value: joins add nothing of their own.
        out = splice_probe.splice(np.full(4000, 0.25, dtype=np.float32), 8000,
                                  np.random.default_rng(4))
        np.testing.assert_allclose(out, 0.25, atol=1e-6)


if __name__ == "__main__":
    unittest.main()
