"""Shared helpers for the corpus builder: reserved-source guard, audio I/O, subprocess, seeding."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path
from typing import Iterable

import numpy as np

RAW_RATE_HZ = 16000
PHONE_RATE_HZ = 8000
MIN_CLIP_S = 1.5
MAX_CLIP_S = 12.0

# --------------------------------------------------------------------------------------------
# Reserved sources (shared docs, data-sources.md): an independent evaluation set. Never read them.
# --------------------------------------------------------------------------------------------
_RESERVED_RE = re.compile(
    r"(asterisk[-_]?(core[-_]sounds|prompt|moh)|asterisk|fillets-ng-data-nl|rhvoice|"
    r"open[-_]?jtalk|hts[-_]voice)",
    re.IGNORECASE,
)


class ReservedSourceError(RuntimeError):
    pass


@functools.lru_cache(maxsize=1)
def _reserved_files() -> frozenset[str]:
    """Every file installed by a reserved package (if any is installed), so that a path that does
    not carry the package name (e.g. fillets-ng's shared sound tree) is refused too."""
    try:
        out = subprocess.run(
            ["dpkg-query", "-W", "-f=${Package}\\n"], capture_output=True, text=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return frozenset()
    files: set[str] = set()
    for pkg in out.split():
        if _RESERVED_RE.search(pkg):
            listing = subprocess.run(["dpkg", "-L", pkg], capture_output=True, text=True).stdout
            files.update(line.strip() for line in listing.splitlines() if line.strip())
    return frozenset(files)


def guard(name: str | os.PathLike) -> None:
    """Raises ReservedSourceError for a reserved package name or a path inside one."""
    s = str(name)
    if _RESERVED_RE.search(s):
        raise ReservedSourceError(f"refusing reserved source: {s}")
    # fillets-ng keeps every language under one tree: .../sound/<level>/<lang>/...
    if "fillets-ng" in s and re.search(r"/nl(/|$)|_nl\.", s):
        raise ReservedSourceError(f"refusing reserved source (fillets-ng Dutch): {s}")
    if s.startswith("/") and os.path.realpath(s) in _reserved_files():
        raise ReservedSourceError(f"refusing file owned by a reserved package: {s}")


def guarded(paths: Iterable[Path]) -> list[Path]:
    out = []
    for p in paths:
        guard(p)
        out.append(p)
    return out


# --------------------------------------------------------------------------------------------
# Logging, hashing, subprocess
# --------------------------------------------------------------------------------------------
_T0 = time.time()


def log(msg: str) -> None:
    print(f"[corpus {time.time() - _T0:7.1f}s] {msg}", file=sys.stderr, flush=True)


def stable_seed(*parts: object) -> int:
    h = hashlib.sha256(":".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(h[:8], "little")


def rng_for(*parts: object) -> np.random.Generator:
    return np.random.default_rng(stable_seed(*parts))


def run(cmd: list[str], data: bytes | None = None, timeout: float = 300) -> bytes:
    for c in cmd:
        if c.startswith("/"):
            guard(c)
    p = subprocess.run(cmd, input=data, capture_output=True, timeout=timeout)
    if p.returncode != 0:
        err = p.stderr.decode(errors="replace").strip().splitlines()[-3:]
        raise RuntimeError(f"{cmd[0]} failed ({p.returncode}): {' | '.join(err)}")
    return p.stdout


# --------------------------------------------------------------------------------------------
# Audio I/O
# --------------------------------------------------------------------------------------------
def decode_audio(src: str | bytes, rate_hz: int = RAW_RATE_HZ, input_format: list[str] | None = None
                 ) -> np.ndarray:
    """Any file ffmpeg reads (path, or bytes on stdin) -> mono float32 in [-1, 1] at rate_hz."""
    args = ["ffmpeg", "-nostdin", "-v", "error"] + (input_format or [])
    if isinstance(src, bytes):
        args += ["-i", "pipe:0"]
        data: bytes | None = src
    else:
        guard(src)
        args += ["-i", str(src)]
        data = None
    # float out: with 16-bit output soxr dithers from a seed of its own, and two decodes of one
    # file differed by up to 2 LSB, so no two corpus builds were the same bytes
    args += ["-ac", "1", "-ar", str(rate_hz), "-af", "aresample=resampler=soxr", "-f", "f32le",
             "pipe:1"]
    if isinstance(src, bytes):
        p = subprocess.run(args, input=data, capture_output=True, timeout=300)
    else:
        p = subprocess.run(args, capture_output=True, timeout=300)
    if p.returncode != 0:
        raise RuntimeError(f"ffmpeg decode failed: {p.stderr.decode(errors='replace')[-300:]}")
    return np.frombuffer(p.stdout, dtype="<f4").copy()


def read_wav(path: str | os.PathLike) -> tuple[np.ndarray, int]:
    """16-bit PCM WAV -> (float32 mono, rate)."""
    with wave.open(str(path), "rb") as w:
        rate = w.getframerate()
        n_ch = w.getnchannels()
        width = w.getsampwidth()
        raw = w.readframes(w.getnframes())
    if width != 2:
        raise ValueError(f"{path}: expected 16-bit PCM")
    x = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
    if n_ch > 1:
        x = x.reshape(-1, n_ch).mean(axis=1)
    return x, rate


def wav_duration_s(path: str | os.PathLike) -> float:
    with wave.open(str(path), "rb") as w:
        return w.getnframes() / float(w.getframerate())


def to_int16(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(x * 32768.0), -32768, 32767).astype("<i2")


def write_wav(path: str | os.PathLike, x: np.ndarray, rate_hz: int) -> None:
    """Atomic 16-bit mono WAV write (tmp file + rename), so an interrupted run leaves no half file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".wav")
    os.close(fd)
    try:
        with wave.open(tmp, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(rate_hz)
            w.writeframes(to_int16(x).tobytes())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_json_atomic(path: Path, obj: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp-{path.name}")
    tmp.write_text(json.dumps(obj, indent=1, ensure_ascii=False))
    os.replace(tmp, path)


def write_lines_atomic(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp-{path.name}")
    with open(tmp, "w") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    os.replace(tmp, path)


def write_indexes(out: Path, rows: list[dict]) -> None:
    """Writes `out/<dir>/index.jsonl` for every folder named by the rows' "dir" field."""
    by_dir: dict[str, list[dict]] = {}
    for row in rows:
        by_dir.setdefault(row["dir"], []).append(row)
    for d, rs in by_dir.items():
        write_lines_atomic(out / d / "index.jsonl", rs)


def read_lines(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


# --------------------------------------------------------------------------------------------
# Silence trimming and splitting (the SAME trim is used for both classes, in stage 4 and for
# the duration limits of raw clips)
# --------------------------------------------------------------------------------------------
TRIM_REL_DB = -40.0  # frames 40 dB below the clip's loudest frame count as silence
TRIM_MARGIN_S = 0.1
_FRAME_S = 0.01


def frame_energy_db(x: np.ndarray, rate_hz: int, frame_s: float = _FRAME_S) -> np.ndarray:
    n = max(1, int(rate_hz * frame_s))
    m = len(x) // n
    if m == 0:
        return np.array([-200.0])
    fr = x[: m * n].reshape(m, n).astype(np.float64)
    return 10.0 * np.log10(np.mean(fr * fr, axis=1) + 1e-12)


def trim_bounds(x: np.ndarray, rate_hz: int) -> tuple[int, int]:
    """[start, end) of the clip with leading/trailing silence removed, keeping a 0.1 s margin."""
    e = frame_energy_db(x, rate_hz)
    if e.max() < -75.0:
        return 0, 0
    active = np.nonzero(e > e.max() + TRIM_REL_DB)[0]
    n = max(1, int(rate_hz * _FRAME_S))
    margin = int(rate_hz * TRIM_MARGIN_S)
    start = max(0, int(active[0]) * n - margin)
    end = min(len(x), (int(active[-1]) + 1) * n + margin)
    return start, end


def trim(x: np.ndarray, rate_hz: int) -> np.ndarray:
    s, e = trim_bounds(x, rate_hz)
    return x[s:e]


def split_at_pauses(x: np.ndarray, rate_hz: int, rng: np.random.Generator,
                    max_s: float = MAX_CLIP_S) -> list[np.ndarray]:
    """Splits a long recording into pieces of at most max_s, cutting at the quietest 100 ms in a
    random target window, so pieces are not all of the same length."""
    pieces = []
    x = trim(x, rate_hz)
    win = int(0.1 * rate_hz)
    while len(x) > max_s * rate_hz:
        target_s = float(rng.uniform(3.0, 9.0))
        lo = int(max(MIN_CLIP_S + 0.5, target_s - 2.5) * rate_hz)
        hi = int(min(max_s - 0.2, target_s + 2.5) * rate_hz)
        seg = x[lo:hi + win]
        n = (len(seg) - win) // (win // 4)
        if n <= 1:
            cut = hi
        else:
            sq = np.cumsum(np.concatenate([[0.0], seg.astype(np.float64) ** 2]))
            starts = np.arange(n) * (win // 4)
            energy = sq[starts + win] - sq[starts]
            cut = lo + int(starts[int(np.argmin(energy))]) + win // 2
        pieces.append(x[:cut])
        x = x[cut:]
    pieces.append(x)
    return [trim(p, rate_hz) for p in pieces]


def clip_ok(x: np.ndarray, rate_hz: int) -> bool:
    """Duration limits apply to the trimmed clip (what stage 4 keeps)."""
    t = trim(x, rate_hz)
    return MIN_CLIP_S * rate_hz <= len(t) <= MAX_CLIP_S * rate_hz


@functools.lru_cache(maxsize=None)
def lowpass_taps(cutoff: float, n: int = 127) -> np.ndarray:
    """Windowed-sinc low-pass (Kaiser, beta 8); cutoff as a fraction of the sampling rate."""
    k = np.arange(n) - (n - 1) / 2
    h = 2 * cutoff * np.sinc(2 * cutoff * k) * np.kaiser(n, 8.0)
    return h / h.sum()


@functools.lru_cache(maxsize=None)
def bandpass_taps(lo_hz: float, hi_hz: float, rate_hz: int, n: int = 255) -> np.ndarray:
    """The difference of two lowpass_taps: a band-pass from lo_hz to hi_hz."""
    return lowpass_taps(hi_hz / rate_hz, n) - lowpass_taps(lo_hz / rate_hz, n)


# --------------------------------------------------------------------------------------------
# Debian package facts
# --------------------------------------------------------------------------------------------
# free-form copyright files whose first licence paragraph is about build scripts, not the data
_LICENCE_OVERRIDES = {"flite": "CMU-Flite-BSD-like"}


@functools.lru_cache(maxsize=None)
def package_licence(pkg: str) -> str:
    """Short licence name from /usr/share/doc/<pkg>/copyright: the DEP-5 'Files: *' paragraph's
    License field when it is a short name, otherwise a name recognised from the licence text."""
    guard(pkg)
    if pkg in _LICENCE_OVERRIDES:
        return _LICENCE_OVERRIDES[pkg]
    path = Path("/usr/share/doc") / pkg / "copyright"
    if not path.exists():
        return "unknown"
    text = path.read_text(errors="replace")
    candidates = []
    for para in re.split(r"\n\s*\n", text):
        m = re.search(r"^License:[ \t]*(\S[^\n]*)$", para, re.MULTILINE)
        if m:
            is_main = re.search(r"^Files:\s*\*\s*$", para, re.MULTILINE) is not None
            candidates.append((not is_main, m.group(1).strip()))
    for _, value in sorted(candidates, key=lambda c: c[0]):
        if re.fullmatch(r"[A-Za-z0-9.+_-]+( (or|and|with) [A-Za-z0-9.+_ -]+)?", value) \
                and len(value.split()) <= 5:
            return _clean_licence(value)
    low = re.sub(r"\s+", " ", text.lower())
    for needle, name in [
        ("mbrola database", "MBROLA-non-commercial"),
        ("with the mbrola program", "MBROLA-non-commercial"),
        ("research, educational and individual use only", "CSTR-non-commercial"),
        ("either version 3 of the license", "GPL-3+"),
        ("version 3 of the license", "GPL-3+"),
        ("either version 2 of the license", "GPL-2+"),
        ("version 2 dated june, 1991", "GPL-2"),
        ("version 2 of the license", "GPL-2+"),
        ("gnu lesser general public", "LGPL"),
        ("gnu library general public", "LGPL"),
        ("gnu general public license", "GPL"),
        ("creative commons attribution-sharealike", "CC-BY-SA"),
        ("creative commons", "CC"),
        ("apache license", "Apache-2.0"),
        ("permission is hereby granted, free of charge", "MIT-style"),
        ("bsd", "BSD"),
        ("public domain", "public-domain"),
    ]:
        if needle in low:
            return name
    return "see-copyright"


def _clean_licence(s: str) -> str:
    s = s.strip().replace(",", ";")
    return s[:60]
