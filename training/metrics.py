"""Detection metrics (numpy only). Scores are oriented "higher = more synthetic"; targets are 1 for
synthetic, 0 for genuine.

Cost model of ASVspoof 5 (detection.md section 3): Pspoof 0.05, Cmiss 1, Cfa 10, where a *miss*
is a genuine (bona fide) trial flagged as synthetic and a *false alarm* is a synthetic trial
accepted as genuine. DCFs are normalised by the cost of the best trivial system,
min(Cmiss (1 - Pspoof), Cfa Pspoof).
"""

from __future__ import annotations

import math
from typing import Tuple

import numpy as np

P_SPOOF = 0.05
C_MISS = 1.0
C_FA = 10.0


def _split(scores: np.ndarray, targets: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    scores = np.asarray(scores, dtype=np.float64)
    targets = np.asarray(targets)
    syn = scores[targets > 0.5]
    gen = scores[targets <= 0.5]
    if syn.size == 0 or gen.size == 0:
        raise ValueError("need trials of both classes")
    return syn, gen


def error_rates(scores: np.ndarray, targets: np.ndarray):
    """For every candidate threshold t (flag synthetic when score >= t), the fraction of genuine
    trials flagged (p_gen_flagged) and of synthetic trials missed (p_syn_missed). Thresholds run
    from -inf (all flagged) up to above the largest score (none flagged)."""
    syn, gen = _split(scores, targets)
    thresholds = np.unique(np.concatenate([syn, gen]))
    thresholds = np.concatenate([thresholds, [np.inf]])
    syn_sorted = np.sort(syn)
    gen_sorted = np.sort(gen)
    # flagged = score >= t  -> count of scores >= t = n - searchsorted(left)
    p_gen_flagged = (gen.size - np.searchsorted(gen_sorted, thresholds, side="left")) / gen.size
    p_syn_missed = np.searchsorted(syn_sorted, thresholds, side="left") / syn.size
    return thresholds, p_gen_flagged, p_syn_missed


def eer(scores: np.ndarray, targets: np.ndarray) -> float:
    """Equal error rate (fraction, 0..1), by the ROC convex-hull-free crossing point: the mean of
    the two error rates where they are closest on the threshold sweep."""
    _, fa, miss = error_rates(scores, targets)
    # fa decreases, miss increases with the threshold; find the crossing.
    diff = miss - fa
    i = int(np.argmax(diff >= 0))
    if i == 0:
        return float((fa[0] + miss[0]) / 2)
    # Linear interpolation between sweep points i-1 and i.
    d0, d1 = diff[i - 1], diff[i]
    w = d0 / (d0 - d1) if d0 != d1 else 0.5
    fa_x = fa[i - 1] + w * (fa[i] - fa[i - 1])
    miss_x = miss[i - 1] + w * (miss[i] - miss[i - 1])
    return float((fa_x + miss_x) / 2)


def _dcf_norm() -> float:
    return min(C_MISS * (1 - P_SPOOF), C_FA * P_SPOOF)


def min_dcf(scores: np.ndarray, targets: np.ndarray) -> float:
    """Normalised minimum DCF over all thresholds (oracle threshold)."""
    _, gen_flagged, syn_missed = error_rates(scores, targets)
    dcf = C_MISS * (1 - P_SPOOF) * gen_flagged + C_FA * P_SPOOF * syn_missed
    return float(dcf.min() / _dcf_norm())


def bayes_threshold_llr() -> float:
    """Decision threshold on a synthetic-vs-genuine LLR that minimises the expected cost:
    flag when llr >= log(Cmiss (1 - Pspoof) / (Cfa Pspoof)) (= log 1.9 = 0.642)."""
    return math.log(C_MISS * (1 - P_SPOOF) / (C_FA * P_SPOOF))


def dcf_at(scores: np.ndarray, targets: np.ndarray, threshold: float) -> float:
    """Normalised DCF with a fixed threshold (flag when score >= threshold)."""
    syn, gen = _split(scores, targets)
    gen_flagged = float(np.mean(gen >= threshold))
    syn_missed = float(np.mean(syn < threshold))
    return (C_MISS * (1 - P_SPOOF) * gen_flagged + C_FA * P_SPOOF * syn_missed) / _dcf_norm()


def act_dcf(llrs: np.ndarray, targets: np.ndarray) -> float:
    """Normalised actual DCF of calibrated LLRs at the Bayes threshold."""
    return dcf_at(llrs, targets, bayes_threshold_llr())


def cllr(llrs: np.ndarray, targets: np.ndarray) -> float:
    """Log-likelihood-ratio cost in bits (0 = perfect, 1 = uninformative but calibrated)."""
    syn, gen = _split(llrs, targets)
    c_syn = np.mean(np.logaddexp(0.0, -syn)) / math.log(2)
    c_gen = np.mean(np.logaddexp(0.0, gen)) / math.log(2)
    return float(0.5 * (c_syn + c_gen))


def summary(llrs: np.ndarray, targets: np.ndarray) -> dict:
    """All LLR metrics for one trial list."""
    return {
        "eer": eer(llrs, targets),
        "min_dcf": min_dcf(llrs, targets),
        "act_dcf": act_dcf(llrs, targets),
        "cllr": cllr(llrs, targets),
    }
