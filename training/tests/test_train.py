import json
import os
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

import train  # noqa: E402
from fake_dump import write_fake_dump  # noqa: E402


class TrainEndToEndTest(unittest.TestCase):
    """A tiny run on a fake dump: training, calibration, export, detector.json and the report."""

    def test_tiny_run_writes_the_contract_files(self):
        with tempfile.TemporaryDirectory() as d:
            feats = os.path.join(d, "features")
            write_fake_dump(feats, {"train": 24, "dev": 12, "test": 12}, seed=5)
            out = os.path.join(d, "models")
            report_path = os.path.join(d, "last_run.json")
            report = train.train(train.parse_args([
                "--features", feats, "--out", out, "--work", os.path.join(d, "runs"),
                "--report", report_path, "--epochs", "2", "--steps-per-epoch", "3",
                "--batch", "8", "--dev-windows", "40", "--seed", "7", "--quiet"]))
            with open(os.path.join(out, "detector.json")) as f:
                det = json.load(f)
            self.assertEqual(list(det), ["format", "model", "input", "output", "feature", "window",
                                         "calibration", "threshold", "human_threshold",
                                         "training"])
            self.assertEqual(det["format"], 1)
            self.assertEqual((det["model"], det["input"], det["output"]),
                             ("detector.onnx", "features", "logit"))
            self.assertEqual(det["feature"], {
                "sample_rate_hz": 8000, "frame_length_samples": 200, "frame_shift_samples": 80,
                "fft_size": 256, "num_filters": 60, "low_freq_hz": 0, "high_freq_hz": 4000,
                "preemphasis": 0.97, "log_floor": 1e-10})
            self.assertEqual(det["window"], {"min_frames": 100, "max_frames": 200,
                                             "hop_frames": 50})
            for level in ("window", "call"):
                self.assertEqual(set(det["calibration"][level]), {"a", "b"})
            self.assertTrue(0.0 <= det["threshold"] <= 1.0)
            self.assertEqual(det["human_threshold"], 0.5)
            self.assertEqual(set(det["training"]), {"seed", "epochs", "dev_eer", "params",
                                                    "mflops_200", "trained_at", "corpus"})
            self.assertEqual(det["training"]["seed"], 7)
            self.assertEqual(det["training"]["epochs"], 2)
            self.assertTrue(os.path.isfile(os.path.join(out, "detector.onnx")))
            with open(report_path) as f:
                saved = json.load(f)
            self.assertEqual(saved["detector"], det)
            for split in ("dev", "test"):
                res = report["results"][split]
                for k in ("windows", "1s", "2s", "full", "per_attack", "per_codec"):
                    self.assertIn(k, res)
                self.assertIn("eer", res["full"])
                self.assertIn("genuine_flagged", res["full"])

    def test_same_seed_same_model(self):
        with tempfile.TemporaryDirectory() as d:
            feats = os.path.join(d, "features")
            write_fake_dump(feats, {"train": 16, "dev": 8, "test": 4}, seed=6)
            dets = []
            for run in ("a", "b"):
                out = os.path.join(d, run)
                train.train(train.parse_args([
                    "--features", feats, "--out", out, "--work", out, "--report",
                    os.path.join(out, "r.json"), "--epochs", "1", "--steps-per-epoch", "3",
                    "--batch", "8", "--dev-windows", "20", "--seed", "3", "--quiet"]))
                with open(os.path.join(out, "detector.json")) as f:
                    dets.append(json.load(f))
            self.assertEqual(dets[0]["calibration"], dets[1]["calibration"])
            self.assertEqual(dets[0]["training"]["dev_eer"], dets[1]["training"]["dev_eer"])


if __name__ == "__main__":
    unittest.main()
