"""Stage 4: the telephone chain, applied identically to both classes -> clips/<split>/<label>/<id>.wav.

Per clip (all random draws from a generator seeded by hash(global seed, clip id, copy index)):
  trim silence (common.trim: frames 40 dB under the clip's loudest 10 ms frame, 0.1 s margin)
  -> resample to 8 kHz -> background noise (white / pink / babble of other corpus clips) at
  10-40 dB SNR -> 300-3400 Hz band-pass -> codec round trip (mu-law, A-law, GSM 06.10,
  G.726 16/24/32/40 kbit/s, Opus 6-16 kbit/s, Speex; ffmpeg encoders) -> packet loss (0-5 % of
  20 ms frames zeroed or repeated) -> level -35..-15 dBFS -> final G.711 mu-law round trip.
"""

from __future__ import annotations

import functools
import subprocess
from pathlib import Path
from typing import Callable

import numpy as np

import degrade
from common import (PHONE_RATE_HZ, RAW_RATE_HZ, bandpass_taps, decode_audio, lowpass_taps,
                    read_wav, rng_for, trim, write_wav)

GLOBAL_SEED = "dvd-corpus-v1"

CODEC_FAMILIES = ["mulaw", "alaw", "gsm", "g726", "opus", "speex"]
G726_KBPS = [16, 24, 32, 40]
OPUS_KBPS = [6, 8, 10, 12, 14, 16]


# ------------------------------------------------------------------------------------ G.711
def mulaw_encode(x16: np.ndarray) -> np.ndarray:
    """G.711 mu-law (Sun g711.c / ITU reference: 14-bit magnitude, bias 33)."""
    v = x16.astype(np.int32) >> 2
    mask = np.where(v < 0, 0x7F, 0xFF)
    v = np.minimum(np.abs(v), 8159) + 33
    seg = np.searchsorted(_MULAW_SEG_END, v)
    uval = (np.minimum(seg, 7) << 4) | ((v >> (np.minimum(seg, 7) + 1)) & 0x0F)
    uval = np.where(seg >= 8, 0x7F, uval)
    return (uval ^ mask) & 0xFF


_MULAW_SEG_END = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF])


def mulaw_decode(code: np.ndarray) -> np.ndarray:
    c = (~code.astype(np.int32)) & 0xFF
    exponent = (c >> 4) & 0x07
    mantissa = c & 0x0F
    mag = (((mantissa << 3) + 0x84) << exponent) - 0x84
    return np.where(c & 0x80, -mag, mag).astype(np.int16)


_ALAW_SEG_END = np.array([0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF])


def alaw_encode(x16: np.ndarray) -> np.ndarray:
    v = x16.astype(np.int32) >> 3
    mask = np.where(v >= 0, 0xD5, 0x55)
    v = np.where(v >= 0, v, -v - 1)
    seg = np.searchsorted(_ALAW_SEG_END, v)  # first segment whose end >= v
    shift = np.where(seg < 2, 1, seg)
    aval = (np.minimum(seg, 7) << 4) | ((v >> shift) & 0x0F)
    aval = np.where(seg >= 8, 0x7F, aval)
    return (aval ^ mask) & 0xFF


def alaw_decode(code: np.ndarray) -> np.ndarray:
    a = code.astype(np.int32) ^ 0x55
    t = (a & 0x0F) << 4
    seg = (a & 0x70) >> 4
    t = np.where(seg == 0, t + 8, t + 0x108)
    t = np.where(seg > 1, t << np.maximum(seg - 1, 0), t)
    return np.where(a & 0x80, t, -t).astype(np.int16)


def to16(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(x * 32768.0), -32768, 32767).astype(np.int16)


def from16(x: np.ndarray) -> np.ndarray:
    return x.astype(np.float64) / 32768.0


# ------------------------------------------------------------------------------------ filters
def resample_16k_to_8k(x: np.ndarray) -> np.ndarray:
    y = np.convolve(x, lowpass_taps(3700.0 / RAW_RATE_HZ), mode="same")
    return y[::2]


def bandpass(x: np.ndarray, rate_hz: int = PHONE_RATE_HZ) -> np.ndarray:
    return np.convolve(x, bandpass_taps(300.0, 3400.0, rate_hz), mode="same")


def pink_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(len(spec), dtype=np.float64)
    f[0] = 1.0
    y = np.fft.irfft(spec / np.sqrt(f), n)
    return y / (np.std(y) + 1e-12)


# ------------------------------------------------------------------------------------ draws
def draw_params(clip_id: str, copy: int) -> dict:
    """All random choices of the chain for one clip copy; deterministic in (seed, id, copy)."""
    rng = rng_for(GLOBAL_SEED, "chain", clip_id, copy)
    family = CODEC_FAMILIES[int(rng.integers(len(CODEC_FAMILIES)))]
    if family == "g726":
        codec = f"g726-{G726_KBPS[int(rng.integers(len(G726_KBPS)))]}"
    elif family == "opus":
        codec = f"opus-{OPUS_KBPS[int(rng.integers(len(OPUS_KBPS)))]}k"
    else:
        codec = family
    return {
        "codec": codec,
        "loss_rate": float(rng.uniform(0.0, 0.05)),
        "noise": ["white", "pink", "babble"][int(rng.integers(3))],
        "snr_db": float(rng.uniform(10.0, 40.0)),
        "level_dbfs": float(rng.uniform(-35.0, -15.0)),
        "seed": int(rng.integers(0, 2**62)),
    }


# ------------------------------------------------------------------------------------ codecs
def _ffmpeg_roundtrip(x16: np.ndarray, enc_args: list[str], fmt: str) -> np.ndarray:
    enc = ["ffmpeg", "-nostdin", "-v", "error", "-f", "s16le", "-ar", "8000", "-ac", "1",
           "-i", "pipe:0"] + enc_args + ["-f", fmt, "pipe:1"]
    dec = ["ffmpeg", "-nostdin", "-v", "error", "-f", fmt, "-i", "pipe:0", "-f", "s16le",
           "-ar", "8000", "-ac", "1", "pipe:1"]
    p1 = subprocess.run(enc, input=x16.tobytes(), capture_output=True, timeout=120)
    if p1.returncode != 0 or not p1.stdout:
        raise RuntimeError(f"encode {enc_args}: {p1.stderr.decode(errors='replace')[-200:]}")
    p2 = subprocess.run(dec, input=p1.stdout, capture_output=True, timeout=120)
    if p2.returncode != 0:
        raise RuntimeError(f"decode {fmt}: {p2.stderr.decode(errors='replace')[-200:]}")
    y = np.frombuffer(p2.stdout, dtype="<i2")
    n = len(x16)
    if len(y) >= n:
        return y[:n].copy()
    return np.concatenate([y, np.zeros(n - len(y), dtype=np.int16)])


def codec_roundtrip(x: np.ndarray, codec: str) -> np.ndarray:
    x16 = to16(x)
    if codec == "mulaw":
        return from16(mulaw_decode(mulaw_encode(x16)))
    if codec == "alaw":
        return from16(alaw_decode(alaw_encode(x16)))
    if codec == "gsm":
        y = _ffmpeg_roundtrip(x16, ["-c:a", "libgsm"], "gsm")
    elif codec.startswith("g726-"):
        kbps = codec.split("-")[1]
        y = _ffmpeg_roundtrip(x16, ["-c:a", "g726", "-b:a", f"{kbps}k"], "wav")
    elif codec.startswith("opus-"):
        kbps = codec.split("-")[1]
        y = _ffmpeg_roundtrip(x16, ["-c:a", "libopus", "-b:a", kbps, "-application", "voip"],
                              "ogg")
    elif codec == "speex":
        y = _ffmpeg_roundtrip(x16, ["-c:a", "libspeex"], "ogg")
    else:
        raise ValueError(codec)
    return from16(y)


# ------------------------------------------------------------------------------------ chain
_BABBLE_POOLS: dict[str, list[str]] = {}


def set_babble_pools(pools: dict[str, list[str]]) -> None:
    """pool name (the split) -> raw clips (both classes) whose mixture makes babble noise."""
    _BABBLE_POOLS.clear()
    _BABBLE_POOLS.update(pools)


@functools.lru_cache(maxsize=64)
def _babble_clip(path: str) -> np.ndarray:
    x, rate = read_wav(path)
    if rate != RAW_RATE_HZ:
        x = decode_audio(path)
    return resample_16k_to_8k(trim(x.astype(np.float64), RAW_RATE_HZ))


def _babble(n: int, rng: np.random.Generator, pool: str) -> np.ndarray:
    files = _BABBLE_POOLS.get(pool, [])
    if not files:
        return pink_noise(n, rng)
    out = np.zeros(n)
    for _ in range(int(rng.integers(3, 7))):
        c = _babble_clip(files[int(rng.integers(len(files)))])
        if len(c) == 0:
            continue
        c = c / (np.std(c) + 1e-9)
        reps = int(np.ceil((n + len(c)) / len(c)))
        tiled = np.tile(c, reps)
        start = int(rng.integers(len(c)))
        out += tiled[start:start + n]
    return out / (np.std(out) + 1e-12)


def apply_chain(x16k: np.ndarray, params: dict, pool: str = "") -> np.ndarray:
    rng = np.random.default_rng(params["seed"])
    x = trim(x16k.astype(np.float64), RAW_RATE_HZ)
    x = resample_16k_to_8k(x)
    # background noise at the caller's side
    p_speech = float(np.mean(x**2)) + 1e-12
    n = len(x)
    if params["noise"] == "white":
        noise = rng.standard_normal(n)
    elif params["noise"] == "pink":
        noise = pink_noise(n, rng)
    else:
        noise = _babble(n, rng, pool)
    noise *= np.sqrt(p_speech / 10 ** (params["snr_db"] / 10.0))
    x = x + noise
    # keep headroom before the codec
    peak = float(np.max(np.abs(x))) + 1e-12
    x *= 0.5 / peak
    x = bandpass(x)
    x = codec_roundtrip(x, params["codec"])
    # packet loss: 20 ms frames zeroed or repeated (simple concealment)
    frame = PHONE_RATE_HZ // 50
    n_frames = len(x) // frame
    lost = np.nonzero(rng.random(n_frames) < params["loss_rate"])[0]
    for i in lost:
        if i > 0 and rng.random() < 0.5:
            x[i * frame:(i + 1) * frame] = x[(i - 1) * frame:i * frame]
        else:
            x[i * frame:(i + 1) * frame] = 0.0
    rms = float(np.sqrt(np.mean(x**2))) + 1e-12
    x *= 10 ** (params["level_dbfs"] / 20.0) / rms
    x = np.clip(x, -1.0, 32767.0 / 32768.0)
    return from16(mulaw_decode(mulaw_encode(to16(x))))


def chain_file(src: str, dest: str, clip_id: str, copy: int, pool: str,
               before: Callable[[np.ndarray], np.ndarray] | None = None) -> None:
    """Reads a raw clip, applies `before` to it when given (a degradation), chains it with the
    draw of (clip id, copy) and the babble pool, and writes the 8 kHz clip to dest."""
    x, rate = read_wav(src)
    if rate != RAW_RATE_HZ:
        x = decode_audio(src)
    if before is not None:
        x = before(x)
    y = apply_chain(x, draw_params(clip_id, copy), pool)
    write_wav(dest, y.astype(np.float32), PHONE_RATE_HZ)


def chain_job(job: tuple) -> tuple[str, str]:
    """job = (raw wav, destination, clip id, copy, babble pool[, degradation]) -> (destination,
    error or ''); a degradation (degrade.draw) is applied to the raw clip before the chain."""
    src, dest, clip_id, copy, pool = job[:5]
    degradation = job[5] if len(job) > 5 else None
    if Path(dest).exists():
        return dest, ""
    try:
        chain_file(src, dest, clip_id, copy, pool,
                   None if degradation is None else functools.partial(degrade.apply,
                                                                      params=degradation))
        return dest, ""
    except Exception as e:  # noqa: BLE001
        return dest, f"{type(e).__name__}: {e}"
