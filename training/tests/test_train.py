import json
import os
import sys
import tempfile
import unittest
from unittest import mock

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
                # fake_dump names clips 3, 7, 11, ... of a split as gl512 copies: these are
                # exactly its "mlsa" clips; every genuine clip is in each per-setting trial list
                self.assertEqual(list(res["per_setting"]), ["mlsa/gl512"])
                self.assertEqual(res["per_setting"]["mlsa/gl512"]["full"],
                                 res["per_attack"]["mlsa"]["full"])
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

    def test_every_progress_line_carries_the_prefix(self):
        import contextlib  # noqa: PLC0415
        import io  # noqa: PLC0415
        with tempfile.TemporaryDirectory() as d:
            feats = os.path.join(d, "features")
            write_fake_dump(feats, {"train": 16, "dev": 8, "test": 4}, seed=6)
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                train.train(train.parse_args([
                    "--features", feats, "--out", d, "--work", d, "--report",
                    os.path.join(d, "r.json"), "--epochs", "1", "--steps-per-epoch", "2",
                    "--batch", "8", "--dev-windows", "20", "--log-prefix", "[seed 4]"]))
            lines = out.getvalue().splitlines()
            self.assertTrue(any("epoch   1" in line for line in lines), lines)
            for line in lines:
                self.assertTrue(line.startswith("[seed 4] "), line)

    def test_a_run_stopped_early_leaves_its_best_epoch_so_far(self):
        import torch  # noqa: PLC0415

        import model as model_lib  # noqa: PLC0415
        with tempfile.TemporaryDirectory() as d:
            feats = os.path.join(d, "features")
            write_fake_dump(feats, {"train": 16, "dev": 8, "test": 4}, seed=6)
            work = os.path.join(d, "runs")
            real_score = train.evaluate.score_windows
            seen = []

            class Stopped(Exception):
                pass

            def score_then_stop(net, dump, ws):
                # The first epoch's selection scoring runs; the second one is where the run is
                # "killed".
                if seen:
                    raise Stopped()
                seen.append({k: v.clone() for k, v in net.state_dict().items()})
                return real_score(net, dump, ws)

            with mock.patch.object(train.evaluate, "score_windows", score_then_stop), \
                    self.assertRaises(Stopped):
                train.train(train.parse_args([
                    "--features", feats, "--out", os.path.join(d, "out"), "--work", work,
                    "--report", os.path.join(d, "r.json"), "--epochs", "3",
                    "--steps-per-epoch", "3", "--batch", "8", "--dev-windows", "20",
                    "--seed", "3", "--quiet"]))
            self.assertEqual(sorted(os.listdir(work)), ["best.pt"])
            saved = model_lib.load_checkpoint(os.path.join(work, "best.pt")).state_dict()
            self.assertEqual(list(saved), list(seen[0]))
            for name, value in seen[0].items():
                self.assertTrue(torch.equal(saved[name], value), name)


class WeightAverageTest(unittest.TestCase):
    def test_average_is_the_mean_of_the_samples_and_batchnorm_is_refitted(self):
        import numpy as np
        import torch

        import model as model_lib

        torch.manual_seed(0)
        net = model_lib.Detector()
        average = train.WeightAverage(net)
        snapshots = []
        for scale in (1.0, 2.0, 4.0):
            with torch.no_grad():
                for p in net.parameters():
                    p.copy_(torch.full_like(p, scale))
            snapshots.append(scale)
            average.add(net)
        rng = np.random.default_rng(0)
        batch = lambda: (5.0 + rng.standard_normal((4, 120, 60))).astype(np.float32)  # noqa: E731
        state = average.network(net, batch, bn_batches=3).state_dict()
        self.assertEqual(average.count, 3)
        weight = state["stage1.0.weight"]
        self.assertTrue(torch.allclose(weight, torch.full_like(weight, np.mean(snapshots))))
        # BatchNorm statistics come from the batches, not from the samples: running_mean was
        # never trained here, so a non-zero value can only come from the refit.
        self.assertGreater(float(state["stage1.2.running_mean"].abs().sum()), 0.0)
        # the network passed in is left as it was
        self.assertTrue(torch.equal(next(net.parameters()),
                                    torch.full_like(next(net.parameters()), 4.0)))

    @staticmethod
    def _small_run(*options: str) -> dict:
        """A 2-epoch run of a 4/4/8/8-channel network on a small fake dump; returns the report."""
        with tempfile.TemporaryDirectory() as d:
            feats = os.path.join(d, "features")
            write_fake_dump(feats, {"train": 16, "dev": 8, "test": 4}, seed=6)
            return train.train(train.parse_args([
                "--features", feats, "--out", d, "--work", d, "--report",
                os.path.join(d, "r.json"), "--epochs", "2", "--steps-per-epoch", "4",
                "--batch", "8", "--dev-windows", "20", "--seed", "3", "--quiet",
                "--channels", "4,4,8,8", "--head", "16", *options]))

    def test_run_with_averaging_and_exclusions_reports_both(self):
        report = self._small_run("--average-from", "1", "--average-every", "2",
                                 "--exclude-train", "0000")
        training = report["training"]
        # clips 0 .. 9 of the train split
        self.assertEqual(training["train_clips_excluded"], 10)
        self.assertEqual(training["train_clips"] + training["train_clips_dropped_short"], 6)
        averaged = report["training"]["weight_average"]
        self.assertEqual(averaged["samples"], 4)
        self.assertEqual(averaged["from_epoch"], 1)
        self.assertEqual(report["model"]["architecture"]["channels"], [4, 4, 8, 8])
        self.assertEqual(averaged["chosen"],
                         report["training"]["best_epoch"] == "average")

    def test_domain_adversarial_run_exports_the_detector_alone(self):
        report = self._small_run("--domain-adversarial", "0.5")
        training = report["training"]
        self.assertEqual(training["domain_adversarial"]["scale"], 0.5)
        # fake_dump names every fourth clip a vocoded copy of source src<i % 3>.
        self.assertEqual(training["domain_adversarial"]["domains"], ["src0", "src1", "src2"])
        self.assertGreater(training["domain_adversarial"]["critic_loss"], 0.0)
        plain = self._small_run()
        # The critic is not exported: the same architecture and ONNX size as a plain run.
        self.assertEqual(report["model"]["onnx_bytes"], plain["model"]["onnx_bytes"])
        self.assertIsNone(plain["training"]["domain_adversarial"])
        self.assertIsNone(plain["training"]["distillation"])

    def test_distilled_run_reports_its_teachers(self):
        with tempfile.TemporaryDirectory() as d:
            feats = os.path.join(d, "features")
            write_fake_dump(feats, {"train": 16, "dev": 8, "test": 4}, seed=6)
            teacher = train.train(train.parse_args([
                "--features", feats, "--out", d, "--work", d, "--report",
                os.path.join(d, "t.json"), "--epochs", "1", "--steps-per-epoch", "2",
                "--batch", "8", "--dev-windows", "20", "--seed", "4", "--quiet",
                "--channels", "4,4,8,8", "--head", "16"]))
            checkpoint = os.path.join(train.REPO, teacher["model"]["checkpoint"])
            report = self._small_run("--teacher", checkpoint, "--teacher", checkpoint,
                                     "--distill-weight", "0.3")
        distilled = report["training"]["distillation"]
        self.assertEqual(distilled["teachers"], 2)
        self.assertEqual(distilled["weight"], 0.3)
        self.assertEqual(distilled["dev_window_eers"][0], distilled["dev_window_eers"][1])

    def test_one_class_run_exports_a_cosine_head(self):
        report = self._small_run("--loss", "one-class")
        self.assertEqual(report["training"]["loss"], "one-class")
        self.assertEqual(report["model"]["architecture"]["score"], "cosine")
        # The export check ran on the cosine head (train.py exits when it fails).
        self.assertLess(max(report["model"]["onnx_max_abs_diff"].values()), 1e-3)
        self.assertIn("eer", report["results"]["dev"]["full"])

    def test_longer_windows_reach_the_metadata_and_the_export_check(self):
        report = self._small_run("--max-frames", "300")
        self.assertEqual(report["detector"]["window"],
                         {"min_frames": 100, "max_frames": 300, "hop_frames": 50})
        # The ONNX check ran on a real dev window of the longest length.
        self.assertTrue(any(k.endswith("_T300") for k in report["model"]["onnx_max_abs_diff"]))
        with self.assertRaises(SystemExit):
            train.parse_args(["--max-frames", "401"])

    def test_bad_channels_are_refused(self):
        with tempfile.TemporaryDirectory() as d:
            feats = os.path.join(d, "features")
            write_fake_dump(feats, {"train": 8, "dev": 4, "test": 2}, seed=6)
            with self.assertRaises(SystemExit):
                train.train(train.parse_args(["--features", feats, "--out", d, "--work", d,
                                              "--report", os.path.join(d, "r.json"),
                                              "--channels", "8,12", "--quiet"]))


if __name__ == "__main__":
    unittest.main()


class WriteReportTest(unittest.TestCase):
    """Reports go through a temporary file: a reader never sees half of one."""

    def test_replaces_the_previous_report_and_leaves_no_temporary(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "sub", "report.json")
            self.assertEqual(train.write_report(path, {"run": 1}), path)
            self.assertEqual(train.write_report(path, {"run": 2}), path)
            with open(path, encoding="utf-8") as f:
                self.assertEqual(json.load(f), {"run": 2})
            self.assertEqual(os.listdir(os.path.dirname(path)), ["report.json"])

    def test_a_report_that_cannot_be_serialised_keeps_the_old_one(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "report.json")
            train.write_report(path, {"run": 1})
            with self.assertRaises(TypeError):
                train.write_report(path, {"run": object()})
            with open(path, encoding="utf-8") as f:
                self.assertEqual(json.load(f), {"run": 1})
            self.assertEqual(os.listdir(d), ["report.json"])
