import os
import sys
import tempfile
import unittest

import numpy as np

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads; see train.py
import torch  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import model  # noqa: E402
from fake_dump import randomised_model  # noqa: E402


def check_export_and_checkpoint(test: unittest.TestCase, m: model.Detector,
                                width: int) -> model.Detector:
    """Exports m to ONNX and checks it against PyTorch, then round-trips it through a checkpoint;
    returns the loaded model."""
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "detector.onnx")
        model.export_onnx(m, path)
        check = model.verify_onnx(m, path)
        test.assertEqual(check["problems"], [])
        test.assertEqual(check["inputs"][0][2][2], width)
        for diff in check["max_abs_diff"].values():
            test.assertLess(diff, 1e-4)
        ckpt = os.path.join(d, "best.pt")
        with open(ckpt, "wb") as f:
            f.write(model.state_to_bytes(m))
        loaded = model.load_checkpoint(ckpt)
        test.assertEqual(loaded.width, width)
        x = torch.randn(1, 120, width)
        with torch.no_grad():
            torch.testing.assert_close(m(x), loaded(x))
        return loaded


class ModelTest(unittest.TestCase):
    def test_output_shape_for_any_window_length(self):
        m = randomised_model()
        with torch.no_grad():
            for t in (100, 150, 200, 250, 300):
                for b in (1, 3):
                    y = m(torch.randn(b, t, 60))
                    self.assertEqual(tuple(y.shape), (b,))

    def test_budget(self):
        m = model.Detector()
        params, mflops = model.describe(m)
        self.assertTrue(50_000 <= params <= 150_000, params)
        self.assertLessEqual(mflops, 25.0)

    def test_mean_normalisation_is_inside_the_model(self):
        # A constant per-bin offset (channel gain, level) must not change the logit.
        m = randomised_model(1)
        x = torch.randn(2, 160, 60) * 3 - 10
        offset = torch.linspace(-5, 5, 60)
        with torch.no_grad():
            torch.testing.assert_close(m(x), m(x + offset), atol=1e-4, rtol=1e-4)

    def test_train_and_export_activations_agree(self):
        mfm = model.MaxFeatureMap(3)
        x = torch.randn(2, 6, 4, 5)
        ref = torch.max(x[:, :3], x[:, 3:])
        torch.testing.assert_close(mfm(x), ref)

    def test_export_matches_pytorch(self):
        m = randomised_model(2)
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "detector.onnx")
            model.export_onnx(m, path)
            self.assertLess(os.path.getsize(path), 2 * 1024 * 1024)
            check = model.verify_onnx(m, path, real_inputs=[np.zeros((1, 120, 60), np.float32)])
            self.assertEqual(check["problems"], [])
            self.assertEqual(check["opset"], 11)
            self.assertEqual(check["inputs"][0][0], "features")
            self.assertEqual(check["outputs"][0][0], "logit")
            self.assertEqual(set(check["max_abs_diff"]), {"100", "150", "200", "300",
                                                         "real_0_T120"})
            for diff in check["max_abs_diff"].values():
                self.assertLess(diff, 1e-4)

    def test_checkpoint_round_trip(self):
        m = randomised_model(3)
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "best.pt")
            with open(path, "wb") as f:
                f.write(model.state_to_bytes(m))
            loaded = model.load_checkpoint(path)
            x = torch.randn(2, 130, 60)
            with torch.no_grad():
                torch.testing.assert_close(m(x), loaded(x))


class ExcitationBranchTest(unittest.TestCase):
    def test_width_and_budget(self):
        m = model.Detector(excitation=3)
        self.assertEqual(m.width, 63)
        params, mflops = model.describe(m)
        self.assertLessEqual(params, 150_000)
        self.assertLessEqual(mflops, 25.0)

    def test_offsets_only_cancel_in_the_filterbank(self):
        # A constant offset on the filterbank bins is removed by the mean normalisation; the
        # excitation values are levels (e.g. how peaky the pulses are) and must reach the head.
        m = randomised_model(4, excitation=3)
        x = torch.randn(2, 150, 63)
        bins = torch.cat([torch.linspace(-5, 5, 60), torch.zeros(3)])
        excitation = torch.cat([torch.zeros(60), torch.tensor([1.0, -1.0, 0.5])])
        with torch.no_grad():
            torch.testing.assert_close(m(x), m(x + bins), atol=1e-4, rtol=1e-4)
            self.assertGreater(float(torch.max(torch.abs(m(x) - m(x + excitation)))), 1e-3)

    def test_export_and_checkpoint(self):
        loaded = check_export_and_checkpoint(self, randomised_model(5, excitation=3), 63)
        self.assertEqual(loaded.excitation, 3)



class FineBranchTest(unittest.TestCase):
    """The branch over the front end's 2 ms sub-frames (fine_bands x 5 values per frame)."""

    def test_width_and_budget(self):
        m = model.Detector(channels=(12, 16, 24, 48), fine=(6, 5))
        self.assertEqual(m.width, 90)
        params, mflops = model.describe(m)
        self.assertLessEqual(params, 150_000)
        self.assertLessEqual(mflops, 60.0)

    def test_sub_frame_order_matters_and_band_offsets_cancel(self):
        # Mean normalisation over time removes a constant offset per fine band, but the order of
        # the sub-frames (the ripple inside a pitch period) is what the branch reads.
        m = randomised_model(6, fine=(6, 5))
        x = torch.randn(2, 150, 90)
        offsets = torch.cat([torch.zeros(60), torch.linspace(-3, 3, 6).repeat(5)])
        shuffled = x.clone()
        shuffled[:, :, 60:] = x[:, :, 60:].reshape(2, 150, 5, 6)[:, :, [4, 2, 0, 3, 1]] \
            .reshape(2, 150, 30)
        with torch.no_grad():
            torch.testing.assert_close(m(x), m(x + offsets), atol=1e-4, rtol=1e-4)
            self.assertGreater(float(torch.max(torch.abs(m(x) - m(shuffled)))), 1e-5)

    def test_export_and_checkpoint(self):
        loaded = check_export_and_checkpoint(self, randomised_model(7, fine=(6, 5)), 90)
        self.assertEqual(loaded.fine_bands, 6)


class FineOnlyTest(unittest.TestCase):
    """spectral=False (train.py --fine-only): the fine branch alone, reading the same input."""

    def test_ignores_the_filterbank_and_reads_the_fine_values(self):
        m = randomised_model(11, fine=(6, 5), fine_channels=(8, 16, 24, 32), spectral=False)
        self.assertEqual(m.width, 90)
        self.assertFalse(hasattr(m, "stage1"))
        x = torch.randn(2, 150, 90)
        other_filterbank = x.clone()
        other_filterbank[:, :, :60] = torch.randn(2, 150, 60) * 5.0
        other_fine = x.clone()
        other_fine[:, :, 60:] = torch.randn(2, 150, 30)
        with torch.no_grad():
            torch.testing.assert_close(m(x), m(other_filterbank), atol=0, rtol=0)
            self.assertGreater(float(torch.max(torch.abs(m(x) - m(other_fine)))), 1e-5)
        params, mflops = model.describe(m)
        self.assertLess(mflops, 30.0)

    def test_needs_the_fine_values(self):
        with self.assertRaises(ValueError):
            model.Detector(spectral=False)

    def test_export_and_checkpoint(self):
        loaded = check_export_and_checkpoint(
            self, randomised_model(12, fine=(6, 5), spectral=False), 90)
        self.assertFalse(loaded.spectral)


class VarianceNormTest(unittest.TestCase):
    """variance_norm (train.py --variance-norm): each bin's dynamic range over the window is
    normalised away as well as its level."""

    def test_dynamic_range_of_a_bin_cancels_only_with_variance_norm(self):
        x = torch.randn(2, 150, 90) * 3.0 - 10.0
        mean = x.mean(dim=1, keepdim=True)
        stretched = mean + 2.5 * (x - mean) + 4.0
        for variance_norm, same in ((True, True), (False, False)):
            torch.manual_seed(9)
            m = model.Detector(fine=(6, 5), variance_norm=variance_norm).eval()
            with torch.no_grad():
                diff = float(torch.max(torch.abs(m(x) - m(stretched))))
            if same:
                self.assertLess(diff, 1e-3)
            else:
                self.assertGreater(diff, 1e-3)

    def test_export_and_checkpoint(self):
        torch.manual_seed(10)
        m = model.Detector(fine=(6, 5), variance_norm=True).eval()
        loaded = check_export_and_checkpoint(self, m, 90)
        self.assertTrue(loaded.variance_norm)


class OneClassTest(unittest.TestCase):
    """The cosine score head and the OC-softmax loss (train.py --loss one-class)."""

    def test_score_is_a_negated_cosine(self):
        head = model.CosineScore(4)
        with torch.no_grad():
            head.direction.copy_(torch.tensor([[2.0, 0.0, 0.0, 0.0]]))
        e = torch.tensor([[3.0, 0.0, 0.0, 0.0], [0.0, 5.0, 0.0, 0.0], [-1.0, 0.0, 0.0, 0.0],
                          [1.0, 1.0, 0.0, 0.0]])
        with torch.no_grad():
            torch.testing.assert_close(head(e).squeeze(1),
                                       torch.tensor([-1.0, 0.0, 1.0, -0.5 ** 0.5]))
            # Scale of the embedding does not matter.
            torch.testing.assert_close(head(7.0 * e), head(e))

    def test_loss_wants_genuine_inside_the_margin_and_synthetic_outside(self):
        genuine, synthetic = torch.tensor([0.0]), torch.tensor([1.0])
        loss = lambda cos, y: float(model.one_class_loss(torch.tensor([-cos]), y))  # noqa: E731
        self.assertLess(loss(0.95, genuine), 0.5)
        self.assertGreater(loss(0.5, genuine), 5.0)
        self.assertLess(loss(0.1, synthetic), 0.5)
        self.assertGreater(loss(0.6, synthetic), 5.0)
        # Between the margins neither class is at rest.
        self.assertGreater(loss(0.55, genuine), 1.0)
        self.assertGreater(loss(0.55, synthetic), 1.0)

    def test_one_class_model_exports_and_reloads(self):
        m = randomised_model(8, fine=(6, 5), score="cosine")
        x = torch.randn(3, 150, 90) * 3.0 - 10.0
        with torch.no_grad():
            y = m(x)
        self.assertLessEqual(float(y.abs().max()), 1.0 + 1e-5)
        loaded = check_export_and_checkpoint(self, m, 90)
        self.assertEqual(loaded.config["score"], "cosine")

    def test_unknown_score_is_refused(self):
        with self.assertRaises(ValueError):
            model.Detector(score="softmax")


class DomainCriticTest(unittest.TestCase):
    """model.DomainCritic (train.py --domain-adversarial): it learns the domain, and the detector
    below it receives the reversed gradient."""

    def test_gradient_is_reversed_and_scaled(self):
        torch.manual_seed(11)
        critic = model.DomainCritic(8, 3)
        pooled = torch.randn(5, 8, requires_grad=True)
        domains = torch.tensor([0, 1, 2, 1, 0])
        grads = {}
        for scale in (0.0, 1.0, 0.5):
            critic.scale = scale
            pooled.grad = None
            critic.zero_grad()
            torch.nn.functional.cross_entropy(critic(pooled), domains).backward()
            grads[scale] = (pooled.grad.clone(), critic.net[0].weight.grad.clone())
        plain = torch.autograd.grad(torch.nn.functional.cross_entropy(
            critic.net(pooled), domains), pooled)[0]
        self.assertEqual(float(grads[0.0][0].abs().max()), 0.0)
        torch.testing.assert_close(grads[1.0][0], -plain)
        torch.testing.assert_close(grads[0.5][0], -0.5 * plain)
        # The critic itself descends its own loss whatever the scale.
        torch.testing.assert_close(grads[0.0][1], grads[1.0][1])

    def test_forward_is_the_head_on_the_embedding(self):
        m = randomised_model(12, fine=(6, 5))
        x = torch.randn(2, 130, 90) * 3.0 - 10.0
        with torch.no_grad():
            pooled = m.embed(x)
            self.assertEqual(pooled.shape, (2, m.pooled_dim))
            torch.testing.assert_close(m.head(pooled).squeeze(1), m(x))

    def test_one_domain_is_refused(self):
        with self.assertRaises(ValueError):
            model.DomainCritic(8, 1)


if __name__ == "__main__":
    unittest.main()
