#!/usr/bin/python3
"""Unit tests of the corpus builder's pure parts.

  /usr/bin/python3 -m unittest discover -s tools/corpus -p 'test_*.py' -v

Tests that need an installed Debian package (sky.dsk, ffmpeg) skip when it is missing.
"""

from __future__ import annotations

import json
import shutil
import struct
import sys
import tempfile
import unittest
import warnings
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from unittest import mock

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import channel  # noqa: E402
import concat  # noqa: E402
import common  # noqa: E402
import degrade  # noqa: E402
import genuine  # noqa: E402
import rnc  # noqa: E402
import shortcut_check  # noqa: E402
import texts  # noqa: E402
import tts  # noqa: E402
import vocode  # noqa: E402
import build_corpus  # noqa: E402

SKY = Path("/usr/share/scummvm/beneath-a-steel-sky")


class GuardTest(unittest.TestCase):
    def test_refuses_reserved_names_and_paths(self) -> None:
        for name in ["asterisk-core-sounds-en-gsm", "asterisk-prompt-de", "asterisk-moh-opsound-wav",
                     "fillets-ng-data-nl", "rhvoice-english", "RHVoice", "open-jtalk",
                     "open-jtalk-mecab-naist-jdic", "hts-voice-nitech-jp-atr503-m001",
                     "/usr/share/asterisk/sounds/en/hello.gsm",
                     "/usr/share/games/fillets-ng/sound/gods/nl/b1-1.ogg",
                     "/usr/share/hts-voice/nitech-jp-atr503-m001/x.htsvoice"]:
            with self.assertRaises(common.ReservedSourceError, msg=name):
                common.guard(name)

    def test_allows_used_sources(self) -> None:
        for name in ["fillets-ng-data-cs", "/usr/share/games/fillets-ng/sound/gods/cs/b1-1.ogg",
                     "festvox-us-slt-hts", "/usr/share/festival/voices/us/cmu_us_slt_arctic_hts",
                     "flight-of-the-amazon-queen", "mbrola-us1"]:
            common.guard(name)


class RunTest(unittest.TestCase):
    def test_a_tool_timeout_is_one_clear_message_and_exit_status_one(self) -> None:
        import io  # noqa: PLC0415
        import subprocess  # noqa: PLC0415
        timeout = subprocess.TimeoutExpired(["ffmpeg", "-i", "19.wav"], 300)
        err = io.StringIO()
        with mock.patch.object(build_corpus, "main", side_effect=timeout), \
                mock.patch.object(sys, "stderr", err):
            self.assertEqual(build_corpus.run(), 1)
        self.assertIn("did not finish within 300 s: ffmpeg -i 19.wav", err.getvalue())
        self.assertIn("run the same command again", err.getvalue())
        with mock.patch.object(build_corpus, "main", return_value=0):
            self.assertEqual(build_corpus.run(), 0)
        with mock.patch.object(build_corpus, "main", side_effect=ValueError("other")):
            with self.assertRaises(ValueError):
                build_corpus.run()


class G711Test(unittest.TestCase):
    def test_matches_reference_tables(self) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            try:
                import audioop  # Python <= 3.12: the ITU/Sun reference implementation in C
            except ImportError:
                self.skipTest("audioop not available")
        x = np.arange(-32768, 32768, dtype=np.int16)
        codes = np.arange(256, dtype=np.uint8)
        ref_mu = np.frombuffer(audioop.lin2ulaw(x.tobytes(), 2), dtype=np.uint8)
        ref_a = np.frombuffer(audioop.lin2alaw(x.tobytes(), 2), dtype=np.uint8)
        np.testing.assert_array_equal(channel.mulaw_encode(x), ref_mu)
        np.testing.assert_array_equal(channel.alaw_encode(x), ref_a)
        np.testing.assert_array_equal(
            channel.mulaw_decode(codes),
            np.frombuffer(audioop.ulaw2lin(codes.tobytes(), 2), dtype=np.int16))
        np.testing.assert_array_equal(
            channel.alaw_decode(codes),
            np.frombuffer(audioop.alaw2lin(codes.tobytes(), 2), dtype=np.int16))


class ChainTest(unittest.TestCase):
    def test_deterministic_and_in_range(self) -> None:
        rng = np.random.default_rng(1)
        t = np.arange(3 * 16000) / 16000.0
        x = 0.3 * np.sin(2 * np.pi * 440 * t) * (rng.random(len(t)) > 0.01)
        x = np.concatenate([np.zeros(8000), x, np.zeros(8000)]).astype(np.float32)
        p = channel.draw_params("unit-test-clip", 0)
        p["codec"] = "alaw"
        y1 = channel.apply_chain(x, p)
        y2 = channel.apply_chain(x, p)
        np.testing.assert_array_equal(y1, y2)
        # trimmed (0.5 s silence each side removed, 0.1 s margin kept) and resampled to 8 kHz
        self.assertAlmostEqual(len(y1) / 8000.0, 3.2, delta=0.05)
        rms_db = 20 * np.log10(np.sqrt(np.mean(y1**2)))
        self.assertAlmostEqual(rms_db, p["level_dbfs"], delta=1.0)

    def test_draws_cover_codecs(self) -> None:
        codecs = {channel.draw_params(f"id{i}", 0)["codec"] for i in range(400)}
        for fam in ["mulaw", "alaw", "gsm", "g726-16", "g726-40", "opus-6k", "opus-16k", "speex"]:
            self.assertIn(fam, codecs)


class TrimSplitTest(unittest.TestCase):
    def test_split_respects_limits(self) -> None:
        rng = np.random.default_rng(3)
        rate = 16000
        parts = []
        for _ in range(12):  # 12 "words" of 1.5 s with 0.4 s pauses
            parts.append(0.2 * rng.standard_normal(int(1.5 * rate)))
            parts.append(np.zeros(int(0.4 * rate)))
        x = np.concatenate(parts).astype(np.float32)
        pieces = common.split_at_pauses(x, rate, np.random.default_rng(0))
        self.assertGreater(len(pieces), 1)
        for p in pieces:
            self.assertLessEqual(len(p), common.MAX_CLIP_S * rate)


class EerTest(unittest.TestCase):
    def test_eer_values(self) -> None:
        rng = np.random.default_rng(0)
        same = shortcut_check.eer_both(rng.normal(0, 1, 4000), rng.normal(0, 1, 4000))[0]
        self.assertGreater(same, 0.45)
        sep = shortcut_check.eer_both(np.array([1.0, 2.0, 3.0]), np.array([-1.0, -2.0]))[0]
        self.assertEqual(sep, 0.0)
        flipped = shortcut_check.eer_both(np.array([-1.0, -2.0]), np.array([1.0, 2.0, 3.0]))
        self.assertEqual(flipped, (0.0, "lower=genuine"))


class ConcatTest(unittest.TestCase):
    RATE = concat.RAW_RATE_HZ

    def sine(self, hz: float, seconds: float, phase: float) -> np.ndarray:
        t = np.arange(int(seconds * self.RATE)) / self.RATE
        return np.sin(2 * np.pi * hz * t + phase)

    def test_joins_are_phase_aligned(self) -> None:
        """Units of one tone cut at random places rejoin without a phase jump: the output's
        largest sample-to-sample step is that of the pure tone. Without the alignment the joins
        of clips with other phases would jump."""
        rng = np.random.default_rng(3)
        db = concat.Database([self.sine(200.0, 1.0, float(rng.uniform(0, 2 * np.pi)))
                              for _ in range(5)])
        y = concat.concatenate(db, 3.0, np.random.default_rng(0))
        self.assertEqual(y.size, 3 * self.RATE)
        tone_step = 2 * np.pi * 200.0 / self.RATE * concat.TARGET_RMS * np.sqrt(2)
        self.assertLess(float(np.max(np.abs(np.diff(y)))), 1.05 * tone_step)
        # and the level of every 10 ms stays the tone's
        rms = np.sqrt(np.mean(y.reshape(-1, concat.HOP) ** 2, axis=1))
        np.testing.assert_allclose(rms, concat.TARGET_RMS, rtol=0.05)

    def test_units_are_copies_of_the_database(self) -> None:
        rng = np.random.default_rng(4)
        clips = [rng.standard_normal(self.RATE) * np.hanning(self.RATE) for _ in range(4)]
        db = concat.Database(clips)
        y = concat.concatenate(db, 2.0, np.random.default_rng(1))
        # every 2.5 ms block away from the 5 ms cross-fades is found verbatim in a database clip
        found = 0
        blocks = range(0, y.size - 40, 400)
        for start in blocks:
            block = y[start:start + 40]
            found += any(np.any(np.all(np.isclose(np.lib.stride_tricks.sliding_window_view(
                a, 40), block, atol=1e-12), axis=1)) for a in db.audio)
        self.assertGreater(found, 0.8 * len(blocks))
        # and a second run with the same generator state is identical
        np.testing.assert_array_equal(y, concat.concatenate(db, 2.0, np.random.default_rng(1)))

    def test_best_unit_matches_the_natural_continuation(self) -> None:
        """With a database of one low and one high tone, the unit that follows a place in the
        low tone is taken from the low tone."""
        db = concat.Database([self.sine(300.0, 1.0, 0.0), self.sine(1500.0, 1.0, 0.0),
                              self.sine(300.0, 1.0, 1.0)])
        for seed in range(20):
            clip, _ = db.best_unit(0, 50, np.random.default_rng(seed))
            self.assertIn(clip, (0, 2))

    def test_plan_takes_known_speakers_of_train_and_dev(self) -> None:
        def rows(speaker: str, split: str, n: int) -> list[dict]:
            return [{"file": f"{speaker}{i}.wav", "source": "src", "package": "src",
                     "speaker": speaker, "split": split} for i in range(n)]
        genuine = {"src": rows("a", "train", 40) + rows("b-unknown", "train", 40) +
                   rows("c", "train", 10) + rows("d", "dev", 30) + rows("e", "test", 50)}
        plan = concat.plan(genuine, {"train": 1.0, "dev": 0.3})
        self.assertEqual([(s, len(r), n) for s, r, n in plan], [("a", 40, 40), ("d", 30, 9)])


class UnitSelectionTextTest(unittest.TestCase):
    @unittest.skipUnless(texts.festvox_ru_prompts(), "festvox-ru is not installed")
    def test_clunits_voice_never_reads_its_own_prompts(self) -> None:
        """Unit selection reading a recorded prompt would replay that recording."""
        voice = next(v for v in tts.VOICES if v.attack == "festival-clunits")
        picked = [text for _, text in tts.pick_sentences(voice, 200)]
        self.assertEqual(len(picked), 200)
        prompts = set(texts.festvox_ru_prompt_sentences())
        self.assertGreater(len(prompts), 100)
        self.assertFalse(set(picked) & prompts)
        # the prompts are in the general Russian pool, so the exclusion is what keeps them out
        self.assertTrue(set(texts.sentences("ru")) & prompts)


class VocodePlanTest(unittest.TestCase):
    ROWS = {"clean": [{"file": f"c{i}.wav", "split": "train" if i % 2 else "test"}
                      for i in range(400)],
            "other": [{"file": f"o{i}.wav", "split": "train"} for i in range(400)]}

    @staticmethod
    def _count(plan, source: str, split: str) -> int:
        return sum(1 for r, _, _ in plan if r["file"][0] == source[0] and r["split"] == split)

    def test_expected_copies_per_source(self) -> None:
        plan = vocode.plan(self.ROWS, 1.0, 0.3, {"clean"})
        self.assertEqual(self._count(plan, "clean", "train"), 200)
        self.assertEqual(self._count(plan, "clean", "test"), 200)
        self.assertAlmostEqual(self._count(plan, "other", "train") / 400, 0.3, delta=0.07)

    def test_train_copies_only_add_to_train(self) -> None:
        base = vocode.plan(self.ROWS, 1.0, 0.3, {"clean"})
        more = vocode.plan(self.ROWS, 1.0, 0.3, {"clean"}, train_copies=2.5)
        key = lambda p: {(r["file"], attack, setting) for r, attack, setting in p}  # noqa: E731
        self.assertTrue(key(base) <= key(more), "copies planned before must stay planned")
        self.assertEqual(self._count(more, "clean", "test"), 200, "test split unchanged")
        self.assertAlmostEqual(self._count(more, "other", "train") / 400, 2.5, delta=0.1)
        self.assertAlmostEqual(self._count(more, "clean", "train") / 200, 2.5, delta=0.15)
        per_clip = Counter(r["file"] for r, _, _ in more)
        self.assertLessEqual(max(per_clip.values()), len(vocode.VOCODERS))


@unittest.skipUnless(shutil.which("ffmpeg"), "ffmpeg is not installed (tools/install-deps.sh corpus)")
class DecodeTest(unittest.TestCase):
    """Resampling is deterministic: with 16-bit output, soxr dithered from a seed of its own, so
    two decodes of one file differed by up to 2 LSB and no two corpus builds were the same."""

    def test_two_decodes_of_one_file_are_identical(self) -> None:
        with tempfile.TemporaryDirectory() as d:
            path = Path(d) / "tone-8k.wav"
            t = np.arange(2 * common.PHONE_RATE_HZ) / common.PHONE_RATE_HZ
            x = 0.2 * np.sin(2 * np.pi * 440 * t) + 0.05 * np.random.default_rng(5).standard_normal(
                t.size)
            common.write_wav(path, x.astype(np.float32), common.PHONE_RATE_HZ)
            runs = [common.decode_audio(str(path)) for _ in range(3)]
        self.assertEqual(len(runs[0]), 2 * common.RAW_RATE_HZ)
        self.assertEqual(runs[0].dtype, np.float32)
        for other in runs[1:]:
            np.testing.assert_array_equal(runs[0], other)
        # the resampler, not a copy of the input: the tone's level survives the rate change
        self.assertAlmostEqual(float(np.std(runs[0])), float(np.std(x)), delta=0.01)


@unittest.skipUnless(shutil.which("ffmpeg") and shutil.which("espeak-ng") and shutil.which("mbrola")
                     and Path("/usr/share/mbrola/es1").exists(),
                     "espeak-ng, mbrola or mbrola-es1 is not installed (tools/install-deps.sh corpus)")
class MbrolaTest(unittest.TestCase):
    """An MBROLA voice gives the same clip every time, even one that warns about unknown
    diphones (through espeak-ng's mbrowrap, es1 gave four different clips in twelve concurrent
    runs, and two in three runs one after the other)."""

    def test_a_warning_voice_synthesises_the_same_clip_every_time(self) -> None:
        voice = next(v for v in tts.VOICES if v.name == "mb-es1")
        text = "La memoria de la desgracia es dulce y sirve de recreo en la prosperidad."

        def synth(dest: Path) -> np.ndarray:
            tts._synth_one(voice, text, dest, common.rng_for(1, "tts", "mb-es1", "s1"))
            return common.read_wav(dest)[0]

        with tempfile.TemporaryDirectory() as d, ThreadPoolExecutor(max_workers=3) as pool:
            clips = list(pool.map(synth, [Path(d) / f"{i}.wav" for i in range(6)]))
        self.assertGreater(len(clips[0]), common.RAW_RATE_HZ)  # seconds of speech, not an error
        for other in clips[1:]:
            np.testing.assert_array_equal(clips[0], other)


@unittest.skipUnless(shutil.which("ffmpeg"), "ffmpeg is not installed (tools/install-deps.sh corpus)")
class GenuineCapTest(unittest.TestCase):
    """--max-per-train-source: a larger cap for train sources appends clips to train and leaves
    every dev clip as it was."""

    @staticmethod
    def _fake_sources(root: Path) -> dict:
        rng = np.random.default_rng(3)
        items = {}
        for split in ("train", "dev"):
            items[split] = []
            for i in range(12):
                path = root / "in" / f"{split}{i}.wav"
                path.parent.mkdir(parents=True, exist_ok=True)
                t = np.arange(3 * common.RAW_RATE_HZ) / common.RAW_RATE_HZ
                x = 0.3 * np.sin(2 * np.pi * (150 + 10 * i) * t) * (1 + 0.3 * rng.random(t.size))
                common.write_wav(path, x.astype(np.float32), common.RAW_RATE_HZ)
                items[split].append(genuine.Item(key=f"{split}{i}", speaker="s", kind="file",
                                                 path=str(path)))
        return {f"fake-{split}": ((lambda s=split: list(items[s])), split)
                for split in ("train", "dev")}

    def test_train_cap_appends_and_dev_is_unchanged(self) -> None:
        with tempfile.TemporaryDirectory() as d:
            root = Path(d)
            with mock.patch.object(genuine, "SOURCES", self._fake_sources(root)), \
                    mock.patch.object(genuine, "guard", lambda *_: None):
                base = genuine.build_genuine(root / "c", 3, 1)
                more = genuine.build_genuine(root / "c", 3, 1, max_per_train_source=7)
        self.assertEqual([len(base["fake-train"]), len(base["fake-dev"])], [3, 3])
        self.assertEqual([len(more["fake-train"]), len(more["fake-dev"])], [7, 3])
        self.assertEqual(more["fake-train"][:3], base["fake-train"])
        self.assertEqual(more["fake-dev"], base["fake-dev"])


class HifiganRowsTest(unittest.TestCase):
    """Stage 4 takes the vocoder's copies: a copy younger than a minute is left for the next run
    while resynth.py may still be writing it, but once resynth wrote DONE every copy is taken
    (the fourteenth session's rebuild ran the builder right after resynth and lost 396)."""

    def test_young_copies_wait_only_without_done(self) -> None:
        with tempfile.TemporaryDirectory() as d:
            hifigan = Path(d) / "hifigan"
            (hifigan / "src-a").mkdir(parents=True)
            for name in ("x.wav", "y.wav", "orphan.wav"):
                (hifigan / "src-a" / name).write_bytes(b"RIFF")  # just written: young
            genuine_rows = {"src-a": [
                {"file": n, "source": "src-a", "package": "pkg-a", "speaker": "s", "split": "dev"}
                for n in ("x.wav", "y.wav")]}
            with mock.patch.object(build_corpus, "guard", lambda *_: None):
                before = build_corpus.hifigan_rows(Path(d), hifigan, genuine_rows)
                (hifigan / "DONE").write_text("{}")
                after = build_corpus.hifigan_rows(Path(d), hifigan, genuine_rows)
        self.assertEqual(before, [])
        self.assertEqual(sorted(r["file"] for r in after), ["x.wav", "y.wav"])
        self.assertTrue(all(r["attack"] == "hifigan" and r["split"] == "dev" for r in after))


class BabblePoolTest(unittest.TestCase):
    """A split's babble pool, and so every clip chained with babble noise, must not depend on
    which runs built the corpus: HiFi-GAN copies arrive in a later run, concatenated speech is
    opt-in. A pool that changed under chained clips is refused, not silently mixed."""

    @staticmethod
    def items(out: Path, with_late: bool) -> list[dict]:
        rows = []
        for split in build_corpus.SPLITS:
            for i in range(40):
                rows.append({"abs": str(out / "raw" / "genuine" / f"{split}-{i}.wav"),
                             "split": split, "label": "genuine", "attack": "genuine"})
                rows.append({"abs": str(out / "raw" / "synthetic" / "lpc" / f"{split}-{i}.wav"),
                             "split": split, "label": "synthetic", "attack": "lpc"})
                if with_late:
                    for attack in ("hifigan", concat.ATTACK):
                        rows.append({"abs": str(out / "raw" / "synthetic" / attack /
                                                f"{split}-{i}.wav"),
                                     "split": split, "label": "synthetic", "attack": attack})
        return rows

    def test_late_and_opt_in_clips_never_move_a_pool(self) -> None:
        out = Path("/corpus")
        early = build_corpus.babble_pools(self.items(out, with_late=False))
        late = build_corpus.babble_pools(self.items(out, with_late=True))
        self.assertEqual(early, late)
        for split in build_corpus.SPLITS:
            pool = early[split]
            self.assertEqual(len(pool), 2 * build_corpus.BABBLE_PER_LABEL)
            self.assertEqual(len(set(pool)), len(pool))
            self.assertTrue(all(f"/{split}-" in p for p in pool))
            self.assertEqual(sum("/genuine/" in p for p in pool), build_corpus.BABBLE_PER_LABEL)
        self.assertNotEqual([Path(p).name for p in early["dev"]],
                            [Path(p).name for p in early["test"]])

    def test_a_pool_that_changed_under_chained_clips_is_refused(self) -> None:
        with tempfile.TemporaryDirectory() as d:
            out = Path(d)
            pools = build_corpus.babble_pools(self.items(out, with_late=False))
            build_corpus.check_babble_pools(out, pools)  # first run: written
            kept = json.loads((out / build_corpus.BABBLE_POOLS_FILE).read_text())
            self.assertEqual(kept["dev"][0], str(Path(pools["dev"][0]).relative_to(out)))
            build_corpus.check_babble_pools(out, pools)  # same pools: fine
            other = dict(pools, dev=pools["dev"][1:] + pools["dev"][:1])
            build_corpus.check_babble_pools(out, other)  # no dev clips chained yet: fine
            (out / "clips" / "dev" / "genuine").mkdir(parents=True)
            (out / "clips" / "dev" / "genuine" / "x.wav").write_bytes(b"RIFF")
            with self.assertRaises(SystemExit) as refused:
                build_corpus.check_babble_pools(out, pools)
            self.assertIn("babble pool of dev differs", str(refused.exception))
            self.assertIn(str(out / "clips" / "dev"), str(refused.exception))
            self.assertEqual(json.loads((out / build_corpus.BABBLE_POOLS_FILE).read_text())["dev"],
                             [str(Path(p).relative_to(out)) for p in other["dev"]])


class CodecCopyTest(unittest.TestCase):
    """codec2-examples' 2400 bit/s codec outputs of its own recordings are chained like every
    clip and left out of the manifest; their vocoded copies and every other clip stay."""

    def test_codec_copies_are_chained_but_not_in_the_manifest(self) -> None:
        self.assertTrue(genuine.is_codec_copy("codec2-examples", "wav_m2400__p0.wav"))
        self.assertTrue(genuine.is_codec_copy("codec2-examples", "wav_f2400.wav"))
        self.assertFalse(genuine.is_codec_copy("codec2-examples", "wav_morig__p0.wav"))
        self.assertFalse(genuine.is_codec_copy("codec2-examples", "wav_m2400x__p0.wav"))
        self.assertFalse(genuine.is_codec_copy("festvox-ru", "wav_m2400__p0.wav"))
        with tempfile.TemporaryDirectory() as d:
            out = Path(d)
            items = []
            for stem, label, attack in (("wav_m2400__p0", "genuine", "bonafide"),
                                        ("wav_f2400__p1", "genuine", "bonafide"),
                                        ("wav_morig__p0", "genuine", "bonafide"),
                                        ("wav_m2400__p0", "synthetic", "sptk-mlsa")):
                kind = "gen" if label == "genuine" else f"voc__{attack}"
                items.append({"abs": str(out / "raw" / label / attack / f"{stem}.wav"),
                              "id": f"{kind}__codec2-examples__{stem}", "file": f"{stem}.wav",
                              "label": label, "split": "test", "source": "codec2-examples",
                              "package": "codec2-examples", "speaker": f"codec2-{stem[4:9]}",
                              "attack": attack})
            for it in items:  # already chained: run_chain only writes the manifest rows
                clip = out / "clips" / "test" / it["label"] / f"{it['id']}.wav"
                clip.parent.mkdir(parents=True, exist_ok=True)
                common.write_wav(clip, np.zeros(800, dtype=np.float32), 8000)
            manifest, left_out = build_corpus.run_chain(out, items, 1, 1, 1)
        self.assertEqual(sorted(Path(r["path"]).stem for r in manifest),
                         ["gen__codec2-examples__wav_morig__p0",
                          "voc__sptk-mlsa__codec2-examples__wav_m2400__p0"])
        self.assertEqual(sorted(Path(p).stem for p in left_out),
                         ["gen__codec2-examples__wav_f2400__p1",
                          "gen__codec2-examples__wav_m2400__p0"])


class DegradeTest(unittest.TestCase):
    """degrade.py: the channel degradations that a share of train clips gets before the chain."""

    RATE = common.RAW_RATE_HZ

    def sine(self, hz: float, seconds: float = 1.0, amplitude: float = 0.5) -> np.ndarray:
        return amplitude * np.sin(2 * np.pi * hz * np.arange(int(seconds * self.RATE)) /
                                  self.RATE)

    @staticmethod
    def rms(x: np.ndarray) -> float:
        return float(np.sqrt(np.mean(x ** 2)))

    def test_draws_are_deterministic_cover_every_kind_and_stay_in_range(self) -> None:
        draws = [degrade.draw("seed", f"clip{i}") for i in range(2000)]
        self.assertEqual(draws[:50], [degrade.draw("seed", f"clip{i}") for i in range(50)])
        self.assertNotEqual(draws[:50], [degrade.draw("other", f"clip{i}") for i in range(50)])
        kinds = Counter(d["kind"] for d in draws)
        for kind, weight in zip(degrade.KINDS, degrade.KIND_WEIGHTS):
            self.assertAlmostEqual(kinds[kind] / len(draws), weight, delta=0.04)
        for d in draws:
            if d["kind"] == "reverb":
                self.assertTrue(0.15 <= d["rt60_s"] <= 0.9 and -6 <= d["drr_db"] <= 6)
                self.assertTrue(3 <= d["reflections"] <= 8)
            elif d["kind"] == "narrowband":
                self.assertTrue(300 <= d["low_hz"] <= 700 and 2000 <= d["high_hz"] <= 3200)
            elif d["kind"] == "clipped":
                self.assertTrue(0.1 <= d["fraction"] <= 0.5)
            else:
                self.assertTrue(10 <= d["window_ms"] <= 40 and 0.5 <= d["exponent"] <= 0.9)

    def test_picked_share_and_nesting(self) -> None:
        ids = [f"clip{i}" for i in range(3000)]
        small = {i for i in ids if degrade.picked("seed", i, 0.1)}
        large = {i for i in ids if degrade.picked("seed", i, 0.3)}
        self.assertAlmostEqual(len(large) / len(ids), 0.3, delta=0.03)
        self.assertAlmostEqual(len(small) / len(ids), 0.1, delta=0.02)
        self.assertTrue(small <= large)
        self.assertFalse(any(degrade.picked("seed", i, 0.0) for i in ids))

    def test_narrowband_keeps_the_band_only(self) -> None:
        mid = slice(2000, -2000)
        d = {"kind": "narrowband", "low_hz": 500.0, "high_hz": 2500.0}
        inside = degrade.bandpass(self.sine(1000), 500.0, 2500.0)
        self.assertAlmostEqual(self.rms(inside[mid]), self.rms(self.sine(1000)), delta=0.02)
        for hz in (150, 3800):
            self.assertLess(self.rms(degrade.bandpass(self.sine(hz), 500.0, 2500.0)[mid]),
                            0.02 * self.rms(self.sine(hz)), hz)
        both = self.sine(150) + self.sine(1000)  # through apply: only the 1 kHz sine is left
        y = degrade.apply(both, d)[mid]
        spec = np.abs(np.fft.rfft(y))
        f = np.fft.rfftfreq(len(y), 1.0 / self.RATE)
        self.assertLess(spec[np.argmin(np.abs(f - 150))], 0.02 * spec[np.argmin(np.abs(f - 1000))])

    def test_clipping_flattens_the_peaks_and_keeps_the_peak_level(self) -> None:
        x = self.sine(300)
        y = degrade.apply(x, {"kind": "clipped", "fraction": 0.25})
        self.assertAlmostEqual(float(np.max(np.abs(y))), float(np.max(np.abs(x))), places=9)
        at_peak = np.mean(np.abs(y) > 0.999 * np.max(np.abs(y)))
        self.assertGreater(at_peak, 0.8)  # a sine clipped at a quarter is nearly square

    def test_agc_narrows_the_level_difference(self) -> None:
        x = np.concatenate([self.sine(200, 0.5, 0.005), self.sine(200, 0.5, 0.5)])
        y = degrade.agc(x, 20.0, 0.5)
        ratio = self.rms(y[10000:14000]) / self.rms(y[2000:6000])
        self.assertAlmostEqual(ratio, 100 ** 0.5, delta=0.1 * 100 ** 0.5)  # was 100

    def test_room_response_direct_path_ratio_and_decay(self) -> None:
        ir = degrade.room_response(0.6, 0.5, 3.0, 0, seed=7)
        self.assertEqual(len(ir), int(0.6 * self.RATE))
        self.assertEqual(float(ir[0]), 1.0)
        self.assertAlmostEqual(10 * np.log10(1.0 / np.sum(ir[1:] ** 2)), 3.0, places=6)
        np.testing.assert_array_equal(ir, degrade.room_response(0.6, 0.5, 3.0, 0, seed=7))
        # high frequencies die away faster than low ones
        def band_share(seg: np.ndarray) -> float:
            spec = np.abs(np.fft.rfft(seg)) ** 2
            f = np.fft.rfftfreq(len(seg), 1.0 / self.RATE)
            return float(np.sum(spec[f > 2000]) / np.sum(spec))
        early, late = ir[int(0.01 * self.RATE):int(0.1 * self.RATE)], ir[int(0.3 * self.RATE):]
        self.assertLess(band_share(late), 0.5 * band_share(early))
        with_reflections = degrade.room_response(0.6, 0.5, 3.0, 5, seed=7)
        self.assertGreater(np.count_nonzero(with_reflections[:int(0.025 * self.RATE)] != ir[
            :int(0.025 * self.RATE)]), 0)

    def test_reverberate_is_the_direct_convolution(self) -> None:
        rng = np.random.default_rng(5)
        for n, taps in [(1, 1), (7, 3), (3, 40), (4000, 1), (16000, 4801)]:
            x, ir = rng.standard_normal(n), rng.standard_normal(taps)
            y = degrade.reverberate(x, ir)
            self.assertEqual(len(y), n)
            np.testing.assert_allclose(y, np.convolve(x, ir)[:n], rtol=0, atol=1e-9)
        impulse = np.zeros(100)
        impulse[10] = 1.0
        self.assertEqual(int(np.argmax(degrade.reverberate(impulse, np.r_[0.0, 0.0, 1.0]))), 12)

    def test_every_kind_keeps_length_and_peak(self) -> None:
        x = self.sine(700, 0.7) * np.linspace(0.1, 1.0, int(0.7 * self.RATE))
        for i in range(40):
            d = degrade.draw("seed", f"c{i}")
            y = degrade.apply(x, d)
            self.assertEqual(len(y), len(x), d)
            self.assertAlmostEqual(float(np.max(np.abs(y))), float(np.max(np.abs(x))), places=9)
        with self.assertRaises(ValueError):
            degrade.apply(x, {"kind": "telephone"})

    def test_run_chain_adds_degraded_train_copies_only(self) -> None:
        with tempfile.TemporaryDirectory() as d:
            out = Path(d)
            items = []
            for split in ("train", "dev"):
                for n in range(30):
                    stem = f"s{n:02d}"
                    items.append({"abs": str(out / "raw" / f"{split}{stem}.wav"),
                                  "id": f"gen__src-{split}__{stem}", "file": f"{stem}.wav",
                                  "label": "genuine", "split": split, "source": f"src-{split}",
                                  "package": f"src-{split}", "speaker": "spk",
                                  "attack": "bonafide"})
            share = 0.5
            expected = set()
            for it in items:  # already chained: run_chain only writes the manifest rows
                names = [it["id"]]
                if it["split"] == "train" and degrade.picked(channel.GLOBAL_SEED, it["id"],
                                                             share):
                    kind = degrade.draw(channel.GLOBAL_SEED, it["id"])["kind"]
                    names.append(f"{it['id']}__d-{kind}")
                    expected.add(names[-1])
                for name in names:
                    clip = out / "clips" / it["split"] / "genuine" / f"{name}.wav"
                    clip.parent.mkdir(parents=True, exist_ok=True)
                    common.write_wav(clip, np.zeros(800, dtype=np.float32), 8000)
            manifest, _ = build_corpus.run_chain(out, items, 1, 1, 1, share)
            plain, _ = build_corpus.run_chain(out, items, 1, 1, 1)
        degraded = {Path(r["path"]).stem: r for r in manifest if "__d-" in r["path"]}
        self.assertEqual(set(degraded), expected)
        self.assertTrue(5 <= len(expected) <= 25)
        self.assertTrue(all(r["split"] == "train" for r in degraded.values()))
        for stem, r in degraded.items():  # the first copy's chain draw
            self.assertEqual(r["codec"], channel.draw_params(stem.split("__d-")[0], 0)["codec"])
        self.assertEqual(len(plain), 60)
        self.assertEqual(len(manifest), 60 + len(expected))
        self.assertEqual(build_corpus.degraded_counts(manifest),
                         {"genuine": dict(Counter(s.split("__d-")[1] for s in expected))})

    def test_a_degraded_copy_differs_from_the_plain_one_only_by_the_degradation(self) -> None:
        clip_id = next(f"gen__unit__c{i}" for i in range(200)
                       if channel.draw_params(f"gen__unit__c{i}", 0)["codec"] == "mulaw")
        x = (self.sine(440, 1.5) * (1 + 0.5 * self.sine(3, 1.5))).astype(np.float32)
        d = {"kind": "clipped", "fraction": 0.3}
        with tempfile.TemporaryDirectory() as tmp:
            src = Path(tmp) / "raw.wav"
            common.write_wav(src, x, self.RATE)
            plain, degraded = Path(tmp) / "plain.wav", Path(tmp) / "degraded.wav"
            self.assertEqual(channel.chain_job((str(src), str(plain), clip_id, 0, "")), (
                str(plain), ""))
            self.assertEqual(channel.chain_job((str(src), str(degraded), clip_id, 0, "", d)), (
                str(degraded), ""))
            y_plain, _ = common.read_wav(plain)
            y_degraded, _ = common.read_wav(degraded)
            x16, _ = common.read_wav(src)
        expected = channel.apply_chain(degrade.apply(x16, d), channel.draw_params(clip_id, 0))
        np.testing.assert_allclose(y_degraded, expected, atol=1e-4)
        self.assertEqual(len(y_plain), len(y_degraded))
        self.assertGreater(float(np.max(np.abs(y_plain - y_degraded))), 0.01)


class BuilderVersionTest(unittest.TestCase):
    """A corpus made by another builder version is refused instead of mixed with this one's."""

    def test_an_older_corpus_is_refused_and_a_new_one_stamped(self) -> None:
        with tempfile.TemporaryDirectory() as d:
            fresh = Path(d) / "fresh"
            fresh.mkdir()
            build_corpus.check_builder_version(fresh)
            self.assertEqual((fresh / build_corpus.BUILDER_VERSION_FILE).read_text().strip(),
                             str(build_corpus.BUILDER_VERSION))
            build_corpus.check_builder_version(fresh)  # a rerun of the same version: fine
            old = Path(d) / "old"
            (old / "raw" / "genuine").mkdir(parents=True)  # outputs, but no stamp
            with self.assertRaises(SystemExit) as refused:
                build_corpus.check_builder_version(old)
            self.assertIn("version 1", str(refused.exception))
            self.assertFalse((old / build_corpus.BUILDER_VERSION_FILE).exists())
            (fresh / build_corpus.BUILDER_VERSION_FILE).write_text("1\n")
            with self.assertRaises(SystemExit):
                build_corpus.check_builder_version(fresh)


class RncTest(unittest.TestCase):
    def test_crc16(self) -> None:
        self.assertEqual(rnc.crc16(b"123456789"), 0xBB3D)  # CRC-16/ARC check value

    @unittest.skipUnless((SKY / "sky.dsk").exists(), "beneath-a-steel-sky not installed")
    def test_unpacks_sky_speech_with_valid_crc(self) -> None:
        dnr = (SKY / "sky.dnr").read_bytes()
        n = struct.unpack("<I", dnr[:4])[0]
        done = 0
        with open(SKY / "sky.dsk", "rb") as dsk:
            for i in range(n):
                e = dnr[4 + 8 * i:12 + 8 * i]
                num = struct.unpack("<H", e[:2])[0]
                off = int.from_bytes(e[2:5], "little")
                flags = int.from_bytes(e[5:8], "little")
                if not 50000 <= num <= 59999 or flags & (1 << 22):
                    continue
                if off & 0x800000:
                    off = (off & 0x7FFFFF) << 4
                dsk.seek(off)
                data = dsk.read(flags & 0x3FFFFF)
                if not rnc.is_rnc1(data[22:]):
                    continue
                pcm = rnc.unpack(data[22:])  # raises on CRC mismatch
                flag, = struct.unpack("<H", data[:2])
                total = ((flag & 0xFF00) << 8) | struct.unpack("<H", data[12:14])[0]
                self.assertEqual(len(pcm) + 22, total)  # header's size field = header + payload
                done += 1
                if done == 3:
                    break
        self.assertEqual(done, 3)


if __name__ == "__main__":
    unittest.main()
