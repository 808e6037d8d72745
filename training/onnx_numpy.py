"""A tiny numpy interpreter for the ONNX operators the exported detector uses (opset 11).

Debian 12's python3-onnx (1.12) has no onnx.reference module and onnxruntime is not installed for
Python, so the export check runs the graph here, independently of PyTorch. Computes in float64.
Unknown operators raise NotImplementedError, so a new layer cannot slip through unchecked.
"""

from __future__ import annotations

from typing import Callable, Dict, List

import numpy as np
import onnx
from onnx import numpy_helper


def _attrs(node) -> Dict[str, object]:
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _conv(x: np.ndarray, w: np.ndarray, b, attrs) -> np.ndarray:
    if int(attrs.get("group", 1)) != 1:
        raise NotImplementedError("grouped Conv")
    if any(d != 1 for d in attrs.get("dilations", [1, 1])):
        raise NotImplementedError("dilated Conv")
    kh, kw = w.shape[2], w.shape[3]
    pt, pl, pb, pr = attrs.get("pads", [0, 0, 0, 0])
    sh, sw = attrs.get("strides", [1, 1])
    xp = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    oh = (xp.shape[2] - kh) // sh + 1
    ow = (xp.shape[3] - kw) // sw + 1
    out = np.zeros((x.shape[0], w.shape[0], oh, ow))
    for i in range(kh):
        for j in range(kw):
            patch = xp[:, :, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw]
            out += np.einsum("bchw,oc->bohw", patch, w[:, :, i, j], optimize=True)
    if b is not None:
        out += b.reshape(1, -1, 1, 1)
    return out


def _max_pool(x: np.ndarray, attrs) -> np.ndarray:
    if int(attrs.get("ceil_mode", 0)) != 0 or any(attrs.get("pads", [0, 0, 0, 0])):
        raise NotImplementedError("MaxPool with padding or ceil_mode")
    kh, kw = attrs["kernel_shape"]
    sh, sw = attrs.get("strides", [1, 1])
    oh = (x.shape[2] - kh) // sh + 1
    ow = (x.shape[3] - kw) // sw + 1
    out = np.full((x.shape[0], x.shape[1], oh, ow), -np.inf)
    for i in range(kh):
        for j in range(kw):
            out = np.maximum(out, x[:, :, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw])
    return out


def _slice(data: np.ndarray, starts, ends, axes=None, steps=None) -> np.ndarray:
    axes = list(range(len(starts))) if axes is None else [int(a) for a in axes]
    steps = [1] * len(starts) if steps is None else [int(s) for s in steps]
    index = [slice(None)] * data.ndim
    for s, e, a, st in zip(starts, ends, axes, steps):
        dim = data.shape[a]
        s, e = int(max(min(s, 2 ** 62), -(2 ** 62))), int(max(min(e, 2 ** 62), -(2 ** 62)))
        index[a] = slice(*slice(s, e, st).indices(dim))
    return data[tuple(index)]


def _gemm(a, b, c, attrs) -> np.ndarray:
    if attrs.get("transA", 0):
        a = a.T
    if attrs.get("transB", 0):
        b = b.T
    y = attrs.get("alpha", 1.0) * (a @ b)
    if c is not None:
        y = y + attrs.get("beta", 1.0) * c
    return y


def _batch_norm(x, scale, bias, mean, var, attrs) -> np.ndarray:
    shape = [1, -1] + [1] * (x.ndim - 2)
    eps = attrs.get("epsilon", 1e-5)
    return ((x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + eps) * scale.reshape(shape)
            + bias.reshape(shape))


_OPS: Dict[str, Callable] = {
    "Identity": lambda ins, at: ins[0],
    "Add": lambda ins, at: ins[0] + ins[1],
    "Sub": lambda ins, at: ins[0] - ins[1],
    "Neg": lambda ins, at: -ins[0],
    "MatMul": lambda ins, at: np.matmul(ins[0], ins[1]),
    "Mul": lambda ins, at: ins[0] * ins[1],
    "Div": lambda ins, at: (ins[0] // ins[1]) if np.issubdtype(ins[0].dtype, np.integer)
    else ins[0] / ins[1],
    "Pow": lambda ins, at: np.power(ins[0], ins[1]),
    "Sqrt": lambda ins, at: np.sqrt(ins[0]),
    "Relu": lambda ins, at: np.maximum(ins[0], 0),
    "Sigmoid": lambda ins, at: 1.0 / (1.0 + np.exp(-ins[0])),
    "Max": lambda ins, at: np.maximum.reduce(ins),
    "ReduceMean": lambda ins, at: np.mean(ins[0], axis=tuple(at["axes"]),
                                          keepdims=bool(at.get("keepdims", 1))),
    "Transpose": lambda ins, at: np.transpose(ins[0], at.get("perm")),
    "Unsqueeze": lambda ins, at: np.expand_dims(ins[0], tuple(at["axes"])),
    "Squeeze": lambda ins, at: np.squeeze(ins[0], axis=tuple(at["axes"])),
    "Shape": lambda ins, at: np.array(ins[0].shape, dtype=np.int64),
    "Gather": lambda ins, at: np.take(ins[0], ins[1], axis=at.get("axis", 0)),
    "Concat": lambda ins, at: np.concatenate(ins, axis=at["axis"]),
    "Reshape": lambda ins, at: ins[0].reshape(
        [ins[0].shape[i] if int(d) == 0 else int(d) for i, d in enumerate(ins[1])]),
    "Flatten": lambda ins, at: ins[0].reshape(
        int(np.prod(ins[0].shape[:at.get("axis", 1)])), -1),
    "Cast": lambda ins, at: ins[0].astype(onnx.mapping.TENSOR_TYPE_TO_NP_TYPE[at["to"]]
                                          if at["to"] != onnx.TensorProto.FLOAT else np.float64),
    "Slice": lambda ins, at: _slice(ins[0], *ins[1:]),
    "Conv": lambda ins, at: _conv(ins[0], ins[1], ins[2] if len(ins) > 2 else None, at),
    "MaxPool": lambda ins, at: _max_pool(ins[0], at),
    "Gemm": lambda ins, at: _gemm(ins[0], ins[1], ins[2] if len(ins) > 2 else None, at),
    "BatchNormalization": lambda ins, at: _batch_norm(*ins[:5], at),
}


def _as_compute(a: np.ndarray) -> np.ndarray:
    return a.astype(np.float64) if np.issubdtype(a.dtype, np.floating) else a


def run(model: onnx.ModelProto, feeds: Dict[str, np.ndarray]) -> List[np.ndarray]:
    """Runs the graph; returns the graph outputs in order (float outputs as float32)."""
    env: Dict[str, np.ndarray] = {}
    for init in model.graph.initializer:
        env[init.name] = _as_compute(numpy_helper.to_array(init))
    for name, value in feeds.items():
        env[name] = _as_compute(np.asarray(value))
    for node in model.graph.node:
        attrs = _attrs(node)
        if node.op_type == "Constant":
            env[node.output[0]] = _as_compute(numpy_helper.to_array(attrs["value"]))
            continue
        ins = [env[i] if i else None for i in node.input]
        if node.op_type == "Split":
            axis = int(attrs.get("axis", 0))
            sizes = attrs.get("split")
            if sizes is None:
                parts = np.split(ins[0], len(node.output), axis=axis)
            else:
                parts = np.split(ins[0], np.cumsum(sizes)[:-1], axis=axis)
            for name, part in zip(node.output, parts):
                env[name] = part
            continue
        fn = _OPS.get(node.op_type)
        if fn is None:
            raise NotImplementedError(f"ONNX op {node.op_type} not supported by onnx_numpy")
        env[node.output[0]] = np.asarray(fn(ins, attrs))
    outs = []
    for o in model.graph.output:
        v = env[o.name]
        outs.append(v.astype(np.float32) if np.issubdtype(v.dtype, np.floating) else v)
    return outs
