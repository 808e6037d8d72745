#!/usr/bin/python3
"""Copy-synthesis of genuine clips with the project's HiFi-GAN vocoder (train_vocoder.py).

For every genuine clip data/corpus/raw/genuine/<source>/*.wav (at most --max-per-source per
source, a seeded hash-ranked choice, stable across reruns), compute the 80-band log-mel, run
the generator and write data/corpus/raw/synthetic/hifigan/<source>/<same name>.wav (16 kHz mono
16-bit), loudness-matched (RMS) to the input. Existing outputs are kept, so a rerun after new
genuine sources appear only does the missing files. At the end it writes
data/corpus/raw/synthetic/hifigan/DONE (JSON summary); the file is removed while a run that has
work to do is in progress.

Sanity numbers, per clip, go to data/vocoder/resynth_stats.tsv: log-mel L1 between input and
output (both at the input's level), the correlation of their frame-energy envelopes, the raw
output/input RMS ratio before loudness matching, and whether a peak limiter was needed.

Usage (from the repository root):
    /usr/bin/python3 tools/vocoder/resynth.py [--max-per-source 400] [--seed 1234]
Threads: torch.set_num_threads(--threads, default 2); torch.no_grad; one process.
Dependencies: python3-torch, python3-torchaudio, python3-numpy (python3-soundfile optional).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import sys
import time
import wave
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_vocoder import (  # noqa: E402  (sibling module, shared model + features)
    DEFAULT_OUT_DIR, GENUINE_DIR, HOP_SAMPLES, REPO_ROOT, SAMPLE_RATE_HZ, Generator,
    MelComputer, is_reserved, load_audio)

DEFAULT_SYNTH_DIR = REPO_ROOT / "data" / "corpus" / "raw" / "synthetic" / "hifigan"
STATS_FIELDS = ("source", "file", "seconds", "mel_l1", "env_corr", "raw_rms_ratio",
                "final_rms_ratio", "limited", "realtime_factor")
PEAK_LIMIT = 0.999
BUCKET_SAMPLES = HOP_SAMPLES * 32  # 0.512 s
NORM_PEAK = 0.95  # the level the vocoder was trained at (train_vocoder.load_corpus)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--generator", type=Path, default=DEFAULT_OUT_DIR / "generator.pt")
    p.add_argument("--genuine-dir", type=Path, default=GENUINE_DIR)
    p.add_argument("--out-dir", type=Path, default=DEFAULT_SYNTH_DIR)
    p.add_argument("--stats", type=Path, default=DEFAULT_OUT_DIR / "resynth_stats.tsv")
    p.add_argument("--max-per-source", type=int, default=400)
    p.add_argument("--seed", type=int, default=1234, help="seed of the per-source clip choice")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--sources", default="", help="comma list; default: every source present")
    return p.parse_args(argv)


def write_wav_int16(path: Path, audio: np.ndarray) -> None:
    pcm = np.clip(np.round(audio * 32767.0), -32768, 32767).astype("<i2")
    tmp = path.with_name(path.name + ".part")
    with wave.open(str(tmp), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE_HZ)
        w.writeframes(pcm.tobytes())
    os.replace(tmp, path)


def load_generator(path: Path) -> tuple[Generator, dict]:
    state = torch.load(path, map_location="cpu")
    gen = Generator(state["config"])
    gen.load_state_dict(state["state_dict"])
    gen.remove_weight_norm()
    gen.eval()
    return gen, state


def choose_files(source_dir: Path, out_dir: Path, cap: int, seed: int) -> list[Path]:
    """At most `cap` clips of a source, stable when the source grows later.

    Clips are ranked by a seeded hash of their name; clips that already have an output are
    kept first, the rest of the quota is filled in rank order. Dot files (the corpus builder's
    .tmp-*.wav) are ignored.
    """
    files = [f for f in source_dir.glob("*.wav") if not f.name.startswith(".")]

    def rank(f: Path) -> str:
        return hashlib.sha1(f"{seed}:{source_dir.name}/{f.name}".encode()).hexdigest()

    files.sort(key=rank)
    if cap <= 0 or len(files) <= cap:
        return sorted(files)
    have = [f for f in files if (out_dir / f.name).exists()][:cap]
    have_names = {f.name for f in have}
    rest = [f for f in files if f.name not in have_names][: cap - len(have)]
    return sorted(have + rest)


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if len(x) else 0.0


def resynthesise(gen: Generator, mel_fn: MelComputer, x: np.ndarray) -> tuple[np.ndarray, dict]:
    n = len(x)
    peak = float(np.abs(x).max()) if n else 0.0
    gain = NORM_PEAK / max(peak, 1e-4)
    # Zero-pad to a multiple of BUCKET_SAMPLES: oneDNN builds its convolution primitives once
    # per input shape (about 0.5 s each on this machine), so few distinct shapes is much faster.
    padded_len = max(BUCKET_SAMPLES, -(-n // BUCKET_SAMPLES) * BUCKET_SAMPLES)
    xin = np.zeros(padded_len, dtype=np.float32)
    xin[:n] = x * gain
    t0 = time.monotonic()
    with torch.no_grad():
        mel = mel_fn(torch.from_numpy(xin).unsqueeze(0))
        y = gen(mel).squeeze(0).squeeze(0)
        mel_out = mel_fn(y.unsqueeze(0))
        n_frames = max(1, n // HOP_SAMPLES)  # score the clip itself, not the padding
        a = mel[0, :, :n_frames]
        b = mel_out[0, :, :n_frames]
        mel_l1 = float(torch.mean(torch.abs(b - a)))
        # correlation of the frame-energy envelopes (log of summed mel magnitudes)
        ea = torch.log(torch.exp(a).sum(dim=0))
        eb = torch.log(torch.exp(b).sum(dim=0))
        ea = ea - ea.mean()
        eb = eb - eb.mean()
        denom = float(torch.sqrt((ea * ea).sum() * (eb * eb).sum()))
        env_corr = float((ea * eb).sum()) / denom if denom > 0 else 0.0
    y = y.numpy()[:n].astype(np.float64)
    seconds_compute = time.monotonic() - t0
    rms_in = rms(x)
    rms_raw = rms(y) / gain  # back at the input's level
    raw_ratio = rms_raw / rms_in if rms_in > 0 else 0.0
    y = y / gain
    if rms_raw > 0 and rms_in > 0:
        y *= rms_in / rms_raw
    out_peak = float(np.abs(y).max()) if n else 0.0
    limited = out_peak > PEAK_LIMIT
    if limited:
        y *= PEAK_LIMIT / out_peak
    final_ratio = rms(y) / rms_in if rms_in > 0 else 0.0
    return y.astype(np.float32), {
        "seconds": n / SAMPLE_RATE_HZ, "mel_l1": mel_l1, "env_corr": env_corr,
        "raw_rms_ratio": raw_ratio,
        "final_rms_ratio": final_ratio, "limited": int(limited),
        "realtime_factor": (n / SAMPLE_RATE_HZ) / max(seconds_compute, 1e-9)}


def read_stats(path: Path) -> dict[tuple[str, str], dict]:
    rows: dict[tuple[str, str], dict] = {}
    if path.exists():
        with open(path, newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f, delimiter="\t"):
                rows[(row["source"], row["file"])] = row
    return rows


def summarise(rows: list[dict]) -> dict:
    def col(name):
        return np.array([float(r[name]) for r in rows], dtype=np.float64)
    if not rows:
        return {"clips": 0}
    mel_l1 = col("mel_l1")
    raw = col("raw_rms_ratio")
    return {"clips": len(rows), "hours": round(float(col("seconds").sum()) / 3600.0, 3),
            "mel_l1_mean": round(float(mel_l1.mean()), 4),
            "mel_l1_median": round(float(np.median(mel_l1)), 4),
            "env_corr_median": round(float(np.median(col("env_corr"))), 4),
            "raw_rms_ratio_median": round(float(np.median(raw)), 4),
            "raw_rms_ratio_p5_p95": [round(float(np.percentile(raw, 5)), 4),
                                     round(float(np.percentile(raw, 95)), 4)],
            "final_rms_ratio_mean": round(float(col("final_rms_ratio").mean()), 4),
            "limited": int(col("limited").sum()),
            "realtime_factor_median": round(float(np.median(col("realtime_factor"))), 1)}


def main(argv=None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    if not args.generator.exists():
        print(f"resynth: no generator at {args.generator}; run train_vocoder.py first",
              file=sys.stderr)
        return 1
    if not args.genuine_dir.is_dir():
        print(f"resynth: no genuine clips under {args.genuine_dir}", file=sys.stderr)
        return 1
    gen, state = load_generator(args.generator)
    mel_fn = MelComputer()

    wanted = {s.strip() for s in args.sources.split(",") if s.strip()}
    sources = [d for d in sorted(args.genuine_dir.iterdir()) if d.is_dir()
               and (not wanted or d.name in wanted)]
    plan: list[tuple[str, list[Path]]] = []
    for d in sources:
        if is_reserved(d.name):
            print(f"resynth: skipping reserved source {d.name}", flush=True)
            continue
        plan.append((d.name, choose_files(d, args.out_dir / d.name, args.max_per_source,
                                             args.seed)))

    todo = sum(1 for name, files in plan for f in files
               if not (args.out_dir / name / f.name).exists())
    args.out_dir.mkdir(parents=True, exist_ok=True)
    done_path = args.out_dir / "DONE"
    if todo and done_path.exists():
        done_path.unlink()
    print(f"resynth: generator step {state.get('step')}, {len(plan)} sources, {todo} clips to do",
          flush=True)

    args.stats.parent.mkdir(parents=True, exist_ok=True)
    new_stats_file = not args.stats.exists()
    stats_f = open(args.stats, "a", newline="", encoding="utf-8")
    writer = csv.DictWriter(stats_f, fieldnames=STATS_FIELDS, delimiter="\t")
    if new_stats_file:
        writer.writeheader()

    t_start = time.monotonic()
    done_now = 0
    failed: list[str] = []
    for name, files in plan:
        out_sub = args.out_dir / name
        out_sub.mkdir(parents=True, exist_ok=True)
        made = 0
        for f in files:
            out_path = out_sub / f.name
            if out_path.exists():
                continue
            try:
                x = load_audio(f)
                y, st = resynthesise(gen, mel_fn, x)
                write_wav_int16(out_path, y)
            except Exception as exc:  # one bad clip must not stop the run
                failed.append(f"{name}/{f.name}: {exc}")
                print(f"resynth: FAILED {name}/{f.name}: {exc}", file=sys.stderr, flush=True)
                continue
            writer.writerow({"source": name, "file": f.name, **{
                k: (f"{v:.5f}" if isinstance(v, float) else v) for k, v in st.items()}})
            made += 1
            done_now += 1
            if done_now % 100 == 0:
                stats_f.flush()
                rate = done_now / (time.monotonic() - t_start)
                print(f"resynth: {done_now}/{todo} clips ({rate:.2f} clips/s)", flush=True)
        print(f"resynth: {name}: {made} new, {len(list(out_sub.glob('*.wav')))} present",
              flush=True)
    stats_f.close()

    all_stats = read_stats(args.stats)
    per_source = {}
    for name, files in plan:
        rows = [all_stats[(name, f.name)] for f in files if (name, f.name) in all_stats]
        per_source[name] = {"selected": len(files),
                            "present": sum(1 for f in files if (args.out_dir / name / f.name).exists()),
                            **summarise(rows)}
    summary = {"vocoder": "hifigan-v3-like (tools/vocoder)", "generator": str(args.generator),
               "generator_step": state.get("step"), "generator_meta": state.get("meta"),
               "max_per_source": args.max_per_source, "seed": args.seed,
               "failed": failed, "sources": per_source,
               "finished": time.strftime("%Y-%m-%d %H:%M:%S")}
    text = json.dumps(summary, indent=2)
    print(text, flush=True)
    if failed:
        print(f"resynth: {len(failed)} clips failed; DONE not written", file=sys.stderr)
        return 1
    done_path.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
