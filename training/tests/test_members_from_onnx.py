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
import members_from_onnx  # noqa: E402
import model  # noqa: E402
from data import FeatureDump  # noqa: E402
from fake_dump import randomised_model, write_fake_dump  # noqa: E402


def _write(net, path: str) -> str:
    with open(path, "wb") as f:
        f.write(model.state_to_bytes(net))
    return path


def _single_export(directory: str, net) -> str:
    """A train.py-style export of one network: detector.onnx and a detector.json that names the
    front end; returns the ONNX path."""
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, "detector.onnx")
    model.export_onnx(net, path)
    fine_bands = net.config["fine"][0]
    with open(os.path.join(directory, "detector.json"), "w") as f:
        json.dump({"feature": {"num_filters": 60, "fine_bands": fine_bands},
                   "training": {}}, f)
    return path


class MembersFromOnnxTest(unittest.TestCase):
    """training/members_from_onnx.py on graphs written by ensemble.py and model.export_onnx."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        d = cls.tmp.name
        cls.features = os.path.join(d, "features")
        write_fake_dump(cls.features, {"train": 4, "dev": 30, "test": 30}, seed=5)
        # Two networks of different sizes, so that each one's sizes must be read from its own
        # weights.
        cls.checkpoints = [_write(randomised_model(1, channels=(4, 4, 8, 8), head=16),
                                  os.path.join(d, "a.pt")),
                           _write(randomised_model(2, channels=(6, 4, 8, 12), head=12),
                                  os.path.join(d, "b.pt"))]
        cls.models = os.path.join(d, "models")
        ensemble.main(["--features", cls.features, "--out", cls.models, "--report",
                       os.path.join(d, "report.json"), "--quiet", *cls.checkpoints])
        cls.recovered = members_from_onnx.main([os.path.join(cls.models, "detector.onnx"),
                                                "--out", os.path.join(d, "shipped"),
                                                "--quiet"])

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_recovers_each_member_of_an_average_weight_for_weight(self):
        import torch  # noqa: PLC0415

        self.assertEqual([os.path.basename(p) for p in self.recovered],
                         ["member0.pt", "member1.pt"])
        for original, recovered in zip(self.checkpoints, self.recovered):
            a = torch.load(original, map_location="cpu")
            b = torch.load(recovered, map_location="cpu")
            for key in ("channels", "head", "fine", "fine_channels", "num_features", "score",
                        "variance_norm", "excitation", "spectral"):
                self.assertEqual(list(np.ravel(a["config"][key])),
                                 list(np.ravel(b["config"][key])), key)
            self.assertEqual(sorted(a["state"]), sorted(b["state"]))
            for key, value in a["state"].items():
                if not key.endswith("num_batches_tracked"):
                    torch.testing.assert_close(b["state"][key], value, rtol=0, atol=0)

    def test_compare_scores_the_recovered_members_as_the_originals(self):
        dump = FeatureDump(self.features)
        ws = compare.split_windows(dump)
        for original, recovered in zip(self.checkpoints, self.recovered):
            want = compare.split_logits(dump, ws, original)
            got = compare.split_logits(dump, ws, recovered)
            for split in ("dev", "test"):
                np.testing.assert_array_equal(got[split], want[split])

    def test_reads_a_single_network_and_finds_its_variance_normalisation(self):
        for variance_norm in (False, True):
            # With the fine-structure branch of the shipped front end (6 bands, 5 sub-frames).
            net = randomised_model(3, channels=(4, 4, 8, 8), head=16, fine=(6, 5),
                                   fine_channels=(4, 6, 8, 10), variance_norm=variance_norm)
            with self.subTest(variance_norm=variance_norm), \
                    tempfile.TemporaryDirectory() as d:
                nets, means, stds, diff = members_from_onnx.recover(
                    _single_export(d, net))
                self.assertEqual(len(nets), 1)
                self.assertEqual(nets[0].config["variance_norm"], variance_norm)
                self.assertEqual(list(nets[0].config["fine"]), [6, 5])
                self.assertEqual(nets[0].config["fine_channels"], [4, 6, 8, 10])

                self.assertEqual((means, stds), ([0.0], [1.0]))
                self.assertLess(diff, members_from_onnx.TOLERANCE)

    def test_reads_a_network_of_the_fine_values_alone(self):
        net = randomised_model(4, channels=(4, 4, 8, 8), head=16, fine=(6, 5),
                               fine_channels=(4, 6, 8, 10), spectral=False)
        with tempfile.TemporaryDirectory() as d:
            nets, _, _, diff = members_from_onnx.recover(_single_export(d, net))
        self.assertFalse(nets[0].config["spectral"])
        self.assertFalse(hasattr(nets[0], "stage1"))
        self.assertLess(diff, members_from_onnx.TOLERANCE)

    def _refusal(self, detector: dict, directory: str) -> str:
        """members_from_onnx.main on the average's graph with `detector` as its detector.json:
        the message it stops with, after checking that it wrote nothing."""
        path = os.path.join(directory, "detector.json")
        with open(path, "w") as f:
            json.dump(detector, f)
        out = os.path.join(directory, "out")
        with self.assertRaises(SystemExit) as caught:
            members_from_onnx.main([os.path.join(self.models, "detector.onnx"),
                                    "--detector-json", path, "--out", out, "--quiet"])
        self.assertFalse(os.path.exists(os.path.join(out, "member0.pt")))
        return str(caught.exception)

    def test_refuses_a_graph_its_detector_json_does_not_describe(self):
        with open(os.path.join(self.models, "detector.json")) as f:
            detector = json.load(f)
        training = detector["training"]
        with tempfile.TemporaryDirectory() as d:
            # Means that are not the ones the graph subtracts: the average no longer matches.
            training["member_means"] = [m + 1.0 for m in training["member_means"]]
            self.assertIn("differ from the graph", self._refusal(detector, d))
            # One mean for two networks: refused before anything runs.
            training["member_means"] = training["member_means"][:1]
            self.assertIn("2 networks", self._refusal(detector, d))

if __name__ == "__main__":
    unittest.main()
