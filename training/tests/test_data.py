import os
import sys
import tempfile
import unittest

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

import data  # noqa: E402
from fake_dump import write_fake_dump  # noqa: E402


class WindowScheduleTest(unittest.TestCase):
    def test_no_window_before_min_frames(self):
        self.assertEqual(data.window_bounds(0), [])
        self.assertEqual(data.window_bounds(99), [])

    def test_windows_every_hop_then_capped_at_max(self):
        self.assertEqual(data.window_bounds(100), [(0, 100)])
        self.assertEqual(data.window_bounds(149), [(0, 100)])
        self.assertEqual(data.window_bounds(150), [(0, 100), (0, 150)])
        self.assertEqual(data.window_bounds(260),
                         [(0, 100), (0, 150), (0, 200), (50, 250)])
        self.assertEqual(data.window_ends(400), [100, 150, 200, 250, 300, 350, 400])
        for s, e in data.window_bounds(1000):
            self.assertEqual(e - s, min(e, 200))

    def test_make_windows_uses_absolute_offsets(self):
        clips = [data.Clip("a", 0, 120, "genuine", "dev", "s", "p", "", "pcmu"),
                 data.Clip("b", 120, 50, "synthetic", "dev", "s", "p", "x", "pcmu"),
                 data.Clip("c", 170, 250, "synthetic", "dev", "s", "p", "x", "pcmu")]
        ws = data.make_windows(clips)
        self.assertEqual(ws.clip_index.tolist(), [0, 2, 2, 2, 2])
        self.assertEqual(ws.start.tolist(), [0, 170, 170, 170, 220])
        self.assertEqual(ws.length.tolist(), [100, 100, 150, 200, 200])
        self.assertEqual(ws.seen.tolist(), [100, 100, 150, 200, 250])
        self.assertEqual(ws.targets().tolist(), [0, 1, 1, 1, 1])


class DumpTest(unittest.TestCase):
    def test_round_trip(self):
        with tempfile.TemporaryDirectory() as d:
            frames = np.arange(7 * 60, dtype=np.float32).reshape(7, 60)
            data.write_dump(d, [({"clip": "x.wav", "label": "genuine", "split": "train"}, frames),
                                ({"clip": "y.wav", "label": "synthetic", "split": "dev",
                                  "attack": "mlsa", "codec": "gsm"}, frames[:3] + 1)])
            dump = data.FeatureDump(d)
            self.assertEqual(len(dump.clips), 2)
            self.assertEqual(dump.clips[1].offset_frames, 7)
            self.assertEqual(dump.clips[1].attack, "mlsa")
            np.testing.assert_array_equal(dump.frames(dump.clips[0]), frames)
            np.testing.assert_array_equal(dump.frames(dump.clips[1]), frames[:3] + 1)
            mapped = data.FeatureDump(d, memory_map=True)
            np.testing.assert_array_equal(mapped.frames(mapped.clips[1]), frames[:3] + 1)

    def test_rejects_bad_header_and_truncated_features(self):
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "index.csv"), "w") as f:
                f.write("clip,offset,num_frames\n")
            open(os.path.join(d, "features.f32"), "wb").close()
            with self.assertRaises(data.DumpError):
                data.FeatureDump(d)
        with tempfile.TemporaryDirectory() as d:
            data.write_dump(d, [({"clip": "x", "label": "genuine", "split": "train"},
                                 np.zeros((5, 60), np.float32))])
            with open(os.path.join(d, "features.f32"), "r+b") as f:
                f.truncate(4 * 60 * 4)
            with self.assertRaises(data.DumpError):
                data.FeatureDump(d)

    def test_rejects_non_finite_features(self):
        with tempfile.TemporaryDirectory() as d:
            frames = np.zeros((5, 60), np.float32)
            frames[2, 7] = -np.inf
            data.write_dump(d, [({"clip": "x", "label": "genuine", "split": "train"}, frames)])
            with self.assertRaises(data.DumpError):
                data.FeatureDump(d)

    def test_rejects_unknown_label(self):
        with tempfile.TemporaryDirectory() as d:
            data.write_dump(d, [({"clip": "x", "label": "fake", "split": "train"},
                                 np.zeros((5, 60), np.float32))])
            with self.assertRaises(data.DumpError):
                data.FeatureDump(d)


class SamplingTest(unittest.TestCase):
    def _clips(self):
        clips = []
        for i in range(90):
            source = "big" if i < 80 else "small"
            clips.append(data.Clip(f"g{i}", 0, 300, "genuine", "train", source, "s", "bonafide",
                                   "pcmu"))
        for i in range(10):
            clips.append(data.Clip(f"s{i}", 0, 300, "synthetic", "train", "tts",
                                   "s", "a" if i < 9 else "b", "pcmu"))
        return clips

    def test_classes_get_half_the_mass_each(self):
        clips = self._clips()
        w = data.sampling_weights(clips, alpha=0.5)
        self.assertAlmostEqual(w.sum(), 1.0)
        syn = sum(wi for wi, c in zip(w, clips) if c.is_synthetic)
        self.assertAlmostEqual(syn, 0.5)

    def test_alpha_zero_equalises_groups(self):
        clips = self._clips()
        w = data.sampling_weights(clips, alpha=0.0)
        small = sum(wi for wi, c in zip(w, clips) if c.source == "small" and not c.is_synthetic)
        self.assertAlmostEqual(small, 0.25)
        attack_b = sum(wi for wi, c in zip(w, clips) if c.attack == "b")
        self.assertAlmostEqual(attack_b, 0.25)

    def test_crop_sampler_shapes_and_augment(self):
        with tempfile.TemporaryDirectory() as d:
            write_fake_dump(d, {"train": 12, "dev": 4}, seed=3)
            dump = data.FeatureDump(d)
            clips = [c for c in dump.split("train") if c.num_frames >= 100]
            rng = np.random.default_rng(0)
            sampler = data.CropSampler(dump, clips, data.sampling_weights(clips), rng)
            for _ in range(5):
                x, y = sampler.batch(6)
                self.assertEqual(x.shape[0], 6)
                self.assertTrue(100 <= x.shape[1] <= 200)
                self.assertEqual(x.shape[2], 60)
                self.assertTrue(set(np.unique(y)).issubset({0.0, 1.0}))
                before = x.copy()
                data.spec_augment(x, rng, p=1.0)
                self.assertEqual(x.shape, before.shape)
                self.assertTrue(np.isfinite(x).all())


if __name__ == "__main__":
    unittest.main()
