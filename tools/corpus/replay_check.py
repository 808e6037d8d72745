#!/usr/bin/python3
"""Does festival's unit-selection voice replay its own recordings? (the check behind the choice of
text in tts.py: docs/model-card.md, sixth session)

For N of festvox-ru's recorded prompts it synthesises the prompt with the msu_ru_nsh clunits voice
and reports the share of the clip's 30 ms chunks found in the voice's recording of that same
prompt (normalised cross-correlation above 0.95 at some lag), and, as a control, in the recording
of another prompt. Needs festival and festvox-ru (tools/install-deps.sh corpus).

  /usr/bin/python3 tools/corpus/replay_check.py [--prompts 10]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import texts  # noqa: E402
import tts  # noqa: E402
from common import RAW_RATE_HZ, decode_audio, read_wav  # noqa: E402

VOICE_DIR = texts.FESTVOX_RU_VOICE
CHUNK = int(0.03 * RAW_RATE_HZ)
MATCH = 0.95


def copied_fraction(clip: np.ndarray, recording: np.ndarray) -> float:
    """Share of the clip's non-silent CHUNK-sample chunks that appear in `recording`."""
    size = 1 << int(np.ceil(np.log2(recording.size + CHUNK)))
    spectrum = np.fft.rfft(recording, size)
    energy = np.concatenate([[0.0], np.cumsum(recording * recording)])
    window_norm = np.sqrt(energy[CHUNK:] - energy[:-CHUNK] + 1e-12)
    hits = total = 0
    for start in range(0, clip.size - CHUNK, CHUNK):
        chunk = clip[start:start + CHUNK]
        norm = float(np.linalg.norm(chunk))
        if norm < 1e-3:
            continue
        total += 1
        corr = np.fft.irfft(spectrum * np.conj(np.fft.rfft(chunk, size)), size)
        corr = corr[:window_norm.size]
        hits += float(np.max(corr / (norm * window_norm))) > MATCH
    return hits / max(total, 1)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prompts", type=int, default=10)
    args = ap.parse_args()
    prompts = texts.festvox_ru_prompts()
    ids = [i for i in sorted(prompts) if (VOICE_DIR / "wav" / f"{i}.wav").exists()]
    ids = ids[::max(1, len(ids) // args.prompts)][:args.prompts]
    voice = next(v for v in tts.VOICES if v.attack == "festival-clunits")
    own, other = [], []
    with tempfile.TemporaryDirectory(prefix="dvd-replay-") as tmp:
        jobs = [(i, prompts[i], Path(tmp) / f"{i}.wav") for i in ids]
        tts.synth_festival(voice, jobs)
        for k, (i, _, dest) in enumerate(jobs):
            if not dest.exists():
                print(f"{i}: no clip (festival failed, or the clip was too short)")
                continue
            clip, _ = read_wav(dest)
            recording = decode_audio(str(VOICE_DIR / "wav" / f"{i}.wav"), RAW_RATE_HZ)
            control_id = ids[(k + 1) % len(ids)]
            control = decode_audio(str(VOICE_DIR / "wav" / f"{control_id}.wav"), RAW_RATE_HZ)
            own.append(copied_fraction(clip.astype(np.float64), recording.astype(np.float64)))
            other.append(copied_fraction(clip.astype(np.float64), control.astype(np.float64)))
            print(f"{i}: {100 * own[-1]:5.1f} % of chunks in its own prompt's recording, "
                  f"{100 * other[-1]:5.1f} % in {control_id}'s")
    if not own:
        return 1
    print(f"mean: {100 * np.mean(own):.1f} % (own prompt) against {100 * np.mean(other):.1f} % "
          f"(another prompt), {len(own)} prompts")
    return 0


if __name__ == "__main__":
    sys.exit(main())
