import json
import os
import sys
import tempfile
import unittest

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "probes"))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

import harmonicity_dump as hd  # noqa: E402
from data import FeatureDump  # noqa: E402
from test_band_harmonicity import pulse_train, write_wav  # noqa: E402


class EnergyVadReplayTest(unittest.TestCase):
    def test_onset_after_three_candidates_and_eight_frames_of_hangover(self):
        energies = np.array([-100.0] * 5 + [-20.0] * 10 + [-100.0] * 20, dtype=np.float32)
        speech = hd.energy_vad(energies)
        self.assertEqual(np.flatnonzero(speech).tolist(), list(range(7, 23)))

    def test_noise_at_a_steady_level_is_never_speech(self):
        self.assertFalse(hd.energy_vad(np.full(500, -30.0, dtype=np.float32)).any())


class HarmonicityDumpTest(unittest.TestCase):
    def test_inserts_three_values_per_speech_frame_between_filterbank_and_fine_values(self):
        fine = 30
        width = hd.NUM_FILTERS + fine
        with tempfile.TemporaryDirectory() as d:
            source, out = os.path.join(d, "features"), os.path.join(d, "harm")
            os.makedirs(source)
            clips, counts = [], []
            for i, period in enumerate((64, 50)):
                x = np.concatenate([np.zeros(4000), pulse_train(1.5, period), np.zeros(4000)])
                path = os.path.join(d, f"clip{i}.wav")
                write_wav(path, x)
                clips.append(path)
                counts.append(int(hd.energy_vad(hd.frame_energies_db(x.astype(np.float32))).sum()))
            self.assertTrue(all(140 <= c <= 170 for c in counts))  # 1.5 s + hangover
            rng = np.random.default_rng(0)
            frames = rng.normal(size=(sum(counts), width)).astype("<f4")
            frames.tofile(os.path.join(source, "features.f32"))
            with open(os.path.join(source, "index.csv"), "w") as f:
                f.write("clip,offset_frames,num_frames,label,split,source,speaker,attack,codec\n")
                f.write(f"{clips[0]},0,{counts[0]},genuine,dev,s,p,bonafide,mulaw\n")
                f.write(f"{clips[1]},{counts[0]},{counts[1]},synthetic,dev,s,p,lpc,mulaw\n")
            with open(os.path.join(source, "front_end.json"), "w") as f:
                json.dump({"num_filters": hd.NUM_FILTERS, "excitation": False, "fine_bands": 6,
                           "width": width}, f)
            self.assertEqual(hd.main(["--features", source, "--out", out, "--jobs", "1"]), 0)
            dump = FeatureDump(out)
            self.assertTrue(dump.excitation)
            merged = np.fromfile(os.path.join(out, "features.f32"), dtype="<f4").reshape(
                -1, width + 3)
            np.testing.assert_array_equal(merged[:, :hd.NUM_FILTERS], frames[:, :hd.NUM_FILTERS])
            np.testing.assert_array_equal(merged[:, hd.NUM_FILTERS + 3:],
                                          frames[:, hd.NUM_FILTERS:])
            values = merged[:, hd.NUM_FILTERS:hd.NUM_FILTERS + 3]
            # frames well inside the pulse trains: periodic in every band
            self.assertGreater(float(np.median(values[20:counts[0] - 20])), 0.9)
            self.assertGreater(float(np.median(values[counts[0] + 20:-20])), 0.9)

            with open(os.path.join(source, "index.csv"), "a") as f:  # a wrong frame count
                f.write(f"{clips[0]},0,{counts[0] - 1},genuine,dev,s,p,bonafide,mulaw\n")
            self.assertEqual(hd.main(["--features", source, "--out", out, "--jobs", "1"]), 1)
            merged = np.fromfile(os.path.join(out, "features.f32"), dtype="<f4").reshape(
                -1, width + 3)
            self.assertFalse(merged[sum(counts):, hd.NUM_FILTERS:hd.NUM_FILTERS + 3].any())


if __name__ == "__main__":
    unittest.main()
