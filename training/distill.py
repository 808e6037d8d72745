"""Knowledge distillation from an average of trained detectors (train.py --teacher).

Averaging the window logits of several networks scores better on dev than any one of them
(compare.py --average, model card), but each network costs a full model's compute in the
service. A student network of the shipped size learns from the average instead: its training
target mixes the clip's label with the teachers' calibrated probability for the very crop it
sees, which carries how synthetic the crop looks and not only which class it belongs to.

The teachers' window logits are standardised on the dev windows (as compare.py averages them)
and their mean is mapped to a window LLR by an affine calibration fitted on dev, the way train.py
calibrates; sigmoid(LLR) is the probability at the sampler's balanced prior.
"""

from __future__ import annotations

from typing import Dict, List, Sequence

import numpy as np

import calibrate
import evaluate
import metrics
from data import FeatureDump, WindowSet


class EnsembleTeacher:
    """Frozen teacher networks and the dev statistics that turn their logits into a probability."""

    def __init__(self, checkpoints: Sequence[str], dump: FeatureDump, dev_windows: WindowSet):
        import model as model_lib  # noqa: PLC0415

        if not checkpoints:
            raise ValueError("distillation needs at least one teacher checkpoint")
        self.networks = [model_lib.load_checkpoint(p) for p in checkpoints]
        for p, net in zip(checkpoints, self.networks):
            if net.width != dump.width:
                raise ValueError(f"teacher {p} reads {net.width} values per frame, the dump has "
                                 f"{dump.width}")
        targets = dev_windows.targets()
        logits = [evaluate.score_windows(net, dump, dev_windows) for net in self.networks]
        self.mean = np.array([float(v.mean()) for v in logits])
        self.std = np.array([float(v.std()) or 1.0 for v in logits])
        average = self._average(logits)
        self.a, self.b = calibrate.fit_affine(average, targets)
        self.dev_eers: List[float] = [metrics.eer(v, targets) for v in logits]
        self.dev_eer = metrics.eer(average, targets)

    def _average(self, logits: Sequence[np.ndarray]) -> np.ndarray:
        return np.mean([(v - m) / s for v, m, s in zip(logits, self.mean, self.std)], axis=0)

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        """P(synthetic) of the averaged teachers for a batch [B, T, width] of features."""
        import torch  # noqa: PLC0415

        batch = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
        with torch.no_grad():
            logits = [net(batch).double().numpy() for net in self.networks]
        llr = calibrate.apply_affine(self._average(logits), self.a, self.b)
        return calibrate.sigmoid(llr)

    def describe(self) -> Dict:
        return {"teachers": len(self.networks), "dev_window_eers": self.dev_eers,
                "average_dev_window_eer": self.dev_eer, "calibration": {"a": self.a, "b": self.b}}


def soft_targets(labels: np.ndarray, teacher_probs: np.ndarray, weight: float) -> np.ndarray:
    """(1 - weight) * label + weight * teacher probability, as float32 BCE targets."""
    if not 0.0 <= weight <= 1.0:
        raise ValueError("distillation weight must be in [0, 1]")
    return ((1.0 - weight) * labels + weight * teacher_probs).astype(np.float32)
