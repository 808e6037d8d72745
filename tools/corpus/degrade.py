"""Channel degradations applied to a raw 16 kHz clip before the telephone chain (channel.py).

The corpus's chain is one kind of line: a clean microphone, band-pass, codec, loss, noise. Real
callers also come through rooms, poor handsets, overdriven inputs and gain control, and the
channel probe (training/probes/channel_probe.py) found that the detector trained on clean-input
clips flags narrowband genuine speech eight times as often and catches synthetic speech played
into a room half as often. `build_corpus.py --train-degraded-share F` therefore gives a share F of
the train clips (both classes, every attack and source alike) one more chained copy with one of
these degradations first, drawn per clip:

- `reverb`: a room. Early reflections (3-8 taps, 2-25 ms, -3..-15 dB) and a diffuse tail whose
  low band (under 1 kHz) decays with RT60 0.15-0.9 s and high band with 0.4-0.8 of that, at a
  direct-to-reverberant ratio of -6..+6 dB.
- `narrowband`: a band-pass with its low edge at 300-700 Hz and its high edge at 2000-3200 Hz (a
  single-sideband radio, a poor handset or loudspeaker).
- `clipped`: hard clipping at 0.1-0.5 of the clip's peak.
- `agc`: fast automatic gain control, the signal divided by its own 10-40 ms envelope to the power
  0.5-0.9.

Every degradation keeps the clip's length, and its output is scaled back to the raw clip's peak
so that the chain's own level draw is unchanged. All draws come from (seed, clip id).

Trained on with a share of 0.3, these copies did not make the detector separate degraded speech
better (at most 4 points, in rooms of this very model) and cost it 2.2 points of EER on plain dev
speech (docs/model-card.md, twenty-fifth session), so `make corpus` leaves them off; the probe
uses the same functions to measure.
"""

from __future__ import annotations

import numpy as np

from common import RAW_RATE_HZ, bandpass_taps, lowpass_taps, rng_for

KINDS = ("reverb", "narrowband", "clipped", "agc")
# reverb most often: the probe's worst condition for catching synthetic speech
KIND_WEIGHTS = (0.4, 0.2, 0.2, 0.2)


def draw(seed: str, clip_id: str) -> dict:
    """One degradation with its parameters; deterministic in (seed, clip id)."""
    rng = rng_for(seed, "degrade", clip_id)
    kind = KINDS[int(rng.choice(len(KINDS), p=KIND_WEIGHTS))]
    if kind == "reverb":
        return {"kind": kind, "rt60_s": float(rng.uniform(0.15, 0.9)),
                "high_rt60_ratio": float(rng.uniform(0.4, 0.8)),
                "drr_db": float(rng.uniform(-6.0, 6.0)),
                "reflections": int(rng.integers(3, 9)), "seed": int(rng.integers(0, 2**62))}
    if kind == "narrowband":
        return {"kind": kind, "low_hz": float(rng.uniform(300.0, 700.0)),
                "high_hz": float(rng.uniform(2000.0, 3200.0))}
    if kind == "clipped":
        return {"kind": kind, "fraction": float(rng.uniform(0.1, 0.5))}
    return {"kind": kind, "window_ms": float(rng.uniform(10.0, 40.0)),
            "exponent": float(rng.uniform(0.5, 0.9))}


def picked(seed: str, clip_id: str, share: float) -> bool:
    """Whether a clip gets a degraded copy at this share; the clips picked at a smaller share are
    among those picked at a larger one."""
    return float(rng_for(seed, "degrade-pick", clip_id).random()) < share


# ------------------------------------------------------------------------------------ filters
def bandpass(x: np.ndarray, low_hz: float, high_hz: float, taps: int = 511) -> np.ndarray:
    return np.convolve(x, bandpass_taps(low_hz, high_hz, RAW_RATE_HZ, taps), mode="same")


def clip_at(x: np.ndarray, fraction: float) -> np.ndarray:
    limit = fraction * float(np.max(np.abs(x)) + 1e-12)
    return np.clip(x, -limit, limit)


def agc(x: np.ndarray, window_ms: float = 20.0, exponent: float = 0.8) -> np.ndarray:
    win = max(1, int(window_ms / 1000.0 * RAW_RATE_HZ))
    envelope = np.sqrt(np.convolve(x ** 2, np.ones(win) / win, mode="same"))
    floor = 1e-3 * float(np.max(envelope) + 1e-12)
    return x / np.maximum(envelope, floor) ** exponent


def room_response(rt60_s: float, high_rt60_ratio: float, drr_db: float, reflections: int,
                  seed: int) -> np.ndarray:
    """Impulse response: direct path at 1, early reflections, and a two-band noise tail of unit
    energy scaled to the direct-to-reverberant ratio."""
    rng = np.random.default_rng(seed)
    n = int(rt60_s * RAW_RATE_HZ)
    t = np.arange(n) / RAW_RATE_HZ
    low_taps = lowpass_taps(1000.0 / RAW_RATE_HZ, 127)
    low = np.convolve(rng.standard_normal(n), low_taps, mode="same")
    high = rng.standard_normal(n)
    high = high - np.convolve(high, low_taps, mode="same")
    tail = (low * 10.0 ** (-3.0 * t / rt60_s) +
            high * 10.0 ** (-3.0 * t / (rt60_s * high_rt60_ratio)))
    onset = int(0.002 * RAW_RATE_HZ)
    tail[:onset] = 0.0  # the diffuse field starts after the direct path
    tail /= np.sqrt(np.sum(tail ** 2)) + 1e-12
    ir = tail * 10.0 ** (-drr_db / 20.0)
    for _ in range(reflections):
        at = int(rng.integers(int(0.002 * RAW_RATE_HZ), int(0.025 * RAW_RATE_HZ)))
        ir[at] += float(rng.choice([-1.0, 1.0])) * 10.0 ** (-rng.uniform(3.0, 15.0) / 20.0)
    ir[0] = 1.0
    return ir


def reverberate(x: np.ndarray, ir: np.ndarray) -> np.ndarray:
    """x convolved with ir, cut to len(x): np.convolve(x, ir)[:len(x)] computed with one real FFT
    of the next power of two (a room's response is thousands of taps; the direct sum took about
    a second per clip). The two differ in the last bits only; the chained clips come out
    byte-identical (checked on 11,850 probe clips: dev's, both classes, under the four rooms and
    the probe's own reverb; and on 80 degraded train copies)."""
    n = len(x) + len(ir) - 1
    size = 1 << max(n - 1, 0).bit_length()
    y = np.fft.irfft(np.fft.rfft(x, size) * np.fft.rfft(ir, size), size)
    return y[: len(x)]


def apply(x: np.ndarray, params: dict) -> np.ndarray:
    """The degradation `params` (from draw()) on a raw 16 kHz clip, scaled back to its peak."""
    x = x.astype(np.float64)
    kind = params["kind"]
    if kind == "reverb":
        y = reverberate(x, room_response(params["rt60_s"], params["high_rt60_ratio"],
                                         params["drr_db"], params["reflections"],
                                         params["seed"]))
    elif kind == "narrowband":
        y = bandpass(x, params["low_hz"], params["high_hz"])
    elif kind == "clipped":
        y = clip_at(x, params["fraction"])
    elif kind == "agc":
        y = agc(x, params["window_ms"], params["exponent"])
    else:
        raise ValueError(f"unknown degradation {kind!r}")
    return rescale_to_peak(y, x)


def rescale_to_peak(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    peak = float(np.max(np.abs(y)))
    return y * (float(np.max(np.abs(x))) / peak) if peak > 0 else y
