"""Stage 2: synthetic speech from offline TTS engines -> raw/synthetic/<attack>/<voice>/*.wav (16 kHz).

Voices are split into disjoint sets per split (train / dev / test); festival-clunits and
festival-hts only appear in test (attack families that training never sees).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import texts
from common import (RAW_RATE_HZ, clip_ok, decode_audio, guard, log, read_lines, rng_for,
                    write_lines_atomic, write_wav)

GLOBAL_SEED = "dvd-corpus-v1"


@dataclass(frozen=True)
class Voice:
    attack: str  # family name used in the manifest
    name: str  # folder name (filesystem safe)
    engine: str  # espeak, festival, flite, pico
    arg: str  # engine-specific voice argument
    lang: str  # text language
    split: str
    package: str  # Debian package that ships the voice (licence)
    encoding: str = "utf-8"  # text encoding for festival


def _espeak(arg: str, lang: str, split: str) -> Voice:
    return Voice("espeak-ng", arg.replace("+", "_"), "espeak", arg, lang, split, "espeak-ng-data")


def _mbrola(code: str, lang: str, split: str) -> Voice:
    return Voice("mbrola", f"mb-{code}", "espeak", f"mb-{code}", lang, split, f"mbrola-{code}")


VOICES: list[Voice] = [
    # espeak-ng set A (train), B (dev), C (test)
    _espeak("en-us", "en", "train"), _espeak("en-us+f3", "en", "train"),
    _espeak("en+m3", "en", "train"), _espeak("de", "de", "train"), _espeak("de+f2", "de", "train"),
    _espeak("es", "es", "train"), _espeak("es+m4", "es", "train"),
    _espeak("cs", "cs", "dev"), _espeak("cs+f3", "cs", "dev"), _espeak("fr", "fr", "dev"),
    _espeak("fr+m2", "fr", "dev"), _espeak("en-gb-x-rp+f4", "en", "dev"),
    _espeak("en-us+klatt", "en", "dev"),
    _espeak("ru", "ru", "test"), _espeak("ru+f3", "ru", "test"), _espeak("it", "it", "test"),
    _espeak("it+m5", "it", "test"), _espeak("en-gb-scotland+f1", "en", "test"),
    _espeak("en-us+m7", "en", "test"),
    # espeak-ng + MBROLA sets A / B / C
    _mbrola("us1", "en", "train"), _mbrola("de2", "de", "train"), _mbrola("es1", "es", "train"),
    _mbrola("us2", "en", "dev"), _mbrola("fr1", "fr", "dev"), _mbrola("cz2", "cs", "dev"),
    _mbrola("us3", "en", "test"), _mbrola("en1", "en", "test"), _mbrola("it3", "it", "test"),
    # festival diphone voices
    Voice("festival-diphone", "kal_diphone", "festival", "kal_diphone", "en", "train",
          "festvox-kallpc16k"),
    Voice("festival-diphone", "rab_diphone", "festival", "rab_diphone", "en", "train",
          "festvox-rablpc16k"),
    Voice("festival-diphone", "el_diphone", "festival", "el_diphone", "es", "train",
          "festvox-ellpc11k", "latin-1"),
    Voice("festival-diphone", "pc_diphone", "festival", "pc_diphone", "it", "train",
          "festvox-itapc16k", "latin-1"),
    Voice("festival-diphone", "don_diphone", "festival", "don_diphone", "en", "dev", "festvox-don"),
    Voice("festival-diphone", "lp_diphone", "festival", "lp_diphone", "it", "dev",
          "festvox-italp16k", "latin-1"),
    Voice("festival-diphone", "czech_dita", "festival", "czech_dita", "cs", "dev",
          "festvox-czech-dita", "iso-8859-2"),
    # festival unit selection (festvox-ru's speaker, so the speaker is paired with genuine test
    # speech; reading sentences he never recorded) and HTS: test only
    Voice("festival-clunits", "msu_ru_nsh_clunits", "festival", "msu_ru_nsh_clunits",
          "ru-unrecorded", "test", "festvox-ru"),
    Voice("festival-hts", "cmu_us_slt_arctic_hts", "festival", "cmu_us_slt_arctic_hts", "en",
          "test", "festvox-us-slt-hts"),
    # flite
    Voice("flite-diphone", "kal", "flite", "kal", "en", "train", "flite"),
    Voice("flite-diphone", "kal16", "flite", "kal16", "en", "train", "flite"),
    Voice("flite-clustergen", "rms", "flite", "rms", "en", "dev", "flite"),
    Voice("flite-clustergen", "awb", "flite", "awb", "en", "test", "flite"),
    Voice("flite-clustergen", "slt", "flite", "slt", "en", "test", "flite"),
    # SVOX pico
    Voice("pico", "en-US", "pico", "en-US", "en", "train", "libttspico-data"),
    Voice("pico", "de-DE", "pico", "de-DE", "de", "train", "libttspico-data"),
    Voice("pico", "es-ES", "pico", "es-ES", "es", "train", "libttspico-data"),
    Voice("pico", "en-GB", "pico", "en-GB", "en", "dev", "libttspico-data"),
    Voice("pico", "fr-FR", "pico", "fr-FR", "fr", "dev", "libttspico-data"),
    Voice("pico", "it-IT", "pico", "it-IT", "it", "test", "libttspico-data"),
]


def voice_available(v: Voice) -> bool:
    guard(v.package)
    guard(v.arg)
    tool = {"espeak": "espeak-ng", "festival": "festival", "flite": "flite", "pico": "pico2wave"}
    if shutil.which(tool[v.engine]) is None:
        return False
    if v.engine == "espeak" and v.arg.startswith("mb-"):
        return Path(f"/usr/share/mbrola/{v.arg[3:]}").exists()
    if v.engine == "festival":
        return any(Path("/usr/share/festival/voices").glob(f"*/{v.arg}"))
    return True


def pick_sentences(v: Voice, n: int) -> list[tuple[str, str]]:
    """[(utterance id, text)] for a voice, deterministic."""
    if v.lang == "ru-unrecorded":
        pool = texts.sentences_not_recorded_by_festvox_ru()
    else:
        pool = texts.sentences(v.lang)
    if not pool:
        return []
    order = rng_for(GLOBAL_SEED, "text", v.name).permutation(len(pool))
    return [(f"s{int(i):05d}", pool[int(i)]) for i in order[:n]]


def _scheme_string(s: str) -> str:
    return '"' + s.replace("\\", " ").replace('"', "'") + '"'


def synth_festival(v: Voice, jobs: list[tuple[str, str, Path]]) -> None:
    """One festival process per batch (loading a voice costs more than synthesising a line)."""
    with tempfile.TemporaryDirectory(prefix="dvd-fest-") as tmp:
        lines = ["(set! default_after_synth_hooks nil)", f"(voice_{v.arg})"]
        outs = []
        for i, (_, text, dest) in enumerate(jobs):
            if v.name != "msu_ru_nsh_clunits":
                text = text.replace("+", "")
            wav = Path(tmp) / f"{i}.wav"
            outs.append((wav, dest))
            lines.append(f"(set! utt (Utterance Text {_scheme_string(text)}))")
            lines.append("(utt.synth utt)")
            lines.append(f"(utt.save.wave utt \"{wav}\" 'riff)")
        script = Path(tmp) / "run.scm"
        script.write_bytes(("\n".join(lines) + "\n").encode(v.encoding, errors="replace"))
        subprocess.run(["festival", "-b", str(script)], capture_output=True, timeout=1800)
        for wav, dest in outs:
            if wav.exists() and wav.stat().st_size > 1000:
                _finish(decode_audio(str(wav)), dest)


# espeak-ng phonemes an MBROLA database lacks, and the ones it has for them: espeak-ng's es1
# table passes the Spanish vowels e/ and o/ through, and es1 rendered them as silence
MBROLA_PHONEME_FIXES = {"es1": {"e/": "e", "o/": "o"}}


def _synth_one(v: Voice, text: str, dest: Path, rng: np.random.Generator) -> None:
    with tempfile.TemporaryDirectory(prefix="dvd-tts-") as tmp:
        wav = Path(tmp) / "out.wav"
        if v.engine == "espeak":
            text = text.replace("+", "")
            speed = int(rng.integers(140, 191))
            pitch = int(rng.integers(35, 66))
            espeak = ["espeak-ng", "-v", v.arg, "-s", str(speed), "-p", str(pitch)]
            if v.arg.startswith("mb-"):
                _synth_mbrola(espeak, v.arg[3:], text, Path(tmp) / "in.pho", wav)
                cmd = []
            else:
                cmd = espeak + ["-w", str(wav), text]
        elif v.engine == "flite":
            cmd = ["flite", "-voice", v.arg, "-t", text, "-o", str(wav)]
        elif v.engine == "pico":
            cmd = ["pico2wave", "-l", v.arg, "-w", str(wav), text]
        else:
            raise ValueError(v.engine)
        if cmd:
            subprocess.run(cmd, capture_output=True, timeout=120)
        if wav.exists() and wav.stat().st_size > 1000:
            _finish(decode_audio(str(wav)), dest)


def _synth_mbrola(espeak: list[str], code: str, text: str, pho: Path, wav: Path) -> None:
    """espeak-ng + MBROLA in two steps: espeak-ng writes the phonemes (.pho), mbrola renders them.
    `espeak-ng -w` with an MBROLA voice pipes through its mbrowrap, whose reading of mbrola's
    output depends on timing: es1, which warned about every diphone with e/ or o/, came out
    different from run to run, and so did every clip that mixed it in as babble. For a voice
    without fixes (MBROLA_PHONEME_FIXES) the output is the wrapper's up to espeak-ng's volume
    gain, which the telephone chain's level normalisation removes; `mbrola -e` replaces a
    diphone still unknown with silence, as the wrapper's mbrola did."""
    subprocess.run(espeak + ["-q", "--pho", f"--phonout={pho}", text], capture_output=True,
                   timeout=120)
    if not pho.exists():
        return
    fixes = MBROLA_PHONEME_FIXES.get(code, {})
    if fixes:
        lines = []
        for line in pho.read_text().splitlines():
            fields = line.split("\t", 1)
            if fields[0] in fixes:
                fields[0] = fixes[fields[0]]
            lines.append("\t".join(fields))
        pho.write_text("\n".join(lines) + "\n")
    subprocess.run(["mbrola", "-e", f"/usr/share/mbrola/{code}/{code}", str(pho), str(wav)],
                   capture_output=True, timeout=120)


def _finish(x: np.ndarray, dest: Path) -> None:
    if len(x) and clip_ok(x, RAW_RATE_HZ):
        write_wav(dest, x, RAW_RATE_HZ)
    else:
        # remember the rejection so a rerun does not synthesise it again
        dest.with_suffix(".rejected").write_text("")


def _voice_task(args: tuple[Voice, list[tuple[str, str]], str]) -> None:
    v, sents, out_dir = args
    d = Path(out_dir)
    d.mkdir(parents=True, exist_ok=True)
    todo = [(uid, t, d / f"{uid}.wav") for uid, t in sents
            if not (d / f"{uid}.wav").exists() and not (d / f"{uid}.rejected").exists()]
    if not todo:
        return
    if v.engine == "festival":
        synth_festival(v, todo)
    else:
        for uid, t, dest in todo:
            try:
                _synth_one(v, t, dest, rng_for(GLOBAL_SEED, "tts", v.name, uid))
            except Exception as e:  # noqa: BLE001 -- keep going, report
                log(f"stage2 {v.attack}/{v.name}/{uid}: {e}")


def build_tts(out: Path, per_voice: dict[str, int], jobs: int) -> dict[str, list[dict]]:
    """per_voice: voice name -> number of clips wanted. Returns {voice key: index rows}."""
    tasks = []
    active = []
    for v in VOICES:
        n = per_voice.get(v.name, 0)
        if n <= 0:
            continue
        if not voice_available(v):
            log(f"stage2 {v.attack}/{v.name}: voice not installed; skipped")
            continue
        # ask for a few more sentences than needed: some come out shorter than 1.5 s
        sents = pick_sentences(v, int(n * 1.25) + 2)
        vdir = out / "raw" / "synthetic" / v.attack / v.name
        # festival: split into chunks so both workers stay busy
        chunk = 40 if v.engine == "festival" else max(1, len(sents))
        for i in range(0, len(sents), chunk):
            tasks.append((v, sents[i:i + chunk], str(vdir)))
        active.append((v, sents, vdir, n))
    # slowest first
    tasks.sort(key=lambda t: {"festival": 0, "flite": 1, "pico": 2, "espeak": 3}[t[0].engine])
    done = 0
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        for _ in pool.map(_voice_task, tasks):
            done += 1
            if done % 5 == 0 or done == len(tasks):
                log(f"stage2: {done}/{len(tasks)} synthesis batches")
    result = {}
    for v, sents, vdir, n in active:
        rows = []
        for uid, text in sents:
            if (vdir / f"{uid}.wav").exists() and len(rows) < n:
                rows.append({"file": f"{uid}.wav", "source": v.package, "package": v.package,
                             "speaker": f"{v.attack}:{v.name}", "split": v.split,
                             "label": "synthetic", "attack": v.attack, "voice": v.name,
                             "text": text})
        write_lines_atomic(vdir / "index.jsonl", rows)
        result[f"{v.attack}/{v.name}"] = rows
        log(f"stage2 {v.attack}/{v.name}: {len(rows)} clips ({v.split})")
    return result


def existing_index(out: Path) -> dict[str, list[dict]]:
    res = {}
    for v in VOICES:
        rows = read_lines(out / "raw" / "synthetic" / v.attack / v.name / "index.jsonl")
        if rows:
            res[f"{v.attack}/{v.name}"] = rows
    return res


