"""Score calibration (numpy only).

Window level: llr = a * logit + b, fitted by prior-weighted logistic regression (Brummer's linear
calibration, the objective behind Cllr) on dev windows. Call level: the streaming scorer keeps the
mean of the window LLRs so far, and call_llr = a_call * mean + b_call, fitted the same way on dev
full clips. Probability of synthetic speech = sigmoid(llr) (equal priors). The alarm threshold is
the smallest probability that flags at most 1 % of genuine dev clips; a clip is flagged when its
probability >= threshold.
"""

from __future__ import annotations

import math
from typing import Dict, Optional, Sequence, Tuple

import numpy as np


def sigmoid(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return np.exp(-np.logaddexp(0.0, -x))


def fit_affine(scores: np.ndarray, targets: np.ndarray, prior: float = 0.5,
               l2: float = 1e-4, iterations: int = 100) -> Tuple[float, float]:
    """(a, b) minimising prior * mean_syn softplus(-(a s + b + logit prior))
    + (1 - prior) * mean_gen softplus(a s + b + logit prior) + l2/2 (a'^2 + b'^2), where a', b' are
    the parameters on standardised scores. The small l2 term keeps (a, b) finite when dev is
    separable. Targets: 1 synthetic, 0 genuine. Newton's method with backtracking."""
    s = np.asarray(scores, dtype=np.float64)
    y = (np.asarray(targets) > 0.5).astype(np.float64)
    n_syn, n_gen = float(y.sum()), float((1 - y).sum())
    if n_syn == 0 or n_gen == 0:
        raise ValueError("calibration needs both classes")
    if not 0.0 < prior < 1.0:
        raise ValueError("prior must be in (0, 1)")
    mu = float(s.mean())
    sd = float(s.std()) or 1.0
    x = (s - mu) / sd
    w = np.where(y > 0.5, prior / n_syn, (1 - prior) / n_gen)
    offset = math.log(prior / (1 - prior))
    sign = 2 * y - 1

    def loss(theta: np.ndarray) -> float:
        z = theta[0] * x + theta[1] + offset
        return float(np.sum(w * np.logaddexp(0.0, -sign * z)) + 0.5 * l2 * theta @ theta)

    theta = np.zeros(2)
    current = loss(theta)
    for _ in range(iterations):
        z = theta[0] * x + theta[1] + offset
        p = sigmoid(z)
        r = w * (p - y)
        grad = np.array([np.sum(r * x), np.sum(r)]) + l2 * theta
        h = w * p * (1 - p)
        hess = np.array([[np.sum(h * x * x), np.sum(h * x)], [np.sum(h * x), np.sum(h)]])
        hess += l2 * np.eye(2)
        step = np.linalg.solve(hess, grad)
        t = 1.0
        while True:
            candidate = theta - t * step
            value = loss(candidate)
            if value <= current or t < 1e-8:
                break
            t *= 0.5
        converged = abs(current - value) < 1e-12
        theta, current = candidate, value
        if converged:
            break
    a = theta[0] / sd
    b = theta[1] - theta[0] * mu / sd
    return float(a), float(b)


def apply_affine(scores: np.ndarray, a: float, b: float) -> np.ndarray:
    return a * np.asarray(scores, dtype=np.float64) + b


def call_means(window_llrs: np.ndarray, clip_index: np.ndarray, seen: np.ndarray,
               num_clips: int, upto_frames: Optional[int] = None) -> np.ndarray:
    """Mean window LLR per clip over the windows scored when at most `upto_frames` speech frames
    were seen (all windows when None); NaN for clips with no such window."""
    llr = np.asarray(window_llrs, dtype=np.float64)
    keep = np.ones(llr.shape[0], dtype=bool) if upto_frames is None else seen <= upto_frames
    sums = np.bincount(clip_index[keep], weights=llr[keep], minlength=num_clips)
    counts = np.bincount(clip_index[keep], minlength=num_clips)
    out = np.full(num_clips, np.nan)
    nz = counts > 0
    out[nz] = sums[nz] / counts[nz]
    return out


def choose_threshold(genuine_probs: Sequence[float], max_flagged: float = 0.01,
                     margin: float = 1e-4) -> float:
    """Smallest probability threshold t such that at most max_flagged of the genuine clips have
    probability >= t. With k = floor(max_flagged * n) clips allowed, t sits just above the
    (k+1)-th largest genuine probability; `margin` keeps float differences between PyTorch and
    ONNX Runtime from flipping that clip (logits differ by up to ~2e-5, which the calibration
    scales to ~2e-5 in probability near 0.8: 1e-6, the margin until the twenty-second session,
    let one dev clip of the pair shipped then flip)."""
    p = np.sort(np.asarray(genuine_probs, dtype=np.float64))[::-1]
    if p.size == 0:
        raise ValueError("no genuine clips")
    k = int(math.floor(max_flagged * p.size + 1e-9))
    if k >= p.size:
        return 0.0
    return float(min(p[k] + margin, 1.0))


def fit_calibration(logits: np.ndarray, window_targets: np.ndarray, clip_index: np.ndarray,
                    seen: np.ndarray, clip_targets: np.ndarray, max_flagged: float = 0.01
                    ) -> Tuple[Dict[str, Dict[str, float]], float]:
    """detector.json's calibration and threshold from one split's window logits (dev): window
    LLR = a * logit + b fitted on every window; call LLR = a_call * mean(window LLRs of the
    clip) + b_call fitted on the clips with a window; the threshold flags at most max_flagged
    of those genuine clips."""
    a_w, b_w = fit_affine(logits, window_targets)
    means = call_means(apply_affine(logits, a_w, b_w), clip_index, seen, len(clip_targets))
    scored = ~np.isnan(means)
    targets = np.asarray(clip_targets, dtype=np.float64)[scored]
    a_c, b_c = fit_affine(means[scored], targets)
    call_llr = apply_affine(means[scored], a_c, b_c)
    threshold = choose_threshold(sigmoid(call_llr[targets <= 0.5]), max_flagged)
    return {"window": {"a": a_w, "b": b_w}, "call": {"a": a_c, "b": b_c}}, threshold
