"""The detector: a small LCNN (Max-Feature-Map CNN) over the (frequency x time) map of raw log
filterbank energies, with statistics pooling over time so that any window length works, and
optional branches for the front end's extra values per frame (excitation, fine sub-frames).

Contract with the C++ service (models/detector.json): input "features" float32 [B, T, width] of
raw features (width = 60 filterbank values, + 3 excitation, + 5 x fine_bands fine values; the
graph does the per-utterance mean normalisation itself), output "logit" float32 [B], positive =
synthetic. ONNX opset 11.
"""

from __future__ import annotations

import io
from typing import Dict, List, Sequence, Tuple

import numpy as np
import torch
from torch import nn

from data import NUM_FEATURES

ONNX_OPSET = 11
INPUT_NAME = "features"
OUTPUT_NAME = "logit"


class MaxFeatureMap(nn.Module):
    """Max-Feature-Map activation: the element-wise max of the two halves of dimension 1 (LCNN).
    The half size is fixed at construction so that the exported graph slices with constants.
    Training computes max(a, b) as b + relu(a - b), whose backward pass is several times cheaper
    on CPU than torch.max's; the ONNX export uses a plain Max."""

    def __init__(self, out_channels: int):
        super().__init__()
        self.out_channels = out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # split (not slicing): its backward is a concatenation, slicing's zero-fills a buffer.
        a, b = torch.split(x, self.out_channels, dim=1)
        if torch.onnx.is_in_onnx_export():
            return torch.max(a, b)
        return b + torch.relu(a - b)


def _mfm_block(in_ch: int, out_ch: int, kernel: int, pool=None, stride: int = 1) -> nn.Sequential:
    """Conv (2 * out_ch filters) -> MFM -> optional max pooling -> BatchNorm, the LCNN order of
    Lavrentyeva et al. (2019); normalising after pooling keeps the full-resolution work small."""
    layers = [nn.Conv2d(in_ch, 2 * out_ch, kernel_size=kernel, padding=kernel // 2, stride=stride),
              MaxFeatureMap(out_ch)]
    if pool is not None:
        layers.append(nn.MaxPool2d(pool, pool))
    layers.append(nn.BatchNorm2d(out_ch))
    return nn.Sequential(*layers)


class CosineScore(nn.Module):
    """One-class score head (OC-softmax, Zhang, Jiang and Duan 2021): the cosine between the
    embedding and one learned direction, negated so that positive = synthetic. Trained with
    `one_class_loss`, it gathers genuine speech in a tight cone around the direction and only
    pushes synthetic speech out of it, instead of drawing a boundary around the attacks seen in
    training; that generalised better to unseen attacks in ASVspoof 2019 LA. Output in [-1, 1].
    The export is ReduceMean, Sqrt and Div for the normalisation, Neg and MatMul for the product
    (all in onnx_numpy). On this corpus it trailed the linear head on dev (model card)."""

    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim
        self.direction = nn.Parameter(torch.randn(1, dim) / dim ** 0.5)

    def forward(self, e: torch.Tensor) -> torch.Tensor:
        e = e / torch.sqrt((e * e).mean(dim=1, keepdim=True) * self.dim + 1e-12)
        w = self.direction / torch.sqrt(
            (self.direction * self.direction).mean(dim=1, keepdim=True) * self.dim)
        return nn.functional.linear(e, -w)


def one_class_loss(output: torch.Tensor, target: torch.Tensor, alpha: float = 20.0,
                   genuine_margin: float = 0.9, synthetic_margin: float = 0.2) -> torch.Tensor:
    """OC-softmax loss on CosineScore's output (-cos): genuine clips (target 0) are pushed to a
    cosine above genuine_margin, synthetic clips (target 1) below synthetic_margin."""
    cos = -output
    gap = torch.where(target > 0.5, cos - synthetic_margin, genuine_margin - cos)
    return nn.functional.softplus(alpha * gap).mean()


def _stats_pool(x: torch.Tensor) -> torch.Tensor:
    """[B, C, T] -> [B, 2C]: mean and standard deviation over time."""
    mean = x.mean(dim=2)
    std = torch.sqrt((x - mean.unsqueeze(2)).pow(2).mean(dim=2) + 1e-5)
    return torch.cat([mean, std], dim=1)


class Detector(nn.Module):
    """LCNN: [B, T, 60] -> mean normalisation over time -> 4 MFM conv stages (a strided 5x5
    conv, then 3x3 convs with max pooling: 60 x T -> 3 x T/8) -> mean and standard deviation over
    time (statistics pooling, any T) -> MFM fully connected head -> logit [B].
    Default size: 65 k parameters, 21.5 MFLOPs per 200-frame window."""

    def __init__(self, channels: Sequence[int] = (8, 12, 16, 32), head: int = 128,
                 dropout: float = 0.3, num_features: int = NUM_FEATURES,
                 excitation: int = 0, excitation_channels: int = 16,
                 fine: Tuple[int, int] = (0, 0),
                 fine_channels: Sequence[int] = (6, 12, 16, 24), score: str = "linear",
                 variance_norm: bool = False, spectral: bool = True):
        super().__init__()
        if score not in ("linear", "cosine"):
            raise ValueError(f"score must be linear or cosine, got {score!r}")
        c1, c2, c3, c4 = channels
        fine_bands, fine_subframes = fine if fine[0] > 0 else (0, 0)
        if not spectral and not fine_bands:
            raise ValueError("a network without the filterbank branch needs the fine values")
        self.config = {"channels": list(channels), "head": head, "dropout": dropout,
                       "num_features": num_features, "excitation": excitation,
                       "excitation_channels": excitation_channels,
                       "fine": [fine_bands, fine_subframes], "fine_channels": list(fine_channels),
                       "score": score, "variance_norm": variance_norm, "spectral": spectral}
        self.variance_norm = variance_norm
        self.spectral = spectral
        self.num_filters = num_features
        self.excitation = excitation
        self.fine_bands = fine_bands
        self.fine_subframes = fine_subframes
        self.width = num_features + excitation + fine_bands * fine_subframes
        # A strided 5x5 first layer instead of conv + 2x2 pooling at full resolution: the same
        # receptive field at a quarter of the full-resolution work (which dominated CPU training).
        # spectral=False leaves the filterbank branch out: a network of the fine time structure
        # alone (the fine values are still read after the filterbank's, so the input is the same).
        self.pooled_dim = 0
        if spectral:
            self.stage1 = _mfm_block(1, c1, 5, stride=2)
            self.stage2 = _mfm_block(c1, c2, 3, (2, 2))
            self.stage3 = _mfm_block(c2, c3, 3, (2, 2))
            self.stage4 = nn.Sequential(_mfm_block(c3, c3, 1), _mfm_block(c3, c4, 3, (2, 1)))
            freq = num_features
            for _ in range(4):
                freq //= 2
            self.pooled_dim = 2 * c4 * freq
        if excitation:
            # Excitation branch: the per-frame residual statistics (not mean-normalised: their
            # level is the cue) -> a per-frame linear map (a [excitation x 1] convolution) + MFM
            # -> mean and standard deviation over time, joined to the spectral statistics.
            self.excitation_stage = nn.Sequential(
                nn.Conv2d(1, 2 * excitation_channels, kernel_size=(excitation, 1)),
                MaxFeatureMap(excitation_channels))
            self.pooled_dim += 2 * excitation_channels
        if fine_bands:
            # Fine-structure branch: the 2 ms sub-frames of every speech frame in sequence, a
            # [bands x 5T] map (src/dsp fine_bands) -> MFM conv stages that pool time by 8 and
            # the bands down to one -> mean and standard deviation over time. It sees the energy
            # ripple inside each pitch period, which Griffin-Lim phase smears.
            f1, f2, f3, f4 = fine_channels
            self.fine_stages = nn.Sequential(
                _mfm_block(1, f1, 3, (1, 2)), _mfm_block(f1, f2, 3, (2, 2)),
                _mfm_block(f2, f3, 3, (max(1, fine_bands // 2), 2)), _mfm_block(f3, f4, 3))
            self.pooled_dim += 2 * f4
        self.head = nn.Sequential(
            nn.Dropout(dropout),
            nn.Linear(self.pooled_dim, 2 * head),
            MaxFeatureMap(head),
            nn.Dropout(dropout),
            nn.Linear(head, 1) if score == "linear" else CosineScore(head),
        )

    def _normalise(self, x: torch.Tensor) -> torch.Tensor:
        """Mean normalisation over time (dimension 1) per bin; with variance_norm also divided
        by the standard deviation over time (floored at 0.1), which removes each bin's dynamic
        range as well as its level."""
        x = x - x.mean(dim=1, keepdim=True)
        if self.variance_norm:
            x = x / torch.sqrt((x * x).mean(dim=1, keepdim=True) + 1e-2)
        return x

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(features)).squeeze(1)

    def embed(self, features: torch.Tensor) -> torch.Tensor:
        """[B, T, width] -> the pooled statistics [B, pooled_dim] that the head scores."""
        parts = []
        if self.spectral:
            spectral = features[:, :, :self.num_filters] if self.width > self.num_filters \
                else features
            # Per-utterance cepstral-style mean normalisation over time, per filterbank bin.
            x = self._normalise(spectral)
            # No learnable input layer: the first convolution's input then needs no gradient,
            # which halves its backward cost on CPU; the BatchNorm after stage 1 sets the scale.
            x = x.transpose(1, 2).unsqueeze(1)              # [B, 1, F, T]
            x = self.stage4(self.stage3(self.stage2(self.stage1(x))))   # [B, C, F', T']
            x = torch.flatten(x, 1, 2)                      # [B, C*F', T']
            parts.append(_stats_pool(x))
        if self.excitation:
            e = features[:, :, self.num_filters:self.num_filters + self.excitation]
            e = e.transpose(1, 2).unsqueeze(1)                                 # [B, 1, E, T]
            e = torch.flatten(self.excitation_stage(e), 1, 2)                # [B, C, T]
            parts.append(_stats_pool(e))
        if self.fine_bands:
            f = features[:, :, self.num_filters + self.excitation:]         # [B, T, S * bands]
            f = f.reshape(f.shape[0], -1, self.fine_bands)                  # [B, S T, bands]
            f = self._normalise(f).transpose(1, 2).unsqueeze(1)
            f = torch.flatten(self.fine_stages(f), 1, 2)                    # [B, C, S T / 8]
            parts.append(_stats_pool(f))
        return parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)


class Average(nn.Module):
    """Several trained detectors as one network with the Detector's interface: the mean of their
    logits, each first standardised by the mean and standard deviation of its logits on the dev
    windows (compare.py --average), so networks of different scales weigh alike. Exported as one
    ONNX graph; every member costs its own forward pass per window."""

    def __init__(self, members: Sequence[nn.Module], means: Sequence[float],
                 stds: Sequence[float]):
        super().__init__()
        if not members or len(means) != len(members) or len(stds) != len(members):
            raise ValueError("an average needs one mean and one standard deviation per member")
        if len({m.width for m in members}) != 1:
            raise ValueError("the members read different feature widths")
        if min(stds) <= 0:
            raise ValueError("a member's logits have no spread")
        self.members = nn.ModuleList(members)
        self.width = members[0].width
        self.means = [float(v) for v in means]
        self.stds = [float(v) for v in stds]
        self.config = {"average": [m.config for m in members], "means": self.means,
                       "stds": self.stds}

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        total = None
        for member, mean, std in zip(self.members, self.means, self.stds):
            z = (member(features) - mean) / std
            total = z if total is None else total + z
        return total / len(self.members)


class _ReverseGradient(torch.autograd.Function):
    """Identity forward; the gradient multiplied by -scale backward (Ganin and Lempitsky 2015)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, scale: float) -> torch.Tensor:
        ctx.scale = scale
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return -ctx.scale * grad, None


class DomainCritic(nn.Module):
    """Training-only head for domain-adversarial training: guesses a clip's recording domain (the
    genuine source package it comes from) from the detector's pooled statistics, behind a
    gradient reversal. Minimising its loss trains the critic; the reversed gradient trains the
    detector's embedding to carry no recording domain, so that the score cannot rest on the
    recording (the gap between train and new recordings, model card). Not part of the export."""

    def __init__(self, dim: int, domains: int, hidden: int = 64):
        super().__init__()
        if domains < 2:
            raise ValueError("a domain critic needs at least two domains")
        self.scale = 0.0
        self.net = nn.Sequential(nn.Linear(dim, hidden), nn.ReLU(), nn.Linear(hidden, domains))

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        return self.net(_ReverseGradient.apply(pooled, self.scale))


def count_params(model: nn.Module) -> int:
    return int(sum(p.numel() for p in model.parameters()))


def count_macs(model: nn.Module, frames: int = 200) -> int:
    """Multiply-accumulates of one forward pass on a [1, frames, width] input: convolutions and
    linear layers (the element-wise ops -- MFM, pooling, BatchNorm, statistics -- add about 3 %
    and are not counted)."""
    macs: List[int] = []

    def conv_hook(mod: nn.Conv2d, _inp, out):
        k = mod.kernel_size[0] * mod.kernel_size[1] * (mod.in_channels // mod.groups)
        macs.append(int(out.numel()) * k)

    def linear_hook(mod: nn.Linear, _inp, out):
        macs.append(int(out.numel()) * mod.in_features)

    handles = []
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            handles.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            handles.append(m.register_forward_hook(linear_hook))
    was_training = model.training
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, frames, model.width))
    model.train(was_training)
    for h in handles:
        h.remove()
    return int(sum(macs))


def mflops(model: nn.Module, frames: int = 200) -> float:
    """Millions of floating-point operations per window (2 per multiply-accumulate)."""
    return 2.0 * count_macs(model, frames) / 1e6


def export_onnx(model: nn.Module, path: str, frames: int = 200) -> None:
    """Exports the eval-mode model with dynamic batch and time axes (opset 11)."""
    model.eval()
    dummy = torch.randn(1, frames, model.width)
    with torch.no_grad():
        torch.onnx.export(
            model, dummy, path, opset_version=ONNX_OPSET, input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME], do_constant_folding=True,
            dynamic_axes={INPUT_NAME: {0: "batch", 1: "frames"}, OUTPUT_NAME: {0: "batch"}})


def run_onnx_reference(path: str, x: np.ndarray) -> np.ndarray:
    """Runs the ONNX graph with the numpy interpreter in onnx_numpy.py (no ONNX Runtime for
    Python here, and Debian's onnx 1.12 has no onnx.reference)."""
    import onnx  # noqa: PLC0415

    import onnx_numpy  # noqa: PLC0415

    return onnx_numpy.run(onnx.load(path), {INPUT_NAME: x.astype(np.float32)})[0]


def verify_onnx(model: nn.Module, path: str, frames_list: Sequence[int] = (100, 150, 200, 300),
                batch: int = 2, seed: int = 0,
                real_inputs: Sequence[np.ndarray] = ()) -> Dict[str, object]:
    """onnx.checker on the file, the interface (names, dtypes, dynamic axes), and the max abs
    difference between PyTorch and the numpy ONNX interpreter on random inputs of each T in
    frames_list and on real_inputs (each [B, T, width], e.g. dev windows)."""
    import onnx  # noqa: PLC0415

    proto = onnx.load(path)
    onnx.checker.check_model(proto)
    opset = max(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx"))
    inputs = [(i.name, i.type.tensor_type.elem_type, [d.dim_param or d.dim_value
                                                      for d in i.type.tensor_type.shape.dim])
              for i in proto.graph.input]
    outputs = [(o.name, o.type.tensor_type.elem_type, [d.dim_param or d.dim_value
                                                       for d in o.type.tensor_type.shape.dim])
               for o in proto.graph.output]
    problems = []
    if opset != ONNX_OPSET:
        problems.append(f"opset {opset}")
    if len(inputs) != 1 or inputs[0][0] != INPUT_NAME or inputs[0][1] != onnx.TensorProto.FLOAT \
            or len(inputs[0][2]) != 3 or inputs[0][2][2] != model.width:
        problems.append(f"input {inputs}")
    if len(outputs) != 1 or outputs[0][0] != OUTPUT_NAME \
            or outputs[0][1] != onnx.TensorProto.FLOAT or len(outputs[0][2]) != 1:
        problems.append(f"output {outputs}")
    rng = np.random.default_rng(seed)
    model.eval()
    diffs = {}
    # Random inputs at the magnitudes of log energies (around -10, a few units of spread).
    cases = [(str(t), (rng.standard_normal((batch, t, model.width)) * 3.0 - 10.0))
             for t in frames_list]
    cases += [(f"real_{i}_T{x.shape[1]}", x) for i, x in enumerate(real_inputs)]
    for t, x in cases:
        x = np.ascontiguousarray(x, dtype=np.float32)
        with torch.no_grad():
            ref = model(torch.from_numpy(x)).numpy()
        got = run_onnx_reference(path, x)
        if got.shape != ref.shape:
            problems.append(f"T={t}: shape {got.shape} != {ref.shape}")
            continue
        diffs[t] = float(np.max(np.abs(got - ref)))
    return {"opset": opset, "inputs": inputs, "outputs": outputs, "max_abs_diff": diffs,
            "problems": problems, "bytes": len(proto.SerializeToString())}


def state_to_bytes(model: nn.Module) -> bytes:
    buf = io.BytesIO()
    torch.save({"config": model.config, "state": model.state_dict()}, buf)
    return buf.getvalue()


def load_checkpoint(path: str) -> Detector:
    blob = torch.load(path, map_location="cpu")
    cfg = blob["config"]
    model = Detector(channels=cfg["channels"], head=cfg["head"], dropout=cfg["dropout"],
                     num_features=cfg["num_features"], excitation=cfg.get("excitation", 0),
                     excitation_channels=cfg.get("excitation_channels", 16),
                     fine=tuple(cfg.get("fine", (0, 0))),
                     fine_channels=cfg.get("fine_channels", (6, 12, 16, 24)),
                     score=cfg.get("score", "linear"),
                     variance_norm=cfg.get("variance_norm", False),
                     spectral=cfg.get("spectral", True))
    model.load_state_dict(blob["state"])
    model.eval()
    return model


def describe(model: nn.Module) -> Tuple[int, float]:
    return count_params(model), mflops(model, 200)
