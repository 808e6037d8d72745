"""Measures a call-level score that grows with the evidence: mean(window LLRs) x n^gamma, n the
number of windows so far, against the shipped mean (gamma 0). The calibration (a, b) is fitted on
dev full clips for each gamma, as `calibrate.py` fits the shipped one; the threshold is the
service's rule (at most 1 % of genuine dev clips flagged).

  B=build/bin/deepfake-voice-detector
  /usr/bin/python3 training/indicator_fusion.py --list data/corpus/manifest.csv dev test \
      | $B analyze --jsonl --timeline --jobs 2 --files-from - > /tmp/timeline.jsonl
  /usr/bin/python3 training/accumulation.py data/corpus/manifest.csv /tmp/timeline.jsonl \
      [--gammas 0,0.25,0.5,0.75,1]

One line per gamma: dev Cllr, EER and synthetic caught at the threshold (in-sample: the
calibration and the threshold come from dev), then on test at 2 s, 4 s and full clips the EER,
the genuine flagged and synthetic caught at the dev threshold, and Cllr. "S s" scores the clips
with at least S s of speech on the windows of their first S s, as `eval` does. With windows every
0.5 s over the last 2 s of speech, neighbouring windows share most of their frames, so gamma 1
(independent windows, a sum of LLRs) overstates the evidence; the question is whether any gamma
above 0 is better on dev. Nothing here is in the shipped model (see the model card).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Dict, List, Optional, Sequence

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import calibrate  # noqa: E402
import indicator_fusion  # noqa: E402
import metrics  # noqa: E402

CONDITIONS = (2.0, 4.0, None)  # seconds of speech; None: full clips


class Timelines:
    """The scored clips of one split: each clip's window LLRs with the speech seconds at which
    each window was scored, its total speech and its label (1 synthetic)."""

    def __init__(self) -> None:
        self.windows: List[np.ndarray] = []
        self.at_seconds: List[np.ndarray] = []
        self.speech: List[float] = []
        self.target: List[float] = []

    def scores(self, gamma: float, seconds: Optional[float]) -> tuple[np.ndarray, np.ndarray]:
        """(mean x n^gamma, targets) of the clips with at least `seconds` of speech, on the
        windows scored by then (every window for None)."""
        out, targets = [], []
        for w, at, speech, target in zip(self.windows, self.at_seconds, self.speech, self.target):
            if seconds is not None:
                if speech + 1e-9 < seconds:
                    continue
                w = w[at <= seconds + 1e-9]
            if w.size == 0:
                continue
            out.append(float(w.mean()) * w.size ** gamma)
            targets.append(target)
        return np.asarray(out), np.asarray(targets)


def load(manifest_path: str, jsonl_path: str) -> Dict[str, Timelines]:
    """Timelines per split from `analyze --jsonl --timeline` lines, labelled by the manifest."""
    rows = indicator_fusion.manifest_rows(manifest_path)
    splits: Dict[str, Timelines] = {}
    with open(jsonl_path) as f:
        for line in f:
            j = json.loads(line)
            timeline = j.get("timeline") or []
            if j.get("llr") is None or not timeline:
                continue
            r = rows.get(os.path.normpath(j["file"]))
            if r is None:
                raise ValueError(f"{j['file']} is not in {manifest_path}")
            t = splits.setdefault(r["split"], Timelines())
            t.windows.append(np.array([w["window_llr"] for w in timeline], dtype=np.float64))
            t.at_seconds.append(np.array([w["speech_seconds"] for w in timeline]))
            t.speech.append(float(j["speech_seconds"]))
            t.target.append(0.0 if r["label"] == "genuine" else 1.0)
    return splits


def evaluate(gamma: float, dev: Timelines, test: Timelines) -> Dict:
    dev_scores, dev_y = dev.scores(gamma, None)
    a, b = calibrate.fit_affine(dev_scores, dev_y)
    dev_llr = a * dev_scores + b
    threshold = calibrate.choose_threshold(calibrate.sigmoid(dev_llr[dev_y < 0.5]))
    row: Dict = {"gamma": gamma, "a": a, "b": b,
                 "dev_cllr": metrics.cllr(dev_llr, dev_y),
                 "dev_eer": metrics.eer(dev_scores, dev_y),
                 "dev_caught": float(np.mean(calibrate.sigmoid(dev_llr[dev_y > 0.5]) >= threshold))}
    for seconds in CONDITIONS:
        scores, y = test.scores(gamma, seconds)
        llr = a * scores + b
        probs = calibrate.sigmoid(llr)
        row[seconds or "full"] = {
            "eer": metrics.eer(scores, y),
            "flagged": float(np.mean(probs[y < 0.5] >= threshold)),
            "caught": float(np.mean(probs[y > 0.5] >= threshold)),
            "cllr": metrics.cllr(llr, y),
            "trials": int(y.size),
        }
    return row


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("manifest")
    p.add_argument("timeline", help="the analyze --jsonl --timeline output for dev and test")
    p.add_argument("--gammas", default="0,0.25,0.5,0.75,1")
    args = p.parse_args(argv)
    splits = load(args.manifest, args.timeline)
    if "dev" not in splits or "test" not in splits:
        print("accumulation: need scored dev and test clips", file=sys.stderr)
        return 2
    pct = lambda x: f"{100 * x:5.2f} %"  # noqa: E731
    for gamma in (float(g) for g in args.gammas.split(",")):
        r = evaluate(gamma, splits["dev"], splits["test"])
        line = (f"gamma {gamma:4.2f} | dev Cllr {r['dev_cllr']:.3f} EER {pct(r['dev_eer'])} "
                f"caught {pct(r['dev_caught'])}")
        for seconds in CONDITIONS:
            c = r[seconds or "full"]
            line += (f" | test {f'{seconds:.0f} s' if seconds else 'full'}: EER {pct(c['eer'])} "
                     f"flagged {pct(c['flagged'])} caught {pct(c['caught'])} "
                     f"Cllr {c['cllr']:.3f}")
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
