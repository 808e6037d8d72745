import contextlib
import io
import json
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
        manifest_rows.append(f"{path},{'synthetic' if synthetic else 'genuine'},{split},src{i % 2},"
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


def scored_clips(cls, dev_seed: int, test_seed: int) -> list:
    """Writes 150 clips per class of dev and test into a temporary folder kept as cls.tmp; sets
    cls.manifest and cls.jsonl; returns the analyze lines."""
    cls.tmp = tempfile.TemporaryDirectory()
    rows, lines = [], []
    write_split(cls.tmp.name, rows, lines, "dev", 150, seed=dev_seed)
    write_split(cls.tmp.name, rows, lines, "test", 150, seed=test_seed)
    cls.manifest, cls.jsonl = write_scored_clips(cls.tmp.name, rows, lines, "indicators.jsonl")
    return lines


class IndicatorFusionTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        scored_clips(cls, 3, 4)

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


class ExtraValuesTest(unittest.TestCase):
    """--extra: another tool's per-file values (band_harmonicity.py) fused like the indicators;
    --by-source: fitted on one dev source package, scored on another."""

    @classmethod
    def setUpClass(cls):
        lines = scored_clips(cls, 5, 6)
        root = cls.tmp.name
        rng = np.random.default_rng(7)
        extra = [{"file": line["file"], "band_harmonicity": {
            "h_b1": float(rng.normal(1.0 if "/syn" in line["file"] else 0.0, 0.5))}}
            for line in lines if line["llr"] is not None]
        extra.append({"file": os.path.join(root, "clips/dev/broken.wav"), "error": "unreadable"})
        cls.extra = os.path.join(root, "band.jsonl")
        with open(cls.extra, "w") as f:
            f.write("\n".join(json.dumps(line) for line in extra) + "\n")

    def test_extra_values_join_the_indicators_and_lower_the_eer(self):
        values = indicator_fusion.load_extra(self.extra)
        self.assertEqual(len(values), 600)  # the error line is skipped
        clips = indicator_fusion.load(self.manifest, self.jsonl, values)
        self.assertFalse(np.any(np.isnan(clips["test"].matrix(["h_b1", "hnr_db"]))))
        self.assertTrue(np.all(np.isnan(
            indicator_fusion.load(self.manifest, self.jsonl)["test"].matrix(["h_b1"]))))
        alone = indicator_fusion.evaluate("detector", [], clips["dev"], clips["test"])
        band = indicator_fusion.evaluate("band", ["h_b1"], clips["dev"], clips["test"])
        self.assertLess(band["test_eer"], alone["test_eer"] - 0.05)

    def test_across_sources_fits_on_one_source_and_scores_the_other(self):
        clips = indicator_fusion.load(self.manifest, self.jsonl,
                                      indicator_fusion.load_extra(self.extra))
        alone = indicator_fusion.across_sources([], clips["dev"])
        fused = indicator_fusion.across_sources(["h_b1", "hnr_db"], clips["dev"])
        self.assertEqual([(r["fit"], r["scored"]) for r in fused],
                         [("src0", "src1"), ("src1", "src0")])
        self.assertEqual(fused[0]["clips"], (150, 150))
        for a, f in zip(alone, fused):
            self.assertLess(f["eer"], a["eer"])

    def test_command_line_with_extra_values_by_source(self):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            self.assertEqual(indicator_fusion.main(
                [self.manifest, self.jsonl, "--extra", self.extra, "--by-source"]), 0)
        text = out.getvalue().splitlines()
        self.assertEqual(sum(line.startswith(("band ", "hnr+band", "all+band")) and "->" not in line
                             for line in text), 3)
        self.assertEqual(sum("dev src0 (150) -> src1 (150)" in line for line in text), 7)


if __name__ == "__main__":
    unittest.main()
