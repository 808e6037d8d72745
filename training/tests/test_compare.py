import contextlib
import io
import os
import shutil
import sys
import tempfile
import unittest

import numpy as np

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads; see train.py

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

import compare  # noqa: E402
from data import FeatureDump  # noqa: E402
from fake_dump import write_fake_dump, write_random_checkpoint  # noqa: E402


class CompareTest(unittest.TestCase):
    """training/compare.py on a fake dump and two small random networks."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        d = cls.tmp.name
        cls.features = os.path.join(d, "features")
        write_fake_dump(cls.features, {"train": 4, "dev": 60, "test": 60}, seed=11)
        cls.checkpoints = [write_random_checkpoint(os.path.join(d, f"net{seed}.pt"), seed)
                           for seed in (1, 2)]
        cls.dump = FeatureDump(cls.features)
        cls.ws = compare.split_windows(cls.dump)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_a_network_averaged_with_itself_scores_as_itself(self):
        logits = compare.split_logits(self.dump, self.ws, self.checkpoints[0])
        alone = compare.compare_one(self.ws, logits)
        twice = compare.compare_one(self.ws, compare.standardised_mean([logits, logits]))
        for key in ("dev_eer_2s", "dev_eer_full", "test_eer_2s", "test_eer_full",
                    "test_flagged", "test_caught", "test_best_caught"):
            self.assertAlmostEqual(alone[key], twice[key], places=9, msg=key)

    def test_standardised_mean_weighs_networks_alike(self):
        a = {"dev": np.array([0.0, 2.0, 4.0]), "test": np.array([2.0])}
        b = {"dev": np.array([0.0, 20.0, 40.0]), "test": np.array([0.0])}
        mean = compare.standardised_mean([a, b])
        np.testing.assert_allclose(mean["dev"], (a["dev"] - 2.0) / a["dev"].std())
        np.testing.assert_allclose(mean["test"], [-0.5 * 20.0 / b["dev"].std()])

    def test_weights_scale_each_networks_share(self):
        a = {"dev": np.array([0.0, 2.0, 4.0]), "test": np.array([3.0])}
        b = {"dev": np.array([0.0, 20.0, 40.0]), "test": np.array([0.0])}
        za, zb = 1.0 / a["dev"].std(), -20.0 / b["dev"].std()  # each one's test logit, standardised
        mix = compare.standardised_mean([a, b], [1.0, 3.0])
        np.testing.assert_allclose(mix["test"], [0.25 * za + 0.75 * zb])
        same = compare.standardised_mean([a, b], [2.0, 2.0])
        np.testing.assert_allclose(same["dev"], compare.standardised_mean([a, b])["dev"])

    def test_pooling_groups_each_clips_windows(self):
        # Synthetic clips: one window far up, the rest level with the genuine windows. Only the
        # maximum of a clip's windows tells the classes apart; its minimum cannot.
        rng = np.random.default_rng(5)
        logits = {}
        for s in ("dev", "test"):
            ws = self.ws[s]
            lg = -1.0 + 0.1 * rng.standard_normal(ws.num_windows)
            first = np.unique(ws.clip_index, return_index=True)[1]
            for i in first:
                if ws.clips[ws.clip_index[i]].is_synthetic:
                    lg[i] = 10.0
            logits[s] = lg
        eers = compare.pooled_full_eers(self.ws, logits)
        self.assertEqual(set(eers), set(compare.POOLINGS))
        for s in ("dev", "test"):
            self.assertEqual(eers["max"][s], 0.0)
            self.assertGreater(eers["min"][s], 0.2)

    def test_mean_pooling_is_the_full_clip_eer_the_service_gets(self):
        logits = compare.split_logits(self.dump, self.ws, self.checkpoints[0])
        calibration, _ = compare._dev_calibration(self.ws, logits)
        self.assertGreater(calibration["call"]["a"], 0)  # else the call LLR reverses the mean
        row = compare.compare_one(self.ws, logits)
        eers = compare.pooled_full_eers(self.ws, logits)
        self.assertAlmostEqual(eers["mean"]["dev"], row["dev_eer_full"], places=12)
        self.assertAlmostEqual(eers["mean"]["test"], row["test_eer_full"], places=12)

    def test_misses_add_up_to_best_caught(self):
        logits = compare.split_logits(self.dump, self.ws, self.checkpoints[0])
        row = compare.compare_one(self.ws, logits)
        misses = compare.misses_at_best(self.ws, logits)
        scored = [c for c in self.ws["test"].clips if c.num_frames >= 100]
        self.assertEqual(sum(total for _, total in misses.values()), len(scored))
        self.assertEqual(misses["genuine"][1], sum(not c.is_synthetic for c in scored))
        self.assertLessEqual(misses["genuine"][0], 0.01 * misses["genuine"][1])
        synthetic = [v for k, v in misses.items() if k != "genuine"]
        missed = sum(m for m, _ in synthetic) / sum(t for _, t in synthetic)
        self.assertAlmostEqual(1.0 - missed, row["test_best_caught"], places=12)

    def test_the_command_fits_the_dev_calibration_once_per_row(self):
        fits = []
        real = compare._dev_calibration

        def counting(ws, logits):
            fits.append(1)
            return real(ws, logits)

        compare._dev_calibration = counting
        try:
            lines = compare.main(["--features", self.features, "--misses", "--pooling",
                                  f"one={self.checkpoints[0]}"])
        finally:
            compare._dev_calibration = real
        self.assertEqual(len(lines), 4)
        self.assertEqual(len(fits), 1)

    def test_genuine_flagged_by_source_add_up_to_the_flagged_rate(self):
        logits = compare.split_logits(self.dump, self.ws, self.checkpoints[0])
        row = compare.compare_one(self.ws, logits)
        by_source = compare.genuine_flagged_by_source(self.ws, logits)
        genuine = [c for c in self.ws["test"].clips
                   if c.num_frames >= 100 and not c.is_synthetic]
        self.assertEqual(sorted(by_source), sorted({c.source for c in genuine}))
        self.assertEqual(sum(total for _, total in by_source.values()), len(genuine))
        flagged = sum(f for f, _ in by_source.values())
        self.assertAlmostEqual(flagged / len(genuine), row["test_flagged"], places=12)
        # A threshold every genuine clip passes flags them all, source by source.
        shifted = {s: v + 1e6 * (s == "test") for s, v in logits.items()}
        self.assertTrue(all(f == t for f, t in
                            compare.genuine_flagged_by_source(self.ws, shifted).values()))

    def test_longer_windows_cover_more_frames_of_the_same_clips(self):
        long = compare.split_windows(self.dump, 300)
        for s in ("dev", "test"):
            default, longer = self.ws[s], long[s]
            np.testing.assert_array_equal(default.seen, longer.seen)  # same scoring points
            self.assertEqual(int(default.length.max()), 200)
            self.assertGreater(int(longer.length.max()), 200)
            self.assertLessEqual(int(longer.length.max()), 300)
            np.testing.assert_array_equal(np.minimum(longer.seen, 300), longer.length)
        lines = compare.main(["--features", self.features, "--max-frames", "300",
                              f"one={self.checkpoints[0]}"])
        self.assertEqual(len(lines), 1)
        with self.assertRaises(SystemExit):
            compare.main(["--features", self.features, "--max-frames", "50",
                          f"one={self.checkpoints[0]}"])

    def test_command_prints_one_line_per_network_and_the_average(self):
        lines = compare.main(["--features", self.features, "--average",
                              f"one={self.checkpoints[0]}", f"two={self.checkpoints[1]}"])
        self.assertEqual([line.split()[0] for line in lines], ["one", "two", "average(one,two)"])
        for line in lines:
            self.assertIn("best caught", line)
        with self.assertRaises(SystemExit):
            compare.main(["--features", self.features, self.checkpoints[0]])
        lines = compare.main(["--features", self.features, "--misses",
                              f"one={self.checkpoints[0]}"])
        self.assertEqual(len(lines), 3)
        self.assertTrue(lines[1].startswith("  at best caught: "))
        self.assertIn("genuine ", lines[1])
        self.assertTrue(lines[2].startswith("  genuine flagged at the dev threshold: "))
        lines = compare.main(["--features", self.features, "--pooling",
                              f"one={self.checkpoints[0]}"])
        self.assertEqual(len(lines), 2)
        self.assertTrue(lines[1].startswith("  full-clip EER dev/test by pooling: mean "))
        self.assertEqual(lines[1].count("/"), 1 + len(compare.POOLINGS))

    def test_a_checkpoint_scored_on_another_dump_of_the_same_clips(self):
        with tempfile.TemporaryDirectory() as d:
            copy = os.path.join(d, "copy")
            shutil.copytree(self.features, copy)
            lines = compare.main(["--features", self.features, f"here={self.checkpoints[0]}",
                                  f"there={self.checkpoints[0]}@{copy}"])
            self.assertEqual(lines[0].split()[1:], lines[1].split()[1:])
            other = os.path.join(d, "other")
            write_fake_dump(other, {"train": 4, "dev": 10, "test": 10}, seed=99)
            with self.assertRaises(SystemExit), contextlib.redirect_stderr(io.StringIO()):
                compare.main(["--features", self.features, f"one={self.checkpoints[0]}",
                              f"two={self.checkpoints[1]}@{other}"])

    def test_cached_logits_are_reused_until_the_checkpoint_changes(self):
        from unittest import mock  # noqa: PLC0415
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "net.pt")
            write_random_checkpoint(path, 1)
            cache = os.path.join(d, "cache")
            first = compare.cached_split_logits(self.dump, self.ws, path, cache, 200)
            self.assertEqual(len(os.listdir(cache)), 1)
            with mock.patch.object(compare, "split_logits", side_effect=AssertionError("scored")):
                again = compare.cached_split_logits(self.dump, self.ws, path, cache, 200)
            for s in ("dev", "test"):
                np.testing.assert_array_equal(first[s], again[s])
            # Another network in the same file (a run that went on), or other windows: scored
            # anew, not served stale.
            write_random_checkpoint(path, 2)
            os.utime(path, ns=(1, 1))
            other = compare.cached_split_logits(self.dump, self.ws, path, cache, 200)
            self.assertFalse(np.array_equal(first["dev"], other["dev"]))
            compare.cached_split_logits(self.dump, compare.split_windows(self.dump, 300), path,
                                        cache, 300)
            self.assertEqual(len(os.listdir(cache)), 3)
            lines = compare.main(["--features", self.features, "--cache", cache, f"one={path}"])
            self.assertEqual(lines, compare.main(["--features", self.features, f"one={path}"]))

    def test_a_subset_scores_as_the_average_of_the_same_networks(self):
        paths = [f"one={self.checkpoints[0]}", f"two={self.checkpoints[1]}",
                 f"again={self.checkpoints[0]}"]
        lines = compare.main(["--features", self.features, "--average",
                              "--subset", "one+two", "--subset", "two+again", *paths])
        self.assertEqual([line.split()[0] for line in lines],
                         ["one", "two", "again", "average(one,two,again)", "average(one,two)",
                          "average(two,again)"])
        # "again" is network one under another name: both pairs are the same mix.
        self.assertEqual(lines[4].split()[1:], lines[5].split()[1:])
        pair = compare.main(["--features", self.features, "--average", *paths[:2]])
        self.assertEqual(pair[2], lines[4])
        weighted = compare.main(["--features", self.features, "--subset", "one:2+two:2",
                                 "--subset", "one:1+two:3", *paths[:2]])
        self.assertEqual([line.split()[0] for line in weighted[2:]],
                         ["average(one:2,two:2)", "average(one:1,two:3)"])
        self.assertEqual(weighted[2].split()[1:], lines[4].split()[1:])  # equal weights
        self.assertNotEqual(weighted[3].split()[1:], lines[4].split()[1:])
        for bad in ("one", "one+one", "one+three", "one:0+two", "one:-1+two", "one:x+two",
                    "one:nan+two", "one:+two"):
            with self.assertRaises(SystemExit):
                compare.main(["--features", self.features, "--subset", bad, *paths])
        with self.assertRaises(SystemExit):
            compare.main(["--features", self.features, *paths, f"one={self.checkpoints[1]}"])


if __name__ == "__main__":
    unittest.main()
