#!/usr/bin/python3
"""Checks that trivial cues cannot separate the classes of a corpus split.

  /usr/bin/python3 tools/corpus/shortcut_check.py data/corpus/manifest.csv [--split test]
                                                  [--threshold 35] [--jobs 2]

For every clip of the split it computes trivial scores -- duration, RMS level, leading silence
(10 ms frames below -45 dBFS before the first louder frame), trailing silence, and bandwidth
(95 % spectral roll-off) -- and the equal error rate (EER) of each score used as a detector in
its better direction (so 50 % = useless, 0 % = perfect shortcut). Prints a table; exits 1 if
any EER is below the threshold (default 35 %). numpy only.
"""

from __future__ import annotations

import argparse
import csv
import sys
import wave
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

SILENCE_DBFS = -45.0
FRAME_S = 0.01


def eer(genuine: np.ndarray, spoof: np.ndarray) -> float:
    """EER (0..1) of 'score > t means genuine'; ties handled by evaluating at every score."""
    scores = np.concatenate([genuine, spoof])
    labels = np.concatenate([np.ones(len(genuine)), np.zeros(len(spoof))])
    order = np.argsort(scores, kind="mergesort")
    s = scores[order]
    lab = labels[order]
    # thresholds between distinct scores: reject everything <= s[i]
    n_g, n_s = len(genuine), len(spoof)
    frr = np.concatenate([[0.0], np.cumsum(lab) / n_g])  # genuine rejected
    far = np.concatenate([[1.0], 1.0 - np.cumsum(1 - lab) / n_s])  # spoof accepted
    # only cut where the score changes
    keep = np.concatenate([[True], s[1:] != s[:-1], [True]])
    frr, far = frr[keep], far[keep]
    i = int(np.argmin(np.abs(frr - far)))
    return float((frr[i] + far[i]) / 2.0)


def eer_both(genuine: np.ndarray, spoof: np.ndarray) -> tuple[float, str]:
    a = eer(genuine, spoof)
    b = eer(-genuine, -spoof)
    return (a, "higher=genuine") if a <= b else (b, "lower=genuine")


def features(path: str) -> tuple[float, float, float, float, float]:
    with wave.open(path, "rb") as w:
        rate = w.getframerate()
        x = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64) / 32768.0
    dur = len(x) / rate
    rms_db = 10 * np.log10(np.mean(x**2) + 1e-12)
    n = int(rate * FRAME_S)
    m = len(x) // n
    e = 10 * np.log10(np.mean(x[: m * n].reshape(m, n) ** 2, axis=1) + 1e-12) if m else np.array(
        [-120.0])
    loud = np.nonzero(e > SILENCE_DBFS)[0]
    lead = (loud[0] if len(loud) else m) * FRAME_S
    trail = (m - 1 - loud[-1] if len(loud) else m) * FRAME_S
    nfft = 512
    if len(x) >= nfft:
        frames = np.lib.stride_tricks.sliding_window_view(x, nfft)[::nfft // 2]
        spec = np.mean(np.abs(np.fft.rfft(frames * np.hanning(nfft), axis=1)) ** 2, axis=0)
        c = np.cumsum(spec)
        rolloff = float(np.searchsorted(c, 0.95 * c[-1])) * rate / nfft
    else:
        rolloff = 0.0
    return dur, float(rms_db), float(lead), float(trail), rolloff


NAMES = ["duration_s", "rms_dbfs", "leading_silence_s", "trailing_silence_s", "rolloff95_hz"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("manifest", type=Path)
    ap.add_argument("--split", default="test", help="split to check, or 'all' (default test)")
    ap.add_argument("--threshold", type=float, default=35.0, help="minimum EER in percent")
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()

    root = args.manifest.resolve().parent
    with open(args.manifest, newline="") as f:
        rows = list(csv.DictReader(f))
    splits = sorted({r["split"] for r in rows}) if args.split == "all" else [args.split]
    worst = 100.0
    for split in splits:
        sel = [r for r in rows if r["split"] == split]
        if not sel:
            print(f"split {split}: no clips", file=sys.stderr)
            return 2
        paths = [str(root / r["path"]) for r in sel]
        with ProcessPoolExecutor(max_workers=max(1, min(args.jobs, 2))) as pool:
            feats = np.array(list(pool.map(features, paths, chunksize=32)))
        is_gen = np.array([r["label"] == "genuine" for r in sel])
        print(f"\nsplit {split}: {int(is_gen.sum())} genuine, {int((~is_gen).sum())} synthetic")
        print(f"{'score':<20} {'EER %':>7}  {'direction':<15} {'genuine median':>15} "
              f"{'synthetic median':>17}")
        for j, name in enumerate(NAMES):
            g, s = feats[is_gen, j], feats[~is_gen, j]
            e, direction = eer_both(g, s)
            worst = min(worst, 100 * e)
            flag = "  <-- SHORTCUT" if 100 * e < args.threshold else ""
            print(f"{name:<20} {100 * e:7.2f}  {direction:<15} {np.median(g):15.3f} "
                  f"{np.median(s):17.3f}{flag}")
    print(f"\nlowest EER {worst:.2f} % (threshold {args.threshold:.0f} %)")
    return 1 if worst < args.threshold else 0


if __name__ == "__main__":
    sys.exit(main())
