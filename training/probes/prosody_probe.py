"""Probe: does the melody and loudness of a few seconds of speech betray unit selection?

The shipped detector sees 2 s of spectra and scores festival clunits (unit selection, test only)
at chance. Unit selection copies pieces of one speaker's recordings and joins them where the
spectra match, with no prosody model of its own: each piece keeps the pitch and loudness it had
in its own sentence. This probe asks whether the contour of F0 and energy over 2.5 s carries
that, with nothing of the spectrum:

- `pack` makes the project's unit-selection stand-in (`tools/corpus/concat.py`, one clip per
  genuine clip of every known train and dev speaker) in a work folder, chains it exactly like
  stage 4 (same babble pools as the corpus), and writes per 10 ms frame the F0 (SPTK's RAPT,
  60-400 Hz, 0 when unvoiced) and log energy of those clips, of every train genuine clip and of
  every dev and test clip;
- `run` trains a small network (dilated 1-D convolutions, a bidirectional GRU, mean and max
  pooling; 34,561 parameters) on 2.5 s crops of per-clip-normalised log F0, its frame-to-frame
  change, voicing and energy, genuine against concatenated clips of the same train speakers only
  (as many of each per speaker, so a speaker cannot stand for a class), picks the epoch on the dev
  speakers that have both classes, and then scores the test clunits clips against the genuine
  clips of their own speaker (festvox-ru), and against every genuine test clip;
- `fuse` fits a logistic regression of the detector's call LLR (`analyze --jsonl` lines) and the
  seeds' averaged contour score on dev, its concatenated clips in the synthetic class, and
  reports the test figures with and without the contour score.

No dev split holds real unit selection, so the test figure selects nothing. A research tool:
nothing in the service depends on it.

  /usr/bin/python3 training/probes/prosody_probe.py pack --corpus data/corpus \\
      --work data/probes/prosody --out data/probes/prosody.npz
  /usr/bin/python3 training/probes/prosody_probe.py run --data data/probes/prosody.npz \\
      --seeds 1,2,3 --out data/probes/prosody.json
  /usr/bin/python3 training/probes/prosody_probe.py fuse --llrs LLRS.jsonl   (training/README.md)
"""

from __future__ import annotations

import argparse
import collections
import csv
import json
import os
import subprocess
import sys
import wave
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(HERE.parent))

import metrics  # noqa: E402
from compare import standardised_mean  # noqa: E402

CROP = 250  # frames of 10 ms: 2.5 s
HOP = 80  # samples at 8 kHz: 10 ms
FRAME = 200  # samples: 25 ms energy frames
UNIT_SELECTION = "festival-clunits"
CONCAT = "concat"


# ----------------------------------------------------------------------------- pack


def read_wav_8k(path: str) -> np.ndarray:
    """The 16-bit mono 8 kHz samples of a chained clip, as float32 in the int16 range."""
    with wave.open(path) as w:
        if w.getframerate() != 8000 or w.getsampwidth() != 2 or w.getnchannels() != 1:
            raise ValueError(f"{path}: not 16-bit mono 8 kHz")
        return np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float32)


def energy_db(x: np.ndarray, frames: int) -> np.ndarray:
    """Log energy of `frames` 25 ms frames every 10 ms, the first centred on sample 0."""
    padded = np.pad(x.astype(np.float64), (HOP, HOP + FRAME + frames * HOP))
    starts = np.arange(frames) * HOP
    idx = starts[:, None] + np.arange(FRAME)[None, :]
    return 10.0 * np.log10(np.mean(padded[idx] ** 2, axis=1) + 1.0)


def contour(path: str) -> np.ndarray:
    """[frames, 2]: F0 in Hz (0 = unvoiced; SPTK RAPT) and log energy, every 10 ms."""
    x = read_wav_8k(path)
    out = subprocess.run(["sptk", "pitch", "-a", "0", "-s", "8", "-p", str(HOP), "-L", "60",
                          "-H", "400", "-o", "1"], input=x.tobytes(), capture_output=True,
                         check=True).stdout
    f0 = np.frombuffer(out, np.float32)
    return np.stack([f0, energy_db(x, len(f0))], 1).astype(np.float32)


def make_concat(corpus: Path, work: Path, jobs: int) -> List[Dict[str, str]]:
    """concat.py clips of every known train and dev speaker (one per genuine clip), chained like
    stage 4 into WORK/clips; returns their rows (path, split, speaker)."""
    sys.path.insert(0, str(REPO / "tools" / "corpus"))
    import channel  # noqa: PLC0415
    import concat  # noqa: PLC0415
    from common import read_lines  # noqa: PLC0415

    (work / "raw").mkdir(parents=True, exist_ok=True)
    link = work / "raw" / "genuine"
    if not link.exists():
        link.symlink_to((corpus / "raw" / "genuine").resolve())
    genuine = {idx.parent.name: read_lines(idx)
               for idx in sorted((corpus / "raw" / "genuine").glob("*/index.jsonl"))}
    made = concat.build_concat(work, concat.plan(genuine, {"train": 1.0, "dev": 1.0}), jobs)
    with open(corpus / "babble_pools.json", encoding="utf-8") as f:
        pools = {k: [str(corpus / p) for p in v] for k, v in json.load(f).items()}
    todo, rows = [], []
    for r in made:
        cid = f"{CONCAT}__{r['speaker']}__{Path(r['file']).stem}"
        dest = work / "clips" / r["split"] / f"{cid}.wav"
        dest.parent.mkdir(parents=True, exist_ok=True)
        todo.append((str(work / r["dir"] / r["file"]), str(dest), cid, 0, r["split"]))
        rows.append({"path": str(dest), "split": r["split"], "speaker": r["speaker"]})
    with ProcessPoolExecutor(jobs, initializer=channel.set_babble_pools,
                             initargs=(pools,)) as pool:
        errors = [e for _, e in pool.map(channel.chain_job, todo, chunksize=8) if e]
    if errors:
        raise SystemExit(f"{len(errors)} concatenated clips not chained, first: {errors[0]}")
    return rows


def pack(corpus: Path, work: Path, out: Path, jobs: int) -> int:
    items: List[Tuple[str, str, str, str, str]] = []  # path, label, split, attack, speaker
    with open(corpus / "manifest.csv", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            if r["label"] == "genuine" or r["split"] != "train":
                items.append((str(corpus / r["path"]), r["label"], r["split"], r["attack"],
                              r["speaker"]))
    for r in make_concat(corpus, work, jobs):
        items.append((r["path"], "synthetic", r["split"], CONCAT, r["speaker"]))
    with ProcessPoolExecutor(jobs) as pool:
        seqs = list(pool.map(contour, [i[0] for i in items], chunksize=16))
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(out, meta=np.array(items, dtype=object),
             **{f"s{i}": s for i, s in enumerate(seqs)})
    print(f"{len(items)} clips packed into {out}")
    return 0


# ----------------------------------------------------------------------------- run


def frame_features(seq: np.ndarray) -> np.ndarray:
    """[5, frames] from [frames, 2] (F0 Hz, energy dB): voicing; log F0 less the clip's mean over
    voiced frames (0 unvoiced), x5; its change from the previous frame when both are voiced, x20,
    clipped to +-5; energy less the clip's 95th percentile, /10; its change, per frame."""
    f0 = seq[:, 0].astype(np.float64)
    energy = seq[:, 1].astype(np.float64)
    voiced = f0 > 0
    log_f0 = np.zeros_like(f0)
    if voiced.any():
        log_f0[voiced] = np.log(f0[voiced])
        log_f0[voiced] -= log_f0[voiced].mean()
    step = np.zeros_like(f0)
    both = voiced[1:] & voiced[:-1]
    step[1:][both] = (log_f0[1:] - log_f0[:-1])[both]
    level = (energy - np.percentile(energy, 95)) / 10.0
    return np.stack([voiced.astype(np.float64), 5.0 * log_f0, np.clip(20.0 * step, -5.0, 5.0),
                     level, np.diff(level, prepend=level[0])]).astype(np.float32)


def same_speakers(items: List[Tuple[np.ndarray, int, str]], balance: bool
                  ) -> List[Tuple[np.ndarray, int, str]]:
    """Only the speakers with at least 5 clips of each class; with `balance`, as many
    concatenated clips of a speaker as genuine ones (the first in order)."""
    by: Dict[str, List[list]] = collections.defaultdict(lambda: [[], []])
    for it in items:
        by[it[2]][it[1]].append(it)
    out = []
    for speaker in sorted(by):
        genuine, synthetic = by[speaker]
        if len(genuine) >= 5 and len(synthetic) >= 5:
            out += genuine + (synthetic[:len(genuine)] if balance else synthetic)
    return out


def crops(features: np.ndarray, count: int = 3) -> List[np.ndarray]:
    """`count` evenly spaced CROP-frame crops (the whole clip if it is no longer)."""
    n = features.shape[1]
    if n <= CROP:
        return [features]
    return [features[:, int(p):int(p) + CROP] for p in np.linspace(0, n - CROP, count)]


def build_net(width: int = 32):
    import torch.nn as nn  # noqa: PLC0415

    class ContourNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            layers, channels = [], 5
            for dilation in (1, 2, 4, 8, 16):
                layers += [nn.Conv1d(channels, width, 5, padding=2 * dilation, dilation=dilation),
                           nn.BatchNorm1d(width), nn.ReLU()]
                channels = width
            self.conv = nn.Sequential(*layers)
            self.gru = nn.GRU(width, width, batch_first=True, bidirectional=True)
            self.out = nn.Linear(4 * width, 1)

        def forward(self, x):
            import torch  # noqa: PLC0415
            h, _ = self.gru(self.conv(x).transpose(1, 2))
            return self.out(torch.cat([h.mean(1), h.amax(1)], 1)).squeeze(1)

    return ContourNet()


def score(net, clips: List[np.ndarray]) -> np.ndarray:
    """Mean logit over each clip's crops."""
    import torch  # noqa: PLC0415
    net.eval()
    with torch.no_grad():
        return np.array([float(net(torch.from_numpy(np.stack(crops(c)))).mean())
                         for c in clips])


def clip_eer(genuine: np.ndarray, synthetic: np.ndarray) -> float:
    return metrics.eer(np.concatenate([genuine, synthetic]),
                       np.concatenate([np.zeros(len(genuine)), np.ones(len(synthetic))]))


def run_seed(data: dict, seed: int, epochs: int) -> dict:
    import torch  # noqa: PLC0415
    import torch.nn as nn  # noqa: PLC0415

    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    train, dev = data["train"], data["dev"]
    net = build_net()
    opt = torch.optim.AdamW(net.parameters(), 1e-3, weight_decay=1e-3)
    positives = sum(y for _, y, _ in train)
    loss_fn = nn.BCEWithLogitsLoss(pos_weight=torch.tensor((len(train) - positives) / positives))
    dev_y = np.array([y for _, y, _ in dev])
    history, best_eer, best_state, best_dev = [], 2.0, None, None
    for _ in range(epochs):
        net.train()
        order = rng.permutation(len(train))
        for b in range(0, len(order), 32):
            xs, ys = [], []
            for i in order[b:b + 32]:
                features, y, _ = train[i]
                p = int(rng.integers(0, features.shape[1] - CROP + 1))
                xs.append(features[:, p:p + CROP])
                ys.append(y)
            opt.zero_grad()
            loss = loss_fn(net(torch.from_numpy(np.stack(xs))), torch.tensor(ys).float())
            loss.backward()
            opt.step()
        s = score(net, [f for f, _, _ in dev])
        history.append(round(clip_eer(s[dev_y == 0], s[dev_y == 1]), 4))
        if history[-1] < best_eer:
            best_eer, best_dev = history[-1], s
            best_state = {k: v.clone() for k, v in net.state_dict().items()}
    net.load_state_dict(best_state)
    own = score(net, data["test_own_genuine"])
    every = score(net, data["test_genuine"])
    unit = score(net, data["test_unit_selection"])
    return {"seed": seed, "dev_eer_per_epoch": history, "best_epoch": int(np.argmin(history)),
            "dev_eer": best_eer, **test_figures(own, every, unit),
            "scores": {"dev": best_dev.tolist(), "test_own_genuine":
                       own.tolist(), "test_genuine": every.tolist(), "test_unit_selection":
                       unit.tolist()},
            "clips": dict(zip(data.get("every", {}), score(net, list(data.get("every", {})
                                                                  .values())).tolist()))}


def test_figures(own: np.ndarray, every: np.ndarray, unit: np.ndarray) -> dict:
    return {"test_unit_selection_vs_own_speaker_eer": round(clip_eer(own, unit), 4),
            "test_unit_selection_vs_all_genuine_eer": round(clip_eer(every, unit), 4)}


def averaged(runs: List[dict], dev_labels: np.ndarray) -> dict:
    """The mean of the runs' scores, each standardised by its dev scores
    (`compare.standardised_mean`, as compare.py --average does for the detector's networks)."""
    mean = standardised_mean([{k: np.asarray(v) for k, v in r["scores"].items()} for r in runs])
    dev = mean["dev"]
    return {"seeds": [r["seed"] for r in runs],
            "dev_eer": round(clip_eer(dev[dev_labels == 0], dev[dev_labels == 1]), 4),
            **test_figures(mean["test_own_genuine"], mean["test_genuine"],
                           mean["test_unit_selection"])}


def load(path: Path) -> dict:
    """The packed clips of at least CROP frames, as the train / dev / test sets of `run`."""
    packed = np.load(path, allow_pickle=True)
    rows = []
    every: Dict[str, np.ndarray] = {}  # every dev and test clip, by path: for `fuse`
    for i, (clip, label, split, attack, speaker) in enumerate(packed["meta"]):
        seq = packed[f"s{i}"]
        if len(seq) >= CROP:
            rows.append((frame_features(seq), 0 if label == "genuine" else 1, split, attack,
                         speaker))
            if split != "train":
                every[clip] = rows[-1][0]

    def pick(split, attacks):
        return [(f, y, spk) for f, y, s, a, spk in rows if s == split and a in attacks]

    test_genuine = pick("test", {"bonafide"})
    unit = pick("test", {UNIT_SELECTION})
    return {
        "train": same_speakers(pick("train", {"bonafide", CONCAT}), balance=True),
        "dev": same_speakers(pick("dev", {"bonafide", CONCAT}), balance=False),
        "test_genuine": [f for f, _, _ in test_genuine],
        "test_own_genuine": [f for f, _, spk in test_genuine if spk == "festvox-ru-nsh"],
        "test_unit_selection": [f for f, _, _ in unit],
        "every": every,
    }


def run(data_path: Path, seeds: Sequence[int], epochs: int, out: Optional[Path],
        threads: int) -> int:
    import torch  # noqa: PLC0415
    torch.set_num_threads(threads)
    data = load(data_path)
    counts = {k: len(v) for k, v in data.items() if k != "every"}
    print(json.dumps(counts))
    results = []
    for seed in seeds:
        results.append(run_seed(data, seed, epochs))
        print(json.dumps({k: v for k, v in results[-1].items() if k not in ("scores", "clips")}),
              flush=True)
    report = {"clips": counts, "crop_frames": CROP, "epochs": epochs, "runs": results}
    if len(results) > 1:
        report["average"] = averaged(results, np.array([y for _, y, _ in data["dev"]]))
        print(json.dumps(report["average"]))
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    return 0


def fuse(data_path: Path, runs_path: Path, llrs_path: Path) -> dict:
    """The detector's call LLR (`analyze --jsonl` lines) fused with the runs' averaged contour
    score by a logistic regression fitted on dev, with the dev concatenated clips as part of the
    synthetic class (no dev clip is unit selection), and scored on test. Clips under CROP frames
    have no contour score and stand at 0, the dev mean (a column saying which clips have one
    would be a duration cue: every concatenated clip is long enough); clips without an LLR (under
    1 s of speech) are left out, as `eval` leaves them out."""
    import calibrate  # noqa: PLC0415
    from indicator_fusion import fit_logistic  # noqa: PLC0415

    packed = np.load(data_path, allow_pickle=True)
    meta = {os.path.abspath(m[0]): (m[1], m[2], m[3]) for m in packed["meta"] if m[2] != "train"}
    with open(runs_path, encoding="utf-8") as f:
        runs = json.load(f)["runs"]
    clips = list(runs[0]["clips"])
    z = standardised_mean([{"dev": np.asarray(r["scores"]["dev"]),
                            "clips": np.array([r["clips"][c] for c in clips])} for r in runs])
    contour_z = {os.path.abspath(c): float(v) for c, v in zip(clips, z["clips"])}
    split_rows: Dict[str, list] = {"dev": [], "test": []}
    with open(llrs_path, encoding="utf-8") as f:
        for line in f:
            j = json.loads(line)
            path = os.path.abspath(j["file"])
            if j.get("llr") is None or path not in meta:
                continue
            label, split, attack = meta[path]
            z = contour_z.get(path)
            split_rows[split].append((j["llr"], 0.0 if z is None else z, z is not None,
                                      label != "genuine", attack))

    def arrays(rows):
        x = np.array([r[:3] for r in rows], dtype=np.float64)
        return x, np.array([r[3] for r in rows], dtype=np.float64), np.array([r[4] for r in rows])

    dev_x, dev_y, dev_attack = arrays(split_rows["dev"])
    test_x, test_y, test_attack = arrays(split_rows["test"])
    out = {"dev_clips": len(dev_y), "dev_concat": int(np.sum(dev_attack == CONCAT)),
           "test_clips": len(test_y), "test_with_contour": int(test_x[:, 2].sum())}
    for name, cols in (("detector", [0]), ("detector+contour", [0, 1])):
        w = fit_logistic(dev_x[:, cols], dev_y)
        dev_s = np.c_[dev_x[:, cols], np.ones(len(dev_y))] @ w
        test_s = np.c_[test_x[:, cols], np.ones(len(test_y))] @ w
        known = dev_attack != CONCAT
        threshold = calibrate.choose_threshold(calibrate.sigmoid(dev_s[known & (dev_y < 0.5)]))
        test_p = calibrate.sigmoid(test_s)
        genuine = test_y < 0.5
        unit = test_attack == UNIT_SELECTION
        out[name] = {
            "weights": [round(float(v), 4) for v in w],
            "dev_eer_without_concat": round(metrics.eer(dev_s[known], dev_y[known]), 4),
            "dev_concat_eer": round(clip_eer(dev_s[known & (dev_y < 0.5)],
                                             dev_s[dev_attack == CONCAT]), 4),
            "test_eer": round(metrics.eer(test_s, test_y), 4),
            "test_eer_without_unit_selection": round(metrics.eer(test_s[~unit], test_y[~unit]), 4),
            "test_unit_selection_eer": round(clip_eer(test_s[genuine], test_s[unit]), 4),
            "test_genuine_flagged": round(float(np.mean(test_p[genuine] >= threshold)), 4),
            "test_synthetic_caught": round(float(np.mean(test_p[~genuine] >= threshold)), 4),
        }
    return out


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("pack")
    p.add_argument("--corpus", type=Path, default=REPO / "data" / "corpus")
    p.add_argument("--work", type=Path, default=REPO / "data" / "probes" / "prosody")
    p.add_argument("--out", type=Path, default=REPO / "data" / "probes" / "prosody.npz")
    p.add_argument("--jobs", type=int, default=2)
    r = sub.add_parser("run")
    r.add_argument("--data", type=Path, default=REPO / "data" / "probes" / "prosody.npz")
    r.add_argument("--seeds", default="1,2,3")
    r.add_argument("--epochs", type=int, default=30)
    r.add_argument("--threads", type=int, default=2)
    r.add_argument("--out", type=Path, default=None)
    u = sub.add_parser("fuse")
    u.add_argument("--data", type=Path, default=REPO / "data" / "probes" / "prosody.npz")
    u.add_argument("--runs", type=Path, default=REPO / "data" / "probes" / "prosody.json")
    u.add_argument("--llrs", type=Path, required=True,
                   help="analyze --jsonl lines for the packed dev and test clips")
    args = ap.parse_args(argv)
    if args.cmd == "fuse":
        print(json.dumps(fuse(args.data, args.runs, args.llrs), indent=1))
        return 0
    if args.cmd == "pack":
        return pack(args.corpus, args.work, args.out, args.jobs)
    return run(args.data, [int(s) for s in args.seeds.split(",")], args.epochs, args.out,
               args.threads)


if __name__ == "__main__":
    sys.exit(main())
