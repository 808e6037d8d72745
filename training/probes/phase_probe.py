"""Probe: can a front end that keeps phase see Griffin-Lim re-synthesis that the shipped magnitude
front end cannot?

The `gl512` copies in the corpus keep the exact linear magnitude of their genuine origin and rebuild
the phase with 32 Griffin-Lim iterations; the shipped detector (log filterbank energies) scores
them at chance (docs/model-card.md). This probe trains one small network per front end on train
pairs (a genuine clip and its `gl512` copy, cropped at the same place) and reports the clip EER of
`gl512` copies against genuine clips on the dev and test splits, whose recording domains training
never saw. It is a research tool: nothing in the service depends on it.

  /usr/bin/python3 training/probes/phase_probe.py pack --manifest data/corpus/manifest.csv \
      --out data/probes/gl512.npz
  python3 training/probes/phase_probe.py run --data data/probes/gl512.npz --out results.json \
      [--device cuda] [--front-ends mag,phase,short,raw] [--seeds 1,2] [--steps 3000]

`pack` stores the clips as G.711 mu-law codes (the corpus's last channel step is a mu-law round
trip, so this is lossless) to keep the file small enough to travel to a GPU machine. `run` decodes
them, computes the front ends with torch, and writes one JSON object with every run's figures.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import sys
import time
import wave
from typing import Dict, List, Optional, Sequence

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from data import origin_key, vocoder_setting  # noqa: E402
from metrics import eer  # noqa: E402

RATE_HZ = 8000
SPLITS = ("train", "dev", "test")
FRONT_ENDS = ("mag", "phase", "short", "raw", "fine6", "fine8", "fine12")


# ---------------------------------------------------------------------------------------------
# G.711 mu-law (ITU-T G.711, the same tables as src/media)

def linear_to_ulaw(x: np.ndarray) -> np.ndarray:
    """int16 samples -> mu-law codes (uint8)."""
    x = x.astype(np.int32)
    sign = (x < 0).astype(np.int32)
    mag = np.minimum(np.abs(x), 32635) + 0x84
    exponent = np.clip(np.floor(np.log2(mag)).astype(np.int32) - 7, 0, 7)
    mantissa = (mag >> (exponent + 3)) & 0x0F
    return (~((sign << 7) | (exponent << 4) | mantissa) & 0xFF).astype(np.uint8)


def ulaw_to_linear(u: np.ndarray) -> np.ndarray:
    """mu-law codes -> int16 samples."""
    u = ~u.astype(np.int32) & 0xFF
    exponent = (u >> 4) & 7
    mag = (((u & 0x0F) << 3) + 0x84 << exponent) - 0x84
    return np.where(u & 0x80, -mag, mag).astype(np.int16)


# ---------------------------------------------------------------------------------------------
# pack

def read_pcm16(path: str) -> np.ndarray:
    with wave.open(path, "rb") as w:
        if w.getsampwidth() != 2 or w.getnchannels() != 1 or w.getframerate() != RATE_HZ:
            raise ValueError(f"{path}: want 8 kHz mono 16-bit PCM (the corpus clip format)")
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")


def pack(manifest: str, out: str, train_seconds: float, eval_seconds: float,
         limit: int = 0) -> Dict:
    """Writes the probe's clips: genuine and `gl512` clips of dev and test, and the train `gl512`
    copies together with their genuine origins. Each clip keeps at most its first train_seconds
    (train) or eval_seconds (dev, test) of audio."""
    root = os.path.dirname(os.path.abspath(manifest))
    with open(manifest, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    gl = [r for r in rows if vocoder_setting(r["path"]) == "gl512"]
    if limit:
        gl = [r for s in SPLITS for r in [g for g in gl if g["split"] == s][:limit]]
    train_origins = {origin_key(r["path"]) for r in gl if r["split"] == "train"}
    genuine = [r for r in rows if r["label"] == "genuine" and
               (r["split"] != "train" or origin_key(r["path"]) in train_origins)]
    if limit:
        genuine = [r for s in SPLITS for r in [g for g in genuine if g["split"] == s][:limit]]
    chosen = genuine + gl
    return write_pack(out, root, chosen,
                      lambda r: train_seconds if r["split"] == "train" else eval_seconds)


def write_pack(out: str, root: str, rows: Sequence[Dict[str, str]], seconds) -> Dict:
    """Stores the manifest rows' clips (at most seconds(row) of each) as mu-law codes with their
    metadata; a synthetic clip whose genuine origin is among the rows gets its row index in
    `pair`. Returns a summary."""
    codes, offsets, lengths, meta = [], [], [], []
    offset = 0
    for r in rows:
        x = read_pcm16(os.path.join(root, r["path"]))
        cap = int(seconds(r) * RATE_HZ)
        u = linear_to_ulaw(x[:cap])
        if not np.array_equal(ulaw_to_linear(u), x[:cap]):
            raise ValueError(f"{r['path']}: samples are not mu-law values; the corpus's last "
                             "channel step should make them so")
        codes.append(u)
        offsets.append(offset)
        lengths.append(u.size)
        offset += u.size
        meta.append([r["path"], r["label"], r["split"], r["codec"], r["source"]])
    origin_row = {origin_key(m[0]): i for i, m in enumerate(meta) if m[1] == "genuine"}
    pair = np.array([origin_row.get(origin_key(m[0]), -1) if m[1] != "genuine" else -1
                     for m in meta], dtype=np.int64)
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    np.savez_compressed(out, codes=np.concatenate(codes), offsets=np.array(offsets),
                        lengths=np.array(lengths), pair=pair,
                        meta=np.array(meta, dtype=object).astype(str))
    summary: Dict[str, int] = {}
    for m in meta:
        key = f"{m[2]}/{m[1]}"
        summary[key] = summary.get(key, 0) + 1
    return {"out": out, "bytes": os.path.getsize(out), "clips": summary}


# ---------------------------------------------------------------------------------------------
# front ends and networks (torch)

def principal(x):
    """Wraps phase values to [-pi, pi)."""
    return (x + math.pi) % (2.0 * math.pi) - math.pi


def stft(x, n_fft: int, win: int, hop: int):
    import torch  # noqa: PLC0415
    window = torch.hann_window(win, device=x.device)
    return torch.stft(x, n_fft, hop_length=hop, win_length=win, window=window, center=False,
                      return_complex=True).transpose(1, 2)  # [B, T, K]


def triangular_filterbank(num_filters: int, fft_size: int, rate_hz: float = RATE_HZ) -> \
        np.ndarray:
    """[num_filters, fft_size / 2 + 1] linear triangular filters over 0..rate/2, the formula of
    the C++ front end (src/dsp/feature_extractor.hpp)."""
    edges = np.arange(num_filters + 2) * (rate_hz / 2) / (num_filters + 1)
    f = np.arange(fft_size // 2 + 1) * rate_hz / fft_size
    w = np.zeros((num_filters, f.size))
    for m in range(num_filters):
        rise = (f - edges[m]) / (edges[m + 1] - edges[m])
        fall = (edges[m + 2] - f) / (edges[m + 2] - edges[m + 1])
        w[m] = np.maximum(0.0, np.minimum(rise, fall))
    return w


def front_end(name: str, x):
    """[B, N] waveform -> the named front end's input: [B, C, T, K] (2-D) or [B, 1, N] (raw)."""
    import torch  # noqa: PLC0415
    if name == "raw":
        return (x / (x.std(dim=1, keepdim=True) + 1e-5)).unsqueeze(1)
    if name.startswith("fine"):
        # 4 ms Hann windows every 2 ms, summed into a few linear bands: the time structure inside
        # a pitch period, at a resolution the per-stream buffer can hold.
        power = stft(x, 64, 32, 16).abs() ** 2
        bank = torch.from_numpy(triangular_filterbank(int(name[4:]), 64).T.astype(np.float32))
        logband = torch.log(torch.clamp(power @ bank.to(x.device), min=1e-10))
        return (logband - logband.mean(dim=1, keepdim=True)).unsqueeze(1)
    if name == "short":
        spec = stft(x, 64, 32, 16)
        logmag = torch.log(spec.abs() ** 2 + 1e-10)
        return (logmag - logmag.mean(dim=1, keepdim=True)).unsqueeze(1)
    spec = stft(x, 256, 200, 80)
    logmag = torch.log(spec.abs() ** 2 + 1e-10)
    logmag = logmag - logmag.mean(dim=1, keepdim=True)
    if name == "mag":
        return logmag.unsqueeze(1)
    if name != "phase":
        raise ValueError(f"unknown front end {name!r}")
    phi = torch.angle(spec)
    bins = torch.arange(spec.shape[2], device=x.device, dtype=x.dtype)
    # Instantaneous-frequency deviation: the phase advance of each bin over one hop, less the
    # advance a sinusoid at the bin centre would have; group delay: the phase step across bins.
    ifd = principal(phi[:, 1:, :] - phi[:, :-1, :] - 2.0 * math.pi * bins * 80 / 256)[:, :, 1:]
    gd = principal(phi[:, 1:, 1:] - phi[:, 1:, :-1])
    return torch.stack([logmag[:, 1:, 1:], torch.cos(ifd), torch.sin(ifd), torch.cos(gd),
                        torch.sin(gd)], dim=1)


def make_network(name: str):
    import torch  # noqa: PLC0415
    from torch import nn  # noqa: PLC0415

    class Pool(nn.Module):
        """Mean and standard deviation over the last axis."""

        def forward(self, h):
            return torch.cat([h.mean(dim=-1), h.std(dim=-1)], dim=1)

    def block2d(c_in: int, c_out: int):
        return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out),
                             nn.ReLU(), nn.Conv2d(c_out, c_out, 3, padding=1),
                             nn.BatchNorm2d(c_out), nn.ReLU(), nn.MaxPool2d(2, ceil_mode=True))

    def block1d(c_in: int, c_out: int):
        return nn.Sequential(nn.Conv1d(c_in, c_out, 3, padding=1), nn.BatchNorm1d(c_out),
                             nn.ReLU(), nn.Conv1d(c_out, c_out, 3, padding=1),
                             nn.BatchNorm1d(c_out), nn.ReLU(), nn.MaxPool1d(3))

    class Net2d(nn.Module):
        def __init__(self, channels_in: int):
            super().__init__()
            self.body = nn.Sequential(block2d(channels_in, 32), block2d(32, 64), block2d(64, 96),
                                      block2d(96, 128))
            self.pool = Pool()
            self.head = nn.Sequential(nn.Dropout(0.3), nn.Linear(256, 1))

        def forward(self, x):
            h = self.body(x).mean(dim=3)  # [B, C, T]
            return self.head(self.pool(h)).squeeze(1)

    class NetRaw(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Conv1d(1, 48, 64, stride=4), nn.BatchNorm1d(48),
                                      nn.ReLU(), block1d(48, 64), block1d(64, 96),
                                      block1d(96, 128), block1d(128, 128))
            self.pool = Pool()
            self.head = nn.Sequential(nn.Dropout(0.3), nn.Linear(256, 1))

        def forward(self, x):
            return self.head(self.pool(self.body(x))).squeeze(1)

    return NetRaw() if name == "raw" else Net2d(5 if name == "phase" else 1)


# ---------------------------------------------------------------------------------------------
# run

class Clips:
    """The packed clips, decoded to float waveforms in [-1, 1)."""

    def __init__(self, path: str):
        z = np.load(path, allow_pickle=False)
        self.audio = ulaw_to_linear(z["codes"]).astype(np.float32) / 32768.0
        self.offsets = z["offsets"]
        self.lengths = z["lengths"]
        self.pair = z["pair"]
        self.meta = z["meta"]
        self.split = self.meta[:, 2]
        self.target = (self.meta[:, 1] != "genuine").astype(np.float32)

    def indices(self, split: str) -> np.ndarray:
        return np.nonzero(self.split == split)[0]

    def windows(self, idx: np.ndarray, samples: int, hop: int):
        """Every window of `samples` at `hop` in the clips idx (a shorter clip is tiled to one
        window): ([W, samples] audio, [W] position in idx)."""
        xs, owner = [], []
        for k, i in enumerate(idx):
            a = self.audio[self.offsets[i]:self.offsets[i] + self.lengths[i]]
            if a.size < samples:
                a = np.tile(a, -(-samples // max(a.size, 1)))[:samples]
            for s in range(0, a.size - samples + 1, hop):
                xs.append(a[s:s + samples])
                owner.append(k)
        return np.stack(xs), np.array(owner)


def clip_scores(net, name: str, audio: np.ndarray, owner: np.ndarray, count: int, device) -> \
        np.ndarray:
    import torch  # noqa: PLC0415
    net.eval()
    logits = []
    with torch.no_grad():
        for s in range(0, audio.shape[0], 256):
            x = torch.from_numpy(audio[s:s + 256]).to(device)
            logits.append(net(front_end(name, x)).float().cpu().numpy())
    w = np.concatenate(logits)
    sums = np.bincount(owner, weights=w, minlength=count)
    return sums / np.maximum(np.bincount(owner, minlength=count), 1)


def train_step(net, opt, name: str, batch: np.ndarray, targets: np.ndarray, step: int,
               steps: int, device) -> float:
    """One AdamW step on a batch of waveforms [B, N] with 0/1 targets, at the cosine learning
    rate of `step` of `steps` (1e-3 down to 2e-5); returns the loss."""
    import torch  # noqa: PLC0415
    for g in opt.param_groups:
        g["lr"] = 1e-3 * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * step / steps)))
    net.train()
    logits = net(front_end(name, torch.from_numpy(batch).to(device)))
    loss = torch.nn.functional.binary_cross_entropy_with_logits(
        logits, torch.from_numpy(targets.astype(np.float32)).to(device))
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return float(loss.item())


def run_one(clips: Clips, name: str, seed: int, steps: int, device: str, eval_every: int,
            crop: int, log) -> Dict:
    import torch  # noqa: PLC0415
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    copies = np.array([i for i in clips.indices("train") if clips.pair[i] >= 0])
    if copies.size == 0:
        raise SystemExit("no train copies with their genuine origin in the pack")
    net = make_network(name).to(device)
    params = sum(p.numel() for p in net.parameters())
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=1e-3)
    evals = {s: (clips.indices(s),) + clips.windows(clips.indices(s), crop, crop // 2)
             for s in ("dev", "test")}
    # A fixed set of train clips (copies and origins) to show how well the network fits.
    probe_idx = rng.permutation(np.concatenate([copies, clips.pair[copies]]))[:600]
    train_probe = (probe_idx,) + clips.windows(probe_idx, crop, crop)
    best = {"dev_eer": 2.0}
    history = []
    t0 = time.time()
    half = 32
    for step in range(1, steps + 1):
        pick = rng.choice(copies, size=half)
        batch = np.empty((2 * half, crop), dtype=np.float32)
        for b, i in enumerate(pick):
            o = clips.pair[i]
            n = int(min(clips.lengths[i], clips.lengths[o]))
            start = int(rng.integers(0, max(n - crop, 0) + 1))
            gain = float(10 ** (rng.uniform(-6, 6) / 20))
            for row, j in ((b, i), (half + b, o)):
                a = clips.audio[clips.offsets[j] + start:clips.offsets[j] + start + crop]
                if a.size < crop:
                    a = np.tile(a, -(-crop // max(a.size, 1)))[:crop]
                batch[row] = a * gain
        loss = train_step(net, opt, name, batch, np.concatenate([np.ones(half), np.zeros(half)]),
                          step, steps, device)
        if step % eval_every == 0 or step == steps:
            idx, audio, owner = evals["dev"]
            dev_eer = eer(clip_scores(net, name, audio, owner, idx.size, device),
                          clips.target[idx])
            history.append({"step": step, "loss": loss, "dev_eer": dev_eer})
            log(f"{name} seed {seed} step {step}: loss {loss:.3f} dev EER "
                f"{100 * dev_eer:.1f}% ({time.time() - t0:.0f}s)")
            if dev_eer < best["dev_eer"]:
                idx, audio, owner = evals["test"]
                test = clip_scores(net, name, audio, owner, idx.size, device)
                per_codec = {}
                for codec in sorted(set(clips.meta[idx, 3])):
                    m = clips.meta[idx, 3] == codec
                    if len(set(clips.target[idx][m])) == 2:
                        per_codec[codec] = eer(test[m], clips.target[idx][m])
                pidx, paudio, powner = train_probe
                train_eer = eer(clip_scores(net, name, paudio, powner, pidx.size, device),
                                clips.target[pidx])
                best = {"dev_eer": dev_eer, "step": step, "test_eer": eer(test, clips.target[idx]),
                        "test_per_codec": per_codec, "train_eer": train_eer}
    return {"front_end": name, "seed": seed, "params": params, "steps": steps,
            "seconds": time.time() - t0, "best": best, "history": history}


def parse_args(argv: Optional[Sequence[str]] = None, doc: str = __doc__,
               name: str = "gl512", train_seconds: float = 1.5, front_ends: str = ",".join(
                   FRONT_ENDS), steps: int = 3000, eval_every: int = 250) -> argparse.Namespace:
    """The `pack` and `run` command line of a probe (this one's defaults unless given)."""
    p = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    pk = sub.add_parser("pack", help="store the probe's clips as mu-law codes")
    pk.add_argument("--manifest", default="data/corpus/manifest.csv")
    pk.add_argument("--out", default=f"data/probes/{name}.npz")
    pk.add_argument("--train-seconds", type=float, default=train_seconds)
    pk.add_argument("--eval-seconds", type=float, default=2.0)
    pk.add_argument("--limit", type=int, default=0, help="first N clips only (smoke tests)")
    rn = sub.add_parser("run", help="train and evaluate one network per front end and seed")
    rn.add_argument("--data", default=f"data/probes/{name}.npz")
    rn.add_argument("--out", default="-", help="JSON results ('-' = stdout)")
    rn.add_argument("--front-ends", default=front_ends)
    rn.add_argument("--seeds", default="1")
    rn.add_argument("--steps", type=int, default=steps)
    rn.add_argument("--eval-every", type=int, default=eval_every)
    rn.add_argument("--crop-seconds", type=float, default=1.0)
    rn.add_argument("--device", default="cpu")
    rn.add_argument("--threads", type=int, default=1)
    return p.parse_args(argv)


def run_command(args: argparse.Namespace, pack_fn, run_fn) -> int:
    """Runs a probe's parsed command: `pack` with pack_fn(manifest, out, train_seconds,
    eval_seconds, limit), or `run` with run_fn(clips, front end, seed, steps, device,
    eval_every, crop, log) for every front end and seed, written as one JSON object."""
    if args.command == "pack":
        print(json.dumps(pack_fn(args.manifest, args.out, args.train_seconds,
                                 args.eval_seconds, args.limit), indent=1))
        return 0
    import torch  # noqa: PLC0415
    torch.set_num_threads(args.threads)
    clips = Clips(args.data)
    runs: List[Dict] = []
    for name in args.front_ends.split(","):
        if name not in FRONT_ENDS:
            raise SystemExit(f"unknown front end {name!r}; known: {', '.join(FRONT_ENDS)}")
        for seed in (int(s) for s in args.seeds.split(",")):
            runs.append(run_fn(clips, name, seed, args.steps, args.device, args.eval_every,
                               int(args.crop_seconds * RATE_HZ),
                               lambda *a: print(*a, file=sys.stderr, flush=True)))
    text = json.dumps({"data": args.data, "runs": runs}, indent=1)
    if args.out == "-":
        print(text)
    else:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(text + "\n")
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    return run_command(parse_args(argv), pack, run_one)


if __name__ == "__main__":
    sys.exit(main())
