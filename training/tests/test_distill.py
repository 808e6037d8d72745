import os
import sys
import tempfile
import unittest

import numpy as np

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads; see train.py
import torch  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

import distill  # noqa: E402
from data import FeatureDump, make_windows  # noqa: E402
from fake_dump import write_fake_dump, write_random_checkpoint  # noqa: E402


class DistillTest(unittest.TestCase):
    """training/distill.py: the averaged teachers' probability for a batch (train.py --teacher)."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        d = cls.tmp.name
        features = os.path.join(d, "features")
        write_fake_dump(features, {"train": 4, "dev": 40}, seed=12)
        cls.dump = FeatureDump(features)
        cls.dev = make_windows(cls.dump.split("dev"))
        cls.checkpoints = [write_random_checkpoint(os.path.join(d, f"net{seed}.pt"), seed)
                           for seed in (1, 2)]
        cls.batch = np.random.default_rng(3).standard_normal((6, 120, 60)).astype(np.float32) - 10

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_probabilities_follow_the_calibrated_average(self):
        teacher = distill.EnsembleTeacher(self.checkpoints, self.dump, self.dev)
        p = teacher.probabilities(self.batch)
        self.assertEqual(p.shape, (6,))
        self.assertTrue(np.all((p > 0) & (p < 1)))
        with torch.no_grad():
            logits = [net(torch.from_numpy(self.batch)).double().numpy()
                      for net in teacher.networks]
        z = np.mean([(v - m) / s for v, m, s in zip(logits, teacher.mean, teacher.std)], axis=0)
        np.testing.assert_allclose(p, 1 / (1 + np.exp(-(teacher.a * z + teacher.b))), rtol=1e-9)
        self.assertEqual(teacher.describe()["teachers"], 2)

    def test_one_teacher_twice_is_that_teacher(self):
        once = distill.EnsembleTeacher(self.checkpoints[:1], self.dump, self.dev)
        twice = distill.EnsembleTeacher(self.checkpoints[:1] * 2, self.dump, self.dev)
        np.testing.assert_allclose(once.probabilities(self.batch),
                                   twice.probabilities(self.batch), rtol=1e-9)
        self.assertAlmostEqual(once.dev_eer, twice.dev_eer)

    def test_soft_targets_mix_label_and_teacher(self):
        y = np.array([0.0, 1.0, 1.0], dtype=np.float32)
        p = np.array([0.2, 0.9, 0.1])
        np.testing.assert_allclose(distill.soft_targets(y, p, 0.5), [0.1, 0.95, 0.55], rtol=1e-6)
        np.testing.assert_array_equal(distill.soft_targets(y, p, 0.0), y)
        with self.assertRaises(ValueError):
            distill.soft_targets(y, p, 1.5)

    def test_a_teacher_of_another_width_is_refused(self):
        path = write_random_checkpoint(os.path.join(self.tmp.name, "wide.pt"), 4, fine=(6, 5))
        with self.assertRaises(ValueError):
            distill.EnsembleTeacher([path], self.dump, self.dev)
        with self.assertRaises(ValueError):
            distill.EnsembleTeacher([], self.dump, self.dev)


if __name__ == "__main__":
    unittest.main()
