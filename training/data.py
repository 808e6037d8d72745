"""Feature dump reader, scorer window schedule and training crop sampler.

The dump is written by `deepfake-voice-detector features MANIFEST.csv --out DIR`:
  DIR/features.f32  little-endian float32, row-major, one row of NUM_FEATURES log linear-filterbank
                    energies per 10 ms frame, speech frames only, clips concatenated;
  DIR/index.csv     clip,offset_frames,num_frames,label,split,source,speaker,attack,codec.

The window schedule here must match the C++ streaming scorer exactly (see window_bounds).
"""

from __future__ import annotations

import csv
import json
import os
import re
from collections import Counter
from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

NUM_FEATURES = 60  # filterbank values per frame (the default front end)
EXCITATION_FEATURES = 3  # excitation values appended when the front end has `excitation`
HARMONICITY_FEATURES = 3  # then band-harmonicity values with `band_harmonicity`
FINE_HOP_SAMPLES = 16  # fine sub-frame hop (src/dsp/feature_options.hpp kFineHopSamples)
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
        # front_end.json (written by `deepfake-voice-detector features`) describes the rows;
        # dumps without one are the default front end.
        self.front_end: Dict[str, object] = {}
        front_end_path = os.path.join(directory, "front_end.json")
        if os.path.isfile(front_end_path):
            with open(front_end_path, encoding="utf-8") as f:
                self.front_end = json.load(f)
        self.num_filters = int(self.front_end.get("num_filters", NUM_FEATURES))
        self.excitation = bool(self.front_end.get("excitation", False))
        self.band_harmonicity = bool(self.front_end.get("band_harmonicity", False))
        # The per-frame values after the filterbank that the model's excitation branch reads:
        # the excitation values, then the band-harmonicity values (src/dsp/feature_options.hpp).
        self.frame_values = ((EXCITATION_FEATURES if self.excitation else 0) +
                             (HARMONICITY_FEATURES if self.band_harmonicity else 0))
        # Fine time structure: `fine_bands` values for each of frame_shift / 16 sub-frames.
        self.fine_bands = int(self.front_end.get("fine_bands", 0))
        self.fine_subframes = (int(self.front_end.get("frame_shift_samples", 80)) //
                               FINE_HOP_SAMPLES if self.fine_bands > 0 else 0)
        self.width = self.num_filters + self.frame_values + self.fine_bands * self.fine_subframes
        if int(self.front_end.get("width", self.width)) != self.width:
            raise DumpError(f"{front_end_path}: width does not match num_filters, excitation, "
                            "band_harmonicity and fine_bands")
        size = os.path.getsize(features_path)
        row_bytes = 4 * self.width
        if size % row_bytes != 0:
            raise DumpError(f"{features_path}: {size} bytes is not a whole number of "
                            f"{self.width}-float rows")
        total_frames = size // row_bytes
        if memory_map is None:
            memory_map = size > _IN_MEMORY_LIMIT_BYTES
        if memory_map:
            self.features = np.memmap(features_path, dtype="<f4", mode="r",
                                      shape=(total_frames, self.width))
        else:
            self.features = np.fromfile(features_path, dtype="<f4").reshape(total_frames,
                                                                             self.width)
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


def write_dump(directory: str, items: Iterable[Tuple[Dict[str, str], np.ndarray]],
               excitation: bool = False, fine_bands: int = 0,
               band_harmonicity: bool = False) -> None:
    """Writes a dump in the C++ binary's format (used by tests and synthetic smoke data).
    Each item is (metadata with the index columns except offset/num_frames, frames [n, width]),
    width = 60 (+ 3 with `excitation`, + 3 with `band_harmonicity`, + 5 x fine_bands with
    `fine_bands`; any of them also writes front_end.json)."""
    os.makedirs(directory, exist_ok=True)
    subframes = 80 // FINE_HOP_SAMPLES if fine_bands else 0
    width = (NUM_FEATURES + (EXCITATION_FEATURES if excitation else 0) +
             (HARMONICITY_FEATURES if band_harmonicity else 0) + fine_bands * subframes)
    if excitation or fine_bands or band_harmonicity:
        with open(os.path.join(directory, "front_end.json"), "w", encoding="utf-8") as f:
            json.dump({"num_filters": NUM_FEATURES, "frame_shift_samples": 80,
                       "excitation": excitation, "band_harmonicity": band_harmonicity,
                       "fine_bands": fine_bands, "width": width}, f)
    offset = 0
    with open(os.path.join(directory, "features.f32"), "wb") as ff, \
            open(os.path.join(directory, "index.csv"), "w", newline="", encoding="utf-8") as fi:
        writer = csv.writer(fi, lineterminator="\n")
        writer.writerow(INDEX_COLUMNS)
        for meta, frames in items:
            frames = np.ascontiguousarray(frames, dtype="<f4")
            if frames.ndim != 2 or frames.shape[1] != width:
                raise ValueError(f"frames must be [n, {width}], got {frames.shape}")
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


# <source>__<item>__p<part>[.<setting>][__c<copy>]: the lazy setting group leaves a copy suffix to
# its own group.
_ORIGIN_RE = re.compile(r"^(.*__p\d+)(\.[A-Za-z0-9_-]+?)?(__c\d+)?$")


def _corpus_name(clip_path: str) -> Tuple[Optional[str], Optional[re.Match]]:
    """("gen" or "voc", the _ORIGIN_RE match of the name after its prefix) for the corpus's genuine
    clips (`gen__<source>__<item>.wav`) and vocoded copies (`voc__<attack>__<source>__<item>
    [.<setting>].wav`); (None, None) for anything else (TTS)."""
    name = os.path.basename(clip_path)
    if name.endswith(".wav"):
        name = name[:-4]
    if name.startswith("gen__"):
        return "gen", _ORIGIN_RE.match(name[len("gen__"):])
    if name.startswith("voc__") and name.count("__") >= 3:
        return "voc", _ORIGIN_RE.match(name.split("__", 2)[2])
    return None, None


def origin_key(clip_path: str) -> Optional[str]:
    """The genuine recording a clip was made from, as "<source>__<item>": the clip itself for a
    genuine clip, its origin for a vocoded copy; None for anything else (TTS)."""
    _, m = _corpus_name(clip_path)
    return m.group(1) if m else None


def recording_domain(clip: Clip) -> Optional[str]:
    """The recording a clip's audio comes from, for domain-adversarial training: the genuine
    source package of a genuine clip or of a vocoded copy (which keeps its origin's recording
    domain); None for TTS, which has no recording."""
    return clip.source if origin_key(clip.clip) is not None else None


def vocoder_setting(clip_path: str) -> Optional[str]:
    """The vocoder setting of a vocoded copy whose name carries one (`voc__griffin-lim__<source>__
    <item>.gl512.wav` -> "gl512"; tools/corpus/vocode.py out_name), None for anything else."""
    kind, m = _corpus_name(clip_path)
    return m.group(2)[1:] if kind == "voc" and m and m.group(2) else None


class CropSampler:
    """Draws batches of random crops (length chosen per batch) from clips by sampling weight.

    With `paired_fraction` f > 0, a share f of each batch is made of pairs: a vocoded copy drawn
    by sampling weight, and the genuine recording it was made from, cropped at the same relative
    position. The two differ only by the vocoder, so the pair teaches its artefacts and not the
    recording's domain (docs/model-card.md, "Data")."""

    def __init__(self, dump: FeatureDump, clips: Sequence[Clip], weights: np.ndarray,
                 rng: np.random.Generator, min_frames: int = MIN_FRAMES,
                 max_frames: int = MAX_FRAMES, paired_fraction: float = 0.0):
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
        if not 0.0 <= paired_fraction <= 1.0:
            raise ValueError("paired_fraction must be in [0, 1]")
        self.paired_fraction = paired_fraction
        self.last_index = np.zeros(0, dtype=np.int64)  # the clips of the last batch, in order
        genuine_by_key = {origin_key(c.clip): i for i, c in enumerate(self.clips)
                          if not c.is_synthetic and origin_key(c.clip)}
        # copy index -> index of its genuine origin, for copies whose origin is in `clips`
        self._origin = {i: genuine_by_key[k] for i, c in enumerate(self.clips)
                        if c.is_synthetic and (k := origin_key(c.clip)) in genuine_by_key}
        self._copies = np.array(sorted(self._origin), dtype=np.int64)
        if self._copies.size:
            w = self.weights[self._copies]
            self._copy_weights = w / w.sum()

    @property
    def num_pairable(self) -> int:
        """Synthetic clips whose genuine origin is among the sampled clips."""
        return int(self._copies.size)

    def batch(self, batch_size: int) -> Tuple[np.ndarray, np.ndarray]:
        length = int(self.rng.integers(self.min_frames, self.max_frames + 1))
        pairs = (int(round(batch_size * self.paired_fraction)) // 2
                 if self._copies.size else 0)
        idx = self.rng.choice(len(self.clips), size=batch_size - 2 * pairs, p=self.weights)
        rel = self.rng.random(batch_size)  # relative crop position in [0, 1)
        if pairs:
            copies = self.rng.choice(self._copies, size=pairs, p=self._copy_weights)
            origins = np.array([self._origin[int(i)] for i in copies], dtype=np.int64)
            idx = np.concatenate([idx, copies, origins])
            rel[batch_size - pairs:] = rel[batch_size - 2 * pairs:batch_size - pairs]
        self.last_index = idx
        x = np.empty((batch_size, length, self.dump.width), dtype=np.float32)
        for b, i in enumerate(idx):
            n = int(self._lengths[i])
            crop = min(length, n)
            start = min(int(rel[b] * (n - crop + 1)), n - crop)
            seg = self.dump.features[self._offsets[i] + start:self._offsets[i] + start + crop]
            if crop < length:
                # Clips shorter than the batch length are tiled; only happens for crops > clip.
                reps = -(-length // crop)
                seg = np.tile(seg, (reps, 1))[:length]
            x[b] = seg
        return x, self._targets[idx].copy()


def spec_augment(x: np.ndarray, rng: np.random.Generator, p: float = 0.6,
                 max_time_mask: int = 20, max_freq_mask: int = 8,
                 num_filters: Optional[int] = None) -> np.ndarray:
    """SpecAugment-style masking in place on raw log energies [B, T, F]. A masked region is set to
    the crop's per-feature mean, i.e. to zero after the model's mean normalisation. Frequency
    masks stay inside the first `num_filters` values (the filterbank; default all)."""
    batch, frames, _ = x.shape
    feats = x.shape[2] if num_filters is None else num_filters
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


def make_windows(clips: Sequence[Clip], max_frames: int = MAX_FRAMES) -> WindowSet:
    """Windows exactly as the streaming scorer makes them, for every clip (clips shorter than
    MIN_FRAMES speech frames get none). `max_frames`: the longest window (the model's
    `max_frames`; 200 = 2 s)."""
    ci, st, ln, sn = [], [], [], []
    for k, c in enumerate(clips):
        for s, e in window_bounds(c.num_frames, max_frames=max_frames):
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
