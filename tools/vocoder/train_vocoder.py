#!/usr/bin/python3
"""Train a compact HiFi-GAN (V3-like) neural vocoder on allowed genuine speech, on CPU.

The vocoder maps an 80-band log-mel spectrogram (16 kHz, n_fft 1024, hop 256, win 1024,
0-8000 Hz) back to a waveform. It exists only to make synthetic training/test data by
copy-synthesis of genuine clips (see resynth.py), as ASVspoof's vocoded spoof sets are made.

Recipe (defaults): generator HiFi-GAN V3 layout with 128 initial channels, upsampling
[8, 8, 4]; a reduced multi-period discriminator (periods 2, 3, 5, 7, 11) plus a
multi-resolution STFT loss instead of the (costlier) multi-scale discriminator; mel L1 loss.
The first --warmup-fraction of the time budget trains the generator alone (mel L1 +
multi-resolution STFT), which converges much faster on CPU; then the adversarial and
feature-matching losses are switched on. With --warmup-steps and --max-steps the schedule counts
steps instead, so a run on a shared, slower or faster machine trains the same steps.

Usage (from the repository root):
    /usr/bin/python3 tools/vocoder/train_vocoder.py --minutes 45 --seed 1234
    /usr/bin/python3 tools/vocoder/train_vocoder.py --minutes 600 --max-steps 2488 \
        --warmup-steps 1440 --seed 1234 --tuxpaint-ogg    # the shipped run's schedule, by steps
It resumes from data/vocoder/last.pt if present; the time budget counts across resumes.
Output: data/vocoder/{last.pt, generator.pt, train.log}.

Threads: torch.set_num_threads(--threads, default 2); one process, no data-loader workers.
Dependencies: Debian python3-torch 1.13, python3-torchaudio 0.13, python3-numpy; decoding of
non-WAV inputs uses python3-soundfile when present, otherwise ffmpeg.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import subprocess
import sys
import time
from pathlib import Path

# Two threads on a shared 2-core machine: sleeping OpenMP workers degrade far less under
# oversubscription than spinning ones.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402
from torch.nn.utils import remove_weight_norm, weight_norm  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT_DIR = REPO_ROOT / "data" / "vocoder"
GENUINE_DIR = REPO_ROOT / "data" / "corpus" / "raw" / "genuine"

SAMPLE_RATE_HZ = 16000
N_FFT = 1024
HOP_SAMPLES = 256
WIN_SAMPLES = 1024
N_MELS = 80
FMIN_HZ = 0.0
FMAX_HZ = 8000.0
LOG_FLOOR = 1e-5

# Train-split sources (shared split plan), cleanest first. Lossy 11 kHz game speech
# (flight-of-the-amazon-queen: 16 kbit/s MP3; beneath-a-steel-sky: 8-bit PCM) is band-limited
# to 5.5 kHz, so it is only used with --include-lowband.
CLEAN_TRAIN_SOURCES = ("tuxpaint-stamps-default", "klettres-data", "ktuberling-data")
LOWBAND_TRAIN_SOURCES = ("flight-of-the-amazon-queen", "beneath-a-steel-sky")
# Independent evaluation set: never read, whatever the command line says.
RESERVED_PREFIXES = ("asterisk", "fillets-ng-data-nl", "rhvoice", "open-jtalk", "openjtalk",
                     "hts-voice")
TUXPAINT_STAMPS_DIR = Path("/usr/share/tuxpaint/stamps")


def is_reserved(name: str) -> bool:
    lowered = name.lower()
    return any(lowered.startswith(p) or p in lowered for p in RESERVED_PREFIXES)


# --------------------------------------------------------------------------------------------
# Audio I/O and features (shared with resynth.py)
# --------------------------------------------------------------------------------------------

def _decode_with_ffmpeg(path: Path) -> np.ndarray:
    cmd = ["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-f", "f32le", "-ac", "1",
           "-ar", str(SAMPLE_RATE_HZ), "-"]
    raw = subprocess.run(cmd, check=True, stdout=subprocess.PIPE).stdout
    return np.frombuffer(raw, dtype=np.float32).copy()


def load_audio(path: Path) -> np.ndarray:
    """Returns mono float32 audio at 16 kHz in [-1, 1]."""
    data = None
    rate = None
    try:
        import soundfile  # Debian python3-soundfile (libsndfile: WAV, FLAC, Ogg Vorbis)
        data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
        data = data.mean(axis=1)
    except ImportError:
        if path.suffix.lower() == ".wav":
            import torchaudio
            wav, rate = torchaudio.load(str(path))
            data = wav.mean(dim=0).numpy()
        else:
            return _decode_with_ffmpeg(path)
    except RuntimeError:
        return _decode_with_ffmpeg(path)
    if rate != SAMPLE_RATE_HZ:
        import torchaudio.functional as AF
        data = AF.resample(torch.from_numpy(np.ascontiguousarray(data)), int(rate),
                           SAMPLE_RATE_HZ).numpy()
    return np.ascontiguousarray(data, dtype=np.float32)


class MelComputer:
    """HiFi-GAN style log-mel: |STFT| (no power), Slaney mel, reflect pad, log(clamp 1e-5).

    For an input of L samples (L a multiple of 256) it yields exactly L / 256 frames.
    """

    def __init__(self) -> None:
        import torchaudio.functional as AF
        fb = AF.melscale_fbanks(n_freqs=N_FFT // 2 + 1, f_min=FMIN_HZ, f_max=FMAX_HZ,
                                n_mels=N_MELS, sample_rate=SAMPLE_RATE_HZ, norm="slaney",
                                mel_scale="slaney")
        self.mel_basis = fb.T.contiguous()  # (n_mels, n_freqs)
        self.window = torch.hann_window(WIN_SAMPLES)

    def __call__(self, audio: torch.Tensor) -> torch.Tensor:
        """audio: (B, T) float -> (B, n_mels, T // hop) log-mel."""
        pad = (N_FFT - HOP_SAMPLES) // 2
        x = F.pad(audio.unsqueeze(1), (pad, pad), mode="reflect").squeeze(1)
        spec = torch.stft(x, N_FFT, hop_length=HOP_SAMPLES, win_length=WIN_SAMPLES,
                          window=self.window, center=False, return_complex=True)
        mag = torch.sqrt(spec.real.pow(2) + spec.imag.pow(2) + 1e-9)
        mel = torch.matmul(self.mel_basis, mag)
        return torch.log(torch.clamp(mel, min=LOG_FLOOR))


# --------------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------------

LRELU_SLOPE = 0.1


def get_padding(kernel_size: int, dilation: int = 1) -> int:
    return (kernel_size * dilation - dilation) // 2


def init_weights(m: nn.Module) -> None:
    if isinstance(m, (nn.Conv1d, nn.ConvTranspose1d)):
        m.weight.data.normal_(0.0, 0.01)


class ResBlock2(nn.Module):
    """HiFi-GAN V3 residual block: two dilated convolutions, each with a skip."""

    def __init__(self, channels: int, kernel_size: int, dilations: tuple[int, ...]) -> None:
        super().__init__()
        self.convs = nn.ModuleList([
            weight_norm(nn.Conv1d(channels, channels, kernel_size, 1, dilation=d,
                                  padding=get_padding(kernel_size, d)))
            for d in dilations
        ])
        self.convs.apply(init_weights)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for conv in self.convs:
            x = x + conv(F.leaky_relu(x, LRELU_SLOPE))
        return x

    def remove_weight_norm(self) -> None:
        for conv in self.convs:
            remove_weight_norm(conv)


class Generator(nn.Module):
    """Compact HiFi-GAN V3-like generator: mel (B, 80, N) -> audio (B, 1, N * 256)."""

    def __init__(self, cfg: dict) -> None:
        super().__init__()
        self.num_kernels = len(cfg["resblock_kernel_sizes"])
        ch = cfg["upsample_initial_channel"]
        self.conv_pre = weight_norm(nn.Conv1d(N_MELS, ch, 7, 1, padding=3))
        self.ups = nn.ModuleList()
        self.resblocks = nn.ModuleList()
        for i, (u, k) in enumerate(zip(cfg["upsample_rates"], cfg["upsample_kernel_sizes"])):
            cin = ch // (2 ** i)
            cout = ch // (2 ** (i + 1))
            self.ups.append(weight_norm(nn.ConvTranspose1d(cin, cout, k, u, padding=(k - u) // 2)))
            for rk, rd in zip(cfg["resblock_kernel_sizes"], cfg["resblock_dilation_sizes"]):
                self.resblocks.append(ResBlock2(cout, rk, tuple(rd)))
        self.ups.apply(init_weights)
        self.conv_post = weight_norm(nn.Conv1d(cout, 1, 7, 1, padding=3))
        self.conv_post.apply(init_weights)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        x = self.conv_pre(mel)
        for i, up in enumerate(self.ups):
            x = up(F.leaky_relu(x, LRELU_SLOPE))
            acc = None
            for j in range(self.num_kernels):
                y = self.resblocks[i * self.num_kernels + j](x)
                acc = y if acc is None else acc + y
            x = acc / self.num_kernels
        x = self.conv_post(F.leaky_relu(x))
        return torch.tanh(x)

    def remove_weight_norm(self) -> None:
        remove_weight_norm(self.conv_pre)
        for up in self.ups:
            remove_weight_norm(up)
        for block in self.resblocks:
            block.remove_weight_norm()
        remove_weight_norm(self.conv_post)


DEFAULT_GENERATOR_CONFIG = {
    "upsample_rates": [8, 8, 4],
    "upsample_kernel_sizes": [16, 16, 8],
    "upsample_initial_channel": 128,
    "resblock_kernel_sizes": [3, 5, 7],
    "resblock_dilation_sizes": [[1, 2], [2, 6], [3, 12]],
}


class DiscriminatorP(nn.Module):
    """One period discriminator of HiFi-GAN's MPD, with reduced channel widths."""

    def __init__(self, period: int, widths: tuple[int, ...]) -> None:
        super().__init__()
        self.period = period
        chans = (1,) + widths
        layers = []
        for i in range(len(widths)):
            stride = 3 if i < len(widths) - 1 else 1
            layers.append(weight_norm(nn.Conv2d(chans[i], chans[i + 1], (5, 1), (stride, 1),
                                                padding=(get_padding(5), 0))))
        self.convs = nn.ModuleList(layers)
        self.conv_post = weight_norm(nn.Conv2d(widths[-1], 1, (3, 1), 1, padding=(1, 0)))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        fmap = []
        b, c, t = x.shape
        if t % self.period != 0:
            n_pad = self.period - (t % self.period)
            x = F.pad(x, (0, n_pad), "reflect")
            t = t + n_pad
        x = x.view(b, c, t // self.period, self.period)
        for conv in self.convs:
            x = F.leaky_relu(conv(x), LRELU_SLOPE)
            fmap.append(x)
        x = self.conv_post(x)
        fmap.append(x)
        return torch.flatten(x, 1, -1), fmap


class MultiPeriodDiscriminator(nn.Module):
    def __init__(self, periods: tuple[int, ...] = (2, 3, 5, 7, 11),
                 widths: tuple[int, ...] = (16, 32, 64, 128, 128)) -> None:
        super().__init__()
        self.discriminators = nn.ModuleList([DiscriminatorP(p, widths) for p in periods])

    def forward(self, y: torch.Tensor, y_hat: torch.Tensor):
        outs_real, outs_fake, fmaps_real, fmaps_fake = [], [], [], []
        for d in self.discriminators:
            o_r, f_r = d(y)
            o_f, f_f = d(y_hat)
            outs_real.append(o_r)
            outs_fake.append(o_f)
            fmaps_real.append(f_r)
            fmaps_fake.append(f_f)
        return outs_real, outs_fake, fmaps_real, fmaps_fake


# --------------------------------------------------------------------------------------------
# Losses
# --------------------------------------------------------------------------------------------

class MultiResolutionStftLoss(nn.Module):
    """Spectral convergence + log-magnitude L1 at three resolutions (Parallel WaveGAN)."""

    def __init__(self, resolutions=((512, 128, 512), (1024, 256, 1024), (256, 64, 256))) -> None:
        super().__init__()
        self.resolutions = resolutions
        for n_fft, _, win in resolutions:
            self.register_buffer(f"win_{n_fft}", torch.hann_window(win), persistent=False)

    def forward(self, y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        total = y.new_zeros(())
        for n_fft, hop, win in self.resolutions:
            window = getattr(self, f"win_{n_fft}")
            s_hat = torch.stft(y_hat, n_fft, hop, win, window, return_complex=True).abs()
            s = torch.stft(y, n_fft, hop, win, window, return_complex=True).abs()
            s_hat = s_hat.clamp(min=1e-7)
            s = s.clamp(min=1e-7)
            sc = torch.linalg.norm(s - s_hat) / torch.linalg.norm(s)
            mag = F.l1_loss(torch.log(s_hat), torch.log(s))
            total = total + sc + mag
        return total / len(self.resolutions)


def discriminator_loss(outs_real, outs_fake) -> torch.Tensor:
    loss = outs_real[0].new_zeros(())
    for dr, dg in zip(outs_real, outs_fake):
        loss = loss + torch.mean((1 - dr) ** 2) + torch.mean(dg ** 2)
    return loss


def generator_adv_loss(outs_fake) -> torch.Tensor:
    loss = outs_fake[0].new_zeros(())
    for dg in outs_fake:
        loss = loss + torch.mean((1 - dg) ** 2)
    return loss


def feature_loss(fmaps_real, fmaps_fake) -> torch.Tensor:
    loss = fmaps_real[0][0].new_zeros(())
    for dr, dg in zip(fmaps_real, fmaps_fake):
        for rl, gl in zip(dr, dg):
            loss = loss + torch.mean(torch.abs(rl.detach() - gl))
    return loss


# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------

def list_training_files(args) -> tuple[list[Path], str]:
    """Extracted train-split sources if present, else tuxpaint's *_desc*.ogg narrations."""
    sources = list(CLEAN_TRAIN_SOURCES)
    if args.include_lowband:
        sources += list(LOWBAND_TRAIN_SOURCES)
    if args.sources:
        sources = [s.strip() for s in args.sources.split(",") if s.strip()]
    for s in sources:
        if is_reserved(s):
            raise SystemExit(f"refusing reserved source {s!r}")
    files: list[Path] = []
    used = []
    for s in sources:
        d = GENUINE_DIR / s
        if d.is_dir():
            found = sorted(d.glob("*.wav"))
            if found:
                files += found
                used.append(f"{s}:{len(found)}")
    if files and not args.tuxpaint_ogg:
        return files, "corpus " + " ".join(used)
    found = sorted(p for p in TUXPAINT_STAMPS_DIR.rglob("*_desc*.ogg"))
    if not found:
        raise SystemExit("no training audio: neither data/corpus/raw/genuine/<train source>/ "
                         f"nor {TUXPAINT_STAMPS_DIR}/**/*_desc*.ogg")
    return found, f"tuxpaint-ogg:{len(found)}"


def trim_silence(x: np.ndarray, threshold_db: float = -45.0, frame: int = 256) -> np.ndarray:
    """Drops leading/trailing frames quieter than threshold relative to the clip peak frame."""
    n = len(x) // frame
    if n < 4:
        return x
    energy = (x[: n * frame].reshape(n, frame) ** 2).mean(axis=1) + 1e-12
    db = 10 * np.log10(energy / energy.max())
    active = np.nonzero(db > threshold_db)[0]
    if len(active) == 0:
        return x
    start = max(active[0] - 2, 0) * frame
    end = min(active[-1] + 3, n) * frame
    return x[start:end]


def load_corpus(files: list[Path], max_seconds: float, rng: random.Random, log) -> list[np.ndarray]:
    """Loads clips (shuffled, seeded) until max_seconds, peak-normalised to 0.95, as int16."""
    order = list(files)
    rng.shuffle(order)
    clips: list[np.ndarray] = []
    total = 0
    limit = int(max_seconds * SAMPLE_RATE_HZ)
    failed = 0
    for path in order:
        if total >= limit:
            break
        try:
            x = load_audio(path)
        except Exception as exc:  # a broken file must not stop training
            failed += 1
            log(f"skip {path}: {exc}")
            continue
        x = trim_silence(x)
        peak = float(np.abs(x).max()) if len(x) else 0.0
        if len(x) < HOP_SAMPLES * 8 or peak < 1e-3:
            continue
        x = 0.95 * x / peak
        clips.append((x * 32767.0).astype(np.int16))
        total += len(x)
    log(f"loaded {len(clips)} clips, {total / SAMPLE_RATE_HZ / 60.0:.1f} min, {failed} failed")
    return clips


class SegmentSampler:
    """Draws random fixed-length segments, clip chosen proportionally to length (seeded)."""

    def __init__(self, clips: list[np.ndarray], segment_samples: int, seed: int) -> None:
        self.clips = clips
        self.segment = segment_samples
        lengths = np.array([len(c) for c in clips], dtype=np.float64)
        self.cum = np.cumsum(lengths / lengths.sum())
        self.rng = np.random.default_rng(seed)

    def batch(self, batch_size: int) -> torch.Tensor:
        out = np.zeros((batch_size, self.segment), dtype=np.float32)
        for b in range(batch_size):
            i = int(np.searchsorted(self.cum, self.rng.random(), side="right"))
            clip = self.clips[min(i, len(self.clips) - 1)]
            if len(clip) > self.segment:
                start = int(self.rng.integers(0, len(clip) - self.segment + 1))
                seg = clip[start:start + self.segment]
            else:
                seg = clip
            out[b, : len(seg)] = seg.astype(np.float32) / 32767.0
            # random gain so the vocoder sees several levels
            out[b] *= float(self.rng.uniform(0.3, 1.0))
        return torch.from_numpy(out)


# --------------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------------

def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out-dir", type=Path, default=DEFAULT_OUT_DIR)
    p.add_argument("--minutes", type=float, default=45.0, help="training time budget (wall clock)")
    p.add_argument("--max-steps", type=int, default=0, help="stop after this many steps (0: no cap)")
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--segment-samples", type=int, default=8192,
                   help="multiple of 256 (8192 = 0.51 s, HiFi-GAN's own segment length)")
    p.add_argument("--max-train-minutes", type=float, default=90.0,
                   help="audio loaded into memory for training")
    p.add_argument("--sources", default="", help="comma list overriding the train sources")
    p.add_argument("--include-lowband", action="store_true",
                   help="also train on the 11 kHz game sources")
    p.add_argument("--tuxpaint-ogg", action="store_true",
                   help="train on tuxpaint's installed *_desc*.ogg even if the corpus exists")
    p.add_argument("--channels", type=int, default=128, help="generator initial channels")
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--warmup-fraction", type=float, default=0.4,
                   help="fraction of the budget trained without the discriminator")
    p.add_argument("--warmup-steps", type=int, default=0,
                   help="train the first N steps without the discriminator, whatever the time "
                        "(0: --warmup-fraction of the time budget)")
    p.add_argument("--lambda-mel", type=float, default=45.0)
    p.add_argument("--lambda-fm", type=float, default=2.0)
    p.add_argument("--lambda-stft", type=float, default=2.5)
    p.add_argument("--ckpt-minutes", type=float, default=4.0)
    p.add_argument("--log-every", type=int, default=25)
    p.add_argument("--fresh", action="store_true", help="ignore an existing checkpoint")
    p.add_argument("--benchmark", type=int, default=0,
                   help="time N steps of each phase on random data and exit")
    return p.parse_args(argv)


class Logger:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.f = open(path, "a", encoding="utf-8")

    def __call__(self, msg: str) -> None:
        line = f"{time.strftime('%Y-%m-%d %H:%M:%S')} {msg}"
        print(line, flush=True)
        self.f.write(line + "\n")
        self.f.flush()


def save_checkpoint(path: Path, state: dict) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def export_generator(out_dir: Path, gen: Generator, cfg: dict, step: int, meta: dict) -> Path:
    path = out_dir / "generator.pt"
    save_checkpoint(path, {"config": cfg, "state_dict": gen.state_dict(), "step": step,
                           "meta": meta,
                           "mel": {"sample_rate_hz": SAMPLE_RATE_HZ, "n_fft": N_FFT,
                                   "hop": HOP_SAMPLES, "win": WIN_SAMPLES, "n_mels": N_MELS,
                                   "fmin_hz": FMIN_HZ, "fmax_hz": FMAX_HZ}})
    return path


def count_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def main(argv=None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    if args.segment_samples % HOP_SAMPLES:
        raise SystemExit("--segment-samples must be a multiple of 256")
    out_dir: Path = args.out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    log = Logger(out_dir / "train.log")
    seed_everything(args.seed)

    cfg = dict(DEFAULT_GENERATOR_CONFIG)
    cfg["upsample_initial_channel"] = args.channels
    gen = Generator(cfg)
    mpd = MultiPeriodDiscriminator()
    mel_fn = MelComputer()
    stft_loss = MultiResolutionStftLoss()
    opt_g = torch.optim.AdamW(gen.parameters(), args.lr, betas=(0.8, 0.99))
    opt_d = torch.optim.AdamW(mpd.parameters(), args.lr, betas=(0.8, 0.99))

    if args.benchmark:
        return run_benchmark(args, gen, mpd, mel_fn, stft_loss, opt_g, opt_d, log)

    ckpt_path = out_dir / "last.pt"
    step = 0
    elapsed_s = 0.0
    sampler_state = None
    if ckpt_path.exists() and not args.fresh:
        state = torch.load(ckpt_path, map_location="cpu")
        gen.load_state_dict(state["gen"])
        mpd.load_state_dict(state["mpd"])
        opt_g.load_state_dict(state["opt_g"])
        opt_d.load_state_dict(state["opt_d"])
        step = state["step"]
        elapsed_s = state["elapsed_s"]
        sampler_state = state["sampler_rng"]
        torch.set_rng_state(state["torch_rng"])
        if state.get("config") != cfg:
            raise SystemExit("checkpoint generator config differs from the command line")
        log(f"resumed from {ckpt_path}: step {step}, {elapsed_s / 60.0:.1f} min trained")
    else:
        log(f"fresh start: seed {args.seed}, args {vars(args)}")

    files, desc = list_training_files(args)
    log(f"training data: {desc}")
    clips = load_corpus(files, args.max_train_minutes * 60.0, random.Random(args.seed), log)
    sampler = SegmentSampler(clips, args.segment_samples, args.seed)
    if sampler_state is not None:
        sampler.rng.bit_generator.state = sampler_state
    log(f"generator {count_params(gen) / 1e6:.3f} M params, MPD {count_params(mpd) / 1e6:.3f} M")

    budget_s = args.minutes * 60.0
    warmup_s = budget_s * args.warmup_fraction
    last_ckpt = time.monotonic()
    t_log = time.monotonic()
    steps_since_log = 0
    sums: dict[str, float] = {}
    meta = {"seed": args.seed, "data": desc, "clips": len(clips)}

    def checkpoint() -> None:
        save_checkpoint(ckpt_path, {
            "gen": gen.state_dict(), "mpd": mpd.state_dict(), "opt_g": opt_g.state_dict(),
            "opt_d": opt_d.state_dict(), "step": step, "elapsed_s": elapsed_s,
            "sampler_rng": sampler.rng.bit_generator.state, "torch_rng": torch.get_rng_state(),
            "config": cfg, "args": {k: str(v) for k, v in vars(args).items()}})
        export_generator(out_dir, gen, cfg, step, meta)

    gen.train()
    mpd.train()
    while elapsed_s < budget_s and (args.max_steps == 0 or step < args.max_steps):
        t0 = time.monotonic()
        adversarial = (step >= args.warmup_steps if args.warmup_steps > 0
                       else elapsed_s >= warmup_s)
        y = sampler.batch(args.batch_size)
        with torch.no_grad():
            mel = mel_fn(y)
        y = y.unsqueeze(1)
        y_hat = gen(mel)

        losses = {}
        if adversarial:
            opt_d.zero_grad(set_to_none=True)
            outs_r, outs_f, _, _ = mpd(y, y_hat.detach())
            loss_d = discriminator_loss(outs_r, outs_f)
            loss_d.backward()
            opt_d.step()
            losses["d"] = float(loss_d)

        opt_g.zero_grad(set_to_none=True)
        mel_hat = mel_fn(y_hat.squeeze(1))
        loss_mel = F.l1_loss(mel_hat, mel)
        loss_stft = stft_loss(y_hat.squeeze(1), y.squeeze(1))
        loss_g = args.lambda_mel * loss_mel + args.lambda_stft * loss_stft
        if adversarial:
            outs_f, fm_r, fm_f = [], [], []
            for d in mpd.discriminators:
                with torch.no_grad():
                    fm_r.append(d(y)[1])
                o_f, f_f = d(y_hat)
                outs_f.append(o_f)
                fm_f.append(f_f)
            loss_adv = generator_adv_loss(outs_f)
            loss_fm = feature_loss(fm_r, fm_f)
            loss_g = loss_g + loss_adv + args.lambda_fm * loss_fm
            losses["adv"] = float(loss_adv)
            losses["fm"] = float(loss_fm)
        loss_g.backward()
        torch.nn.utils.clip_grad_norm_(gen.parameters(), 100.0)
        opt_g.step()
        losses["mel"] = float(loss_mel)
        losses["stft"] = float(loss_stft)
        losses["g"] = float(loss_g)
        if not all(math.isfinite(v) for v in losses.values()):
            log(f"non-finite loss at step {step}: {losses}; stopping")
            return 1

        step += 1
        elapsed_s += time.monotonic() - t0
        steps_since_log += 1
        for k, v in losses.items():
            sums[k] = sums.get(k, 0.0) + v
        if step % args.log_every == 0:
            now = time.monotonic()
            rate = steps_since_log / (now - t_log)
            avg = " ".join(f"{k}={v / steps_since_log:.4f}" for k, v in sorted(sums.items()))
            phase = "gan" if adversarial else "warmup"
            log(f"step {step} [{phase}] {avg} steps/s={rate:.3f} "
                f"trained={elapsed_s / 60.0:.1f}/{args.minutes:.0f} min")
            sums.clear()
            steps_since_log = 0
            t_log = now
        if time.monotonic() - last_ckpt >= args.ckpt_minutes * 60.0:
            checkpoint()
            last_ckpt = time.monotonic()
            log(f"checkpoint at step {step}")

    checkpoint()
    log(f"done: {step} steps, {elapsed_s / 60.0:.1f} min trained; generator -> "
        f"{out_dir / 'generator.pt'}")
    (out_dir / "train_summary.json").write_text(json.dumps(
        {"steps": step, "trained_minutes": round(elapsed_s / 60.0, 2), "seed": args.seed,
         "data": desc, "clips": len(clips), "generator_params": count_params(gen)}, indent=2))
    return 0


def run_benchmark(args, gen, mpd, mel_fn, stft_loss, opt_g, opt_d, log) -> int:
    log(f"benchmark: generator {count_params(gen) / 1e6:.3f} M params, "
        f"MPD {count_params(mpd) / 1e6:.3f} M, threads {torch.get_num_threads()}")
    for adversarial in (False, True):
        times = []
        for _ in range(args.benchmark + 1):
            t0 = time.monotonic()
            y = torch.randn(args.batch_size, args.segment_samples) * 0.1
            mel = mel_fn(y)
            y = y.unsqueeze(1)
            y_hat = gen(mel)
            if adversarial:
                opt_d.zero_grad()
                outs_r, outs_f, _, _ = mpd(y, y_hat.detach())
                discriminator_loss(outs_r, outs_f).backward()
                opt_d.step()
            opt_g.zero_grad()
            loss = F.l1_loss(mel_fn(y_hat.squeeze(1)), mel) + stft_loss(y_hat.squeeze(1),
                                                                         y.squeeze(1))
            if adversarial:
                _, outs_f, fm_r, fm_f = mpd(y, y_hat)
                loss = loss + generator_adv_loss(outs_f) + feature_loss(fm_r, fm_f)
            loss.backward()
            opt_g.step()
            times.append(time.monotonic() - t0)
        t = sorted(times[1:])[len(times[1:]) // 2]
        log(f"benchmark {'gan' if adversarial else 'warmup'}: median {t:.3f} s/step")
    with torch.no_grad():
        gen.eval()
        mel = mel_fn(torch.randn(1, SAMPLE_RATE_HZ * 10) * 0.1)
        t0 = time.monotonic()
        gen(mel)
        log(f"benchmark inference: 10 s of audio in {time.monotonic() - t0:.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
