"""Recovers the trained networks inside a shipped detector.onnx as train.py checkpoints, so that
compare.py and ensemble.py can set a new network beside the shipped ones without retraining them
(`make train` takes 79 minutes on the 2-core machine; the checkpoints it writes live in the
ignored data/ folder and are gone on a new checkout, the ONNX file is committed).

  /usr/bin/python3 training/members_from_onnx.py models/detector.onnx --out data/shipped

Writes OUT/member0.pt, OUT/member1.pt, ... (one per network of an ensemble.py average, or one
for a single train.py export). The exported graph keeps PyTorch's parameter names
(`members.N.stage1.0.weight`, ...), so each network's layer sizes are read from the shapes of its
weights and the front end from detector.json beside the ONNX file. The one setting that leaves no
weight behind, variance normalisation of the inputs, is chosen by running both ways: the
recovered networks, averaged with the means and standard deviations detector.json records, must
give the graph's own logits (model.verify_onnx, the check every export passes: random windows of
100 to 300 frames, the graph run by the numpy interpreter in onnx_numpy.py), or nothing is
written. Dropout is not stored in a graph; the checkpoints say 0.3, train.py's default, which
only matters to a later fine-tuning.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see train.py

TOLERANCE = 1e-3  # the export check's bound (train.export_detector) on the same comparison


def _half(state: Dict[str, np.ndarray], key: str) -> int:
    """Half the output channels of a layer followed by Max-Feature-Map (which halves them)."""
    return int(state[key].shape[0]) // 2


def member_states(initializers: Dict[str, np.ndarray]) -> List[Dict[str, np.ndarray]]:
    """The parameters and buffers of each network: those under `members.N.` of an Average, in
    order, or all of them for a single Detector."""
    if not any(k.startswith("members.") for k in initializers):
        return [dict(initializers)]
    states: Dict[int, Dict[str, np.ndarray]] = {}
    for key, value in initializers.items():
        if not key.startswith("members."):
            raise ValueError(f"an average's graph holds a weight outside its members: {key}")
        index, name = key[len("members."):].split(".", 1)
        states.setdefault(int(index), {})[name] = value
    if sorted(states) != list(range(len(states))):
        raise ValueError(f"members numbered {sorted(states)}")
    return [states[i] for i in range(len(states))]


def detector_config(state: Dict[str, np.ndarray], width: int, num_filters: int,
                    fine_bands: int, variance_norm: bool) -> Dict:
    """Detector keyword arguments that give a network with exactly these weights, for inputs
    of `width` values per frame of which the first `num_filters` are the filterbank."""
    if "head.1.weight" not in state:
        raise ValueError("not a Detector's weights: no head.1.weight")
    cfg = {"head": _half(state, "head.1.weight"), "dropout": 0.3, "num_features": num_filters,
           "score": "cosine" if "head.4.direction" in state else "linear",
           "variance_norm": variance_norm, "spectral": "stage1.0.weight" in state}
    if cfg["spectral"]:
        cfg["channels"] = [_half(state, k) for k in ("stage1.0.weight", "stage2.0.weight",
                                                     "stage3.0.weight", "stage4.1.0.weight")]
    excitation = 0
    if "excitation_stage.0.weight" in state:
        w = state["excitation_stage.0.weight"]
        excitation = int(w.shape[2])
        cfg["excitation"] = excitation
        cfg["excitation_channels"] = int(w.shape[0]) // 2
    if "fine_stages.0.0.weight" in state:
        if fine_bands <= 0:
            raise ValueError("the network has a fine-structure branch but detector.json has no "
                             "fine_bands")
        values = width - num_filters - excitation
        if values <= 0 or values % fine_bands:
            raise ValueError(f"{values} fine values per frame are not a multiple of "
                             f"{fine_bands} bands")
        cfg["fine"] = (fine_bands, values // fine_bands)
        cfg["fine_channels"] = [_half(state, f"fine_stages.{i}.0.weight") for i in range(4)]
    return cfg


def build_member(state: Dict[str, np.ndarray], cfg: Dict):
    """A Detector with `cfg` and `state` loaded (strictly: every weight used, none missing but
    BatchNorm's step counters, which a graph does not keep)."""
    import torch  # noqa: PLC0415

    import model as model_lib  # noqa: PLC0415

    net = model_lib.Detector(**cfg)
    expected = net.state_dict()
    tensors = {}
    for key, ref in expected.items():
        if key in state:
            value = torch.from_numpy(np.array(state[key]))
            if tuple(value.shape) != tuple(ref.shape):
                raise ValueError(f"{key}: shape {tuple(value.shape)} in the graph, "
                                 f"{tuple(ref.shape)} in the network")
            tensors[key] = value.to(ref.dtype)
        elif key.endswith("num_batches_tracked"):
            tensors[key] = torch.zeros_like(ref)
        else:
            # The exporter keeps one copy of weights that are equal, as an untrained network's
            # BatchNorm statistics are; a trained network's are not.
            raise ValueError(f"the graph has no {key} (an untrained network's?)")
    unused = sorted(set(state) - set(expected))
    if unused:
        raise ValueError(f"weights the network does not use: {unused[:3]}")
    net.load_state_dict(tensors, strict=True)
    return net.eval()


def recover(onnx_path: str, detector_json: Optional[str] = None
            ) -> Tuple[list, List[float], List[float], float]:
    """(networks, member means, member standard deviations, the largest difference between
    their average and the graph on model.verify_onnx's inputs: the export check's random windows
    of 100-300 frames, the graph run by the numpy interpreter). Raises ValueError when no reading
    of the graph reproduces it."""
    import onnx  # noqa: PLC0415
    from onnx import numpy_helper  # noqa: PLC0415

    import model as model_lib  # noqa: PLC0415

    if detector_json is None:
        detector_json = os.path.join(os.path.dirname(os.path.abspath(onnx_path)), "detector.json")
    with open(detector_json) as f:
        detector = json.load(f)
    proto = onnx.load(onnx_path)
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    width = int(dims[2].dim_value)
    feature = detector.get("feature", {})
    num_filters = int(feature.get("num_filters", 60))
    fine_bands = int(feature.get("fine_bands", 0))
    states = member_states({i.name: numpy_helper.to_array(i) for i in proto.graph.initializer})
    training = detector.get("training", {})
    if len(states) > 1:
        means = [float(v) for v in training.get("member_means", [])]
        stds = [float(v) for v in training.get("member_stds", [])]
        if len(means) != len(states) or len(stds) != len(states):
            raise ValueError(f"{len(states)} networks in the graph, but detector.json gives "
                             f"{len(means)} means and {len(stds)} standard deviations")
    else:
        means, stds = [0.0], [1.0]
    best = None
    for variance_norm in (False, True):
        nets = [build_member(s, detector_config(s, width, num_filters, fine_bands, variance_norm))
                for s in states]
        whole = nets[0] if len(nets) == 1 else model_lib.Average(nets, means, stds)
        check = model_lib.verify_onnx(whole, onnx_path)
        if check["problems"]:
            raise ValueError(f"the graph fails the export check: {check['problems']}")
        diff = max(check["max_abs_diff"].values())
        if best is None or diff < best[3]:
            best = (nets, means, stds, diff)
    if best[3] > TOLERANCE:
        raise ValueError(f"the recovered networks differ from the graph by {best[3]:.3g} "
                         f"(more than {TOLERANCE}); not a graph this tool can read")
    return best


def main(argv: Optional[Sequence[str]] = None) -> List[str]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("onnx", help="a detector.onnx written by train.py or ensemble.py")
    p.add_argument("--detector-json", default=None,
                   help="its detector.json (default: the one beside it)")
    p.add_argument("--out", required=True, help="directory for member0.pt, member1.pt, ...")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)
    import model as model_lib  # noqa: PLC0415

    try:
        nets, means, stds, diff = recover(args.onnx, args.detector_json)
    except (ValueError, OSError) as e:
        raise SystemExit(f"members_from_onnx: {args.onnx}: {e}")
    os.makedirs(args.out, exist_ok=True)
    paths = []
    for i, net in enumerate(nets):
        path = os.path.join(args.out, f"member{i}.pt")
        tmp = path + ".tmp"
        with open(tmp, "wb") as f:
            f.write(model_lib.state_to_bytes(net))
        os.replace(tmp, path)
        paths.append(path)
        if not args.quiet:
            params, mflops = model_lib.describe(net)
            print(f"{path}: {params:,} parameters, {mflops:.1f} MFLOPs per 2 s window, "
                  f"channels {net.config['channels']}, fine {net.config['fine']}, "
                  f"dev mean {means[i]:.4f}, sd {stds[i]:.4f}", flush=True)
    if not args.quiet:
        print(f"their average differs from the graph by at most {diff:.2e}", flush=True)
    return paths


if __name__ == "__main__":
    main()
