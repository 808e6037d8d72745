"""Measures call-level scores that weigh the mean window LLR by the number n of windows so far,
against the shipped mean: mean(window LLRs) x n^gamma (evidence that grows with n), or with
--shrink, mean x n / (n + k) (short calls pulled towards no evidence, since a mean of few windows
is noisier). The calibration (a, b) is fitted on dev full clips for each rule, as
`calibrate.py` fits the shipped one; the threshold is the service's rule (at most 1 % of genuine
dev clips flagged).

  B=build/bin/deepfake-voice-detector
  /usr/bin/python3 training/indicator_fusion.py --list data/corpus/manifest.csv dev test \
      | $B analyze --jsonl --timeline --jobs 2 --files-from - > /tmp/timeline.jsonl
  /usr/bin/python3 training/accumulation.py data/corpus/manifest.csv /tmp/timeline.jsonl \
      [--gammas 0,0.25,0.5,0.75,1] [--shrink 0.5,1,2,4] [--by-windows]

One line per rule: dev Cllr, EER and synthetic caught at the threshold (in-sample: the
calibration and the threshold come from dev), then on test at 2 s, 4 s and full clips the EER,
the genuine flagged and synthetic caught at the dev threshold, and Cllr. "S s" scores the clips
with at least S s of speech on the windows of their first S s, as `eval` does. With windows every
0.5 s over the last 2 s of speech, neighbouring windows share most of their frames, so gamma 1
(independent windows, a sum of LLRs) overstates the evidence; the question is whether any gamma
above 0 is better on dev. Shrinking asks the opposite question: whether the false alarms of
short genuine calls fall faster than the catches. Nothing here is in the shipped model (see the
model card).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import calibrate  # noqa: E402
import indicator_fusion  # noqa: E402
import metrics  # noqa: E402

CONDITIONS = (2.0, 4.0, None)  # seconds of speech; None: full clips


@dataclass(frozen=True)
class Rule:
    """How a call's mean window LLR is weighed by its number of windows n: "gamma" multiplies by
    n^value (0: the shipped mean), "shrink" by n / (n + value)."""

    kind: str
    value: float

    def weight(self, n: int) -> float:
        if self.kind == "gamma":
            return n ** self.value
        if self.kind == "shrink":
            return n / (n + self.value)
        raise ValueError(f"unknown rule {self.kind}")

    def __str__(self) -> str:
        return f"{self.kind} {self.value:4.2f}"


class Timelines:
    """The scored clips of one split: each clip's window LLRs with the speech seconds at which
    each window was scored, its total speech and its label (1 synthetic)."""

    def __init__(self) -> None:
        self.windows: List[np.ndarray] = []
        self.at_seconds: List[np.ndarray] = []
        self.speech: List[float] = []
        self.target: List[float] = []

    def scores(self, rule: Rule, seconds: Optional[float]) -> tuple[np.ndarray, np.ndarray]:
        """(mean x rule.weight(n), targets) of the clips with at least `seconds` of speech, on
        the windows scored by then (every window for None)."""
        out, targets = [], []
        for w, at, speech, target in zip(self.windows, self.at_seconds, self.speech, self.target):
            if seconds is not None:
                if speech + 1e-9 < seconds:
                    continue
                w = w[at <= seconds + 1e-9]
            if w.size == 0:
                continue
            out.append(float(w.mean()) * rule.weight(w.size))
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


def evaluate(rule: Rule, dev: Timelines, test: Timelines) -> Dict:
    dev_scores, dev_y = dev.scores(rule, None)
    a, b = calibrate.fit_affine(dev_scores, dev_y)
    dev_llr = a * dev_scores + b
    threshold = calibrate.choose_threshold(calibrate.sigmoid(dev_llr[dev_y < 0.5]))
    row: Dict = {"rule": str(rule), "a": a, "b": b,
                 "dev_cllr": metrics.cllr(dev_llr, dev_y),
                 "dev_eer": metrics.eer(dev_scores, dev_y),
                 "dev_caught": float(np.mean(calibrate.sigmoid(dev_llr[dev_y > 0.5]) >= threshold))}
    for seconds in CONDITIONS:
        scores, y = test.scores(rule, seconds)
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


WINDOW_BINS = ((1, 2), (3, 4), (5, 8), (9, 16), (17, None))


def flagged_by_windows(rule: Rule, split: Timelines) -> List[Dict]:
    """Where one split's false alarms are: per bin of full-clip window counts, the genuine clips
    and how many of them are flagged, at the threshold fitted on that split as `evaluate` fits
    it on dev (so on dev, in-sample)."""
    scores, y = split.scores(rule, None)
    a, b = calibrate.fit_affine(scores, y)
    probs = calibrate.sigmoid(a * scores + b)
    threshold = calibrate.choose_threshold(probs[y < 0.5])
    n = np.array([w.size for w in split.windows if w.size > 0])
    rows = []
    for lo, hi in WINDOW_BINS:
        genuine = (y < 0.5) & (n >= lo) & (n <= (hi if hi is not None else n.max()))
        rows.append({"windows": f"{lo}-{hi}" if hi is not None else f"{lo}+",
                     "genuine": int(genuine.sum()),
                     "flagged": int(np.sum(genuine & (probs >= threshold)))})
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("manifest")
    p.add_argument("timeline", help="the analyze --jsonl --timeline output for dev and test")
    p.add_argument("--gammas", default="0,0.25,0.5,0.75,1",
                   help="exponents of mean x n^gamma (0: the shipped mean)")
    p.add_argument("--shrink", default="",
                   help="constants k of mean x n / (n + k), measured after the gammas")
    p.add_argument("--by-windows", action="store_true",
                   help="also print, for the shipped mean, the dev genuine clips flagged per "
                        "number of windows")
    args = p.parse_args(argv)
    splits = load(args.manifest, args.timeline)
    if "dev" not in splits or "test" not in splits:
        print("accumulation: need scored dev and test clips", file=sys.stderr)
        return 2
    pct = lambda x: f"{100 * x:5.2f} %"  # noqa: E731
    rules = [Rule(kind, float(v)) for kind, values in (("gamma", args.gammas),
                                                       ("shrink", args.shrink))
             for v in values.split(",") if v]
    for rule in rules:
        r = evaluate(rule, splits["dev"], splits["test"])
        line = (f"{rule} | dev Cllr {r['dev_cllr']:.3f} EER {pct(r['dev_eer'])} "
                f"caught {pct(r['dev_caught'])}")
        for seconds in CONDITIONS:
            c = r[seconds or "full"]
            line += (f" | test {f'{seconds:.0f} s' if seconds else 'full'}: EER {pct(c['eer'])} "
                     f"flagged {pct(c['flagged'])} caught {pct(c['caught'])} "
                     f"Cllr {c['cllr']:.3f}")
        print(line)
    if args.by_windows:
        print("dev genuine clips flagged, by windows (shipped mean): " + ", ".join(
            f"{r['windows']}: {r['flagged']}/{r['genuine']}"
            for r in flagged_by_windows(Rule("gamma", 0.0), splits["dev"])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
