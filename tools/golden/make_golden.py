#!/usr/bin/python3
"""Golden data for the dsp front end (log linear-filterbank energies + frame energy in dBFS).

An independent numpy (float64) implementation of the formulas documented in
src/dsp/feature_extractor.hpp; it shares no code with the C++ side. Writes, per case, under
tests/data/features/:
  <case>.input.f32   mono input samples, float32 little-endian, full scale +-1.0 (on the int16 grid)
  <case>.feats.f32   expected features, float32 little-endian, frames x num_features, row-major
  <case>.energy.f32  expected frame energies in dBFS, float32 little-endian, one per frame
  <case>.json        options, shapes, file names and tolerances

Usage (Debian's python3 with python3-numpy; no scipy):
  /usr/bin/python3 tools/golden/make_golden.py            # (re)write the files
  /usr/bin/python3 tools/golden/make_golden.py --check    # recompute and compare with the files
"""

import argparse
import json
import pathlib
import sys

try:
    import numpy as np
except ImportError:  # pragma: no cover
    print("numpy is missing: use Debian's /usr/bin/python3 with python3-numpy", file=sys.stderr)
    sys.exit(77)

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT_DIR = ROOT / "tests" / "data" / "features"

# Tolerances the C++ test applies (absolute): natural-log features and dB energies. The C++ side
# runs in float32 (window, FFT, filterbank sums), this reference in float64.
TOL_LOG = 1e-3
TOL_DB = 1e-3


def speech_like(rate_hz, seconds, seed):
    """Deterministic speech-like signal: voiced syllables (harmonics of a gliding f0 shaped by
    moving formants), a fricative burst, a stretch of digital silence, in low white noise."""
    rng = np.random.default_rng(seed)
    n = int(round(rate_hz * seconds))
    t = np.arange(n) / rate_hz
    f0 = 140.0 + 40.0 * np.sin(2 * np.pi * 1.3 * t) + 15.0 * np.sin(2 * np.pi * 4.1 * t)
    phase = 2 * np.pi * np.cumsum(f0) / rate_hz
    # Formant tracks (Hz) and bandwidths gliding between vowel-like targets.
    f1 = 500.0 + 250.0 * np.sin(2 * np.pi * 0.9 * t)
    f2 = 1500.0 + 600.0 * np.sin(2 * np.pi * 0.6 * t + 1.0)
    f3 = 2600.0 + 200.0 * np.sin(2 * np.pi * 0.4 * t + 2.0)
    voiced = np.zeros(n)
    for h in range(1, 60):
        fh = h * f0
        gain = np.zeros(n)
        for fc, bw in ((f1, 90.0), (f2, 120.0), (f3, 180.0)):
            gain += 1.0 / (1.0 + ((fh - fc) / bw) ** 2)
        gain *= (fh < 0.47 * rate_hz)
        voiced += gain * np.sin(h * phase) / np.sqrt(h)
    voiced /= np.max(np.abs(voiced))
    # Syllable envelope: 220 ms raised-cosine syllables separated by 90 ms gaps.
    period = 0.31
    pos = np.mod(t, period)
    env = np.where(pos < 0.22, 0.5 - 0.5 * np.cos(2 * np.pi * pos / 0.22), 0.0)
    x = 0.25 * voiced * env
    # A fricative: differenced noise (high-pass) with its own envelope.
    fric_start, fric_len = int(0.55 * n), int(0.08 * rate_hz)
    fric = np.diff(rng.standard_normal(fric_len + 1)) * 0.02
    fric *= np.hanning(fric_len)
    x[fric_start:fric_start + fric_len] += fric
    # Background noise at about -60 dBFS.
    x += 1e-3 * rng.standard_normal(n)
    # Digital silence near the end (exactly zero samples: features hit the log floor).
    sil_start = int(0.8 * n)
    x[sil_start:sil_start + int(0.1 * rate_hz)] = 0.0
    # Quantise to the int16 grid, as phone audio is.
    q = np.clip(np.round(x * 32768.0), -32768, 32767) / 32768.0
    return q.astype(np.float32)


def hamming_symmetric(length):
    n = np.arange(length, dtype=np.float64)
    return 0.54 - 0.46 * np.cos(2.0 * np.pi * n / (length - 1))


def filterbank(opts):
    nf = opts["num_filters"]
    rate = float(opts["sample_rate_hz"])
    nfft = opts["fft_size"]
    low = float(np.float32(opts["low_freq_hz"]))
    high = float(np.float32(opts["high_freq_hz"]))
    j = np.arange(nf + 2, dtype=np.float64)
    edges = low + j * (high - low) / (nf + 1)
    freqs = np.arange(nfft // 2 + 1, dtype=np.float64) * rate / nfft
    weights = np.zeros((nf, nfft // 2 + 1))
    for m in range(nf):
        rise = (freqs - edges[m]) / (edges[m + 1] - edges[m])
        fall = (edges[m + 2] - freqs) / (edges[m + 2] - edges[m + 1])
        weights[m] = np.maximum(0.0, np.minimum(rise, fall))
    return weights


LPC_ORDER = 10


def excitation(y, s):
    """Log kurtosis, skewness and log crest factor of the LPC residual of one frame (y: the
    pre-emphasised frame, s: the same times the window). The predictor comes from solving the
    Toeplitz normal equations directly (the C++ code uses Levinson-Durbin)."""
    q = LPC_ORDER
    r = np.array([np.dot(s[:len(s) - k], s[k:]) for k in range(q + 1)])
    r[0] = r[0] * (1.0 + 1e-4) + 1e-12
    toeplitz = np.array([[r[abs(i - j)] for j in range(q)] for i in range(q)])
    a = np.concatenate(([1.0], np.linalg.solve(toeplitz, -r[1:])))
    e = np.convolve(y, a)[q:len(y)]
    d = e - e.mean()
    m2, m3, m4 = (np.mean(d ** k) for k in (2, 3, 4))
    return [np.log((m4 + 1e-30) / (m2 * m2 + 1e-30)),
            np.clip(m3 / (m2 ** 1.5 + 1e-30), -10.0, 10.0),
            np.log((np.max(d * d) + 1e-30) / (m2 + 1e-30))]


FINE_WINDOW, FINE_HOP, FINE_FFT = 32, 16, 64


def fine_structure(x, start, opts):
    """The fine values of the frame starting at sample `start`: frame_shift / 16 sub-frames of
    32 raw samples (periodic Hann window, 64-point FFT), centred in the frame, each summed into
    `fine_bands` linear triangular bands over 0..rate/2 and logged."""
    length, shift = opts["frame_length_samples"], opts["frame_shift_samples"]
    bank = filterbank({"num_filters": opts["fine_bands"], "sample_rate_hz": opts["sample_rate_hz"],
                       "fft_size": FINE_FFT, "low_freq_hz": 0.0,
                       "high_freq_hz": opts["sample_rate_hz"] / 2.0})
    window = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(FINE_WINDOW) / FINE_WINDOW)
    offset = (length - shift - FINE_HOP) // 2
    floor = float(np.float32(opts["log_floor"]))
    values = []
    for j in range(shift // FINE_HOP):
        a = start + offset + j * FINE_HOP
        spec = np.fft.rfft(x[a:a + FINE_WINDOW] * window, n=FINE_FFT)
        values.extend(np.log(np.maximum(bank @ (spec.real ** 2 + spec.imag ** 2), floor)))
    return values


H_WINDOW, H_FFT, H_MIN_LAG, H_MAX_LAG = 320, 1024, 20, 134
H_BANDS = ((300.0, 3400.0), (300.0, 1000.0), (1000.0, 2000.0), (2000.0, 3400.0))


def band_harmonicity(x, start, length):
    """The band harmonicity of the frame starting at `start`: over the 320 raw samples centred on
    the frame (zeros outside the signal), mean removed, symmetric Hann window, each band's
    autocorrelation as the inverse FFT of the 1024-point power spectrum masked to the band; the
    pitch lag maximises the full band's (300-3400 Hz) normalised autocorrelation divided by the
    window's own, and each of 300-1000, 1000-2000, 2000-3400 Hz gives its best normalised value
    at that lag and its two neighbours."""
    first = start + length // 2 - H_WINDOW // 2
    seg = np.zeros(H_WINDOW)
    lo, hi = max(first, 0), min(first + H_WINDOW, len(x))
    seg[lo - first:hi - first] = x[lo:hi]
    window = np.hanning(H_WINDOW)
    seg = (seg - seg.mean()) * window
    power = np.abs(np.fft.rfft(seg, H_FFT)) ** 2
    freqs = np.arange(H_FFT // 2 + 1) * 8000.0 / H_FFT
    ac = [np.fft.irfft(power * ((freqs >= a) & (freqs < b)), H_FFT) for a, b in H_BANDS]
    own = np.correlate(window, window, "full")[H_WINDOW - 1:] / np.dot(window, window)
    lags = np.arange(H_MIN_LAG, H_MAX_LAG + 1)
    lag = lags[np.argmax(ac[0][lags] / (ac[0][0] + 1e-12) / own[lags])]
    return [max(band[lag + d] / own[lag + d] for d in (-1, 0, 1)) / (band[0] + 1e-12)
            for band in ac[1:]]


def features(x32, opts):
    x = x32.astype(np.float64)
    p = float(np.float32(opts["preemphasis"]))
    floor = float(np.float32(opts["log_floor"]))
    length, shift, nfft = opts["frame_length_samples"], opts["frame_shift_samples"], opts["fft_size"]
    y = x - p * np.concatenate(([0.0], x[:-1]))
    window = hamming_symmetric(length)
    weights = filterbank(opts)
    num_frames = 0 if len(x) < length else (len(x) - length) // shift + 1
    extra = 3 if opts.get("excitation") else 0
    harm = 3 if opts.get("band_harmonicity") else 0
    fine = opts.get("fine_bands", 0) * (shift // FINE_HOP)
    feats = np.zeros((num_frames, opts["num_filters"] + extra + harm + fine))
    energy = np.zeros(num_frames)
    for i in range(num_frames):
        seg = slice(i * shift, i * shift + length)
        spec = np.fft.rfft(y[seg] * window, n=nfft)
        power = spec.real ** 2 + spec.imag ** 2
        feats[i, :opts["num_filters"]] = np.log(np.maximum(weights @ power, floor))
        if extra:
            feats[i, opts["num_filters"]:opts["num_filters"] + extra] = \
                excitation(y[seg], y[seg] * window)
        if harm:
            at = opts["num_filters"] + extra
            feats[i, at:at + harm] = band_harmonicity(x, i * shift, length)
        if fine:
            feats[i, opts["num_filters"] + extra + harm:] = fine_structure(x, i * shift, opts)
        energy[i] = 10.0 * np.log10(np.mean(x[seg] ** 2) + 1e-10)
    return feats, energy


CASES = [
    {
        "case": "speech8k",
        "seconds": 1.6,
        "seed": 20240611,
        "options": {
            "sample_rate_hz": 8000, "frame_length_samples": 200, "frame_shift_samples": 80,
            "fft_size": 256, "num_filters": 60, "low_freq_hz": 0.0, "high_freq_hz": 4000.0,
            "preemphasis": 0.97, "log_floor": 1e-10,
        },
    },
    {
        "case": "wide16k",
        "seconds": 0.6,
        "seed": 7,
        "options": {
            "sample_rate_hz": 16000, "frame_length_samples": 400, "frame_shift_samples": 160,
            "fft_size": 512, "num_filters": 40, "low_freq_hz": 100.0, "high_freq_hz": 7600.0,
            "preemphasis": 0.0, "log_floor": 1e-6,
        },
    },
]


CASES.append({
    "case": "excitation8k",
    "seconds": 0.8,
    "seed": 31,
    "options": dict(CASES[0]["options"], excitation=True),
})


CASES.append({
    "case": "fine8k",
    "seconds": 0.8,
    "seed": 47,
    "options": dict(CASES[0]["options"], fine_bands=6),
})


CASES.append({
    "case": "harmonicity8k",
    "seconds": 0.8,
    "seed": 53,
    "options": dict(CASES[0]["options"], fine_bands=6, band_harmonicity=True),
})


def build(case):
    opts = case["options"]
    x = speech_like(opts["sample_rate_hz"], case["seconds"], case["seed"])
    feats, energy = features(x, opts)
    meta = {
        "case": case["case"],
        "generator": "tools/golden/make_golden.py (numpy float64, independent of the C++ code)",
        "options": opts,
        "num_samples": int(len(x)),
        "num_frames": int(feats.shape[0]),
        "num_features": int(feats.shape[1]),
        "input": f"{case['case']}.input.f32",
        "features": f"{case['case']}.feats.f32",
        "energy": f"{case['case']}.energy.f32",
        "dtype": "float32 little-endian",
        "tolerance_log": TOL_LOG,
        "tolerance_db": TOL_DB,
    }
    files = {
        meta["input"]: x.astype("<f4").tobytes(),
        meta["features"]: feats.astype("<f4").tobytes(),
        meta["energy"]: energy.astype("<f4").tobytes(),
        f"{case['case']}.json": (json.dumps(meta, indent=2) + "\n").encode(),
    }
    return files


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="recompute and compare with the committed files instead of writing")
    parser.add_argument("--out", type=pathlib.Path, default=OUT_DIR)
    args = parser.parse_args()
    failures = 0
    for case in CASES:
        for name, data in build(case).items():
            path = args.out / name
            if not args.check:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
                print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path} "
                      f"({len(data)} bytes)")
                continue
            if not path.exists():
                print(f"MISSING {path}")
                failures += 1
                continue
            old = path.read_bytes()
            if name.endswith(".input.f32") or name.endswith(".json"):
                ok = old == data  # input and metadata must be byte-identical
            else:
                a = np.frombuffer(old, dtype="<f4")
                b = np.frombuffer(data, dtype="<f4")
                ok = a.shape == b.shape and np.max(np.abs(a - b), initial=0.0) <= 1e-5
            print(f"{'ok' if ok else 'DIFFERS'} {name}")
            failures += 0 if ok else 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
