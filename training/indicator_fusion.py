"""Measures what the service's acoustic indicators add to the detector: a logistic fusion of the
call LLR with call-level indicators (docs/indicators.md), fitted on dev, scored on test.

  B=build/bin/deepfake-voice-detector
  /usr/bin/python3 training/indicator_fusion.py --list data/corpus/manifest.csv dev test \
      | $B analyze --jsonl --indicators --jobs 2 --files-from - > /tmp/indicators.jsonl
  /usr/bin/python3 training/indicator_fusion.py data/corpus/manifest.csv /tmp/indicators.jsonl \
      [--per-attack] [--extra /tmp/band.jsonl] [--by-source]

One line per feature set: "detector" (the call LLR alone, the baseline), "voice" (jitter,
shimmer, HNR), "prosody" (pitch spread over the call) and "all" (those plus spectral flatness and
tilt). For each: a logistic regression of (LLR, standardised indicators) on dev (missing values:
the dev median), then the EER on dev and test, the test genuine-flagged and synthetic-caught rates
at the dev threshold (at most 1 % of genuine dev clips flagged, calibrate.choose_threshold), and
"best caught" (chosen on test, so not a result; see compare.py). With --extra, the per-file
values of another tool's JSON lines (training/probes/band_harmonicity.py) join the indicators, and
the sets "band" (its three band medians), "hnr+band" and "all+band" are added. --by-source also
fits on each dev source package's clips and scores another's (vocoded copies and genuine clips of
one recording domain against another's; TTS clips, whose source is the engine, are left out): a
check that a fused value carries across recording domains. Pauses, breaths and speech rate
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
from typing import Dict, List, Optional, Sequence, Tuple

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
BAND = ["h_b1", "h_b2", "h_b3"]  # training/probes/band_harmonicity.py
EXTRA_SETS: Dict[str, List[str]] = {
    "band": BAND,
    "hnr+band": ["hnr_db"] + BAND,
    "all+band": VOICE + PROSODY + SPECTRUM + BAND,
}


class Clips:
    """The scored clips of one split: LLR, label (1 synthetic), attack and indicator values."""

    def __init__(self, llr, target, attack, indicators: List[Dict[str, float]], source=None):
        self.llr = np.asarray(llr, dtype=np.float64)
        self.target = np.asarray(target, dtype=np.float64)
        self.attack = np.asarray(attack)
        self.indicators = indicators
        self.source = np.asarray(source if source is not None else [""] * len(self.llr))

    def subset(self, mask: np.ndarray) -> "Clips":
        return Clips(self.llr[mask], self.target[mask], self.attack[mask],
                     [self.indicators[i] for i in np.flatnonzero(mask)], self.source[mask])

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


def load_extra(jsonl_path: str) -> Dict[str, Dict[str, float]]:
    """Per-file values from another tool's JSON lines: {"file", <name>: {values}} (lines with an
    "error" are skipped), by normalised path."""
    extra: Dict[str, Dict[str, float]] = {}
    with open(jsonl_path) as f:
        for line in f:
            j = json.loads(line)
            if "error" in j:
                continue
            values = {}
            for key, value in j.items():
                if key != "file" and isinstance(value, dict):
                    values.update(value)
            extra[os.path.normpath(j["file"])] = values
    return extra


def load(manifest_path: str, jsonl_path: str,
         extra: Optional[Dict[str, Dict[str, float]]] = None) -> Dict[str, Clips]:
    """Clips per split from `analyze --jsonl --indicators` lines, labelled by the manifest, with
    the `extra` values of each file (load_extra) among its indicators."""
    rows = manifest_rows(manifest_path)
    parts: Dict[str, Tuple[list, list, list, list, list]] = {}
    with open(jsonl_path) as f:
        for line in f:
            j = json.loads(line)
            if j.get("llr") is None or "indicators" not in j:
                continue
            path = os.path.normpath(j["file"])
            r = rows.get(path)
            if r is None:
                raise ValueError(f"{j['file']} is not in {manifest_path}")
            llr, target, attack, ind, source = parts.setdefault(r["split"],
                                                                ([], [], [], [], []))
            llr.append(j["llr"])
            target.append(0.0 if r["label"] == "genuine" else 1.0)
            attack.append(r["attack"])
            ind.append(dict(j["indicators"], **(extra or {}).get(path, {})))
            source.append(r["source"])
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


def across_sources(names: Sequence[str], clips: Clips) -> List[Dict]:
    """For each ordered pair (A, B) of the source packages that have genuine clips in `clips`:
    the fusion fitted on A's clips (its genuine clips and their vocoded copies), scored on B's,
    with A's threshold rule."""
    sources = sorted(set(clips.source[clips.target < 0.5].tolist()))
    out = []
    for fit_source in sources:
        fit_on = clips.subset(clips.source == fit_source)
        fusion = Fusion(names, fit_on)
        threshold = calibrate.choose_threshold(
            calibrate.sigmoid(fusion.score(fit_on)[fit_on.target < 0.5]))
        for scored_source in sources:
            if scored_source == fit_source:
                continue
            scored = clips.subset(clips.source == scored_source)
            probs = calibrate.sigmoid(fusion.score(scored))
            out.append({"fit": fit_source, "scored": scored_source,
                        "clips": (len(fit_on.llr), len(scored.llr)),
                        "eer": metrics.eer(probs, scored.target),
                        "flagged": float(np.mean(probs[scored.target < 0.5] >= threshold)),
                        "caught": float(np.mean(probs[scored.target > 0.5] >= threshold))})
    return out


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
    p.add_argument("--extra", metavar="JSONL",
                   help="per-file values to fuse too (training/probes/band_harmonicity.py)")
    p.add_argument("--by-source", action="store_true",
                   help="also fit on one dev source package and score another")
    args = p.parse_args(argv)
    if args.list:
        print("\n".join(list_clips(args.manifest, args.inputs)))
        return 0
    clips = load(args.manifest, args.inputs[0], load_extra(args.extra) if args.extra else None)
    if "dev" not in clips or "test" not in clips:
        print("indicator_fusion: need scored dev and test clips", file=sys.stderr)
        return 2
    sets = dict(FEATURE_SETS, **(EXTRA_SETS if args.extra else {}))
    pct = lambda x: f"{100 * x:5.2f} %"  # noqa: E731
    for name, names in sets.items():
        r = evaluate(name, names, clips["dev"], clips["test"])
        print(f"{name:9s} dev EER {pct(r['dev_eer'])} | test EER {pct(r['test_eer'])} | "
              f"flagged {pct(r['test_flagged'])} caught {pct(r['test_caught'])} | "
              f"best caught {pct(r['test_best_caught'])} | weights {r['weights']}")
        if args.per_attack:
            print("          " + ", ".join(f"{a} {100 * v:.1f}" for a, v in r["per_attack"].items()))
    if args.by_source:
        for name, names in sets.items():
            for r in across_sources(names, clips["dev"]):
                print(f"{name:9s} dev {r['fit']} ({r['clips'][0]}) -> {r['scored']} "
                      f"({r['clips'][1]}): EER {pct(r['eer'])} | flagged {pct(r['flagged'])} "
                      f"caught {pct(r['caught'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
