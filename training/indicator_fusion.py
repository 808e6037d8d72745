"""Measures what the service's acoustic indicators add to the detector: a logistic fusion of the
call LLR with call-level indicators (docs/indicators.md), fitted on dev, scored on test.

  B=build/bin/deepfake-voice-detector
  /usr/bin/python3 training/indicator_fusion.py --list data/corpus/manifest.csv dev test \
      | $B analyze --jsonl --indicators --jobs 2 --files-from - > /tmp/indicators.jsonl
  /usr/bin/python3 training/indicator_fusion.py data/corpus/manifest.csv /tmp/indicators.jsonl \
      [--per-attack]

One line per feature set: "detector" (the call LLR alone, the baseline), "voice" (jitter,
shimmer, HNR), "prosody" (pitch spread over the call) and "all" (those plus spectral flatness and
tilt). For each: a logistic regression of (LLR, standardised indicators) on dev (missing values:
the dev median), then the EER on dev and test, the test genuine-flagged and synthetic-caught rates
at the dev threshold (at most 1 % of genuine dev clips flagged, calibrate.choose_threshold), and
"best caught" (chosen on test, so not a result; see compare.py). Pauses, breaths and speech rate
are left out on purpose: they measure silence and timing, which the detector must never learn
(docs/detection.md, the silence shortcut). Clips without a score (under 1 s of speech) are left
out, as `eval` leaves them out.

The figures are whole-clip indicators, as the service has them at hang-up; nothing here is in the
shipped model (see the model card, "What was tried").
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from typing import Dict, List, Sequence, Tuple

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import calibrate  # noqa: E402
import metrics  # noqa: E402

VOICE = ["jitter_local_percent", "shimmer_local_percent", "shimmer_local_db", "hnr_db"]
PROSODY = ["pitch_stddev_semitones", "pitch_range_semitones"]
SPECTRUM = ["spectral_flatness", "spectral_tilt_db_per_octave", "jitter_local_abs_us"]
FEATURE_SETS: Dict[str, List[str]] = {
    "detector": [],
    "voice": VOICE,
    "prosody": PROSODY,
    "all": VOICE + PROSODY + SPECTRUM,
}


class Clips:
    """The scored clips of one split: LLR, label (1 synthetic), attack and indicator values."""

    def __init__(self, llr, target, attack, indicators: List[Dict[str, float]]):
        self.llr = np.asarray(llr, dtype=np.float64)
        self.target = np.asarray(target, dtype=np.float64)
        self.attack = np.asarray(attack)
        self.indicators = indicators

    def matrix(self, names: Sequence[str]) -> np.ndarray:
        """Indicator values, clips x names; NaN where the clip has none."""
        out = np.full((len(self.indicators), len(names)), np.nan)
        for i, row in enumerate(self.indicators):
            for k, name in enumerate(names):
                value = row.get(name)
                if value is not None:
                    out[i, k] = float(value)
        return out


def manifest_rows(manifest_path: str) -> Dict[str, Dict[str, str]]:
    """The manifest's rows by clip path as `analyze` prints it (manifest paths are relative to
    the manifest's folder)."""
    root = os.path.dirname(manifest_path)
    with open(manifest_path, newline="") as f:
        return {os.path.normpath(os.path.join(root, r["path"])): r for r in csv.DictReader(f)}


def load(manifest_path: str, jsonl_path: str) -> Dict[str, Clips]:
    """Clips per split from `analyze --jsonl --indicators` lines, labelled by the manifest."""
    rows = manifest_rows(manifest_path)
    parts: Dict[str, Tuple[list, list, list, list]] = {}
    with open(jsonl_path) as f:
        for line in f:
            j = json.loads(line)
            if j.get("llr") is None or "indicators" not in j:
                continue
            r = rows.get(os.path.normpath(j["file"]))
            if r is None:
                raise ValueError(f"{j['file']} is not in {manifest_path}")
            llr, target, attack, ind = parts.setdefault(r["split"], ([], [], [], []))
            llr.append(j["llr"])
            target.append(0.0 if r["label"] == "genuine" else 1.0)
            attack.append(r["attack"])
            ind.append(j["indicators"])
    return {split: Clips(*p) for split, p in parts.items()}


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1e-2, iterations: int = 50
                 ) -> np.ndarray:
    """Weights (one per column, then the bias) of an L2-regularised logistic regression, by
    Newton's method (the bias is not regularised)."""
    x1 = np.c_[x, np.ones(len(x))]
    w = np.zeros(x1.shape[1])
    reg = np.full(x1.shape[1], l2)
    reg[-1] = 0.0
    for _ in range(iterations):
        p = calibrate.sigmoid(x1 @ w)
        grad = x1.T @ (p - y) + reg * w
        hess = x1.T @ (x1 * (p * (1 - p))[:, None]) + np.diag(reg + 1e-9)
        step = np.linalg.solve(hess, grad)
        w -= step
        if float(np.max(np.abs(step))) < 1e-10:
            break
    return w


class Fusion:
    """LLR + standardised indicators -> a fused score, fitted on one split."""

    def __init__(self, names: Sequence[str], fit_on: Clips):
        self.names = list(names)
        raw = fit_on.matrix(self.names)  # clips x 0 for the detector alone: empty statistics
        # An indicator that no dev clip has stands at 0 for every clip (it carries nothing).
        known = ~np.all(np.isnan(raw), axis=0)
        self.median = np.zeros(raw.shape[1])
        self.median[known] = np.nanmedian(raw[:, known], axis=0)
        filled = self._fill(raw)
        self.mean = filled.mean(axis=0)
        self.scale = filled.std(axis=0) + 1e-9
        self.weights = fit_logistic(self._design(fit_on), fit_on.target)

    def _fill(self, raw: np.ndarray) -> np.ndarray:
        return np.where(np.isnan(raw), self.median, raw)

    def _design(self, clips: Clips) -> np.ndarray:
        z = (self._fill(clips.matrix(self.names)) - self.mean) / self.scale
        return np.c_[clips.llr, z]

    def score(self, clips: Clips) -> np.ndarray:
        return np.c_[self._design(clips), np.ones(len(clips.llr))] @ self.weights


def evaluate(name: str, names: Sequence[str], dev: Clips, test: Clips) -> Dict:
    fusion = Fusion(names, dev)
    dev_scores, test_scores = fusion.score(dev), fusion.score(test)
    # The service's rule: the lowest threshold that flags at most 1 % of genuine dev clips.
    threshold = calibrate.choose_threshold(calibrate.sigmoid(dev_scores[dev.target < 0.5]))
    test_probs = calibrate.sigmoid(test_scores)
    best = calibrate.choose_threshold(test_probs[test.target < 0.5])
    return {
        "set": name,
        "dev_eer": metrics.eer(dev_scores, dev.target),
        "test_eer": metrics.eer(test_scores, test.target),
        "test_flagged": float(np.mean(test_probs[test.target < 0.5] >= threshold)),
        "test_caught": float(np.mean(test_probs[test.target > 0.5] >= threshold)),
        "test_best_caught": float(np.mean(test_probs[test.target > 0.5] >= best)),
        "per_attack": {a: float(np.mean(test_probs[test.attack == a] >= threshold))
                       for a in sorted(set(test.attack.tolist()))},
        "weights": [round(float(w), 3) for w in fusion.weights],
    }


def list_clips(manifest_path: str, splits: Sequence[str]) -> List[str]:
    root = os.path.dirname(manifest_path)
    with open(manifest_path, newline="") as f:
        return [os.path.join(root, r["path"]) for r in csv.DictReader(f) if r["split"] in splits]


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("manifest")
    p.add_argument("inputs", nargs="+",
                   help="the analyze --jsonl --indicators output; with --list, the splits")
    p.add_argument("--list", action="store_true", help="print the clips of the given splits")
    p.add_argument("--per-attack", action="store_true")
    args = p.parse_args(argv)
    if args.list:
        print("\n".join(list_clips(args.manifest, args.inputs)))
        return 0
    clips = load(args.manifest, args.inputs[0])
    if "dev" not in clips or "test" not in clips:
        print("indicator_fusion: need scored dev and test clips", file=sys.stderr)
        return 2
    pct = lambda x: f"{100 * x:5.2f} %"  # noqa: E731
    for name, names in FEATURE_SETS.items():
        r = evaluate(name, names, clips["dev"], clips["test"])
        print(f"{name:9s} dev EER {pct(r['dev_eer'])} | test EER {pct(r['test_eer'])} | "
              f"flagged {pct(r['test_flagged'])} caught {pct(r['test_caught'])} | "
              f"best caught {pct(r['test_best_caught'])} | weights {r['weights']}")
        if args.per_attack:
            print("          " + ", ".join(f"{a} {100 * v:.1f}" for a, v in r["per_attack"].items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
