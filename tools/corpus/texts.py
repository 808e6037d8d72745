"""Sentences for the TTS voices, per language, taken only from installed Debian packages.

en: fortunes-min (fortunes, literature, riddles) and the public-domain first chapters of Alice's
    Adventures in Wonderland shipped by flite (/usr/share/doc/flite/examples/alice)
de/es/it/cs/ru: fortunes-de, fortunes-es, fortunes-it, fortunes-cs, fortunes-ru (selected,
non-offensive files only; the off/ folders are never read); ru also festvox-ru's transcripts.
fr: French message catalogues (/usr/share/locale/fr/LC_MESSAGES/*.mo) of installed packages and
tuxpaint-stamps-default's French stamp descriptions (no French fortunes package in Debian 12).
Sentences are 4-25 words, mostly letters, no URLs, code, or ASCII art.
"""

from __future__ import annotations

import functools
import re
import struct
from pathlib import Path

from common import guard

FORTUNES = Path("/usr/share/games/fortunes")

_FORTUNE_FILES = {
    "en": ["fortunes", "literature", "riddles"],
    "de": ["de/zitate", "de/sprichworte", "de/wusstensie", "de/letzteworte", "de/regeln",
           "de/murphy", "de/computer", "de/mathematiker", "de/kinderzitate"],
    "es": [f"es/{n}.fortunes" for n in ["amistad", "arte", "ciencia", "filosofia", "libertad",
                                        "proverbios", "refranes", "sabiduria", "vida", "verdad",
                                        "famosos", "informatica"]],
    "it": ["it/italia", "it/definizioni", "it/leggi", "it/computer", "it/formiche", "it/zuse"],
    "cs": ["cs/citace", "cs/prislovi", "cs/murphy", "cs/chesterton", "cs/jerome", "cs/pratchett",
           "cs/wodehouse", "cs/parkinson", "cs/klasik-cz", "cs/citat"],
    "ru": ["ru/knowledge", "ru/life", "ru/education", "ru/time", "ru/truth", "ru/success",
           "ru/friendship", "ru/book", "ru/citates", "ru/future", "ru/happy"],
}

# crude guard against the odd rude line that survives in the selected files
_BLOCK = re.compile(r"\b(fuck|shit|cunt|sex|rape|nigg|fick|scheiss|mierda|puta|cazzo|merda|"
                    r"prdel|kurv|хуй|бляд|секс|жоп)", re.IGNORECASE)
_LETTER = re.compile(r"[^\W\d_]", re.UNICODE)


def _read_text(path: Path) -> str:
    guard(path)
    u8 = Path(str(path) + ".u8")
    if u8.exists():
        path = u8
    raw = path.read_bytes()
    for enc in ("utf-8", "iso-8859-2" if "/cs/" in str(path) else "latin-1", "koi8-r"):
        try:
            return raw.decode(enc)
        except UnicodeDecodeError:
            continue
    return raw.decode("utf-8", errors="replace")


def _good_sentence(s: str) -> str | None:
    s = re.sub(r"\s+", " ", s).strip().strip("\"'«»„“”`").strip()
    words = s.split()
    if not 4 <= len(words) <= 25:
        return None
    if re.search(r"(https?:|www\.|@|[<>{}\[\]|\\/_=#*~^$%&]|\d{3,}|--)", s):
        return None
    letters = len(_LETTER.findall(s))
    if letters < 0.75 * len(s.replace(" ", "")):
        return None
    if _BLOCK.search(s):
        return None
    if not s[0].isupper():
        return None
    if s[-1] not in ".!?":
        s += "."
    return s


def _sentences_from_block(block: str) -> list[str]:
    lines = [ln for ln in block.splitlines() if not re.match(r"^\s*(--|—|-- )", ln.strip())]
    text = " ".join(ln.strip() for ln in lines)
    text = re.sub(r"\s+--\s.*$", "", text)  # trailing attribution
    parts = re.split(r"(?<=[.!?])\s+(?=[^\W\d_])", text)
    out = []
    for p in parts:
        g = _good_sentence(p)
        if g:
            out.append(g)
    return out


def _fortune_sentences(rel: str) -> list[str]:
    path = FORTUNES / rel
    if not path.exists():
        return []
    text = _read_text(path)
    out: list[str] = []
    for block in re.split(r"^%\s*$", text, flags=re.MULTILINE):
        out.extend(_sentences_from_block(block))
    return out


# festvox-ru's unit-selection voice, built from the same speaker's recordings (etc/, wav/)
FESTVOX_RU_VOICE = Path("/usr/share/festival/voices/russian/msu_ru_nsh_clunits")


def festvox_ru_prompts() -> dict[str, str]:
    """Recording id -> prompt text (with the voice's "+" stress marks); {} when not installed."""
    path = FESTVOX_RU_VOICE / "etc" / "txt.done.data"
    if not path.exists():
        return {}
    guard(path)
    out = {}
    for m in re.finditer(r'\(\s*(\S+)\s+"(.*?)"\s*\)', path.read_text(encoding="utf-8")):
        out[m.group(1)] = m.group(2)
    return out


@functools.lru_cache(maxsize=None)
def festvox_ru_prompt_sentences() -> tuple[str, ...]:
    """The prompts as pool sentences: stress marks removed, only those `_good_sentence` keeps."""
    return tuple(g for t in festvox_ru_prompts().values()
                 if (g := _good_sentence(t.replace("+", ""))))


def _mo_strings(path: Path) -> list[str]:
    data = path.read_bytes()
    if len(data) < 28:
        return []
    magic = struct.unpack("<I", data[:4])[0]
    endian = "<" if magic == 0x950412DE else ">"
    _, n, _, t_off = struct.unpack(endian + "4I", data[4:20])
    out = []
    for i in range(n):
        length, off = struct.unpack(endian + "2I", data[t_off + 8 * i:t_off + 8 * i + 8])
        try:
            s = data[off:off + length].decode("utf-8")
        except UnicodeDecodeError:
            continue
        out.extend(s.split("\0"))
    return out


def _french() -> list[str]:
    out: list[str] = []
    loc = Path("/usr/share/locale/fr/LC_MESSAGES")
    for mo in sorted(loc.glob("*.mo")) if loc.exists() else []:
        guard(mo)
        for s in _mo_strings(mo):
            if "\n" in s or "%" in s or "&" in s or "_" in s or ":" in s:
                continue
            g = _good_sentence(s)
            if g and s.rstrip()[-1:] in ".!?":
                out.append(g)
    tux = Path("/usr/share/tuxpaint/stamps")
    if tux.exists():
        for txt in sorted(tux.rglob("*.txt")):
            for line in txt.read_text(errors="replace").splitlines():
                if line.startswith("fr.utf8="):
                    g = _good_sentence(line.split("=", 1)[1])
                    if g:
                        out.append(g)
    return out


def _alice() -> list[str]:
    path = Path("/usr/share/doc/flite/examples/alice")
    if not path.exists():
        return []
    text = path.read_text(errors="replace").replace("`", "").replace("'", "'")
    text = re.sub(r"CHAPTER [IVX]+:[^.]*\.", " ", text)
    out = []
    for para in re.split(r"\n\s*\n", text):
        out.extend(_sentences_from_block(para))
    return out


@functools.lru_cache(maxsize=None)
def sentences(lang: str) -> tuple[str, ...]:
    """Deduplicated sentences for a language code (en, de, es, it, cs, ru, fr)."""
    pool: list[str] = []
    if lang == "fr":
        pool = _french()
    elif lang == "en":
        for rel in _FORTUNE_FILES["en"]:
            pool.extend(_fortune_sentences(rel))
        pool.extend(_alice())
    else:
        for rel in _FORTUNE_FILES.get(lang, []):
            pool.extend(_fortune_sentences(rel))
    if lang == "ru":
        pool.extend(festvox_ru_prompt_sentences())
    seen = set()
    uniq = []
    for s in pool:
        if s and s not in seen:
            seen.add(s)
            uniq.append(s)
    return tuple(uniq)


@functools.lru_cache(maxsize=None)
def sentences_not_recorded_by_festvox_ru() -> tuple[str, ...]:
    """Russian sentences that festvox-ru's speaker never recorded.

    Its unit-selection voice (msu_ru_nsh_clunits) reading one of its own recorded prompts returns
    mostly that recording, verbatim: 80 % of the 30 ms chunks of such clips matched the genuine
    recording of the same prompt at a normalised cross-correlation above 0.95. A clip like that
    is a replay of genuine speech, not synthesis, so the voice reads only other sentences.
    """
    own = set(festvox_ru_prompt_sentences())
    return tuple(s for s in sentences("ru") if s not in own)


if __name__ == "__main__":
    import random
    for lang in ["en", "de", "es", "it", "cs", "ru", "fr"]:
        s = sentences(lang)
        print(lang, len(s))
        for x in random.Random(1).sample(list(s), min(3, len(s))):
            print("   ", x)
