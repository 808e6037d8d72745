import contextlib
import io
import os
import sys
import tempfile
import unittest

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

import indicator_fusion  # noqa: E402
from fake_dump import write_scored_clips  # noqa: E402


def write_split(root: str, manifest_rows: list, lines: list, split: str, n: int, seed: int):
    """n clips per class: the LLR separates the classes a little, HNR a lot (synthetic +4 dB)."""
    rng = np.random.default_rng(seed)
    for i in range(2 * n):
        synthetic = i >= n
        path = f"clips/{split}/{'syn' if synthetic else 'gen'}{i}.wav"
        manifest_rows.append(f"{path},{'synthetic' if synthetic else 'genuine'},{split},src,"
                             f"spk,{'tts' if synthetic else 'bonafide'},mulaw,GPL,3.0")
        indicators = {"hnr_db": float(rng.normal(14.0 if synthetic else 10.0, 1.0)),
                      "jitter_local_percent": float(rng.normal(1.5, 0.3)),
                      "pitch_range_semitones": None}
        lines.append({"file": os.path.join(root, path),
                      "llr": float(rng.normal(0.5 if synthetic else -0.5, 1.5)),
                      "indicators": indicators})
    # A clip under 1 s of speech has no score and is left out.
    lines.append({"file": os.path.join(root, f"clips/{split}/gen0.wav"), "llr": None,
                  "indicators": {}})


class IndicatorFusionTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        root = cls.tmp.name
        rows, lines = [], []
        write_split(root, rows, lines, "dev", 150, seed=3)
        write_split(root, rows, lines, "test", 150, seed=4)
        cls.manifest, cls.jsonl = write_scored_clips(root, rows, lines, "indicators.jsonl")

    def test_loads_scored_clips_by_split(self):
        clips = indicator_fusion.load(self.manifest, self.jsonl)
        self.assertEqual(sorted(clips), ["dev", "test"])
        self.assertEqual(len(clips["dev"].llr), 300)  # the unscored line is left out
        self.assertEqual(int(clips["dev"].target.sum()), 150)
        m = clips["dev"].matrix(["hnr_db", "pitch_range_semitones"])
        self.assertTrue(np.all(np.isnan(m[:, 1])))

    def test_an_informative_indicator_lowers_the_test_eer(self):
        clips = indicator_fusion.load(self.manifest, self.jsonl)
        alone = indicator_fusion.evaluate("detector", [], clips["dev"], clips["test"])
        fused = indicator_fusion.evaluate("voice", ["hnr_db", "jitter_local_percent"],
                                          clips["dev"], clips["test"])
        self.assertLess(fused["test_eer"], alone["test_eer"] - 0.1)
        self.assertGreater(fused["weights"][1], 1.0)  # HNR, standardised: a large weight
        self.assertLess(abs(fused["weights"][2]), 0.5)  # jitter carries nothing here
        self.assertGreater(fused["test_caught"], alone["test_caught"])
        self.assertLessEqual(fused["test_flagged"], 0.05)

    def test_logistic_fit_recovers_a_known_slope(self):
        rng = np.random.default_rng(0)
        x = rng.normal(size=(4000, 1))
        y = (rng.random(4000) < 1 / (1 + np.exp(-(2.0 * x[:, 0] - 1.0)))).astype(float)
        w = indicator_fusion.fit_logistic(x, y, l2=0.0)
        self.assertAlmostEqual(w[0], 2.0, delta=0.2)
        self.assertAlmostEqual(w[1], -1.0, delta=0.15)

    def test_command_line(self):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            self.assertEqual(indicator_fusion.main([self.manifest, self.jsonl, "--per-attack"]), 0)
        text = out.getvalue().splitlines()
        self.assertEqual(sum(line.startswith(("detector", "voice", "prosody", "all"))
                             for line in text), 4)
        listed = io.StringIO()
        with contextlib.redirect_stdout(listed):
            indicator_fusion.main(["--list", self.manifest, "test"])
        paths = listed.getvalue().split()
        self.assertEqual(len(paths), 300)
        self.assertTrue(all("/clips/test/" in p for p in paths))


if __name__ == "__main__":
    unittest.main()
