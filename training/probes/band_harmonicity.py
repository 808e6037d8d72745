"""Probe: how periodic is a voice in each frequency band?

Pulse-excited vocoders (SPTK MLSA, LPC) excite every band with the same pulse, and Griffin-Lim
rebuilds the phase without regard to the pitch period, so the periodicity of the high band
relative to the low one differs from a human voice, whose excitation grows noisier with
frequency. For each voiced 40 ms frame (Hann window, 10 ms hop, 8 kHz) this takes the
autocorrelation of the frame's 300-3400 Hz band, finds the pitch lag (60-400 Hz) where the
normalised autocorrelation, corrected for the window's own, peaks, and reads the normalised
autocorrelation of three bands (300-1000, 1000-2000, 2000-3400 Hz) at that lag (the best of the
lag and its two neighbours). Per clip: the median over voiced frames (peak above 0.6, within
30 dB of the loudest frame) per band (`h_b1`, `h_b2`, `h_b3`), their 90th percentiles, and the
full band's median peak (`h_full`). Nothing of the silence or timing of the clip is measured.

A research tool: nothing in the service depends on it. The C++ front end computes the per-frame
values of `frame_harmonicity` itself (`band_harmonicity`, src/dsp/band_harmonicity.hpp). Its output merges into
`indicator_fusion.py --extra` (the fusion of the call LLR with call-level values):

  /usr/bin/python3 training/indicator_fusion.py --list data/corpus/manifest.csv dev test \\
      | /usr/bin/python3 training/probes/band_harmonicity.py > /tmp/band.jsonl
"""

from __future__ import annotations

import json
import sys
import wave
from concurrent.futures import ProcessPoolExecutor
from typing import Dict, Iterable, Optional, Tuple

import numpy as np

RATE_HZ = 8000
FRAME = 320  # 40 ms: two periods of a 60 Hz voice
HOP = 80  # 10 ms
NFFT = 1024  # >= 2 x FRAME: the autocorrelation does not wrap
MIN_LAG, MAX_LAG = 20, 134  # 400 Hz .. 60 Hz
VOICED_PEAK = 0.6
SPEECH_RANGE_DB = 30.0
MIN_VOICED_FRAMES = 10
BANDS = {"full": (300.0, 3400.0), "b1": (300.0, 1000.0), "b2": (1000.0, 2000.0),
         "b3": (2000.0, 3400.0)}

_WINDOW = np.hanning(FRAME)
_WINDOW_AC = np.fft.irfft(np.abs(np.fft.rfft(_WINDOW, NFFT)) ** 2)[:MAX_LAG + 2]
_WINDOW_AC = _WINDOW_AC / _WINDOW_AC[0]
_FREQS = np.fft.rfftfreq(NFFT, 1.0 / RATE_HZ)
_MASKS = {k: ((_FREQS >= lo) & (_FREQS < hi)).astype(np.float64) for k, (lo, hi) in BANDS.items()}


def frame_harmonicity(frames: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """For frames x FRAME samples (mean removed by the caller): the full band's peak normalised
    autocorrelation over the pitch lags, and frames x 3, each band's (b1, b2, b3) normalised
    autocorrelation at the full band's best lag (the best of it and its two neighbours)."""
    power = np.abs(np.fft.rfft(frames * _WINDOW, NFFT)) ** 2
    ac = {k: np.fft.irfft(power * m, NFFT)[:, :MAX_LAG + 2] for k, m in _MASKS.items()}
    full = (ac["full"][:, MIN_LAG:MAX_LAG + 1] / (ac["full"][:, :1] + 1e-12)
            / _WINDOW_AC[MIN_LAG:MAX_LAG + 1])
    lags = MIN_LAG + full.argmax(axis=1)
    rows = np.arange(len(frames))
    bands = np.stack([
        np.stack([ac[band][rows, lags + d] / _WINDOW_AC[lags + d] for d in (-1, 0, 1)],
                 axis=1).max(axis=1) / (ac[band][:, 0] + 1e-12)
        for band in ("b1", "b2", "b3")], axis=1)
    return full.max(axis=1), bands


def clip_features(x: np.ndarray) -> Dict[str, float]:
    """The per-band harmonicity of 8 kHz samples (floats); {} when the clip is shorter than two
    frames, and only `voiced_share` when it has fewer than 10 voiced frames."""
    x = np.asarray(x, dtype=np.float64)
    if len(x) < 2 * FRAME:
        return {}
    n = (len(x) - FRAME) // HOP + 1
    frames = x[np.arange(FRAME)[None, :] + HOP * np.arange(n)[:, None]]
    frames = frames - frames.mean(axis=1, keepdims=True)
    level_db = 10.0 * np.log10((frames ** 2).mean(axis=1) + 1e-12)
    speech = level_db > level_db.max() - SPEECH_RANGE_DB
    peak, bands = frame_harmonicity(frames)
    voiced = speech & (peak > VOICED_PEAK)
    out = {"voiced_share": float(voiced.sum() / max(1, speech.sum()))}
    rows = np.flatnonzero(voiced)
    if len(rows) < MIN_VOICED_FRAMES:
        return out
    for j, band in enumerate(("b1", "b2", "b3")):
        out[f"h_{band}"] = float(np.median(bands[rows, j]))
        out[f"h_{band}_p90"] = float(np.percentile(bands[rows, j], 90))
    out["h_full"] = float(np.median(peak[rows]))
    return out


def read_wav(path: str) -> np.ndarray:
    """A corpus clip (8 kHz 16-bit mono PCM) as floats in [-1, 1)."""
    with wave.open(path, "rb") as w:
        if w.getframerate() != RATE_HZ or w.getsampwidth() != 2 or w.getnchannels() != 1:
            raise ValueError(f"{path}: not 8 kHz 16-bit mono PCM")
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2") / 32768.0


def file_line(path: str) -> Dict:
    """One output line: {"file", "band_harmonicity": {...}}, or {"file", "error"}."""
    try:
        return {"file": path, "band_harmonicity": clip_features(read_wav(path))}
    except (OSError, ValueError, EOFError, wave.Error) as e:
        return {"file": path, "error": str(e)}


def main(paths: Optional[Iterable[str]] = None, jobs: int = 2, out=None) -> int:
    out = out or sys.stdout
    paths = [p.strip() for p in (paths if paths is not None else sys.stdin) if p.strip()]
    failed = 0
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        for line in pool.map(file_line, paths, chunksize=16):
            failed += "error" in line
            out.write(json.dumps(line) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
