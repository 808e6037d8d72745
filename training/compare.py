"""Compares trained checkpoints, alone and averaged, on the dev and test splits of a feature dump.

  /usr/bin/python3 training/compare.py --features data/features-fine6-harm \
      shipped=training/runs/best.pt other=/tmp/run2/best.pt [--average] [--misses] [--threads 1]
      [--subset shipped+other ...] [--subset shipped:0.3+other:0.7] [--cache DIR] [--pooling]
      [probe=/tmp/run3/best.pt@data/features-harm]

For each checkpoint (and with --average, for the mean of their window logits, each first
standardised by its own dev windows so that networks of different scales weigh alike; with
--subset A+B, for the mean of those named ones, so that every mix of a set of networks is
compared for one scoring pass each, and with --subset A:0.3+B:0.7 for their weighted mean; with
--cache DIR, each checkpoint's window logits are kept there and reused while the checkpoint file,
the feature dump and --max-frames are unchanged): the
calibration and threshold are fitted on dev exactly as train.py fits them, then dev and test are
scored as the service scores calls (evaluate.SplitScores). One line each: EER at 2 s of speech and
on full clips for dev and test, the test genuine-flagged and synthetic-caught rates at the dev
threshold, and "best caught": the share of synthetic test clips caught at the test threshold that
flags at most 1 % of genuine test clips. That last figure is chosen on test, so it is not a result;
it says how much of the gap to the target is separation and how much is the threshold.
--max-frames scores longer windows than the shipped 2 s (the issue allows 2-4 s). With
--misses, a second line per row lists, per attack, the synthetic test clips missed at that
threshold (and the genuine clips it flags): which families hold the catch rate down; and a
third, the genuine test clips flagged at the dev threshold per source package: where the false
alarms come from. With
--pooling, another line gives the full-clip EERs of dev and test when each clip's window LLRs are
pooled by the median, quartiles, max, min, the mean of the top three quarters, log-mean-exp or the
mean plus half a standard deviation instead of the mean the service uses (pooled_full_eers).

NAME=CHECKPOINT@FEATURES scores that checkpoint on another dump of the same clips and frames (its
index must equal the --features dump's; its values per frame may differ, e.g. the dumps of
probes/harmonicity_dump.py), so that networks of different inputs are compared window for window.

Checkpoints of one run are cheap to compare; an average costs a forward pass per network in the
service. `ensemble.py` exports one as a single model when the figures here justify that cost.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see train.py

import calibrate  # noqa: E402
import evaluate  # noqa: E402
import metrics  # noqa: E402
from data import MAX_FRAMES, MIN_FRAMES, FeatureDump, WindowSet, make_windows  # noqa: E402

SPLITS = ("dev", "test")
# A dev calibration and its threshold (calibrate.fit_calibration's result).
Fitted = Tuple[Dict, float]


def split_windows(dump: FeatureDump, max_frames: int = MAX_FRAMES) -> Dict[str, WindowSet]:
    """The scorer's windows of the dev and test clips, built once for every comparison; windows
    cover up to `max_frames` speech frames (the shipped model's 200 = 2 s by default)."""
    return {s: make_windows(dump.split(s), max_frames) for s in SPLITS}


def split_logits(dump: FeatureDump, ws: Dict[str, WindowSet], checkpoint: str
                 ) -> Dict[str, np.ndarray]:
    """Window logits of one checkpoint on the dev and test windows."""
    from model import load_checkpoint  # noqa: PLC0415

    net = load_checkpoint(checkpoint)
    return {s: evaluate.score_windows(net, dump, ws[s]) for s in SPLITS}


def cached_split_logits(dump: FeatureDump, ws: Dict[str, WindowSet], checkpoint: str,
                        cache_dir: str, max_frames: int) -> Dict[str, np.ndarray]:
    """split_logits, kept in `cache_dir` under a key of everything the logits depend on: the
    checkpoint file (path, size, modification time), the dump's index and `max_frames`."""
    import hashlib  # noqa: PLC0415

    def stamp(path: str) -> str:
        st = os.stat(path)
        return f"{os.path.abspath(path)}:{st.st_size}:{st.st_mtime_ns}"

    key = hashlib.sha256("|".join(
        [stamp(checkpoint)] + [stamp(os.path.join(dump.directory, name))
                               for name in ("index.csv", "features.f32")] +
        [str(max_frames)]).encode()).hexdigest()[:24]
    path = os.path.join(cache_dir, f"logits-{key}.npz")
    if os.path.isfile(path):
        with np.load(path) as saved:
            return {s: saved[s] for s in SPLITS}
    logits = split_logits(dump, ws, checkpoint)
    os.makedirs(cache_dir, exist_ok=True)
    tmp = path + ".tmp.npz"
    np.savez(tmp, **logits)
    os.replace(tmp, path)
    return logits


def standardised_mean(logits: Sequence[Dict[str, np.ndarray]],
                      weights: Optional[Sequence[float]] = None) -> Dict[str, np.ndarray]:
    """Mean of several networks' window logits, each standardised by its dev windows, for every
    split the first network's logits hold (dev among them); with `weights`, the weighted mean
    (weights need not sum to one)."""
    w = np.ones(len(logits)) if weights is None else np.asarray(weights, dtype=np.float64)
    out = {}
    for s in logits[0]:
        z = [(lg[s] - lg["dev"].mean()) / lg["dev"].std() for lg in logits]
        out[s] = np.average(z, axis=0, weights=w)
    return out


# How a clip's window LLRs are pooled into one clip score for `--pooling`: the mean (what the
# service does, as an affine map of it), quantiles, extremes, the mean without the lowest quarter
# of the windows, log-mean-exp, and the mean plus half a standard deviation.
POOLINGS = {
    "mean": np.mean,
    "median": np.median,
    "q25": lambda v: np.quantile(v, 0.25),
    "q75": lambda v: np.quantile(v, 0.75),
    "max": np.max,
    "min": np.min,
    "top75": lambda v: np.mean(np.sort(v)[len(v) // 4:]),
    "lse": lambda v: float(np.logaddexp.reduce(v) - np.log(len(v))),
    "mean+0.5sd": lambda v: np.mean(v) + 0.5 * np.std(v),
}


def pooled_full_eers(ws: Dict[str, WindowSet], logits: Dict[str, np.ndarray],
                     fitted: Optional[Fitted] = None) -> Dict[str, Dict[str, float]]:
    """pooling -> split -> full-clip EER when each clip's calibrated window LLRs (the dev-fitted
    window calibration) are pooled that way instead of averaged. The EER does not depend on the
    call-level calibration, so none is fitted; "mean" equals compare_one's full-clip EER.
    `fitted`: _dev_calibration's result for these logits, when the caller has it."""
    calibration, _ = fitted or _dev_calibration(ws, logits)
    a, b = calibration["window"]["a"], calibration["window"]["b"]
    out: Dict[str, Dict[str, float]] = {name: {} for name in POOLINGS}
    for s in SPLITS:
        llr = calibrate.apply_affine(logits[s], a, b)
        order = np.argsort(ws[s].clip_index, kind="stable")
        clips, starts = np.unique(ws[s].clip_index[order], return_index=True)
        groups = np.split(llr[order], starts[1:])
        targets = np.array([ws[s].clips[c].target for c in clips], dtype=np.float64)
        for name, pool in POOLINGS.items():
            pooled = np.array([pool(g) for g in groups], dtype=np.float64)
            out[name][s] = metrics.eer(pooled, targets)
    return out


def _dev_calibration(ws: Dict[str, WindowSet], logits: Dict[str, np.ndarray]) -> Fitted:
    """The calibration and threshold fitted on the dev windows exactly as train.py fits them.
    The functions below take it as `fitted` so that main fits it once per row."""
    dev = ws["dev"]
    return calibrate.fit_calibration(
        logits["dev"], dev.targets(), dev.clip_index, dev.seen,
        np.array([c.target for c in dev.clips], dtype=np.float64))


def _at_best_threshold(scores: evaluate.SplitScores
                       ) -> Tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """(indices of the scored clips, their probabilities, their targets, the threshold chosen on
    these clips themselves that flags at most 1 % of the genuine ones)."""
    llr = scores.call_llr["full"]
    keep = np.nonzero(~np.isnan(llr))[0]
    probs, targets = calibrate.sigmoid(llr[keep]), scores.clip_targets[keep]
    return keep, probs, targets, calibrate.choose_threshold(probs[targets <= 0.5], 0.01)


def misses_at_best(ws: Dict[str, WindowSet], logits: Dict[str, np.ndarray],
                   fitted: Optional[Fitted] = None) -> Dict[str, Tuple[int, int]]:
    """At the test-chosen threshold of "best caught": attack -> (synthetic test clips missed,
    clips), and "genuine" -> (genuine test clips flagged, clips). Says which families hold the
    catch rate down once the threshold is out of the way."""
    calibration, _ = fitted or _dev_calibration(ws, logits)
    keep, probs, targets, best = _at_best_threshold(
        evaluate.SplitScores(ws["test"], logits["test"], calibration))
    out: Dict[str, Tuple[int, int]] = {}
    for i, p, t in zip(keep, probs, targets):
        key = ws["test"].clips[i].attack if t > 0.5 else "genuine"
        wrong = (p < best) if t > 0.5 else (p >= best)
        missed, total = out.get(key, (0, 0))
        out[key] = (missed + int(wrong), total + 1)
    return dict(sorted(out.items()))


def genuine_flagged_by_source(ws: Dict[str, WindowSet], logits: Dict[str, np.ndarray],
                              fitted: Optional[Fitted] = None) -> Dict[str, Tuple[int, int]]:
    """At the dev threshold (the service's rule, as compare_one's "flagged"): genuine test clips'
    source package -> (clips flagged, clips scored). Says which recording domains the false
    alarms come from."""
    calibration, threshold = fitted or _dev_calibration(ws, logits)
    llr = evaluate.SplitScores(ws["test"], logits["test"], calibration).call_llr["full"]
    out: Dict[str, Tuple[int, int]] = {}
    for clip, value in zip(ws["test"].clips, llr):
        if clip.target > 0.5 or np.isnan(value):
            continue
        flagged, total = out.get(clip.source, (0, 0))
        out[clip.source] = (flagged + int(calibrate.sigmoid(value) >= threshold), total + 1)
    return dict(sorted(out.items()))


def compare_one(ws: Dict[str, WindowSet], logits: Dict[str, np.ndarray],
                fitted: Optional[Fitted] = None) -> Dict[str, float]:
    """The figures of one set of window logits (see the module docstring), as fractions."""
    calibration, threshold = fitted or _dev_calibration(ws, logits)
    row: Dict[str, float] = {}
    for s in SPLITS:
        scores = evaluate.SplitScores(ws[s], logits[s], calibration)
        report = scores.report(threshold)
        row[f"{s}_eer_2s"] = report["2s"]["eer"]
        row[f"{s}_eer_full"] = report["full"]["eer"]
        if s == "test":
            row["test_flagged"] = report["full"]["genuine_flagged"]
            row["test_caught"] = report["full"]["synthetic_caught"]
            _, probs, targets, best = _at_best_threshold(scores)
            row["test_best_caught"] = float(np.mean(probs[targets > 0.5] >= best))
    row["threshold"] = threshold
    return row


def format_row(name: str, row: Dict[str, float]) -> str:
    pct = lambda k: f"{100 * row[k]:5.2f}"  # noqa: E731
    return (f"{name:32s} dev 2s {pct('dev_eer_2s')} full {pct('dev_eer_full')} | test 2s "
            f"{pct('test_eer_2s')} full {pct('test_eer_full')} | flagged {pct('test_flagged')} "
            f"caught {pct('test_caught')} | best caught {pct('test_best_caught')}")


def _parse_subset(text: str, names: Sequence[str], p: argparse.ArgumentParser
                  ) -> List[Tuple[str, float]]:
    """`--subset NAME[:W]+NAME[:W]...` as (name, weight) pairs; exits through `p` when it names
    fewer than two different checkpoints given, or a weight is not a positive number."""
    subset = []
    for item in text.split("+"):
        name, sep, weight = item.partition(":")
        try:
            w = float(weight) if sep else 1.0
        except ValueError:
            w = float("nan")
        if not np.isfinite(w) or w <= 0:
            p.error(f"--subset {text!r}: the weight of {name!r} must be a positive number")
        subset.append((name, w))
    chosen = [name for name, _ in subset]
    if len(chosen) < 2 or len(set(chosen)) != len(chosen) or \
            any(name not in names for name in chosen):
        p.error(f"--subset {text!r}: two or more different names of the checkpoints given")
    return subset


def main(argv: Optional[Sequence[str]] = None) -> List[str]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--features", default="data/features-fine6-harm")
    p.add_argument("--average", action="store_true", help="also score the mean of all of them")
    p.add_argument("--subset", action="append", default=[], metavar="NAME[:W]+NAME[:W][+...]",
                   help="also score the mean of these named checkpoints, weighted by W where "
                        "given (1 otherwise; repeatable)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--cache", metavar="DIR",
                   help="keep each checkpoint's window logits here and reuse them")
    p.add_argument("--misses", action="store_true",
                   help="also list, per attack, the synthetic test clips missed at the "
                        "best-caught threshold (and the genuine clips it flags)")
    p.add_argument("--pooling", action="store_true",
                   help="also give the full-clip EERs when a clip's window LLRs are pooled by "
                        "other statistics than the mean (median, quantiles, max, ...)")
    p.add_argument("--max-frames", type=int, default=MAX_FRAMES,
                   help="score windows of up to this many speech frames (100 per second; the "
                        "scorer's max_frames), calibrated on dev for that length")
    p.add_argument("checkpoints", nargs="+", metavar="NAME=CHECKPOINT[@FEATURES]")
    args = p.parse_args(argv)
    if args.max_frames < MIN_FRAMES:
        p.error(f"--max-frames must be at least {MIN_FRAMES}")
    paths = []
    for item in args.checkpoints:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            p.error(f"expected NAME=CHECKPOINT, got {item!r}")
        checkpoint, at, features = path.rpartition("@")
        paths.append((name, checkpoint, features) if at else (name, path, args.features))
    names = [name for name, _, _ in paths]
    if len(set(names)) != len(names):
        p.error("each checkpoint needs a name of its own")
    subsets = [_parse_subset(text, names, p) for text in args.subset]
    import torch  # noqa: PLC0415

    torch.set_num_threads(args.threads)
    dump = FeatureDump(args.features)
    dumps = {args.features: dump}
    for _, _, features in paths:
        if features not in dumps:
            dumps[features] = FeatureDump(features)
            if dumps[features].clips != dump.clips:
                p.error(f"{features}: its index differs from {args.features}'s; a checkpoint "
                        "scored on another dump needs the same clips and frames")
    ws = split_windows(dump, args.max_frames)
    named = [(name, cached_split_logits(dumps[features], ws, checkpoint, args.cache,
                                       args.max_frames)
                     if args.cache else split_logits(dumps[features], ws, checkpoint))
             for name, checkpoint, features in paths]
    members = dict(named)
    if args.average and len(named) > 1:
        named.append(("average(" + ",".join(members) + ")",
                      standardised_mean(list(members.values()))))
    for text, subset in zip(args.subset, subsets):
        named.append(("average(" + text.replace("+", ",") + ")",
                      standardised_mean([members[name] for name, _ in subset],
                                        [weight for _, weight in subset])))
    lines = []
    for name, lg in named:
        fitted = _dev_calibration(ws, lg)
        lines.append(format_row(name, compare_one(ws, lg, fitted)))
        if args.misses:
            lines.append("  at best caught: " + ", ".join(
                f"{key} {wrong}/{total}"
                for key, (wrong, total) in misses_at_best(ws, lg, fitted).items()))
            lines.append("  genuine flagged at the dev threshold: " + ", ".join(
                f"{source} {flagged}/{total}"
                for source, (flagged, total) in genuine_flagged_by_source(ws, lg, fitted).items()))
        if args.pooling:
            lines.append("  full-clip EER dev/test by pooling: " + ", ".join(
                f"{pool} {100 * eers['dev']:.2f}/{100 * eers['test']:.2f}"
                for pool, eers in pooled_full_eers(ws, lg, fitted).items()))
    for line in lines:
        print(line, flush=True)
    return lines


if __name__ == "__main__":
    main()
