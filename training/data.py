"""Feature dump reader, scorer window schedule and training crop sampler.

The dump is written by `deepfake-voice-detector features MANIFEST.csv --out DIR`:
  DIR/features.f32  little-endian float32, row-major, one row of NUM_FEATURES log linear-filterbank
                    energies per 10 ms frame, speech frames only, clips concatenated;
  DIR/index.csv     clip,offset_frames,num_frames,label,split,source,speaker,attack,codec.

The window schedule here must match the C++ streaming scorer exactly (see window_bounds).
"""

from __future__ import annotations

import csv
import os
from collections import Counter
from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

NUM_FEATURES = 60
MIN_FRAMES = 100
MAX_FRAMES = 200
HOP_FRAMES = 50

INDEX_COLUMNS = ("clip", "offset_frames", "num_frames", "label", "split", "source", "speaker",
                 "attack", "codec")
LABELS = ("genuine", "synthetic")
SPLITS = ("train", "dev", "test")

# Dumps up to this size are read into memory; larger ones are memory-mapped.
_IN_MEMORY_LIMIT_BYTES = 6 * 1024 ** 3


class DumpError(ValueError):
    """The feature dump is missing, malformed or inconsistent with its index."""


@dataclass(frozen=True)
class Clip:
    clip: str
    offset_frames: int
    num_frames: int
    label: str
    split: str
    source: str
    speaker: str
    attack: str
    codec: str

    @property
    def is_synthetic(self) -> bool:
        return self.label == "synthetic"

    @property
    def target(self) -> float:
        """Training target: 1 for synthetic speech (positive logit), 0 for genuine speech."""
        return 1.0 if self.is_synthetic else 0.0


def window_ends(num_frames: int, min_frames: int = MIN_FRAMES,
                hop_frames: int = HOP_FRAMES) -> List[int]:
    """Speech-frame counts at which the streaming scorer scores a window: min_frames,
    min_frames + hop_frames, ... up to num_frames (inclusive). Empty when
    num_frames < min_frames."""
    if num_frames < min_frames:
        return []
    return list(range(min_frames, num_frames + 1, hop_frames))


def window_bounds(num_frames: int, min_frames: int = MIN_FRAMES, max_frames: int = MAX_FRAMES,
                  hop_frames: int = HOP_FRAMES) -> List[Tuple[int, int]]:
    """[start, end) frame ranges of the scorer's windows over one clip's speech frames: each time
    `seen` reaches a value of window_ends(), the last min(seen, max_frames) frames are scored."""
    return [(seen - min(seen, max_frames), seen)
            for seen in window_ends(num_frames, min_frames, hop_frames)]


def read_index(path: str) -> List[Clip]:
    """Parses index.csv; raises DumpError on a wrong header or bad values."""
    clips: List[Clip] = []
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        try:
            header = next(reader)
        except StopIteration as exc:
            raise DumpError(f"{path}: empty index") from exc
        if tuple(h.strip() for h in header) != INDEX_COLUMNS:
            raise DumpError(f"{path}: header {header} is not {list(INDEX_COLUMNS)}")
        for line_no, row in enumerate(reader, start=2):
            if not row:
                continue
            if len(row) != len(INDEX_COLUMNS):
                raise DumpError(f"{path}:{line_no}: {len(row)} fields, "
                                f"expected {len(INDEX_COLUMNS)}")
            try:
                offset, count = int(row[1]), int(row[2])
            except ValueError as exc:
                raise DumpError(f"{path}:{line_no}: offset/num_frames not integers") from exc
            clip = Clip(row[0], offset, count, row[3], row[4], row[5], row[6], row[7], row[8])
            if clip.label not in LABELS:
                raise DumpError(f"{path}:{line_no}: label {clip.label!r} not in {LABELS}")
            if clip.split not in SPLITS:
                raise DumpError(f"{path}:{line_no}: split {clip.split!r} not in {SPLITS}")
            if offset < 0 or count < 0:
                raise DumpError(f"{path}:{line_no}: negative offset or count")
            clips.append(clip)
    return clips


class FeatureDump:
    """The whole dump: the index plus a [total_frames, NUM_FEATURES] float32 array."""

    def __init__(self, directory: str, memory_map: Optional[bool] = None):
        self.directory = directory
        index_path = os.path.join(directory, "index.csv")
        features_path = os.path.join(directory, "features.f32")
        if not os.path.isfile(index_path) or not os.path.isfile(features_path):
            raise DumpError(f"{directory}: needs index.csv and features.f32")
        self.clips = read_index(index_path)
        size = os.path.getsize(features_path)
        row_bytes = 4 * NUM_FEATURES
        if size % row_bytes != 0:
            raise DumpError(f"{features_path}: {size} bytes is not a whole number of "
                            f"{NUM_FEATURES}-float rows")
        total_frames = size // row_bytes
        if memory_map is None:
            memory_map = size > _IN_MEMORY_LIMIT_BYTES
        if memory_map:
            self.features = np.memmap(features_path, dtype="<f4", mode="r",
                                      shape=(total_frames, NUM_FEATURES))
        else:
            self.features = np.fromfile(features_path, dtype="<f4").reshape(total_frames,
                                                                             NUM_FEATURES)
        for lo in range(0, total_frames, 1 << 20):
            if not np.isfinite(self.features[lo:lo + (1 << 20)]).all():
                raise DumpError(f"{features_path}: non-finite values near frame {lo}")
        for c in self.clips:
            if c.offset_frames + c.num_frames > total_frames:
                raise DumpError(f"clip {c.clip}: frames [{c.offset_frames}, "
                                f"{c.offset_frames + c.num_frames}) beyond {total_frames} frames")

    def frames(self, clip: Clip) -> np.ndarray:
        return np.asarray(self.features[clip.offset_frames:clip.offset_frames + clip.num_frames],
                          dtype=np.float32)

    def split(self, name: str) -> List[Clip]:
        return [c for c in self.clips if c.split == name]


def write_dump(directory: str, items: Iterable[Tuple[Dict[str, str], np.ndarray]]) -> None:
    """Writes a dump in the C++ binary's format (used by tests and synthetic smoke data).
    Each item is (metadata with the index columns except offset/num_frames, frames [n, 60])."""
    os.makedirs(directory, exist_ok=True)
    offset = 0
    with open(os.path.join(directory, "features.f32"), "wb") as ff, \
            open(os.path.join(directory, "index.csv"), "w", newline="", encoding="utf-8") as fi:
        writer = csv.writer(fi, lineterminator="\n")
        writer.writerow(INDEX_COLUMNS)
        for meta, frames in items:
            frames = np.ascontiguousarray(frames, dtype="<f4")
            if frames.ndim != 2 or frames.shape[1] != NUM_FEATURES:
                raise ValueError(f"frames must be [n, {NUM_FEATURES}], got {frames.shape}")
            ff.write(frames.tobytes())
            writer.writerow([meta["clip"], offset, frames.shape[0], meta["label"], meta["split"],
                             meta.get("source", ""), meta.get("speaker", ""),
                             meta.get("attack", ""), meta.get("codec", "")])
            offset += frames.shape[0]


def balance_group(clip: Clip) -> str:
    """Group used to balance sampling within a class: the attack for synthetic clips, the source
    for genuine clips."""
    return f"synthetic/{clip.attack}" if clip.is_synthetic else f"genuine/{clip.source}"


def sampling_weights(clips: Sequence[Clip], alpha: float = 0.5) -> np.ndarray:
    """Per-clip sampling probabilities: each class gets half the mass; within a class, a group
    (attack or source) of n clips gets mass proportional to n**alpha (alpha=0: groups equal,
    alpha=1: clips equal), split evenly among its clips. alpha=0.5 keeps small groups from being
    oversampled into memorisation."""
    if not clips:
        raise ValueError("no clips")
    groups = Counter(balance_group(c) for c in clips)
    class_mass: Dict[str, float] = Counter()
    for g, n in groups.items():
        class_mass[g.split("/", 1)[0]] += float(n) ** alpha
    classes_present = len(class_mass)
    w = np.empty(len(clips), dtype=np.float64)
    for i, c in enumerate(clips):
        g = balance_group(c)
        n = groups[g]
        cls = g.split("/", 1)[0]
        w[i] = (1.0 / classes_present) * (float(n) ** alpha / class_mass[cls]) / n
    return w / w.sum()


class CropSampler:
    """Draws batches of random crops (length chosen per batch) from clips by sampling weight."""

    def __init__(self, dump: FeatureDump, clips: Sequence[Clip], weights: np.ndarray,
                 rng: np.random.Generator, min_frames: int = MIN_FRAMES,
                 max_frames: int = MAX_FRAMES):
        self.dump = dump
        self.clips = [c for c in clips]
        if len(self.clips) == 0:
            raise ValueError("no clips to sample from")
        self.weights = np.asarray(weights, dtype=np.float64)
        self.weights = self.weights / self.weights.sum()
        self.rng = rng
        self.min_frames = min_frames
        self.max_frames = max_frames
        self._offsets = np.array([c.offset_frames for c in self.clips], dtype=np.int64)
        self._lengths = np.array([c.num_frames for c in self.clips], dtype=np.int64)
        self._targets = np.array([c.target for c in self.clips], dtype=np.float32)
        if self._lengths.min() < min_frames:
            raise ValueError(f"every clip needs >= {min_frames} frames")

    def batch(self, batch_size: int) -> Tuple[np.ndarray, np.ndarray]:
        length = int(self.rng.integers(self.min_frames, self.max_frames + 1))
        idx = self.rng.choice(len(self.clips), size=batch_size, p=self.weights)
        x = np.empty((batch_size, length, NUM_FEATURES), dtype=np.float32)
        for b, i in enumerate(idx):
            n = int(self._lengths[i])
            crop = min(length, n)
            start = int(self.rng.integers(0, n - crop + 1))
            seg = self.dump.features[self._offsets[i] + start:self._offsets[i] + start + crop]
            if crop < length:
                # Clips shorter than the batch length are tiled; only happens for crops > clip.
                reps = -(-length // crop)
                seg = np.tile(seg, (reps, 1))[:length]
            x[b] = seg
        return x, self._targets[idx].copy()


def spec_augment(x: np.ndarray, rng: np.random.Generator, p: float = 0.6,
                 max_time_mask: int = 20, max_freq_mask: int = 8) -> np.ndarray:
    """SpecAugment-style masking in place on raw log energies [B, T, F]. A masked region is set to
    the crop's per-feature mean, i.e. to zero after the model's mean normalisation."""
    batch, frames, feats = x.shape
    means = x.mean(axis=1)  # [B, F]
    for b in range(batch):
        if rng.random() < p:
            w = int(rng.integers(1, max_time_mask + 1))
            t0 = int(rng.integers(0, max(frames - w, 0) + 1))
            x[b, t0:t0 + w, :] = means[b]
        if rng.random() < p:
            w = int(rng.integers(1, max_freq_mask + 1))
            f0 = int(rng.integers(0, feats - w + 1))
            x[b, :, f0:f0 + w] = means[b, f0:f0 + w]
    return x


@dataclass
class WindowSet:
    """All scorer windows of a list of clips, as flat arrays (one entry per window)."""
    clips: List[Clip]
    clip_index: np.ndarray     # window -> index into clips
    start: np.ndarray          # absolute first row in the dump
    length: np.ndarray         # frames in the window (100..200)
    seen: np.ndarray           # speech frames seen when the window is scored

    @property
    def num_windows(self) -> int:
        return int(self.clip_index.shape[0])

    def targets(self) -> np.ndarray:
        return np.array([self.clips[i].target for i in self.clip_index], dtype=np.float64)


def make_windows(clips: Sequence[Clip]) -> WindowSet:
    """Windows exactly as the streaming scorer makes them, for every clip (clips shorter than
    MIN_FRAMES speech frames get none)."""
    ci, st, ln, sn = [], [], [], []
    for k, c in enumerate(clips):
        for s, e in window_bounds(c.num_frames):
            ci.append(k)
            st.append(c.offset_frames + s)
            ln.append(e - s)
            sn.append(e)
    return WindowSet(list(clips), np.array(ci, dtype=np.int64), np.array(st, dtype=np.int64),
                     np.array(ln, dtype=np.int64), np.array(sn, dtype=np.int64))


def subsample_windows(ws: WindowSet, max_windows: int, rng: np.random.Generator) -> WindowSet:
    """A fixed random subset of at most max_windows windows (for cheap checkpoint selection)."""
    if ws.num_windows <= max_windows:
        return ws
    keep = np.sort(rng.choice(ws.num_windows, size=max_windows, replace=False))
    return WindowSet(ws.clips, ws.clip_index[keep], ws.start[keep], ws.length[keep], ws.seen[keep])
