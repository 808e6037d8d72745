"""Probe: does training on spliced genuine speech teach a detector to see unit selection?

Unit selection (festival clunits) joins units cut from real recordings. The shipped detector
scores the 30 clunits test clips at chance, and no unit-selection voice is in train by design
(it is the held-out family). This probe makes a synthetic class out of each train genuine clip
itself: segments of 60-250 ms taken from scattered places of the same clip, joined with a 2 ms
cross-fade, so the only difference from the genuine class is the joins (same voice, same
recording, same telephone channel). It reports, at every evaluation step, the clip EER of
clunits against all genuine test clips, and of spliced test clips against the same genuine
clips (does the learned cue carry to new domains at all?). No dev split holds unit selection,
so nothing is selected on these figures. A research tool: nothing in the service depends on it.

  /usr/bin/python3 training/probes/splice_probe.py pack --manifest data/corpus/manifest.csv \\
      --out data/probes/splice.npz
  python3 training/probes/splice_probe.py run --data data/probes/splice.npz --out results.json \\
      [--device cuda] [--front-ends mag,fine6,raw] [--steps 2500]
"""

from __future__ import annotations

import csv
import os
import sys
import time
from typing import Dict, List, Optional, Sequence

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

import phase_probe  # noqa: E402
from metrics import eer  # noqa: E402

FADE = 16  # 2 ms cross-fade at each join


def pack(manifest: str, out: str, train_seconds: float, eval_seconds: float,
         limit: int = 0) -> Dict:
    """Train genuine clips, test genuine clips and the test unit-selection clips."""
    root = os.path.dirname(os.path.abspath(manifest))
    with open(manifest, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    chosen = [r for r in rows if r["label"] == "genuine" and r["split"] in ("train", "test")]
    units = [r for r in rows if r["split"] == "test" and r["attack"] == "festival-clunits"]
    if limit:
        chosen = ([r for r in chosen if r["split"] == "train"][:limit] +
                  [r for r in chosen if r["split"] == "test"][:limit])
        units = units[:limit]
    return phase_probe.write_pack(out, root, chosen + units,
                                  lambda r: train_seconds if r["split"] == "train"
                                  else eval_seconds)


def splice(audio: np.ndarray, samples: int, rng: np.random.Generator) -> np.ndarray:
    """`samples` of audio made of 60-250 ms segments from random places of `audio`, each joined
    to the last with a linear FADE-sample cross-fade."""
    out = np.zeros(samples, dtype=np.float32)
    ramp = np.linspace(0.0, 1.0, FADE, dtype=np.float32)
    pos = 0
    while pos < samples:
        length = int(rng.integers(480, 2001))
        length = min(length, audio.size)
        start = int(rng.integers(0, audio.size - length + 1))
        seg = audio[start:start + length].astype(np.float32)
        if pos == 0:
            n = min(seg.size, samples)
            out[:n] = seg[:n]
            pos = n
            continue
        fade = min(FADE, seg.size, pos)
        out[pos - fade:pos] = out[pos - fade:pos] * (1.0 - ramp[:fade]) + seg[:fade] * ramp[:fade]
        n = min(seg.size - fade, samples - pos)
        out[pos:pos + n] = seg[fade:fade + n]
        pos += max(n, 1)
    return out


def run_one(clips: phase_probe.Clips, name: str, seed: int, steps: int, device: str,
            eval_every: int, crop: int, log) -> Dict:
    import torch  # noqa: PLC0415
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    train = np.array([i for i in clips.indices("train") if clips.lengths[i] >= crop])
    test = clips.indices("test")
    genuine = test[clips.target[test] < 0.5]
    units = test[clips.target[test] > 0.5]
    if train.size == 0 or genuine.size == 0 or units.size == 0:
        raise SystemExit("the pack needs train genuine clips of at least one crop, test genuine "
                         "and test unit-selection clips")

    def audio(i):
        return clips.audio[clips.offsets[i]:clips.offsets[i] + clips.lengths[i]]

    # Spliced versions of the test genuine clips, made once.
    eval_rng = np.random.default_rng(10_000 + seed)
    spliced = [splice(audio(i), int(clips.lengths[i]), eval_rng) for i in genuine]
    g_audio, g_owner = clips.windows(genuine, crop, crop // 2)
    u_audio, u_owner = clips.windows(units, crop, crop // 2)
    s_rows, s_owner = [], []
    for k, a in enumerate(spliced):
        a = np.tile(a, -(-crop // a.size))[:max(a.size, crop)] if a.size < crop else a
        for s in range(0, a.size - crop + 1, crop // 2):
            s_rows.append(a[s:s + crop])
            s_owner.append(k)
    s_audio, s_owner = np.stack(s_rows), np.array(s_owner)

    net = phase_probe.make_network(name).to(device)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=1e-3)
    history: List[Dict] = []
    t0 = time.time()
    half = 32
    for step in range(1, steps + 1):
        batch = np.empty((2 * half, crop), dtype=np.float32)
        for b, i in enumerate(rng.choice(train, size=half)):
            a = audio(i)
            start = int(rng.integers(0, a.size - crop + 1))
            gain = float(10 ** (rng.uniform(-6, 6) / 20))
            batch[b] = a[start:start + crop] * gain
            batch[half + b] = splice(a, crop, rng) * gain
        loss = phase_probe.train_step(net, opt, name, batch,
                                      np.concatenate([np.zeros(half), np.ones(half)]), step,
                                      steps, device)
        if step % eval_every == 0 or step == steps:
            g = phase_probe.clip_scores(net, name, g_audio, g_owner, genuine.size, device)
            u = phase_probe.clip_scores(net, name, u_audio, u_owner, units.size, device)
            sp = phase_probe.clip_scores(net, name, s_audio, s_owner, genuine.size, device)
            zeros, ones = np.zeros(g.size), np.ones(u.size)
            entry = {"step": step, "loss": loss,
                     "unit_selection_eer": eer(np.concatenate([g, u]),
                                               np.concatenate([zeros, ones])),
                     "spliced_test_eer": eer(np.concatenate([g, sp]),
                                             np.concatenate([zeros, np.ones(sp.size)]))}
            history.append(entry)
            log(f"{name} seed {seed} step {step}: loss {entry['loss']:.3f} unit selection EER "
                f"{100 * entry['unit_selection_eer']:.1f}% spliced test EER "
                f"{100 * entry['spliced_test_eer']:.1f}% ({time.time() - t0:.0f}s)")
    return {"front_end": name, "seed": seed, "steps": steps, "seconds": time.time() - t0,
            "history": history}


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = phase_probe.parse_args(argv, doc=__doc__, name="splice", train_seconds=2.5,
                                  front_ends="mag,fine6,raw", steps=2500, eval_every=500)
    return phase_probe.run_command(args, pack, run_one)


if __name__ == "__main__":
    sys.exit(main())
