"""Stage 1: genuine (bona fide) speech from Debian packages -> raw/genuine/<source>/*.wav (16 kHz).

Every source lists "items" (one recording each); items are shuffled with a fixed seed and
processed in that order until the per-source cap of clips is reached, so a bigger cap extends a
smaller run instead of redoing it. Per-item results are cached in raw/genuine/<source>/items.jsonl
and the final list of clips in raw/genuine/<source>/index.jsonl.
"""

from __future__ import annotations

import re
import struct
import subprocess
import zipfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import rnc
from common import (MIN_CLIP_S, RAW_RATE_HZ, clip_ok, decode_audio, guard, log, read_lines,
                    rng_for, split_at_pauses, write_lines_atomic, write_wav)

GLOBAL_SEED = "dvd-corpus-v1"


@dataclass(frozen=True)
class Item:
    key: str  # unique, filesystem-safe name within the source
    speaker: str
    kind: str  # how to load: file, queen, sky, zip, raw16k, raw8k
    path: str
    offset: int = 0
    size: int = 0
    member: str = ""


def _pkg_files(pkg: str, pattern: str) -> list[str]:
    guard(pkg)
    out = subprocess.run(["dpkg", "-L", pkg], capture_output=True, text=True).stdout
    rx = re.compile(pattern)
    files = sorted(line for line in out.splitlines() if rx.search(line))
    for f in files:
        guard(f)
    return files


def _safe(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", s).strip("_")


# ---------------------------------------------------------------------------- source listings
def _items_queen() -> list[Item]:
    path = _pkg_files("flight-of-the-amazon-queen", r"queen\.1c$")[0]
    with open(path, "rb") as f:
        head = f.read(15)
        if head[:4] != b"QTBL":
            raise RuntimeError("queen.1c: bad magic")
        if head[12] != 1:
            raise RuntimeError("queen.1c: expected MP3 compression (flag 1)")
        n = struct.unpack(">H", head[13:15])[0]
        table = f.read(21 * n)
    items = []
    for i in range(n):
        e = table[21 * i:21 * (i + 1)]
        name = e[:12].split(b"\0")[0].decode("latin1")
        off, size = struct.unpack(">II", e[13:21])
        if not name.upper().endswith(".SB"):
            continue
        stem = name[:-3]
        # JOExxxx and dialogue lines ending in J<n> are Joe King's; other actors are not named.
        joe = stem.upper().startswith("JOE") or re.search(r"J\d$", stem.upper()) is not None
        speaker = "fotaq-joe" if joe else "flight-of-the-amazon-queen-unknown"
        items.append(Item(_safe(stem), speaker, "queen", path, off, size))
    return items


def _items_sky() -> list[Item]:
    dnr = _pkg_files("beneath-a-steel-sky", r"sky\.dnr$")[0]
    dsk = _pkg_files("beneath-a-steel-sky", r"sky\.dsk$")[0]
    data = Path(dnr).read_bytes()
    n = struct.unpack("<I", data[:4])[0]
    items = []
    for i in range(n):
        e = data[4 + 8 * i:12 + 8 * i]
        num = struct.unpack("<H", e[:2])[0]
        off = int.from_bytes(e[2:5], "little")
        flags = int.from_bytes(e[5:8], "little")
        if not 50000 <= num <= 59999:
            continue
        if flags & (1 << 22):  # headerless entries in this range are not speech
            continue
        if off & 0x800000:
            off = (off & 0x7FFFFF) << 4
        items.append(Item(f"sky{num}", "beneath-a-steel-sky-unknown", "sky", dsk, off,
                          flags & 0x3FFFFF))
    return items


def _items_tuxpaint() -> list[Item]:
    items = []
    for f in _pkg_files("tuxpaint-stamps-default", r"_desc(_[A-Za-z@]+)?\.ogg$"):
        m = re.search(r"/([^/]+)_desc(?:_([A-Za-z@]+))?\.ogg$", f)
        assert m
        lang = m.group(2) or "en"
        items.append(Item(_safe(f"{m.group(1)}_{lang}"), f"tuxpaint-{lang}", "file", f))
    return items


def _items_lang_tree(pkg: str, root: str) -> list[Item]:
    items = []
    for f in _pkg_files(pkg, r"\.(ogg|wav|opus)$"):
        rel = f.split(root, 1)[1] if root in f else Path(f).name
        lang = rel.split("/")[0]
        items.append(Item(_safe(rel.rsplit(".", 1)[0].replace("/", "_")),
                          f"{pkg.split('-')[0]}-{lang}", "file", f))
    return items


def _items_fillets() -> list[Item]:
    items = []
    for f in _pkg_files("fillets-ng-data-cs", r"/cs/[^/]+\.ogg$"):
        rel = f.split("/sound/", 1)[1]
        stem = Path(f).stem
        parts = stem.split("-")
        # names are <level>-<speaker code>-<line>; codes: m (small fish), v (big fish), others
        code = parts[1] if len(parts) >= 3 and 0 < len(parts[1]) <= 3 else ""
        speaker = f"fillets-cs-{code}" if code else "fillets-ng-data-cs-unknown"
        items.append(Item(_safe(rel.rsplit(".", 1)[0].replace("/cs/", "_").replace("/", "_")),
                          speaker, "file", f))
    return items


def _items_festvox_ru() -> list[Item]:
    return [Item(Path(f).stem, "festvox-ru-nsh", "file", f)
            for f in _pkg_files("festvox-ru", r"/wav/[^/]+\.wav$")]


def _items_codec2() -> list[Item]:
    skip = re.compile(r"(sine|test|700d|spread|datac|frames|all\.wav|_10s)")
    wavs = {Path(f).stem: f for f in _pkg_files("codec2-examples", r"/wav/[^/]+\.wav$")}
    raws = {Path(f).stem: f for f in _pkg_files("codec2-examples", r"/raw/[^/]+\.raw$")}
    items = []
    for stem, f in sorted(wavs.items()):
        if not skip.search(f):
            items.append(Item(f"wav_{stem}", f"codec2-{re.sub(r'(_16kHz|a)$', '', stem)}",
                              "file", f))
    for stem, f in sorted(raws.items()):
        if stem in wavs or skip.search(f):
            continue
        # hts1/hts1a, ve9qrp etc.: 8 kHz signed 16-bit raw, except speech_orig_16k handled above
        items.append(Item(f"raw_{stem}", f"codec2-{re.sub(r'a$', '', stem)}", "raw8k", f))
    return items


def _items_pocketsphinx() -> list[Item]:
    items = []
    for f in _pkg_files("pocketsphinx-testdata", r"\.(wav|raw)$"):
        rel = f.split("/test/data/", 1)[1]
        group = rel.split("/")[0] if "/" in rel else "misc"
        kind = "raw16k" if f.endswith(".raw") else "file"
        items.append(Item(_safe(rel.rsplit(".", 1)[0].replace("/", "_")), f"pocketsphinx-{group}",
                          kind, f))
    return items


_WZ_VOICE_DIRS = ("audio/tutorial", "audio/memressp", "audio/vtoltalk", "audio/nexus",
                  "audio/coltive", "audio/trnsppil", "audio/proxmessages", "audio/extra",
                  "audio/multi", "sequenceaudio")


def _items_warzone() -> list[Item]:
    path = _pkg_files("warzone2100-data", r"/base\.wz$")[0]
    items = []
    with zipfile.ZipFile(path) as z:
        for name in sorted(z.namelist()):
            if not name.endswith((".ogg", ".opus", ".wav")):
                continue
            if not name.startswith(_WZ_VOICE_DIRS):
                continue
            group = name.split("/")[1] if name.startswith("audio/") else "sequence"
            items.append(Item(_safe(name.rsplit(".", 1)[0].replace("/", "_")),
                              f"warzone2100-{group}", "zip", path, member=name))
    return items


# source name (= Debian package) -> (lister, split)
SOURCES: dict[str, tuple] = {
    "flight-of-the-amazon-queen": (_items_queen, "train"),
    "beneath-a-steel-sky": (_items_sky, "train"),
    "tuxpaint-stamps-default": (_items_tuxpaint, "train"),
    "klettres-data": (lambda: _items_lang_tree("klettres-data", "/klettres/"), "train"),
    "ktuberling-data": (lambda: _items_lang_tree("ktuberling-data", "/sounds/"), "train"),
    "fillets-ng-data-cs": (_items_fillets, "dev"),
    "warzone2100-data": (_items_warzone, "dev"),
    "festvox-ru": (_items_festvox_ru, "test"),
    "codec2-examples": (_items_codec2, "test"),
    "pocketsphinx-testdata": (_items_pocketsphinx, "test"),
}

# sources with studio-clean speech: vocoded most (detection.md section 5)
CLEAN_SOURCES = {"festvox-ru", "tuxpaint-stamps-default", "klettres-data", "ktuberling-data",
                 "fillets-ng-data-cs"}

# Recordings that are a speech codec's re-synthesis of another recording of the same package, not
# a microphone's: codec2-examples' f2400 and m2400 are its forig and morig through Codec 2 at
# 2400 bit/s, a harmonic vocoder (10 ms log-energy envelopes correlate at 0.95 and 0.97 with the
# originals'; no other pair of its recordings is a copy besides the package's own duplicates).
# The corpus calls such a copy synthetic when its own vocoders make it, so neither label fits.
# They stay in every stage (the babble pools are drawn from the sorted genuine items and the TTS
# and vocoding plans follow the genuine counts, so removing them there would change other clips)
# and are left out of the manifest; their vocoded copies stay in it, synthetic.
CODEC_COPIES = {"codec2-examples": frozenset({"wav_f2400", "wav_m2400"})}


def is_codec_copy(source: str, file: str) -> bool:
    """True for a raw genuine clip (index row "file", e.g. wav_f2400__p0.wav) cut from a
    recording in CODEC_COPIES."""
    return re.sub(r"__p\d+$", "", Path(file).stem) in CODEC_COPIES.get(source, ())


# ---------------------------------------------------------------------------- loading
def load_item(item: Item) -> np.ndarray:
    guard(item.path)
    if item.kind == "file":
        return decode_audio(item.path)
    if item.kind == "queen":
        with open(item.path, "rb") as f:
            f.seek(item.offset)
            data = f.read(item.size)
        return decode_audio(data, input_format=["-f", "mp3"])
    if item.kind == "sky":
        with open(item.path, "rb") as f:
            f.seek(item.offset)
            data = f.read(item.size)
        flag = struct.unpack("<H", data[:2])[0]
        body = data[22:]
        if flag & 0x80 and rnc.is_rnc1(body):
            pcm = rnc.unpack(body)
        else:
            pcm = body
        u8 = np.frombuffer(pcm, dtype=np.uint8).astype(np.float32)
        if len(u8) < 100 or abs(float(u8.mean()) - 128.0) > 12.0:
            return np.zeros(0, dtype=np.float32)  # not 8-bit PCM speech
        return decode_audio(pcm, input_format=["-f", "u8", "-ar", "11025", "-ac", "1"])
    if item.kind == "zip":
        with zipfile.ZipFile(item.path) as z:
            data = z.read(item.member)
        return decode_audio(data)
    if item.kind == "raw16k":
        return decode_audio(item.path, input_format=["-f", "s16le", "-ar", "16000", "-ac", "1"])
    if item.kind == "raw8k":
        return decode_audio(item.path, input_format=["-f", "s16le", "-ar", "8000", "-ac", "1"])
    raise ValueError(item.kind)


def _header_duration_s(path: str) -> float:
    """Duration from the file header (libsndfile), or +inf when it cannot tell (e.g. Opus)."""
    try:
        import soundfile

        return float(soundfile.info(path).duration)
    except Exception:  # noqa: BLE001 -- unknown: decode it
        return float("inf")


def _process_item(args: tuple[str, Item, str]) -> dict:
    source, item, out_dir = args
    result = {"key": item.key, "speaker": item.speaker, "files": [], "error": ""}
    try:
        existing = sorted(Path(out_dir).glob(f"{item.key}__p*.wav"))
        if existing:
            result["files"] = [p.name for p in existing]
            return result
        if item.kind == "file" and _header_duration_s(item.path) < MIN_CLIP_S:
            return result  # too short even before trimming: skip the decode
        x = load_item(item)
        if len(x) < MIN_CLIP_S * RAW_RATE_HZ:
            return result
        peak = float(np.max(np.abs(x)))
        if peak < 1e-3:
            return result
        pieces = split_at_pauses(x, RAW_RATE_HZ, rng_for(GLOBAL_SEED, source, item.key))
        k = 0
        for p in pieces:
            if not clip_ok(p, RAW_RATE_HZ):
                continue
            name = f"{item.key}__p{k}.wav"
            write_wav(Path(out_dir) / name, p, RAW_RATE_HZ)
            result["files"].append(name)
            k += 1
        if not result["files"]:
            # mark as processed (nothing usable) so a rerun does not decode it again
            pass
    except Exception as e:  # one bad recording must not stop the corpus
        result["error"] = f"{type(e).__name__}: {e}"
    return result


def build_genuine(out: Path, max_per_source: int, jobs: int, only: list[str] | None = None,
                  max_per_train_source: int | None = None) -> dict[str, list[dict]]:
    """Returns {source: [index rows]}. Train sources take up to max_per_train_source clips when
    it is given; raising a cap only appends clips (the item order is fixed per source), so the
    clips taken before, and every dev and test clip, stay the same."""
    result: dict[str, list[dict]] = {}
    for source, (lister, split) in SOURCES.items():
        if only and source not in only:
            continue
        cap = max_per_train_source if split == "train" and max_per_train_source else max_per_source
        guard(source)
        src_dir = out / "raw" / "genuine" / source
        index_path = src_dir / "index.jsonl"
        items_path = src_dir / "items.jsonl"
        try:
            items = lister()
        except Exception as e:
            log(f"stage1 {source}: cannot list ({e}); skipped")
            continue
        order = rng_for(GLOBAL_SEED, "order", source).permutation(len(items))
        items = [items[i] for i in order]
        done = {r["key"]: r for r in read_lines(items_path)}
        rows: list[dict] = []
        cached_rows = read_lines(index_path)
        if cached_rows and len(cached_rows) >= cap:
            result[source] = cached_rows[:cap]
            log(f"stage1 {source}: {len(result[source])} clips (cached)")
            continue
        src_dir.mkdir(parents=True, exist_ok=True)
        n_clips = 0
        pos = 0
        batch = max(16, 8 * jobs)
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            while pos < len(items) and n_clips < cap:
                chunk = items[pos:pos + batch]
                pos += len(chunk)
                todo = [it for it in chunk if it.key not in done]
                new = list(pool.map(_process_item, [(source, it, str(src_dir)) for it in todo]))
                for r in new:
                    done[r["key"]] = r
                    if r["error"]:
                        log(f"stage1 {source}: {r['key']}: {r['error']}")
                write_lines_atomic(items_path, list(done.values()))
                for it in chunk:
                    r = done[it.key]
                    for name in r["files"]:
                        if n_clips >= cap:
                            break
                        rows.append({"file": name, "source": source, "package": source,
                                     "speaker": r["speaker"], "split": split,
                                     "label": "genuine", "attack": "bonafide"})
                        n_clips += 1
                log(f"stage1 {source}: {pos}/{len(items)} recordings, {n_clips} clips")
        write_lines_atomic(index_path, rows)
        result[source] = rows
    return result
