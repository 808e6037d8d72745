"""Probe: how does the shipped detector score speech on channels unlike the corpus's?

At the shipped threshold every genuine test clip flagged comes from amateur-radio, codec-test and
old test recordings (model card, twenty-fourth session), and no train genuine source sounds like
them. This probe puts the clips of one split (dev by default: never test, so nothing is tuned on
it; genuine clips by default, synthetic ones with `--labels`) through one degradation each
before the corpus's own telephone chain, with each clip's own chain draw (codec, loss, noise,
level; `channel.draw_params(id, 0)` and the split's babble pool), so that the degradation is the
only difference from the corpus clip; then scores them with `deepfake-voice-detector analyze`
and reports, per condition and class, the share `analyze` calls synthetic (its verdict at the
model's threshold) and the mean call LLR, and with both labels the condition's EER (its
synthetic clips against its genuine ones). Condition `none` remakes the corpus clips themselves
(they must come out identical: a check that the remake is faithful).

Degradations, on the 16 kHz raw clip:
- `narrowband`: a 500-2500 Hz band-pass (a single-sideband radio or a poor handset);
- `clipped`: hard clipping at a fifth of the clip's peak (an overdriven microphone or line);
- `reverb`: a room (exponentially decaying noise, RT60 0.5 s, direct path 0 dB above the tail's
  energy; a speakerphone);
- `agc`: fast automatic gain control (the level divided by its own 20 ms envelope to the power
  0.8; a radio or conference device that flattens loudness);
- `room-near`, `room-mid`, `room-far`: a loudspeaker played into a handset in a room, from close
  to across it (degrade.py's room model, one fixed room each: RT60 0.3 s at a direct-to-reverberant
  ratio of +10 dB, 0.5 s at +3 dB, 0.8 s at -3 dB; 5 early reflections), and the near room's
  two parts alone, `room-near-reflections` (the direct path and the reflections of its first
  25 ms) and `room-near-tail` (the direct path and the diffuse tail).

  /usr/bin/python3 training/probes/channel_probe.py --work data/probes/channel \\
      --out data/probes/channel.json [--split dev] [--labels genuine,synthetic] \\
      [--conditions none,narrowband,...] [--model models/detector.json]
A research tool: nothing in the service depends on it.
"""

from __future__ import annotations

import argparse
import csv
import functools
import json
import re
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(REPO / "tools" / "corpus"))
sys.path.insert(0, str(REPO / "training"))

import channel  # noqa: E402
import degrade  # noqa: E402
import metrics  # noqa: E402
from common import RAW_RATE_HZ, rng_for  # noqa: E402


def narrowband(x: np.ndarray) -> np.ndarray:
    return degrade.bandpass(x, 500.0, 2500.0)


def clipped(x: np.ndarray) -> np.ndarray:
    return degrade.clip_at(x, 0.2)


def reverb(x: np.ndarray, seed: str = "reverb") -> np.ndarray:
    """One flat-spectrum exponential tail with no early reflections: a simpler room than any
    of degrade.py's (two-band tail, reflections) that train clips get."""
    rng = rng_for("dvd-channel-probe", seed)
    n = int(0.5 * RAW_RATE_HZ)
    t = np.arange(n) / RAW_RATE_HZ
    tail = rng.standard_normal(n) * 10.0 ** (-3.0 * t / 0.5)  # -60 dB at 0.5 s
    tail[0] = 0.0
    ir = tail / np.sqrt(np.sum(tail ** 2))
    ir[0] = 1.0  # the direct path as strong as the whole tail
    return degrade.reverberate(x, ir)


def agc(x: np.ndarray) -> np.ndarray:
    return degrade.agc(x, 20.0, 0.8)


ROOMS = {"room-near": (0.3, 10.0), "room-mid": (0.5, 3.0), "room-far": (0.8, -3.0)}


def room_response(name: str, reflections: int = 5) -> np.ndarray:
    rt60_s, drr_db = ROOMS[name]
    return degrade.room_response(rt60_s, 0.6, drr_db, reflections, seed=int(rt60_s * 1000))


def room_parts(name: str) -> Tuple[np.ndarray, np.ndarray]:
    """A room's response split in two, each with the direct path: its early reflections alone
    (the first 25 ms) and its diffuse tail alone. The tail is drawn before the reflections, so
    the room without reflections has the same tail."""
    whole, tail = room_response(name), room_response(name, reflections=0)
    early = (whole - tail)[: int(0.025 * RAW_RATE_HZ)]
    early[0] = 1.0
    return early, tail


def convolved(ir: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    return lambda x: degrade.reverberate(x, ir)


NEAR_EARLY, NEAR_TAIL = room_parts("room-near")

CONDITIONS: Dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "none": lambda x: x,
    "narrowband": narrowband,
    "clipped": clipped,
    "reverb": reverb,
    "agc": agc,
    **{name: convolved(room_response(name)) for name in ROOMS},
    # which part of the near room does the harm
    "room-near-reflections": convolved(NEAR_EARLY),
    "room-near-tail": convolved(NEAR_TAIL),
}


def degraded(condition: str, x: np.ndarray) -> np.ndarray:
    """A raw clip through one condition, scaled back to its own peak."""
    x = x.astype(np.float64)
    return degrade.rescale_to_peak(CONDITIONS[condition](x), x)


def degrade_job(job: tuple) -> str:
    """(raw clip, destination, clip id, split, condition) -> error text or ''; chained as the
    corpus chains the clip's first copy (channel.chain_file), with the condition first."""
    src, dest, clip_id, split, condition = job
    if Path(dest).exists():
        return ""
    try:
        channel.chain_file(src, dest, clip_id, 0, split,
                           None if condition == "none" else functools.partial(degraded, condition))
        return ""
    except Exception as e:  # noqa: BLE001
        return f"{dest}: {type(e).__name__}: {e}"


def raw_clip(corpus: Path, clip_id: str) -> Path:
    """The raw clip a chained corpus clip was made from (ids as `build_corpus.raw_items` gives
    them): gen__SOURCE__STEM under raw/genuine/SOURCE, tts__ATTACK__VOICE__STEM and
    voc__ATTACK__SOURCE__STEM under raw/synthetic/ATTACK/VOICE-or-SOURCE."""
    parts = clip_id.split("__", 2 if clip_id.startswith("gen__") else 3)
    if parts[0] == "gen" and len(parts) == 3:
        return corpus / "raw" / "genuine" / parts[1] / f"{parts[2]}.wav"
    if parts[0] in ("tts", "voc") and len(parts) == 4:
        return corpus / "raw" / "synthetic" / parts[1] / parts[2] / f"{parts[3]}.wav"
    raise ValueError(f"not a corpus clip id: {clip_id}")


def make(corpus: Path, work: Path, split: str, labels: Sequence[str], conditions: Sequence[str],
         jobs: int) -> Dict[str, Dict[str, List[str]]]:
    """The degraded, chained clips per condition and label (paths): every manifest clip of
    `split` and `labels` (the first chained copy of each)."""
    with open(corpus / "babble_pools.json", encoding="utf-8") as f:
        pools = {k: [str(corpus / p) for p in v] for k, v in json.load(f).items()}
    todo = []
    made: Dict[str, Dict[str, List[str]]] = {c: {label: [] for label in labels}
                                             for c in conditions}
    with open(corpus / "manifest.csv", encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if r["split"] == split and r["label"] in labels]
    for r in rows:
        clip_id = Path(r["path"]).stem
        if re.search(r"__(c\d+|d-\w+)$", clip_id):
            continue  # another chain draw or a degraded copy of a train clip (run_chain)
        src = raw_clip(corpus, clip_id)
        for c in conditions:
            dest = work / c / r["label"] / f"{clip_id}.wav"
            dest.parent.mkdir(parents=True, exist_ok=True)
            todo.append((str(src), str(dest), clip_id, split, c))
            made[c][r["label"]].append(str(dest))
    with ProcessPoolExecutor(jobs, initializer=channel.set_babble_pools,
                             initargs=(pools,)) as pool:
        errors = [e for e in pool.map(degrade_job, todo, chunksize=8) if e]
    if errors:
        raise SystemExit(f"{len(errors)} clips not made, first: {errors[0]}")
    return made


def score(binary: Path, files: List[str], jobs: int, model: Optional[Path] = None
          ) -> List[dict]:
    extra = ["--model", str(model)] if model is not None else []
    out = subprocess.run([str(binary), "analyze", "--jsonl", "--jobs", str(jobs), *extra,
                          "--files-from", "-"], input="\n".join(files) + "\n",
                         capture_output=True, text=True)
    return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]


def summarise(results: List[dict]) -> dict:
    """Counts and shares of `analyze --jsonl` lines; "flagged" is the share of the scored clips
    whose verdict is synthetic (the scorer's own decision: `score` is rounded to 4 digits)."""
    scored = [r for r in results if r.get("llr") is not None]
    llr = np.array([r["llr"] for r in scored])
    flagged = np.array([r["verdict"] == "synthetic" for r in scored])
    return {"clips": len(results), "scored": len(scored),
            "flagged": round(float(np.mean(flagged)), 4) if len(scored) else None,
            "mean_llr": round(float(np.mean(llr)), 3) if len(llr) else None,
            "median_llr": round(float(np.median(llr)), 3) if len(llr) else None}


def condition_eer(genuine: Sequence[float], synthetic: Sequence[float]) -> float:
    """EER of one condition's synthetic clips against its genuine clips (call LLRs): how well
    the two classes are still separated under the degradation, whatever the threshold."""
    scores = np.concatenate([np.asarray(synthetic, float), np.asarray(genuine, float)])
    targets = np.concatenate([np.ones(len(synthetic)), np.zeros(len(genuine))])
    return round(metrics.eer(scores, targets), 4)


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=REPO / "data" / "corpus")
    ap.add_argument("--work", type=Path, default=REPO / "data" / "probes" / "channel")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--split", default="dev", choices=["train", "dev"])
    ap.add_argument("--labels", default="genuine",
                    help="genuine, synthetic or both, comma-separated")
    ap.add_argument("--conditions", default=",".join(CONDITIONS))
    ap.add_argument("--binary", type=Path,
                    default=REPO / "build" / "bin" / "deepfake-voice-detector")
    ap.add_argument("--model", type=Path, default=None,
                    help="detector.json to score with (default: analyze's, the shipped model)")
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args(argv)
    conditions = args.conditions.split(",")
    unknown = [c for c in conditions if c not in CONDITIONS]
    if unknown:
        raise SystemExit(f"unknown conditions {unknown}; known: {sorted(CONDITIONS)}")
    labels = args.labels.split(",")
    made = make(args.corpus, args.work, args.split, labels, conditions, args.jobs)
    report: Dict = {"split": args.split, "threshold": None, "conditions": {}}
    if args.model is not None:
        report["model"] = str(args.model)
    for c in conditions:
        llrs = {}
        for label in labels:
            results = score(args.binary, made[c][label], args.jobs, args.model)
            report["threshold"] = next((r["threshold"] for r in results if "threshold" in r),
                                       report["threshold"])
            summary = summarise(results)
            report["conditions"].setdefault(c, {})[label] = summary
            llrs[label] = [r["llr"] for r in results if r.get("llr") is not None]
            print(c, label, json.dumps(summary), flush=True)
        if llrs.get("genuine") and llrs.get("synthetic"):
            report["conditions"][c]["eer"] = condition_eer(llrs["genuine"], llrs["synthetic"])
            print(c, "EER genuine vs synthetic:", report["conditions"][c]["eer"], flush=True)
    if "none" in conditions:
        same, total = 0, 0
        for label in labels:
            for p in made["none"][label]:
                corpus_clip = args.corpus / "clips" / args.split / label / Path(p).name
                same += corpus_clip.read_bytes() == Path(p).read_bytes()
                total += 1
        report["none_identical_to_corpus"] = f"{same} of {total}"
        print("condition none identical to the corpus clips:", report["none_identical_to_corpus"])
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
