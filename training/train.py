"""Trains the detector on the C++ front end's feature dump, exports it to ONNX, calibrates it and
evaluates it.

  /usr/bin/python3 training/train.py --features DIR --out models/ [--minutes 20] [--seed 1]

Writes OUT/detector.onnx, OUT/detector.json, training/last_run.json and the PyTorch checkpoint
WORK/best.pt (default WORK = training/runs, not committed; rewritten at each new best epoch, so a
run stopped early leaves its best epoch so far). Relative paths are resolved against the
repository root, so it runs from any directory.

Reproducibility: with a time budget (--minutes) the number of epochs is fixed after the first
epoch from its measured duration, and written to detector.json ("training.epochs"); rerunning with
--epochs N --seed S repeats the same run exactly (same torch build, same --threads).
"""

from __future__ import annotations

import argparse
import copy
import datetime
import json
import math
import os
import sys
import time
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)

# On the shared 2-core machine, OpenMP threads that spin at barriers while other processes hold the
# cores made a 2-thread training step 5-7x slower than a 1-thread one; sleeping waits fix that.
# Must be set before torch (libgomp) is loaded.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import calibrate  # noqa: E402
import distill  # noqa: E402
import evaluate  # noqa: E402
import metrics  # noqa: E402
from data import (HOP_FRAMES, MAX_FRAMES, MIN_FRAMES,  # noqa: E402
                  NUM_FEATURES, CropSampler,
                  FeatureDump, WindowSet, balance_group, make_windows, recording_domain,
                  sampling_weights, spec_augment, subsample_windows)

MAX_ONNX_BYTES = 2 * 1024 * 1024

# The front end the features come from (src/dsp); the C++ loader checks these against its own.
FEATURE_CONFIG = {"sample_rate_hz": 8000, "frame_length_samples": 200, "frame_shift_samples": 80,
                  "fft_size": 256, "num_filters": NUM_FEATURES, "low_freq_hz": 0,
                  "high_freq_hz": 4000, "preemphasis": 0.97, "log_floor": 1e-10}


def feature_config(dump: FeatureDump) -> Dict:
    """detector.json's "feature" block: the dump's own front_end.json when it has one."""
    config = dict(FEATURE_CONFIG)
    for key, value in dump.front_end.items():
        if key in FEATURE_CONFIG:
            # The C++ side prints float32 values in full (0.9700000286102295); 7 digits
            # round-trip them exactly.
            config[key] = float(f"{value:.7g}") if isinstance(value, float) else value
    if dump.excitation:
        config["excitation"] = True
    if dump.band_harmonicity:
        config["band_harmonicity"] = True
    if dump.fine_bands:
        config["fine_bands"] = dump.fine_bands
    return config


def export_detector(net, dump: FeatureDump, dev_ws: WindowSet, out_dir: str, max_frames: int,
                    training_block: Dict, log, dev_logits: Optional[np.ndarray] = None
                    ) -> Tuple[Dict, Dict, int, float]:
    """Calibrates `net` on all dev windows and dev full clips, exports it to OUT/detector.onnx
    (checked against PyTorch on random inputs and on real dev windows; exits on a mismatch or
    over MAX_ONNX_BYTES) and writes OUT/detector.json with `training_block` ("dev_eer" set to
    the dev window EER). Returns (detector.json's content, the ONNX check, the ONNX size, the
    dev window EER). `net` is a Detector or an average of several (ensemble.py); `dev_logits`,
    when the caller has them, are `net`'s logits on `dev_ws` (scored here otherwise)."""
    import model as model_lib  # noqa: PLC0415 -- torch, as in train()

    if dev_logits is None:
        dev_logits = evaluate.score_windows(net, dump, dev_ws)
    dev_targets = dev_ws.targets()
    dev_window_eer = metrics.eer(dev_logits, dev_targets)
    calibration, threshold = calibrate.fit_calibration(
        dev_logits, dev_targets, dev_ws.clip_index, dev_ws.seen,
        np.array([c.target for c in dev_ws.clips], dtype=np.float64))
    log(f"calibration: window a={calibration['window']['a']:.4f} "
        f"b={calibration['window']['b']:.4f}; call a={calibration['call']['a']:.4f} "
        f"b={calibration['call']['b']:.4f}; threshold {threshold:.6f}")

    os.makedirs(out_dir, exist_ok=True)
    onnx_path = os.path.join(out_dir, "detector.onnx")
    model_lib.export_onnx(net, onnx_path)
    real = []
    for length in (MIN_FRAMES, max_frames):
        idx = np.nonzero(dev_ws.length == length)[0][:4]
        if idx.size:
            real.append(np.stack([dump.features[s:s + length] for s in dev_ws.start[idx]]))
    check = model_lib.verify_onnx(net, onnx_path, real_inputs=real)
    onnx_bytes = os.path.getsize(onnx_path)
    if onnx_bytes > MAX_ONNX_BYTES:
        check["problems"].append(f"{onnx_bytes} bytes > {MAX_ONNX_BYTES}")
    worst = max(check["max_abs_diff"].values()) if check["max_abs_diff"] else float("inf")
    if worst > 1e-3:
        check["problems"].append(f"ONNX vs PyTorch max abs diff {worst:g}")
    log(f"onnx: {onnx_bytes} bytes, opset {check['opset']}, max abs diff vs PyTorch "
        f"{check['max_abs_diff']}")
    if check["problems"]:
        raise SystemExit(f"ONNX export check failed: {check['problems']}")

    detector = {
        "format": 1, "model": "detector.onnx", "input": model_lib.INPUT_NAME,
        "output": model_lib.OUTPUT_NAME,
        "feature": feature_config(dump),
        "window": {"min_frames": MIN_FRAMES, "max_frames": max_frames,
                   "hop_frames": HOP_FRAMES},
        "calibration": calibration,
        "threshold": threshold, "human_threshold": 0.5,
        "training": {**training_block, "dev_eer": dev_window_eer},
    }
    with open(os.path.join(out_dir, "detector.json"), "w", encoding="utf-8") as f:
        json.dump(detector, f, indent=2)
        f.write("\n")
    return detector, check, onnx_bytes, dev_window_eer


def write_report(path: str, report: Dict) -> str:
    """Writes a run's report as JSON at `path` (relative to the repository unless absolute);
    returns where it went."""
    path = _repo_path(path)
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    evaluate.write_json(path, report)
    return path


def _four_counts(text: str, flag: str) -> tuple:
    """"12,16,24,48" -> (12, 16, 24, 48); exits naming `flag` unless four positive counts."""
    counts = tuple(int(c) for c in text.split(","))
    if len(counts) != 4 or min(counts) <= 0:
        raise SystemExit(f"{flag} wants four positive counts, got {text!r}")
    return counts


def _repo_path(p: str) -> str:
    return p if os.path.isabs(p) else os.path.join(REPO, p)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Train, export, calibrate and evaluate the detector.")
    p.add_argument("--features", default="data/features", help="feature dump directory")
    p.add_argument("--out", default="models", help="where detector.onnx and detector.json go")
    p.add_argument("--work", default="training/runs", help="checkpoint directory")
    p.add_argument("--report", default="training/last_run.json", help="metrics for the model card")
    p.add_argument("--minutes", type=float, default=20.0, help="training time budget")
    p.add_argument("--epochs", type=int, default=0, help="fixed number of epochs (overrides "
                                                           "--minutes; for exact reruns)")
    p.add_argument("--steps-per-epoch", type=int, default=150)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--weight-decay", type=float, default=1e-2)
    p.add_argument("--balance-alpha", type=float, default=0.5,
                   help="group mass ~ clips**alpha within a class (0 = groups equal)")
    p.add_argument("--dropout", type=float, default=0.3, help="dropout in the head")
    p.add_argument("--pair-fraction", type=float, default=0.0,
                   help="share of each batch made of (vocoded copy, its genuine origin) pairs")
    p.add_argument("--mask-prob", type=float, default=0.6,
                   help="probability of each SpecAugment mask (time, frequency)")
    p.add_argument("--dev-windows", type=int, default=4000,
                   help="dev windows used for checkpoint selection (0 = all)")
    p.add_argument("--channels", default="8,12,16,32",
                   help="channels of the four convolution stages (model.Detector)")
    p.add_argument("--head", type=int, default=128, help="width of the MFM head")
    p.add_argument("--fine-channels", default="6,12,16,24",
                   help="channels of the four stages of the fine-structure branch (used when the "
                        "dump has fine_bands)")
    p.add_argument("--average-from", type=int, default=0,
                   help="epoch from which the weights are averaged (stochastic weight "
                        "averaging); the average competes with the best epoch on dev (0 = off)")
    p.add_argument("--average-every", type=int, default=10,
                   help="steps between two samples of the weight average")
    p.add_argument("--exclude-train", action="append", default=[], metavar="TEXT",
                   help="leave out train clips whose path contains TEXT (repeatable; dev and "
                        "test are untouched)")
    p.add_argument("--loss", choices=("bce", "one-class"), default="bce",
                   help="bce: a linear logit with binary cross-entropy; one-class: a cosine score "
                        "head with the OC-softmax loss (model.one_class_loss)")
    p.add_argument("--variance-norm", action="store_true",
                   help="normalise each feature bin by its standard deviation over the window "
                        "as well as its mean (model.Detector variance_norm)")
    p.add_argument("--fine-only", action="store_true",
                   help="leave the filterbank branch out: a network of the fine values alone "
                        "(model.Detector spectral=False; needs a dump with --fine-bands)")
    p.add_argument("--domain-adversarial", type=float, default=0.0, metavar="SCALE",
                   help="train against a critic of the recording domain (the genuine source "
                        "package) with the gradient reversed at this scale, ramped up over "
                        "training (0 = off)")
    p.add_argument("--teacher", action="append", default=[], metavar="CHECKPOINT",
                   help="distil from the average of these trained checkpoints (repeatable; "
                        "distill.py)")
    p.add_argument("--distill-weight", type=float, default=0.5,
                   help="with --teacher: the target is (1 - w) label + w teacher probability")
    p.add_argument("--max-frames", type=int, default=MAX_FRAMES,
                   help="longest training crop and scoring window in speech frames (100 per "
                        "second; 200 = 2 s, the shipped model; the issue allows up to 400)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--corpus", default="", help="corpus description for detector.json")
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--log-prefix", default="", metavar="TEXT",
                   help="start every progress line with this (runs side by side: whose line)")
    args = p.parse_args(argv)
    if not MIN_FRAMES <= args.max_frames <= 400:
        p.error(f"--max-frames must be in {MIN_FRAMES}..400 (1-4 s of speech)")
    return args


def corpus_description(features_dir: str, dump: FeatureDump) -> str:
    corpus_dir = os.path.join(REPO, "data", "corpus")
    state = "unknown corpus"
    if os.path.exists(os.path.join(corpus_dir, "FULL_READY")):
        state = "data/corpus FULL_READY"
    elif os.path.exists(os.path.join(corpus_dir, "SMOKE_READY")):
        state = "data/corpus SMOKE_READY"
    counts = {s: len(dump.split(s)) for s in ("train", "dev", "test")}
    hours = dump.features.shape[0] / 100.0 / 3600.0
    return (f"{state}; features {os.path.relpath(features_dir, REPO)}: {len(dump.clips)} clips "
            f"(train {counts['train']}, dev {counts['dev']}, test {counts['test']}), "
            f"{hours:.2f} h of speech frames")


def lr_at(step: int, warmup_steps: int, total_steps: int, base_lr: float) -> float:
    """Linear warm-up over the first epoch, then cosine decay to 2 % of the base rate."""
    if step < warmup_steps:
        return base_lr * (0.1 + 0.9 * step / max(warmup_steps, 1))
    frac = min(1.0, (step - warmup_steps) / max(total_steps - warmup_steps, 1))
    return base_lr * (0.02 + 0.98 * 0.5 * (1.0 + math.cos(math.pi * frac)))


class WeightAverage:
    """Stochastic weight averaging (Izmailov et al. 2018; dense sampling as in SWAD, Cha et al.
    2021): the running mean of the parameters over the later steps of training, which lands in a
    flatter region of the loss and tends to generalise better to unseen domains. BatchNorm
    statistics are recomputed for the averaged weights from fresh training batches."""

    def __init__(self, net) -> None:
        self.count = 0
        self.sums = {k: v.detach().clone().double().zero_()
                     for k, v in net.state_dict().items() if v.is_floating_point()}

    def add(self, net) -> None:
        for k, v in net.state_dict().items():
            if k in self.sums:
                self.sums[k] += v.detach().double()
        self.count += 1

    def network(self, net, next_batch, bn_batches: int = 50):
        """A copy of net with the averaged weights, in eval mode, its BatchNorm running statistics
        re-estimated on bn_batches batches from next_batch() (numpy [B, T, F])."""
        import torch  # noqa: PLC0415

        averaged = copy.deepcopy(net)
        state = averaged.state_dict()
        for k, total in self.sums.items():
            state[k] = (total / self.count).to(state[k].dtype)
        averaged.load_state_dict(state)
        norms = [m for m in averaged.modules()
                 if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
        momenta = [m.momentum for m in norms]
        for m in norms:
            m.reset_running_stats()
            m.momentum = None       # cumulative mean over the batches below
        averaged.train()
        with torch.no_grad():
            for _ in range(bn_batches if norms else 0):
                averaged(torch.from_numpy(next_batch()))
        for m, momentum in zip(norms, momenta):
            m.momentum = momentum
        return averaged.eval()


def write_checkpoint(net, path: str) -> None:
    """Writes `net` to `path` through a temporary file, so a reader never sees half of one."""
    import model as model_lib  # noqa: PLC0415 -- torch, as in train()

    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(model_lib.state_to_bytes(net))
    os.replace(tmp, path)


def train(args: argparse.Namespace) -> Dict:
    import torch  # noqa: PLC0415
    from torch import nn  # noqa: PLC0415

    import model as model_lib  # noqa: PLC0415

    prefix = (args.log_prefix,) if args.log_prefix else ()
    log = (lambda *a: None) if args.quiet else (lambda *a: print(*prefix, *a, flush=True))
    t_start = time.time()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)

    features_dir = _repo_path(args.features)
    dump = FeatureDump(features_dir)
    train_all = dump.split("train")
    excluded, kept = [], []
    for c in train_all:
        (excluded if any(text in c.clip for text in args.exclude_train) else kept).append(c)
    train_clips = [c for c in kept if c.num_frames >= MIN_FRAMES]
    dev_clips = dump.split("dev")
    if not train_clips:
        raise SystemExit(f"no train clips with >= {MIN_FRAMES} speech frames in {features_dir}")
    if len({c.label for c in train_clips}) < 2:
        raise SystemExit("train split needs both labels")
    dev_ws_all = make_windows(dev_clips, args.max_frames)
    if dev_ws_all.num_windows == 0 or len({c.label for c in dev_clips
                                           if c.num_frames >= MIN_FRAMES}) < 2:
        raise SystemExit("dev split needs scoreable clips of both labels")
    if args.exclude_train:
        log(f"--exclude-train {args.exclude_train}: {len(excluded)} train clips left out")
    log(f"train clips {len(train_clips)} (of {len(train_all)}; shorter than {MIN_FRAMES} frames "
        f"dropped), dev clips {len(dev_clips)}, dev windows {dev_ws_all.num_windows}")

    weights = sampling_weights(train_clips, args.balance_alpha)
    group_mass: Dict[str, float] = {}
    for c, w in zip(train_clips, weights):
        group_mass[balance_group(c)] = group_mass.get(balance_group(c), 0.0) + float(w)
    sampler = CropSampler(dump, train_clips, weights, rng, max_frames=args.max_frames,
                          paired_fraction=args.pair_fraction)
    log(f"paired sampling: {args.pair_fraction:.2f} of each batch; {sampler.num_pairable} copies "
        f"with their genuine origin in train")
    sel_ws = subsample_windows(dev_ws_all, args.dev_windows or dev_ws_all.num_windows,
                               np.random.default_rng(args.seed + 1000))
    sel_targets = sel_ws.targets()

    channels = _four_counts(args.channels, "--channels")
    fine_channels = _four_counts(args.fine_channels, "--fine-channels")
    net = model_lib.Detector(channels=channels, head=args.head, dropout=args.dropout,
                             num_features=dump.num_filters,
                             excitation=dump.frame_values,
                             fine=(dump.fine_bands, dump.fine_subframes),
                             fine_channels=fine_channels,
                             score="cosine" if args.loss == "one-class" else "linear",
                             variance_norm=args.variance_norm, spectral=not args.fine_only)
    params, mflops_200 = model_lib.describe(net)
    macs_200 = model_lib.count_macs(net, 200)
    log(f"model: {params} parameters, {mflops_200:.2f} MFLOPs ({macs_200 / 1e6:.2f} M MACs) "
        f"per 200-frame window")
    critic, domain_targets, domain_names = None, None, []
    if args.domain_adversarial > 0:
        domain_names = sorted({d for c in train_clips if (d := recording_domain(c)) is not None})
        critic = model_lib.DomainCritic(net.pooled_dim, len(domain_names))
        domain_targets = np.array([domain_names.index(d) if (d := recording_domain(c)) else -1
                                   for c in train_clips], dtype=np.int64)
        log(f"domain-adversarial: scale {args.domain_adversarial:g}, {len(domain_names)} "
            f"recording domains {domain_names}, {int((domain_targets >= 0).sum())} train clips "
            "with one")
    teacher = None
    if args.teacher:
        teacher = distill.EnsembleTeacher([_repo_path(p) for p in args.teacher], dump, dev_ws_all)
        log(f"distillation from {len(args.teacher)} teachers (dev window EER "
            f"{', '.join(f'{100 * e:.2f}%' for e in teacher.dev_eers)}; averaged "
            f"{100 * teacher.dev_eer:.2f}%), weight {args.distill_weight:g}")
    trained = list(net.parameters()) + (list(critic.parameters()) if critic else [])
    opt = torch.optim.AdamW(trained, lr=args.lr, weight_decay=args.weight_decay)
    loss_fn = model_lib.one_class_loss if args.loss == "one-class" else nn.BCEWithLogitsLoss()

    work = _repo_path(args.work)
    os.makedirs(work, exist_ok=True)
    checkpoint_path = os.path.join(work, "best.pt")

    budget_s = args.minutes * 60.0
    total_epochs = args.epochs if args.epochs > 0 else None
    history: List[Dict] = []
    best = {"eer": float("inf"), "epoch": -1, "state": None}
    average = WeightAverage(net) if args.average_from > 0 else None
    step = 0
    epoch = 0
    t_train = time.time()
    while total_epochs is None or epoch < total_epochs:
        t_epoch = time.time()
        net.train()
        losses, critic_losses = [], []
        total_steps = (total_epochs or 10 ** 6) * args.steps_per_epoch
        for _ in range(args.steps_per_epoch):
            for g in opt.param_groups:
                g["lr"] = lr_at(step, args.steps_per_epoch, total_steps, args.lr)
            x, y = sampler.batch(args.batch)
            spec_augment(x, rng, p=args.mask_prob, num_filters=dump.num_filters)
            if teacher is not None:
                y = distill.soft_targets(y, teacher.probabilities(x), args.distill_weight)
            opt.zero_grad(set_to_none=True)
            if critic is None:
                loss = loss_fn(net(torch.from_numpy(x)), torch.from_numpy(y))
                total = loss
            else:
                pooled = net.embed(torch.from_numpy(x))
                loss = loss_fn(net.head(pooled).squeeze(1), torch.from_numpy(y))
                # DANN schedule: the reversal grows from 0 to the scale over training.
                progress = step / max(1, total_steps)
                critic.scale = args.domain_adversarial * (2.0 / (1.0 + math.exp(-10 * progress))
                                                          - 1.0)
                d = torch.from_numpy(domain_targets[sampler.last_index])
                total = loss
                if bool((d >= 0).any()):
                    critic_loss = nn.functional.cross_entropy(critic(pooled), d, ignore_index=-1)
                    critic_losses.append(float(critic_loss.item()))
                    total = loss + critic_loss
            total.backward()
            opt.step()
            losses.append(float(loss.item()))
            step += 1
            if average is not None and epoch + 1 >= args.average_from and \
                    step % args.average_every == 0:
                average.add(net)
        sel_logits = evaluate.score_windows(net, dump, sel_ws)
        dev_eer = metrics.eer(sel_logits, sel_targets)
        epoch += 1
        if dev_eer < best["eer"]:
            best = {"eer": dev_eer, "epoch": epoch, "state": copy.deepcopy(net.state_dict())}
            # On disk at once, so that a run stopped early still leaves its best epoch.
            write_checkpoint(net, checkpoint_path)
        epoch_s = time.time() - t_epoch
        history.append({"epoch": epoch, "loss": float(np.mean(losses)), "dev_window_eer": dev_eer,
                        "lr": opt.param_groups[0]["lr"], "seconds": epoch_s})
        if critic is not None:
            # Chance is ln(domains); a critic near it means the embedding hides the recording.
            history[-1]["critic_loss"] = float(np.mean(critic_losses)) if critic_losses \
                else float("nan")
            history[-1]["critic_scale"] = critic.scale
        log(f"epoch {epoch:3d}  loss {np.mean(losses):.4f}  dev window EER {100 * dev_eer:6.2f}%"
            + (f"  critic {history[-1]['critic_loss']:.3f} (scale {critic.scale:.2f})"
               if critic is not None else "") +
            f"  lr {opt.param_groups[0]['lr']:.2e}  {epoch_s:5.1f}s"
            f"{'  *' if best['epoch'] == epoch else ''}")
        if total_epochs is None:
            # Fix the schedule from the first epoch's duration, so that the run is reproducible
            # with --epochs.
            total_epochs = max(1, int(budget_s // max(epoch_s, 1e-3)))
            log(f"time budget {args.minutes:g} min -> {total_epochs} epochs of "
                f"{args.steps_per_epoch} steps")
    averaged = None
    if average is not None and average.count > 0:
        averaged_net = average.network(net, lambda: sampler.batch(args.batch)[0])
        avg_eer = metrics.eer(evaluate.score_windows(averaged_net, dump, sel_ws), sel_targets)
        averaged = {"from_epoch": args.average_from, "samples": average.count,
                    "dev_window_eer": avg_eer, "chosen": avg_eer < best["eer"]}
        log(f"weight average of {average.count} samples from epoch {args.average_from}: dev "
            f"window EER {100 * avg_eer:.2f}% (best epoch {best['epoch']}: "
            f"{100 * best['eer']:.2f}%)")
        if averaged["chosen"]:
            best = {"eer": avg_eer, "epoch": "average", "state": averaged_net.state_dict()}
    train_s = time.time() - t_train

    net.load_state_dict(best["state"])
    net.eval()
    write_checkpoint(net, checkpoint_path)

    out_dir = _repo_path(args.out)
    training_block = {
        "seed": args.seed, "epochs": epoch, "dev_eer": None, "params": params,
        "mflops_200": round(mflops_200, 3),
        "trained_at": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "corpus": args.corpus or corpus_description(features_dir, dump),
    }
    detector, check, onnx_bytes, dev_window_eer = export_detector(
        net, dump, dev_ws_all, out_dir, args.max_frames, training_block, log)
    onnx_path = os.path.join(out_dir, "detector.onnx")

    results = evaluate.evaluate(net, dump, detector)
    for line in evaluate.summary_lines(results):
        log(line)
    report = {
        "detector": detector,
        "model": {"params": params, "macs_200": macs_200, "mflops_200": mflops_200,
                  "architecture": net.config, "onnx_bytes": onnx_bytes,
                  "onnx_max_abs_diff": check["max_abs_diff"], "checkpoint": os.path.relpath(
                      checkpoint_path, REPO)},
        "training": {"seed": args.seed, "epochs": epoch, "steps_per_epoch": args.steps_per_epoch,
                     "batch": args.batch, "lr": args.lr, "weight_decay": args.weight_decay,
                     "balance_alpha": args.balance_alpha, "dropout": args.dropout,
                     "mask_prob": args.mask_prob, "threads": args.threads, "loss": args.loss,
                     "weight_average": averaged,
                     "distillation": None if teacher is None else {
                         **teacher.describe(), "weight": args.distill_weight,
                         "checkpoints": args.teacher},
                     "domain_adversarial": None if critic is None else {
                         "scale": args.domain_adversarial, "domains": domain_names,
                         "critic_loss": history[-1]["critic_loss"]},
                     "best_epoch": best["epoch"], "selection_dev_windows": sel_ws.num_windows,
                     "selection_dev_window_eer": best["eer"], "dev_window_eer": dev_window_eer,
                     "train_clips": len(train_clips), "train_clips_dropped_short":
                         len(kept) - len(train_clips),
                     "exclude_train": args.exclude_train, "train_clips_excluded": len(excluded),
                     "group_mass": group_mass,
                     "train_seconds": train_s, "total_seconds": time.time() - t_start,
                     "history": history},
        "results": results,
    }
    report_path = write_report(args.report, report)
    log(f"wrote {onnx_path}, {os.path.join(out_dir, 'detector.json')}, {report_path} "
        f"in {time.time() - t_start:.0f}s")
    return report


def main(argv: Optional[Sequence[str]] = None) -> int:
    train(parse_args(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
