"""Stage 3 (part): concatenated speech, the project's own stand-in for unit selection.

Unit selection (festival clunits) plays back pieces of one speaker's recordings, joined where
the joins are least audible. No unit-selection voice can be built here for a train speaker (no
aligner, no phone labels), and splicing clips after the telephone chain taught nothing that
carried to festival clunits (training/probes/splice_probe.py: the noise and codec state jump at
every join, and festival's joins have no such jump). This module makes the same kind of speech
the way unit selection does, before the telephone chain:

- the database is up to DATABASE_CLIPS raw clips of one known speaker, each scaled to the same
  RMS level, described by 10 ms frames of 24 log mel bands;
- a unit is a run of 60-200 ms (sometimes 2-4 times longer: consecutive units from one
  recording) copied from the database;
- the next unit is the one of CANDIDATES random database places whose two frames best match
  the two frames that would have followed naturally (optimal coupling, no text, no target cost);
- the join is placed at the lag (within 5 ms) that best correlates the new unit with the natural
  continuation, and cross-faded over 5 ms.

The clips then go through the same telephone chain as every other clip (stage 4). Rows are
written like vocoded copies (attack "concat", one folder per genuine source), and only speakers
with at least MIN_SPEAKER_CLIPS clips and a known identity (not "...-unknown") take part.

Opt-in (`build_corpus.py --concat-copies TRAIN[,DEV]`): trained on (1 clip per train genuine clip,
0.3 per dev clip), they stayed at chance on dev speakers and on festival clunits and cost the
detector 1-1.5 points of test EER elsewhere (docs/model-card.md, sixth session). Kept for a front
end that sees more than 2 s of spectra: prosody, or joins across a longer context.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from common import RAW_RATE_HZ, clip_ok, log, read_wav, rng_for, write_indexes, write_wav

GLOBAL_SEED = "dvd-corpus-v1"
ATTACK = "concat"
MIN_SPEAKER_CLIPS = 20
DATABASE_CLIPS = 200
CANDIDATES = 400
HOP = RAW_RATE_HZ // 100  # 10 ms frames
WIN = RAW_RATE_HZ * 25 // 1000
N_FFT = 512
N_MELS = 24
MAX_LAG = RAW_RATE_HZ * 5 // 1000  # join alignment search, +- 5 ms
FADE = RAW_RATE_HZ * 5 // 1000  # 5 ms cross-fade
TARGET_RMS = 0.05


def _mel_matrix() -> np.ndarray:
    def hz_to_mel(f):
        return 2595.0 * np.log10(1.0 + f / 700.0)

    edges = 700.0 * (10 ** (np.linspace(hz_to_mel(60.0), hz_to_mel(3800.0), N_MELS + 2) / 2595.0)
                     - 1.0)
    bins = np.arange(N_FFT // 2 + 1) * RAW_RATE_HZ / N_FFT
    m = np.zeros((N_MELS, bins.size))
    for i in range(N_MELS):
        lo, mid, hi = edges[i], edges[i + 1], edges[i + 2]
        m[i] = np.clip(np.minimum((bins - lo) / (mid - lo), (hi - bins) / (hi - mid)), 0.0, None)
    return m


_MEL = _mel_matrix()


def frames(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(log mel [frames, N_MELS], frame energy in dB) of 25 ms windows every 10 ms; frame t
    describes the samples around t * HOP."""
    pad = np.concatenate([np.zeros(WIN // 2), x, np.zeros(WIN)])
    n = max(1, len(x) // HOP)
    idx = np.arange(n)[:, None] * HOP + np.arange(WIN)[None, :]
    fr = pad[idx] * np.hanning(WIN)[None, :]
    power = np.abs(np.fft.rfft(fr, N_FFT)) ** 2
    mel = np.log(power @ _MEL.T + 1e-8)
    energy = 10.0 * np.log10(np.mean(fr * fr, axis=1) + 1e-12)
    return mel, energy


class Database:
    """One speaker's clips at a common level, with their frames and the places a unit may start."""

    def __init__(self, clips: list[np.ndarray]):
        self.audio = []
        self.mel = []
        places = []
        for c, x in enumerate(clips):
            x = x * (TARGET_RMS / (float(np.sqrt(np.mean(x * x))) + 1e-9))
            mel, energy = frames(x)
            self.audio.append(x)
            self.mel.append(mel)
            # a unit starts where there is speech, with a frame of context before it and room
            # for the shortest unit after it
            ok = np.nonzero(energy > energy.max() - 35.0)[0]
            ok = ok[(ok >= 1) & (ok + 7 < len(mel))]
            places.extend((c, int(f)) for f in ok)
        if not places:
            raise ValueError("no speech frames in the database")
        self.places = np.array(places)

    def best_unit(self, clip: int, frame: int, rng: np.random.Generator) -> tuple[int, int]:
        """The database place whose frames [f-1, f] best match frames [frame-1, frame] of
        `clip` (the natural continuation), among CANDIDATES random places elsewhere."""
        pick = self.places[rng.integers(0, len(self.places), CANDIDATES)]
        far = (pick[:, 0] != clip) | (np.abs(pick[:, 1] - frame) > 50)
        pick = pick[far] if far.any() else pick
        want = self.mel[clip][[frame - 1, frame]]
        have = np.stack([self.mel[c][[f - 1, f]] for c, f in pick])
        cost = ((have - want[None]) ** 2).sum(axis=(1, 2))
        c, f = pick[int(np.argmin(cost))]
        return int(c), int(f)


def _aligned_start(natural: np.ndarray, audio: np.ndarray, start: int) -> int:
    """Start sample near `start` in `audio` whose next samples best correlate with `natural`."""
    best, best_lag = -np.inf, 0
    n = natural.size
    for lag in range(-MAX_LAG, MAX_LAG + 1):
        s = start + lag
        if s < 0 or s + n > audio.size:
            continue
        seg = audio[s:s + n]
        score = float(seg @ natural) / (float(np.linalg.norm(seg) * np.linalg.norm(natural)) + 1e-9)
        if score > best:
            best, best_lag = score, lag
    return start + best_lag


def concatenate(db: Database, seconds: float, rng: np.random.Generator) -> np.ndarray:
    """`seconds` of speech made of database units joined by optimal coupling."""
    want = int(seconds * RAW_RATE_HZ)
    ramp = np.hanning(2 * FADE)[:FADE]
    c, f = (int(v) for v in db.places[rng.integers(0, len(db.places))])
    out = [np.zeros(0)]
    pos = f * HOP  # sample where the current unit starts in clip c
    total = 0
    while total < want:
        run = int(rng.integers(6, 21)) * (int(rng.integers(2, 5)) if rng.random() < 0.25 else 1)
        end_frame = min(f + run, len(db.mel[c]) - 1)
        end = end_frame * HOP
        audio = db.audio[c]
        if end + FADE > audio.size or end_frame < 1:
            # the clip ran out: continue from a fresh place
            c, f = (int(v) for v in db.places[rng.integers(0, len(db.places))])
            pos = f * HOP
            continue
        unit = audio[pos:end + FADE].copy()
        nc, nf = db.best_unit(c, end_frame, rng)
        natural = audio[end:end + FADE]
        start = _aligned_start(natural, db.audio[nc], nf * HOP)
        if start + FADE > db.audio[nc].size:
            start = max(0, db.audio[nc].size - FADE)
        if out[-1].size:
            # cross-fade the head of this unit into the tail written before it
            tail = out[-1][-FADE:]
            out[-1][-FADE:] = tail * (1.0 - ramp) + unit[:FADE] * ramp
            unit = unit[FADE:]
        out.append(unit)
        total += unit.size
        # the next unit starts at `start`; its first FADE samples fade in over this unit's tail
        c, f, pos = nc, max(1, start // HOP), start
    return np.concatenate(out)[:want]


def plan(genuine_rows: dict[str, list[dict]], copies: dict[str, float]
         ) -> list[tuple[str, list[dict], int]]:
    """[(speaker, that speaker's rows, number of clips to make)] for the splits in `copies`
    (split -> clips per genuine clip)."""
    by_speaker: dict[str, list[dict]] = {}
    for rows in genuine_rows.values():
        for r in rows:
            if r["split"] in copies and not r["speaker"].endswith("-unknown"):
                by_speaker.setdefault(r["speaker"], []).append(r)
    out = []
    for spk in sorted(by_speaker):
        rows = sorted(by_speaker[spk], key=lambda r: r["file"])
        if len(rows) >= MIN_SPEAKER_CLIPS:
            out.append((spk, rows, max(1, round(copies[rows[0]["split"]] * len(rows)))))
    return out


def _speaker_job(job: tuple[str, str, list[dict], int]) -> list[dict]:
    out_dir, speaker, rows, count = job
    out = Path(out_dir)
    rng = rng_for(GLOBAL_SEED, "concat", speaker)
    chosen = [rows[int(i)] for i in rng.permutation(len(rows))[:DATABASE_CLIPS]]
    made = []
    db = None
    r0 = chosen[0]
    for k in range(count):
        dest = out / "raw" / "synthetic" / ATTACK / r0["source"] / f"{speaker}__cat{k:03d}.wav"
        row = {"file": dest.name, "dir": str(dest.parent.relative_to(out)),
               "source": r0["source"], "package": r0["package"], "speaker": speaker,
               "split": r0["split"], "label": "synthetic", "attack": ATTACK, "setting": ATTACK,
               "origin": speaker}
        if dest.exists():
            made.append(row)
            continue
        if Path(str(dest) + ".rejected").exists():
            continue
        if db is None:
            clips = []
            for r in chosen:
                x, rate = read_wav(out / "raw" / "genuine" / r["source"] / r["file"])
                assert rate == RAW_RATE_HZ
                clips.append(x.astype(np.float64))
            db = Database(clips)
        krng = rng_for(GLOBAL_SEED, "concat", speaker, k)
        y = concatenate(db, float(krng.uniform(2.5, 8.0)), krng)
        peak = float(np.max(np.abs(y)))
        if peak > 0.99:
            y *= 0.99 / peak
        if not clip_ok(y.astype(np.float32), RAW_RATE_HZ):
            Path(str(dest) + ".rejected").write_text("")
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        write_wav(dest, y.astype(np.float32), RAW_RATE_HZ)
        made.append(row)
    return made


def build_concat(out: Path, plan_rows: list[tuple[str, list[dict], int]], jobs: int) -> list[dict]:
    from concurrent.futures import ProcessPoolExecutor

    log(f"stage3: concatenated speech from {len(plan_rows)} speakers, "
        f"{sum(n for _, _, n in plan_rows)} clips planned")
    rows: list[dict] = []
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        for made in pool.map(_speaker_job, [(str(out), s, r, n) for s, r, n in plan_rows]):
            rows.extend(made)
    write_indexes(out, rows)
    log(f"stage3: {len(rows)} concatenated clips")
    return rows
