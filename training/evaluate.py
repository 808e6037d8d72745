"""Evaluation of a trained detector on the scorer's windows and on calls (clips).

Trials:
  windows  every window of the streaming schedule (data.window_bounds), window LLR = a * logit + b;
  1s/2s/4s the call LLR a_call * mean(window LLRs so far) + b_call right after the window that
           reaches 100/200/400 speech frames (clips with fewer speech frames are left out);
  full     the call LLR after the clip's last window.
Clips with fewer than 100 speech frames have no window and are counted as `unscored`.
Metrics per trial list: EER, minDCF, actDCF (Bayes threshold), Cllr, and at the stored probability
threshold the share of genuine clips flagged and of synthetic clips caught. Per attack: all genuine
trials against the synthetic trials of that attack. Per codec: both classes restricted to the codec.

CLI (uses the PyTorch checkpoints, since onnxruntime is not installed for Python here):
  /usr/bin/python3 training/evaluate.py --features data/features \
      --checkpoint training/runs/best.pt --model-json models/detector.json \
      --out training/last_run.json
The shipped average on a rebuilt corpus, with the graph's own standardisation, replacing only the
results of the trainer's report:
  /usr/bin/python3 training/members_from_onnx.py models/detector.onnx --out data/shipped
  /usr/bin/python3 training/evaluate.py --features data/features-fine6-harm \
      --checkpoint data/shipped/member0.pt data/shipped/member1.pt \
      --model-json models/detector.json --out training/last_run.json --update
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from typing import Dict, List, Optional, Sequence

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see train.py

import calibrate  # noqa: E402
import metrics  # noqa: E402
from data import FeatureDump, WindowSet, make_windows, vocoder_setting  # noqa: E402

DURATIONS = {"1s": 100, "2s": 200, "4s": 400, "full": None}


def score_windows(model, dump: FeatureDump, ws: WindowSet, batch_size: int = 256) -> np.ndarray:
    """Raw model logits for every window (batched by window length)."""
    import torch  # noqa: PLC0415

    out = np.empty(ws.num_windows, dtype=np.float64)
    model.eval()
    with torch.no_grad():
        for length in np.unique(ws.length):
            idx = np.nonzero(ws.length == length)[0]
            for lo in range(0, idx.size, batch_size):
                chunk = idx[lo:lo + batch_size]
                x = np.stack([dump.features[s:s + length] for s in ws.start[chunk]])
                out[chunk] = model(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
                                   ).double().numpy()
    return out


def _safe(fn, *args) -> Optional[float]:
    try:
        v = fn(*args)
    except ValueError:
        return None
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)


def trial_metrics(llrs: np.ndarray, targets: np.ndarray, threshold: Optional[float] = None) -> Dict:
    """Metrics of one trial list; threshold is on the probability (flag when p >= threshold)."""
    llrs = np.asarray(llrs, dtype=np.float64)
    targets = np.asarray(targets, dtype=np.float64)
    res: Dict[str, object] = {"genuine": int(np.sum(targets <= 0.5)),
                              "synthetic": int(np.sum(targets > 0.5))}
    res["eer"] = _safe(metrics.eer, llrs, targets)
    res["min_dcf"] = _safe(metrics.min_dcf, llrs, targets)
    res["act_dcf"] = _safe(metrics.act_dcf, llrs, targets)
    res["cllr"] = _safe(metrics.cllr, llrs, targets)
    if threshold is not None:
        flagged = calibrate.sigmoid(llrs) >= threshold
        gen, syn = targets <= 0.5, targets > 0.5
        res["genuine_flagged"] = float(flagged[gen].mean()) if gen.any() else None
        res["synthetic_caught"] = float(flagged[syn].mean()) if syn.any() else None
    return res


class SplitScores:
    """Window logits of one split turned into window and call LLRs with a calibration."""

    def __init__(self, ws: WindowSet, logits: np.ndarray, calibration: Dict):
        self.ws = ws
        self.window_llr = calibrate.apply_affine(logits, calibration["window"]["a"],
                                                 calibration["window"]["b"])
        self.window_targets = ws.targets()
        self.clip_targets = np.array([c.target for c in ws.clips], dtype=np.float64)
        self.call_llr: Dict[str, np.ndarray] = {}
        for name, upto in DURATIONS.items():
            means = calibrate.call_means(self.window_llr, ws.clip_index, ws.seen, len(ws.clips),
                                         upto)
            llr = calibrate.apply_affine(means, calibration["call"]["a"], calibration["call"]["b"])
            if upto is not None:
                # Only clips that actually reach `upto` speech frames count at that duration.
                long_enough = np.array([c.num_frames >= upto for c in ws.clips])
                llr[~long_enough] = np.nan
            self.call_llr[name] = llr

    def report(self, threshold: float, clip_mask: Optional[np.ndarray] = None) -> Dict:
        n = len(self.ws.clips)
        mask = np.ones(n, dtype=bool) if clip_mask is None else clip_mask
        wmask = mask[self.ws.clip_index]
        out = {"windows": trial_metrics(self.window_llr[wmask], self.window_targets[wmask])}
        for name in DURATIONS:
            llr = self.call_llr[name]
            keep = mask & ~np.isnan(llr)
            out[name] = trial_metrics(llr[keep], self.clip_targets[keep], threshold)
        return out


def _groups(clips: Sequence, key) -> List[str]:
    return sorted({key(c) for c in clips})


def _against_genuine(ss: SplitScores, threshold: float, keys: Sequence[Optional[str]],
                     genuine: np.ndarray) -> Dict:
    """{key: windows / 2 s / full metrics} of every genuine clip against the clips of that key."""
    out = {}
    for key in sorted({k for k in keys if k}):
        rep = ss.report(threshold, genuine | np.array([k == key for k in keys]))
        out[key] = {k: rep[k] for k in ("windows", "2s", "full")}
    return out


def evaluate_split(ss: SplitScores, threshold: float) -> Dict:
    clips = ss.ws.clips
    result = ss.report(threshold)
    result["clips"] = len(clips)
    result["unscored_clips"] = int(np.sum(np.isnan(ss.call_llr["full"])))
    genuine = np.array([not c.is_synthetic for c in clips])
    # Per attack, and per vocoder setting where an attack has several (Griffin-Lim): all genuine
    # trials against that group's synthetic trials.
    attacks = [c.attack if c.is_synthetic else None for c in clips]
    result["per_attack"] = _against_genuine(ss, threshold, attacks, genuine)
    settings = [vocoder_setting(c.clip) if c.is_synthetic else None for c in clips]
    result["per_setting"] = _against_genuine(
        ss, threshold, [f"{a}/{s}" if s else None for a, s in zip(attacks, settings)], genuine)
    per_codec = {}
    for codec in _groups(clips, lambda c: c.codec):
        mask = np.array([c.codec == codec for c in clips])
        rep = ss.report(threshold, mask)
        per_codec[codec] = {k: rep[k] for k in ("windows", "2s", "full")}
    result["per_codec"] = per_codec
    return result


def evaluate(model, dump: FeatureDump, detector: Dict, splits=("dev", "test")) -> Dict:
    """Scores each split with the model and the calibration/threshold of detector.json (windows
    of up to its window.max_frames speech frames)."""
    out = {}
    max_frames = int(detector.get("window", {}).get("max_frames", 200))
    for split in splits:
        clips = dump.split(split)
        if not clips:
            continue
        ws = make_windows(clips, max_frames)
        if ws.num_windows == 0:
            continue
        logits = score_windows(model, dump, ws)
        out[split] = evaluate_split(SplitScores(ws, logits, detector["calibration"]),
                                    detector["threshold"])
    return out


def _fmt(v: Optional[float], pct: bool = True) -> str:
    if v is None:
        return "  n/a"
    return f"{100 * v:5.2f}" if pct else f"{v:5.3f}"


def summary_lines(results: Dict) -> List[str]:
    """Short human-readable table: EER %, minDCF, actDCF, Cllr, flagged/caught at threshold."""
    lines = []
    for split, res in results.items():
        lines.append(f"[{split}] clips={res['clips']} unscored={res['unscored_clips']}")
        for k in ("windows", "1s", "2s", "4s", "full"):
            m = res[k]
            extra = ""
            if "genuine_flagged" in m:
                extra = (f" gen_flagged={_fmt(m['genuine_flagged'])}% "
                         f"syn_caught={_fmt(m['synthetic_caught'])}%")
            lines.append(f"  {k:8s} n={m['genuine']}+{m['synthetic']} EER={_fmt(m['eer'])}% "
                         f"minDCF={_fmt(m['min_dcf'], False)} actDCF={_fmt(m['act_dcf'], False)} "
                         f"Cllr={_fmt(m['cllr'], False)}{extra}")
        for group in ("per_attack", "per_setting", "per_codec"):
            for name, rep in res.get(group, {}).items():
                lines.append(f"  {group[4:]}={name}: windows EER={_fmt(rep['windows']['eer'])}% "
                             f"full EER={_fmt(rep['full']['eer'])}% n_full="
                             f"{rep['full']['genuine']}+{rep['full']['synthetic']}")
    return lines


def load_model(checkpoints: Sequence[str], detector: Dict):
    """The network `detector` (a detector.json) describes: one checkpoint, or the members of an
    average (ensemble.py; members_from_onnx.py writes them back out of the graph), standardised
    with the means and standard deviations the graph holds, not refitted on the dev windows of
    the features at hand, so that a rebuilt corpus is scored by the shipped model itself."""
    from model import Average, load_checkpoint  # noqa: PLC0415

    if len(checkpoints) == 1:
        return load_checkpoint(checkpoints[0])
    training = detector.get("training", {})
    means, stds = training.get("member_means"), training.get("member_stds")
    if means is None or stds is None:
        raise SystemExit("several checkpoints need a detector.json of an average "
                         "(training.member_means and training.member_stds)")
    if len(means) != len(checkpoints):
        raise SystemExit(f"the detector.json averages {len(means)} networks; "
                         f"{len(checkpoints)} checkpoints given")
    return Average([load_checkpoint(c) for c in checkpoints], means, stds)


def write_json(path: str, obj: Dict) -> None:
    """Writes `obj` as indented JSON at `path` through a temporary file, so a reader never sees
    half a report and an interrupted run leaves the previous one whole."""
    tmp = path + ".tmp"
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(obj, f, indent=1)
            f.write("\n")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--features", default="data/features")
    parser.add_argument("--checkpoint", nargs="+", default=["training/runs/best.pt"],
                        help="one network, or an average's members in detector.json's order")
    parser.add_argument("--model-json", default="models/detector.json")
    parser.add_argument("--out", default="")
    parser.add_argument("--update", action="store_true",
                        help="replace only the results of the existing report --out (its "
                             "detector and model blocks, written by train.py or ensemble.py, stay)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    import torch  # noqa: PLC0415

    torch.set_num_threads(args.threads)
    with open(args.model_json, encoding="utf-8") as f:
        detector = json.load(f)
    report = {"detector": detector}
    if args.update:
        if not args.out or not os.path.isfile(args.out):
            raise SystemExit("--update needs an existing report as --out")
        with open(args.out, encoding="utf-8") as f:
            report = json.load(f)
        if report.get("detector", {}).get("threshold") != detector.get("threshold"):
            raise SystemExit(f"{args.out} describes another model than {args.model_json}")
    results = evaluate(load_model(args.checkpoint, detector), FeatureDump(args.features), detector)
    print("\n".join(summary_lines(results)))
    if args.out:
        report["results"] = results
        write_json(args.out, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
