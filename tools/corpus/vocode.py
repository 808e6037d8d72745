"""Stage 3: vocoder copy-synthesis of genuine clips -> raw/synthetic/<attack>/<source>/*.wav.

attacks / settings:
  sptk-mlsa    SPTK 3.9: pitch (RAPT or SWIPE'), mcep (alpha 0.42, order 24 or 34), excite, mlsadf
  lpc          SPTK 3.9: pitch, lpc (order 16 or 20, 25 ms frames), excite, poledf
  griffin-lim  torchaudio: gl512 = linear magnitude, n_fft 512 / hop 128, 32 iterations;
               gl1024mel = 80-band mel magnitude (pseudo-inverse to linear), n_fft 1024 / hop 256,
               60 iterations
A HiFi-GAN-class vocoder is trained elsewhere; its copies land in raw/synthetic/hifigan/<source>/
and are picked up by stage 4 (see build_corpus.py).
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import numpy as np

from common import RAW_RATE_HZ, clip_ok, log, read_wav, rng_for, write_indexes, write_wav

SPTK_BIN = Path("/usr/libexec/sptk/bin")
GLOBAL_SEED = "dvd-corpus-v1"

# (attack, setting) pairs a genuine clip may be copied with
VOCODERS = [("sptk-mlsa", "mlsa"), ("lpc", "lpc"), ("griffin-lim", "gl512"),
            ("griffin-lim", "gl1024mel")]


def out_name(stem: str, setting: str) -> str:
    if setting in ("mlsa", "lpc"):
        return f"{stem}.wav"
    return f"{stem}.{setting}.wav"


def _sptk(cmd: str, tmp: Path) -> None:
    p = subprocess.run(cmd, shell=True, cwd=tmp, capture_output=True, timeout=600,
                       env={"PATH": f"{SPTK_BIN}:/usr/bin:/bin"})
    if p.returncode != 0:
        raise RuntimeError(f"SPTK failed: {cmd}: {p.stderr.decode(errors='replace')[-200:]}")


def _sptk_vocode(x: np.ndarray, setting: str, rng: np.random.Generator) -> np.ndarray:
    algo = int(rng.integers(0, 2))
    seed = int(rng.integers(1, 100000))
    with tempfile.TemporaryDirectory(prefix="dvd-sptk-") as d:
        tmp = Path(d)
        # +-1 LSB of dither: digital silence makes the LPC / mel-cepstrum normal equations singular
        dither = rng.standard_normal(len(x))
        (tmp / "x.f").write_bytes((x * 32768.0 + dither).astype("<f4").tobytes())
        _sptk(f"pitch -a {algo} -s 16 -p 80 -L 60 -H 400 -o 0 x.f > p.f", tmp)
        if setting == "mlsa":
            order = int(rng.choice([24, 34]))
            _sptk(f"frame -l 400 -p 80 x.f | window -l 400 -L 512 | "
                  f"mcep -l 512 -m {order} -a 0.42 -e 1e3 > c0.f", tmp)
            # band-limited sources (11 kHz MP3) give envelopes with a huge dynamic range: the
            # periodogram floor (-e) and mlsacheck keep the MLSA filter stable
            _sptk(f"mlsacheck -l 512 -m {order} -a 0.42 -P 5 -r 1 -c 2 c0.f > c.f 2>/dev/null",
                  tmp)
            _sptk(f"excite -p 80 -s {seed} p.f | mlsadf -m {order} -a 0.42 -P 5 -p 80 c.f > y.f",
                  tmp)
        else:
            order = int(rng.choice([16, 20]))
            _sptk(f"frame -l 400 -p 80 x.f | window -l 400 -L 400 -w 1 | "
                  f"lpc -l 400 -m {order} -f 1e-6 > a.f", tmp)
            _sptk(f"excite -p 80 -s {seed} p.f | poledf -m {order} -p 80 a.f > y.f", tmp)
        y = np.frombuffer((tmp / "y.f").read_bytes(), dtype="<f4").astype(np.float64) / 32768.0
    return y


def _gl_vocode(x: np.ndarray, setting: str, seed: int) -> np.ndarray:
    import torch
    import torchaudio

    torch.set_num_threads(1)
    torch.manual_seed(seed % (2**31))
    n_fft, hop, n_iter = (512, 128, 32) if setting == "gl512" else (1024, 256, 60)
    t = torch.from_numpy(x.astype(np.float32))
    window = torch.hann_window(n_fft)
    mag = torch.stft(t, n_fft, hop_length=hop, window=window, return_complex=True).abs()
    if setting == "gl1024mel":
        fb = torchaudio.functional.melscale_fbanks(n_fft // 2 + 1, 0.0, RAW_RATE_HZ / 2, 80,
                                                   RAW_RATE_HZ, norm="slaney", mel_scale="slaney")
        mel = fb.T @ mag
        mag = torch.clamp(torch.linalg.pinv(fb.T) @ mel, min=0.0)
    gl = torchaudio.transforms.GriffinLim(n_fft=n_fft, hop_length=hop, n_iter=n_iter, power=1.0,
                                          window_fn=torch.hann_window)
    y = gl(mag)
    return y.numpy().astype(np.float64)


def vocode_job(job: tuple[str, str, str, str]) -> tuple[str, str]:
    """job = (setting, genuine wav, destination, seed key) -> (destination, error or '')."""
    setting, src, dest, key = job
    if Path(dest).exists() or Path(dest + ".rejected").exists():
        return dest, ""
    try:
        x, rate = read_wav(src)
        assert rate == RAW_RATE_HZ
        x = x.astype(np.float64)
        rng = rng_for(GLOBAL_SEED, "vocode", key)
        if setting in ("mlsa", "lpc"):
            y = _sptk_vocode(x, setting, rng)
        else:
            y = _gl_vocode(x, setting, int(rng.integers(0, 2**31)))
        y = np.nan_to_num(y[: len(x)], nan=0.0, posinf=0.0, neginf=0.0)
        if len(y) < len(x):
            y = np.concatenate([y, np.zeros(len(x) - len(y))])
        # match the genuine clip's level, without clipping
        rx = float(np.sqrt(np.mean(x**2)) + 1e-9)
        ry = float(np.sqrt(np.mean(y**2)) + 1e-9)
        y = y * (rx / ry)
        peak = float(np.max(np.abs(y)))
        if peak > 0.99:
            y *= 0.99 / peak
        if not np.isfinite(y).all() or ry < 1e-6 or not clip_ok(y.astype(np.float32), rate):
            Path(dest + ".rejected").write_text("")
            return dest, "rejected"
        write_wav(dest, y.astype(np.float32), RAW_RATE_HZ)
        return dest, ""
    except Exception as e:  # noqa: BLE001
        return dest, f"{type(e).__name__}: {e}"


def plan(genuine_rows: dict[str, list[dict]], copies_clean: float, copies_other: float,
         clean_sources: set[str], train_copies: float | None = None
         ) -> list[tuple[dict, str, str]]:
    """[(genuine row, attack, setting)]: seeded choice of which vocoders copy which clips.

    `train_copies`, when given, is the expected number of copies of every train clip whatever
    its source. The choice for a clip is a prefix of one seeded permutation of the vocoders, so
    raising a count only adds copies: the ones made before stay in the plan."""
    out = []
    for source, rows in genuine_rows.items():
        source_expected = copies_clean if source in clean_sources else copies_other
        for r in rows:
            expected = (train_copies if train_copies is not None and r.get("split") == "train"
                        else source_expected)
            rng = rng_for(GLOBAL_SEED, "vocplan", source, r["file"])
            k = int(expected) + int(rng.random() < expected - int(expected))
            k = min(k, len(VOCODERS))
            for i in rng.permutation(len(VOCODERS))[:k]:
                attack, setting = VOCODERS[int(i)]
                out.append((r, attack, setting))
    return out


def build_vocoded(out: Path, plan_rows: list[tuple[dict, str, str]], jobs: int) -> list[dict]:
    from concurrent.futures import ProcessPoolExecutor

    job_list = []
    meta = []
    for r, attack, setting in plan_rows:
        src = out / "raw" / "genuine" / r["source"] / r["file"]
        stem = Path(r["file"]).stem
        dest = out / "raw" / "synthetic" / attack / r["source"] / out_name(stem, setting)
        dest.parent.mkdir(parents=True, exist_ok=True)
        job_list.append((setting, str(src), str(dest), f"{r['source']}/{stem}/{setting}"))
        meta.append((r, attack, setting, dest))
    # SPTK jobs first (slowest), then Griffin-Lim
    order = sorted(range(len(job_list)), key=lambda i: job_list[i][0] not in ("mlsa", "lpc"))
    results: dict[str, str] = {}
    todo = [job_list[i] for i in order if not Path(job_list[i][2]).exists()]
    log(f"stage3: {len(job_list)} vocoded copies planned, {len(todo)} to make")
    if todo:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            for n, (dest, err) in enumerate(pool.map(vocode_job, todo, chunksize=4), 1):
                results[dest] = err
                if err and err != "rejected":
                    log(f"stage3: {dest}: {err}")
                if n % 200 == 0 or n == len(todo):
                    log(f"stage3: {n}/{len(todo)} vocoded")
    rows = []
    for r, attack, setting, dest in meta:
        if dest.exists():
            rows.append({"file": dest.name, "dir": str(dest.parent.relative_to(out)),
                         "source": r["source"], "package": r["package"],
                         "speaker": r["speaker"], "split": r["split"], "label": "synthetic",
                         "attack": attack, "setting": setting, "origin": r["file"]})
    write_indexes(out, rows)
    log(f"stage3: {len(rows)} vocoded clips")
    return rows
