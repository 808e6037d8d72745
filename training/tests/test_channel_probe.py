import os
import sys
import unittest

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "probes"))

import channel_probe  # noqa: E402

RATE = 16000


def sine(hz: float, seconds: float = 1.0, amplitude: float = 1.0) -> np.ndarray:
    return amplitude * np.sin(2 * np.pi * hz * np.arange(int(seconds * RATE)) / RATE)


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x ** 2)))


class DegradationTest(unittest.TestCase):
    def test_narrowband_keeps_the_middle_of_the_band_only(self):
        mid = slice(2000, -2000)  # away from the filter's edges
        self.assertAlmostEqual(rms(channel_probe.narrowband(sine(1000))[mid]), rms(sine(1000)),
                               delta=0.02)
        for hz in (200, 3500):
            self.assertLess(rms(channel_probe.narrowband(sine(hz))[mid]), 0.02 * rms(sine(hz)), hz)

    def test_clipped_at_a_fifth_of_the_peak(self):
        y = channel_probe.clipped(sine(300, amplitude=0.5))
        self.assertAlmostEqual(float(np.max(y)), 0.1, places=9)
        self.assertAlmostEqual(float(np.min(y)), -0.1, places=9)

    def test_reverb_impulse_response(self):
        impulse = np.zeros(RATE)
        impulse[0] = 1.0
        ir = channel_probe.reverb(impulse)
        self.assertEqual(len(ir), RATE)
        self.assertEqual(float(ir[0]), 1.0)  # direct path
        self.assertAlmostEqual(float(np.sum(ir[1:] ** 2)), 1.0, places=9)  # tail energy
        # decays: the last 0.1 s of the 0.5 s tail is far below its first 0.1 s
        tail = ir[1:8000]
        self.assertLess(np.sum(tail[-1600:] ** 2), 1e-3 * np.sum(tail[:1600] ** 2))
        np.testing.assert_array_equal(channel_probe.reverb(impulse), ir)  # deterministic

    def test_rooms_from_near_to_far(self):
        impulse = np.zeros(RATE)
        impulse[0] = 1.0
        tails = []
        for name in ("room-near", "room-mid", "room-far"):
            ir = channel_probe.CONDITIONS[name](impulse)
            self.assertEqual(float(ir[0]), 1.0, name)  # the direct path
            tails.append(float(np.sum(ir[1:] ** 2)))
        # the reverberant energy grows from near to far (DRR +10, +3, -3 dB, with reflections)
        self.assertLess(tails[0], tails[1])
        self.assertLess(tails[1], tails[2])
        self.assertGreater(tails[2], 1.0)

    def test_the_near_room_is_its_reflections_and_its_tail(self):
        early, tail = channel_probe.room_parts("room-near")
        whole = channel_probe.room_response("room-near")
        self.assertEqual(len(early), int(0.025 * RATE))
        self.assertEqual(float(early[0]), 1.0)
        self.assertEqual(float(tail[0]), 1.0)
        self.assertGreaterEqual(np.count_nonzero(early[1:]), 1)
        joined = tail.copy()
        joined[:len(early)] += early
        joined[0] = 1.0
        np.testing.assert_allclose(joined, whole, atol=1e-12)

    def test_agc_narrows_the_level_difference(self):
        x = np.concatenate([sine(200, 0.5, 0.01), sine(200, 0.5, 1.0)])
        y = channel_probe.agc(x)
        quiet, loud = rms(y[2000:6000]), rms(y[10000:14000])
        self.assertLess(loud / quiet, 100 ** 0.2 * 1.1)  # was 100
        self.assertGreater(loud / quiet, 100 ** 0.2 * 0.9)

    def test_every_condition_keeps_the_length(self):
        x = sine(700, 0.3)
        for name, degrade in channel_probe.CONDITIONS.items():
            self.assertEqual(len(degrade(x)), len(x), name)


class RawClipTest(unittest.TestCase):
    """Corpus clip ids back to the raw clips they were chained from (build_corpus.raw_items)."""

    def test_each_kind_of_id(self):
        from pathlib import Path
        c = Path("/c")
        self.assertEqual(channel_probe.raw_clip(c, "gen__fillets-ng-data-cs__let-m-oko__p0"),
                         c / "raw/genuine/fillets-ng-data-cs/let-m-oko__p0.wav")
        self.assertEqual(channel_probe.raw_clip(c, "tts__espeak-ng__en-us__s00536"),
                         c / "raw/synthetic/espeak-ng/en-us/s00536.wav")
        self.assertEqual(
            channel_probe.raw_clip(c, "voc__sptk-mlsa__beneath-a-steel-sky__sky53431__p0"),
            c / "raw/synthetic/sptk-mlsa/beneath-a-steel-sky/sky53431__p0.wav")
        self.assertEqual(channel_probe.raw_clip(c, "voc__hifigan__codec2-examples__wav_hts__p1"),
                         c / "raw/synthetic/hifigan/codec2-examples/wav_hts__p1.wav")
        for bad in ("gen__only", "xyz__a__b__c", "tts__a__b"):
            with self.assertRaises(ValueError, msg=bad):
                channel_probe.raw_clip(c, bad)


class SummaryTest(unittest.TestCase):
    def test_flagged_share_of_the_scored_clips(self):
        # "b" is flagged by its verdict; "c", uncertain, is not, whatever its score
        results = [{"file": "a", "llr": -2.0, "score": 0.1, "verdict": "human"},
                   {"file": "b", "llr": 3.0, "score": 0.9, "verdict": "synthetic"},
                   {"file": "c", "llr": 1.0, "score": 0.7, "verdict": "uncertain"},
                   {"file": "d", "llr": None, "score": None, "verdict": "insufficient_speech"},
                   {"file": "e", "error": "unreadable"}]
        s = channel_probe.summarise(results)
        self.assertEqual(s["clips"], 5)
        self.assertEqual(s["scored"], 3)
        self.assertAlmostEqual(s["flagged"], 0.3333, places=4)
        self.assertAlmostEqual(s["mean_llr"], 0.667, places=3)
        self.assertEqual(s["median_llr"], 1.0)

    def test_condition_eer(self):
        self.assertEqual(channel_probe.condition_eer([-3.0, -2.0, -1.0], [1.0, 2.0]), 0.0)
        # one genuine clip of three above one synthetic clip of two: the rates cross at 1/3
        self.assertAlmostEqual(channel_probe.condition_eer([-3.0, -2.0, 1.5], [1.0, 2.0]),
                               0.3333, places=4)
        self.assertEqual(channel_probe.condition_eer([1.0, 2.0], [-1.0, -2.0]), 1.0)


if __name__ == "__main__":
    unittest.main()
