"""Probe: does the network learn more from per-frame band harmonicity than the call-level fusion?

Writes a copy of a `features` dump whose 3 "excitation" values per frame (the slots the C++
front end's `excitation` option fills with LPC-residual statistics) hold instead, for each speech
frame, the normalised autocorrelation at the pitch lag in 300-1000, 1000-2000 and 2000-3400 Hz
(band_harmonicity.py's definition, over the 40 ms centred on the 25 ms feature frame). Train on
it as on any dump (`train.py --features OUT`: the model's excitation branch reads the values).
It was the experiment that led the C++ front end to compute the same values (its
`band_harmonicity` option, src/dsp/band_harmonicity.hpp; `features --band-harmonicity` puts them
in the same slots when the front end has no `excitation`). On the twenty-first session's corpus
build the C++ dump equals this one in every value but 3 of 10.5 million (one frame whose pitch
lag is a near-tie); a dump for training comes from the C++ binary (`make train`), this stays as
an independent reference.

The C++ dump keeps speech frames only; this replays the front end's framing (200-sample frames
every 80 samples, energy over the raw frame) and its energy VAD (src/dsp/vad.hpp, default
options) to find them, and checks that every clip gets exactly its dump's frame count (a clip
that does not gets zeros and is counted).

  /usr/bin/python3 training/probes/harmonicity_dump.py --features data/features-fine6 \\
      --out data/features-harm
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from typing import Optional, Sequence, Tuple

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import band_harmonicity as bh  # noqa: E402

FRAME_LEN, FRAME_SHIFT, NUM_FILTERS = 200, 80, 60
# src/dsp/vad.hpp VadOptions defaults
VAD_FLOOR_DB, VAD_MARGIN_DB, VAD_RISE_DB, VAD_INITIAL_DB = -55.0, 9.0, 0.05, 0.0
VAD_HANGOVER, VAD_MIN_SPEECH = 8, 3


def frame_energies_db(x: np.ndarray) -> np.ndarray:
    """The C++ front end's energy_db per complete 25 ms frame (float32, as it hands it on)."""
    n = (len(x) - FRAME_LEN) // FRAME_SHIFT + 1 if len(x) >= FRAME_LEN else 0
    if n <= 0:
        return np.zeros(0, dtype=np.float32)
    frames = x[np.arange(FRAME_LEN)[None, :] + FRAME_SHIFT * np.arange(n)[:, None]]
    return (10.0 * np.log10((frames.astype(np.float64) ** 2).sum(axis=1) / FRAME_LEN + 1e-10)
            ).astype(np.float32)


def energy_vad(energies_db: np.ndarray) -> np.ndarray:
    """src/dsp/vad.cpp EnergyVad::accept over a stream's frames, in float32 like it."""
    f32 = np.float32
    noise, run, hang, speech = f32(VAD_INITIAL_DB), 0, 0, False
    out = np.zeros(len(energies_db), dtype=bool)
    for i, e in enumerate(energies_db):
        e = f32(e)
        candidate = e > max(f32(VAD_FLOOR_DB), f32(noise + f32(VAD_MARGIN_DB)))
        run = run + 1 if candidate else 0
        if candidate and (run >= VAD_MIN_SPEECH or speech):
            speech, hang, out[i] = True, VAD_HANGOVER, True
        elif speech and hang > 0:
            hang -= 1
            out[i] = True
        else:
            speech = False
        noise = e if e < noise else min(e, f32(noise + f32(VAD_RISE_DB)))
    return out


def frame_harmonicity(x: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """rows x 3: per feature frame in `rows`, the band harmonicity over the 40 ms centred on it."""
    half = bh.FRAME // 2
    padded = np.concatenate([np.zeros(half), x, np.zeros(half)])
    centres = rows * FRAME_SHIFT + FRAME_LEN // 2 + half  # in `padded`
    frames = padded[centres[:, None] - half + np.arange(bh.FRAME)[None, :]]
    frames = frames - frames.mean(axis=1, keepdims=True)
    return bh.frame_harmonicity(frames)[1].astype(np.float32)


def clip_values(job: Tuple[str, int]) -> Tuple[np.ndarray, bool]:
    """(num_frames x 3 values, whether the replayed VAD found exactly num_frames speech frames)."""
    path, num_frames = job
    x = bh.read_wav(path).astype(np.float32)
    rows = np.flatnonzero(energy_vad(frame_energies_db(x)))
    if len(rows) != num_frames:
        return np.zeros((num_frames, 3), dtype=np.float32), False
    return frame_harmonicity(x.astype(np.float64), rows), True


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--features", default="data/features-fine6")
    p.add_argument("--out", default="data/features-harm")
    p.add_argument("--jobs", type=int, default=2)
    args = p.parse_args(argv)
    with open(os.path.join(args.features, "front_end.json")) as f:
        front_end = json.load(f)
    if front_end.get("excitation"):
        raise SystemExit(f"{args.features} already has excitation values")
    width = int(front_end["width"])
    with open(os.path.join(args.features, "index.csv"), newline="") as f:
        index = list(csv.DictReader(f))
    features = np.memmap(os.path.join(args.features, "features.f32"), dtype="<f4", mode="r")
    features = features.reshape(-1, width)
    os.makedirs(args.out, exist_ok=True)
    mismatched = 0
    jobs = [(r["clip"], int(r["num_frames"])) for r in index]
    with open(os.path.join(args.out, "features.f32"), "wb") as out, \
            ProcessPoolExecutor(max_workers=args.jobs) as pool:
        for n, (row, (values, ok)) in enumerate(zip(index, pool.map(clip_values, jobs,
                                                                      chunksize=8)), 1):
            mismatched += not ok
            start = int(row["offset_frames"])
            frames = np.asarray(features[start:start + int(row["num_frames"])])
            merged = np.concatenate([frames[:, :NUM_FILTERS], values, frames[:, NUM_FILTERS:]],
                                    axis=1)
            out.write(merged.astype("<f4").tobytes())
            if n % 2000 == 0 or n == len(index):
                print(f"harmonicity_dump: {n}/{len(index)} clips, {mismatched} with another "
                      f"frame count", flush=True)
    with open(os.path.join(args.features, "index.csv"), "rb") as src, \
            open(os.path.join(args.out, "index.csv"), "wb") as dst:
        dst.write(src.read())
    with open(os.path.join(args.out, "front_end.json"), "w") as f:
        json.dump(dict(front_end, excitation=True, width=width + 3,
                       excitation_values="band harmonicity (training/probes/harmonicity_dump.py)"),
                  f, indent=1)
    return 0 if mismatched == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
