import io
import json
import os
import sys
import tempfile
import unittest
import wave

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "probes"))

import band_harmonicity as bh  # noqa: E402

RATE = bh.RATE_HZ


def pulse_train(seconds: float, period: int) -> np.ndarray:
    x = np.zeros(int(seconds * RATE))
    x[::period] = 0.5
    return x


def band_noise(n: int, lo_hz: float, hi_hz: float, seed: int) -> np.ndarray:
    """White noise limited to [lo_hz, hi_hz) by zeroing the other FFT bins."""
    spectrum = np.fft.rfft(np.random.default_rng(seed).normal(size=n))
    freqs = np.fft.rfftfreq(n, 1.0 / RATE)
    spectrum[(freqs < lo_hz) | (freqs >= hi_hz)] = 0.0
    return np.fft.irfft(spectrum, n)


def write_wav(path: str, x: np.ndarray, rate: int = RATE) -> None:
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.clip(np.round(x * 32767), -32768, 32767).astype("<i2").tobytes())


class BandHarmonicityTest(unittest.TestCase):
    def test_a_pulse_train_is_periodic_in_every_band(self):
        f = bh.clip_features(pulse_train(2.0, 64))  # 125 Hz
        self.assertGreater(f["voiced_share"], 0.95)
        for key in ("h_full", "h_b1", "h_b2", "h_b3"):
            self.assertGreater(f[key], 0.9, key)

    def test_noise_in_the_high_band_lowers_only_its_harmonicity(self):
        # 125 Hz harmonics falling at 6 dB per octave, as a voice's do, plus noise in 2-3.4 kHz
        # with three times the power the harmonics have there: that band's autocorrelation at the
        # period is about 1/4, the low band's about 1, and the whole band stays voiced
        t = np.arange(2 * RATE) / RATE
        x = sum(np.cos(2 * np.pi * 125 * k * t) / k for k in range(1, 32))
        high_power = sum(0.5 / k ** 2 for k in range(16, 28))  # 2000-3375 Hz
        noise = band_noise(len(x), 2000.0, 3400.0, seed=1)
        f = bh.clip_features(0.1 * (x + np.sqrt(3 * high_power) * noise / np.std(noise)))
        self.assertGreater(f["h_b1"], 0.9)
        self.assertLess(f["h_b3"], 0.5)
        self.assertGreater(f["h_b1"] - f["h_b3"], 0.4)

    def test_noise_has_no_voiced_frames_and_a_short_clip_nothing(self):
        noise = band_noise(2 * RATE, 300.0, 3400.0, seed=2)
        self.assertEqual(set(bh.clip_features(noise)), {"voiced_share"})
        self.assertLess(bh.clip_features(noise)["voiced_share"], 0.1)
        self.assertEqual(bh.clip_features(np.zeros(2 * bh.FRAME - 1)), {})

    def test_command_line_reads_clips_and_reports_unreadable_ones(self):
        with tempfile.TemporaryDirectory() as d:
            good, wrong_rate = os.path.join(d, "good.wav"), os.path.join(d, "16k.wav")
            write_wav(good, pulse_train(1.0, 50))
            write_wav(wrong_rate, pulse_train(1.0, 50), rate=16000)
            out = io.StringIO()
            status = bh.main([good + "\n", wrong_rate + "\n", os.path.join(d, "missing.wav")],
                             jobs=1, out=out)
        lines = [json.loads(line) for line in out.getvalue().splitlines()]
        self.assertEqual(status, 1)
        self.assertEqual([os.path.basename(line["file"]) for line in lines],
                         ["good.wav", "16k.wav", "missing.wav"])
        self.assertGreater(lines[0]["band_harmonicity"]["h_b1"], 0.9)
        self.assertIn("not 8 kHz", lines[1]["error"])
        self.assertIn("error", lines[2])


if __name__ == "__main__":
    unittest.main()
