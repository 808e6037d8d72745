"""Writes small fake feature dumps in the C++ binary's format for the tests."""

from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from data import NUM_FEATURES, write_dump  # noqa: E402

ATTACKS = ("espeak", "mlsa")
CODECS = ("pcmu", "gsm")


def fake_frames(rng: np.random.Generator, n: int, synthetic: bool, strength: float) -> np.ndarray:
    """Log energies around -10 with a random spectral tilt and level (stationary, so the model's
    mean normalisation removes them). Synthetic clips have over-smoothed, less variable upper bins
    (a stand-in for vocoder artefacts that survives mean normalisation)."""
    bins = np.arange(NUM_FEATURES)
    tilt = rng.uniform(-0.08, 0.02) * bins
    level = rng.uniform(-4, 4)
    noise = rng.standard_normal((n, NUM_FEATURES)) * 1.5
    if synthetic:
        upper = noise[:, 30:]
        smooth = (upper + np.roll(upper, 1, axis=0) + np.roll(upper, 2, axis=0)) / np.sqrt(3.0)
        noise[:, 30:] = smooth * (1.0 - 0.4 * strength)
    return (-10.0 + level + tilt + noise).astype(np.float32)


def write_fake_dump(directory: str, clips_per_split=None, seed: int = 0,
                    strength: float = 1.0) -> None:
    clips_per_split = clips_per_split or {"train": 40, "dev": 16, "test": 16}
    rng = np.random.default_rng(seed)
    items = []
    k = 0
    for split, count in clips_per_split.items():
        for i in range(count):
            synthetic = i % 2 == 1
            n = int(rng.integers(60, 420))
            # every fourth clip is named like a corpus vocoder copy with a setting
            name = (f"voc__mlsa__src__{k:05d}__p0.gl512.wav" if i % 4 == 3 else f"{k:05d}.wav")
            meta = {"clip": f"{split}/{name}",
                    "label": "synthetic" if synthetic else "genuine", "split": split,
                    "source": f"src{i % 3}", "speaker": f"spk{i % 5}",
                    "attack": ATTACKS[(i // 2) % 2] if synthetic else "bonafide",
                    "codec": CODECS[(i // 3) % 2]}
            items.append((meta, fake_frames(rng, n, synthetic, strength)))
            k += 1
    write_dump(directory, items)


def write_scored_clips(root: str, manifest_rows: list, lines: list, jsonl_name: str
                       ) -> tuple:
    """Writes ROOT/manifest.csv (`manifest_rows`, corpus manifest lines) and ROOT/`jsonl_name`
    (`lines`, objects as `analyze --jsonl` prints them); returns both paths."""
    import json  # noqa: PLC0415

    manifest = os.path.join(root, "manifest.csv")
    with open(manifest, "w") as f:
        f.write("path,label,split,source,speaker,attack,codec,licence,duration_s\n")
        f.write("\n".join(manifest_rows) + "\n")
    jsonl = os.path.join(root, jsonl_name)
    with open(jsonl, "w") as f:
        f.write("\n".join(json.dumps(line) for line in lines) + "\n")
    return manifest, jsonl


def randomised_model(seed: int = 0, excitation: int = 0, fine=(0, 0), score: str = "linear",
                     **detector_args):
    """An eval-mode model.Detector with non-trivial BatchNorm statistics, so export checks mean
    something (and no two of its weights are equal, which the ONNX exporter would merge)."""
    import torch  # noqa: PLC0415

    import model  # noqa: PLC0415

    torch.manual_seed(seed)
    m = model.Detector(excitation=excitation, fine=fine, score=score, **detector_args)
    for mod in m.modules():
        if isinstance(mod, torch.nn.BatchNorm2d):
            mod.running_mean.uniform_(-1, 1)
            mod.running_var.uniform_(0.5, 2)
            mod.weight.data.uniform_(0.5, 1.5)
            mod.bias.data.uniform_(-0.5, 0.5)
    m.eval()
    return m


def write_random_checkpoint(path: str, seed: int, **detector_args) -> str:
    """Saves an untrained detector (4/4/8/8 channels and a 16-wide head unless detector_args say
    otherwise) with torch seeded by `seed` as a checkpoint at `path`; returns `path`."""
    import torch  # noqa: PLC0415

    import model  # noqa: PLC0415

    torch.manual_seed(seed)
    net = model.Detector(**{"channels": (4, 4, 8, 8), "head": 16, **detector_args}).eval()
    with open(path, "wb") as f:
        f.write(model.state_to_bytes(net))
    return path


if __name__ == "__main__":
    write_fake_dump(sys.argv[1], {"train": int(sys.argv[2]), "dev": 200, "test": 200}
                    if len(sys.argv) > 2 else None, strength=0.5)
