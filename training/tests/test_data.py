import json
import os
import sys
import tempfile
import unittest

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

import data  # noqa: E402
import train  # noqa: E402
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


class FrontEndTest(unittest.TestCase):
    def test_dump_width_comes_from_front_end_json(self):
        with tempfile.TemporaryDirectory() as d:
            frames = np.zeros((120, 63), dtype=np.float32)
            frames[:, 60:] = [1.0, 2.0, 3.0]
            data.write_dump(d, [({"clip": "gen__s__a__p0.wav", "label": "genuine",
                                  "split": "train"}, frames)], excitation=True)
            dump = data.FeatureDump(d)
            self.assertEqual((dump.width, dump.num_filters, dump.excitation), (63, 60, True))
            np.testing.assert_array_equal(dump.frames(dump.clips[0])[0, 60:], [1.0, 2.0, 3.0])
            x = np.tile(frames[None], (2, 1, 1))
            data.spec_augment(x, np.random.default_rng(0), p=1.0, num_filters=60)
            np.testing.assert_array_equal(x[:, :, 60:].max(axis=(0, 1)), [1.0, 2.0, 3.0])

    def test_fine_bands_widen_the_dump(self):
        with tempfile.TemporaryDirectory() as d:
            frames = np.arange(120 * 90, dtype=np.float32).reshape(120, 90)
            data.write_dump(d, [({"clip": "gen__s__a__p0.wav", "label": "genuine",
                                  "split": "train"}, frames)], fine_bands=6)
            dump = data.FeatureDump(d)
            self.assertEqual((dump.width, dump.fine_bands, dump.fine_subframes), (90, 6, 5))
            np.testing.assert_array_equal(dump.frames(dump.clips[0]), frames)
            with open(os.path.join(d, "front_end.json"), encoding="utf-8") as f:
                front_end = json.load(f)
            front_end["width"] = 60
            with open(os.path.join(d, "front_end.json"), "w", encoding="utf-8") as f:
                json.dump(front_end, f)
            with self.assertRaisesRegex(data.DumpError, "fine_bands"):
                data.FeatureDump(d)

    def test_band_harmonicity_follows_excitation_and_feeds_the_same_branch(self):
        # src/dsp/feature_options.hpp: filterbank, excitation, band harmonicity, fine values.
        for excitation, values in ((False, 3), (True, 6)):
            with tempfile.TemporaryDirectory() as d:
                width = 60 + values + 30
                frames = np.zeros((120, width), dtype=np.float32)
                data.write_dump(d, [({"clip": "gen__s__a__p0.wav", "label": "genuine",
                                      "split": "train"}, frames)], excitation=excitation,
                                band_harmonicity=True, fine_bands=6)
                dump = data.FeatureDump(d)
                self.assertEqual((dump.width, dump.frame_values, dump.band_harmonicity),
                                 (width, values, True))
                self.assertEqual(train.feature_config(dump).get("band_harmonicity"), True)

    def test_dump_without_front_end_json_is_the_default_front_end(self):
        with tempfile.TemporaryDirectory() as d:
            write_fake_dump(d, {"train": 3}, seed=1)
            dump = data.FeatureDump(d)
            self.assertEqual((dump.width, dump.excitation, dump.frame_values), (60, False, 0))
            self.assertNotIn("band_harmonicity", train.feature_config(dump))


class PairingTest(unittest.TestCase):
    def test_origin_key(self):
        self.assertEqual(data.origin_key("clips/train/genuine/gen__klettres-data__a_b__p0.wav"),
                         "klettres-data__a_b__p0")
        self.assertEqual(
            data.origin_key("clips/train/synthetic/voc__griffin-lim__klettres-data__a_b__p0"
                            ".gl1024mel.wav"), "klettres-data__a_b__p0")
        self.assertEqual(data.origin_key("x/voc__hifigan__klettres-data__a_b__p0__c1.wav"),
                         "klettres-data__a_b__p0")
        self.assertIsNone(data.origin_key("x/tts__espeak-ng__en__0001.wav"))

    def test_vocoder_setting(self):
        self.assertEqual(data.vocoder_setting(
            "clips/test/synthetic/voc__griffin-lim__festvox-ru__a_b__p0.gl512.wav"), "gl512")
        self.assertEqual(data.vocoder_setting(
            "x/voc__griffin-lim__src__a_b__p1.gl1024mel__c1.wav"), "gl1024mel")
        self.assertIsNone(data.vocoder_setting("x/voc__sptk-mlsa__src__a_b__p0.wav"))
        self.assertIsNone(data.vocoder_setting("x/voc__hifigan__src__a_b__p0__c1.wav"))
        self.assertIsNone(data.vocoder_setting("x/gen__src__a_b__p0.wav"))
        self.assertIsNone(data.vocoder_setting("x/tts__festival-clunits__v.1__0001.wav"))

    def test_recording_domain(self):
        def clip(name, label, source):
            return data.Clip(name, 0, 100, label, "train", source, "s", "a", "pcmu")
        self.assertEqual(data.recording_domain(clip(
            "clips/train/genuine/gen__klettres-data__a_b__p0.wav", "genuine", "klettres-data")),
            "klettres-data")
        self.assertEqual(data.recording_domain(clip(
            "x/voc__hifigan__klettres-data__a_b__p0__c1.wav", "synthetic", "klettres-data")),
            "klettres-data")
        self.assertIsNone(data.recording_domain(clip(
            "x/tts__espeak-ng__en__0001.wav", "synthetic", "espeak-ng-data")))

    def test_pairs_are_a_copy_and_its_origin_at_the_same_place(self):
        with tempfile.TemporaryDirectory() as d:
            # A genuine clip, two copies of it, an unrelated genuine and a TTS clip; every clip
            # has frames equal to its own number, plus the frame position.
            names = [("gen__src__item__p0.wav", "genuine"), ("gen__src__other__p0.wav", "genuine"),
                     ("voc__lpc__src__item__p0.lpc16.wav", "synthetic"),
                     ("voc__hifigan__src__item__p0.wav", "synthetic"),
                     ("tts__espeak__v__1.wav", "synthetic")]
            items = []
            for k, (name, label) in enumerate(names):
                frames = np.full((300, data.NUM_FEATURES), 1000.0 * k, dtype=np.float32)
                frames += np.arange(300, dtype=np.float32)[:, None]
                items.append(({"clip": name, "label": label, "split": "train", "source": "src",
                               "attack": "bonafide" if label == "genuine" else "a"}, frames))
            data.write_dump(d, items)
            dump = data.FeatureDump(d)
            clips = dump.split("train")
            sampler = data.CropSampler(dump, clips, data.sampling_weights(clips),
                                       np.random.default_rng(1), paired_fraction=0.5)
            self.assertEqual(sampler.num_pairable, 2)
            for _ in range(20):
                x, y = sampler.batch(8)
                self.assertEqual(x.shape[0], 8)
                # the last 2 rows are the origins of the 2 copies before them
                copies, origins = x[4:6], x[6:8]
                np.testing.assert_array_equal(y[4:6], [1.0, 1.0])
                np.testing.assert_array_equal(y[6:8], [0.0, 0.0])
                self.assertTrue(np.all(origins[:, 0, 0] // 1000 == 0), "origin is clip 0")
                self.assertTrue(set((copies[:, 0, 0] // 1000).tolist()) <= {2.0, 3.0})
                np.testing.assert_array_equal(copies % 1000, origins % 1000)

    def test_no_pairs_without_copies(self):
        with tempfile.TemporaryDirectory() as d:
            write_fake_dump(d, {"train": 12, "dev": 4}, seed=3)
            dump = data.FeatureDump(d)
            clips = [c for c in dump.split("train") if c.num_frames >= 100]
            sampler = data.CropSampler(dump, clips, data.sampling_weights(clips),
                                       np.random.default_rng(0), paired_fraction=0.5)
            self.assertEqual(sampler.num_pairable, 0)
            x, _ = sampler.batch(6)
            self.assertEqual(x.shape[0], 6)


if __name__ == "__main__":
    unittest.main()
