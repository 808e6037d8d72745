import json
import os
import sys
import tempfile
import unittest

import numpy as np

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads; see train.py

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

import compare  # noqa: E402
import ensemble  # noqa: E402
import evaluate  # noqa: E402
import model  # noqa: E402
from data import FeatureDump  # noqa: E402
from fake_dump import write_fake_dump, write_random_checkpoint  # noqa: E402


class EnsembleTest(unittest.TestCase):
    """training/ensemble.py on a fake dump and two small random networks."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        d = cls.tmp.name
        cls.features = os.path.join(d, "features")
        write_fake_dump(cls.features, {"train": 4, "dev": 40, "test": 40}, seed=12)
        cls.checkpoints = [write_random_checkpoint(os.path.join(d, f"net{seed}.pt"), seed)
                           for seed in (1, 2)]
        cls.out = os.path.join(d, "models")
        cls.report = ensemble.main(["--features", cls.features, "--out", cls.out, "--report",
                                    os.path.join(d, "report.json"), "--quiet",
                                    *cls.checkpoints])

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_the_average_is_what_compare_measures(self):
        dump = FeatureDump(self.features)
        ws = compare.split_windows(dump)
        members = [compare.split_logits(dump, ws, c) for c in self.checkpoints]
        expected = compare.standardised_mean(members)
        net, dev_logits = ensemble.build_average(dump, ws["dev"], self.checkpoints)
        np.testing.assert_allclose(dev_logits, expected["dev"], rtol=1e-6, atol=1e-6)
        for split in ("dev", "test"):
            np.testing.assert_allclose(evaluate.score_windows(net, dump, ws[split]),
                                       expected[split], rtol=1e-4, atol=1e-4)

    def test_writes_a_detector_the_service_reads_with_the_members_named(self):
        with open(os.path.join(self.out, "detector.json")) as f:
            detector = json.load(f)
        self.assertTrue(os.path.exists(os.path.join(self.out, "detector.onnx")))
        self.assertEqual(detector["input"], model.INPUT_NAME)
        self.assertEqual(detector["output"], model.OUTPUT_NAME)
        self.assertEqual(detector["window"]["max_frames"], 200)
        training = detector["training"]
        self.assertEqual([os.path.basename(p) for p in training["average_of"]],
                         ["net1.pt", "net2.pt"])
        self.assertIsNotNone(training["dev_eer"])
        one = model.describe(model.load_checkpoint(self.checkpoints[0]))
        self.assertEqual(training["params"], 2 * one[0])  # both members, same size
        self.assertAlmostEqual(training["mflops_200"], 2 * one[1], places=2)
        self.assertLess(max(self.report["model"]["onnx_max_abs_diff"].values()), 1e-3)
        self.assertIn("test", self.report["results"])

    def test_evaluate_scores_the_average_with_the_graphs_statistics(self):
        """evaluate.py --update, given the members and the detector.json, rewrites the report's
        results to the trainer's figures (same dump: the graph's statistics are the dev ones) and
        keeps its detector and model blocks; other statistics give other figures."""
        detector_json = os.path.join(self.out, "detector.json")
        report = os.path.join(self.tmp.name, "report-copy.json")
        with open(os.path.join(self.tmp.name, "report.json")) as f:
            written = json.load(f)
        with open(report, "w") as f:
            json.dump(dict(written, results={}), f)
        evaluate.main(["--features", self.features, "--model-json", detector_json,
                       "--checkpoint", *self.checkpoints, "--out", report, "--update",
                       "--threads", "1"])
        with open(report) as f:
            updated = json.load(f)
        self.assertEqual(updated["model"], written["model"])
        self.assertEqual(updated["detector"], written["detector"])
        for split in ("dev", "test"):
            self.assertAlmostEqual(updated["results"][split]["full"]["eer"],
                                   written["results"][split]["full"]["eer"], places=6)
            self.assertAlmostEqual(updated["results"][split]["full"]["cllr"],
                                   written["results"][split]["full"]["cllr"], places=4)
        with open(detector_json) as f:
            detector = json.load(f)
        shifted = dict(detector, training=dict(detector["training"], member_means=[
            m + 3.0 * s for m, s in zip(detector["training"]["member_means"],
                                         detector["training"]["member_stds"])]))
        net = evaluate.load_model(self.checkpoints, shifted)
        moved = evaluate.evaluate(net, FeatureDump(self.features), shifted, splits=("dev",))
        self.assertNotAlmostEqual(moved["dev"]["full"]["cllr"],
                                  written["results"]["dev"]["full"]["cllr"], places=3)

    def test_evaluate_refuses_members_the_detector_json_does_not_describe(self):
        with open(os.path.join(self.out, "detector.json")) as f:
            detector = json.load(f)
        with self.assertRaises(SystemExit):
            evaluate.load_model(self.checkpoints * 2, detector)  # 4 checkpoints, 2 means
        single = dict(detector, training={})
        with self.assertRaises(SystemExit):
            evaluate.load_model(self.checkpoints, single)
        other = os.path.join(self.tmp.name, "other-model.json")
        with open(other, "w") as f:
            json.dump({"detector": dict(detector, threshold=0.5), "results": {}}, f)
        with self.assertRaises(SystemExit):
            evaluate.main(["--features", self.features, "--checkpoint", *self.checkpoints,
                           "--model-json", os.path.join(self.out, "detector.json"),
                           "--out", other, "--update"])
        with self.assertRaises(SystemExit):  # nothing to update
            evaluate.main(["--features", self.features, "--checkpoint", *self.checkpoints,
                           "--model-json", os.path.join(self.out, "detector.json"), "--update"])

    def test_refuses_members_that_read_different_features(self):
        wide = model.Detector(channels=(4, 4, 8, 8), head=16, fine=(6, 5))
        narrow = model.Detector(channels=(4, 4, 8, 8), head=16)
        with self.assertRaises(ValueError):
            model.Average([wide, narrow], [0.0, 0.0], [1.0, 1.0])
        with self.assertRaises(SystemExit):
            ensemble.main(["--features", self.features, "--quiet", self.checkpoints[0]])


if __name__ == "__main__":
    unittest.main()
