#!/usr/bin/python3
"""Writes the small ONNX fixture model under tests/data/model/ that the C++ unit tests run.

It has the shipped detector's interface (input "features" [B, T, 60], output "logit" [B], opset 11,
mean normalisation inside the graph) but random weights, so tests do not depend on the trained
model. Also writes reference outputs computed by PyTorch, which ONNX Runtime must reproduce.

    /usr/bin/python3 tools/golden/make_test_model.py    # needs Debian's python3-torch
"""
import json
import pathlib

import numpy as np
import torch

OUT = pathlib.Path(__file__).resolve().parents[2] / "tests" / "data" / "model"


class TinyDetector(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv1d(60, 8, kernel_size=5, padding=2)
        self.fc = torch.nn.Linear(16, 1)

    def forward(self, x):  # x: [B, T, 60]
        x = x - x.mean(dim=1, keepdim=True)
        h = torch.relu(self.conv(x.transpose(1, 2)))  # [B, 8, T]
        stats = torch.cat([h.mean(dim=2), h.std(dim=2)], dim=1)
        return self.fc(stats).squeeze(-1)


def main():
    torch.manual_seed(7)
    model = TinyDetector().eval()
    OUT.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(model, torch.randn(1, 150, 60), OUT / "test_detector.onnx",
                      input_names=["features"], output_names=["logit"], opset_version=11,
                      dynamic_axes={"features": {0: "batch", 1: "frames"}, "logit": {0: "batch"}})
    meta = {
        "format": 1, "model": "test_detector.onnx", "input": "features", "output": "logit",
        "window": {"min_frames": 100, "max_frames": 200, "hop_frames": 50},
        "calibration": {"window": {"a": 1.5, "b": -0.25}, "call": {"a": 1.2, "b": 0.1}},
        "threshold": 0.75, "human_threshold": 0.5,
        "training": {"note": "random weights; a test fixture, not a detector"},
    }
    (OUT / "test_detector.json").write_text(json.dumps(meta, indent=2) + "\n")
    rng = np.random.default_rng(11)
    cases = []
    for frames in (100, 137, 200, 300):
        x = rng.normal(-5.0, 2.0, size=(frames, 60)).astype(np.float32)
        with torch.no_grad():
            y = float(model(torch.from_numpy(x)[None])[0])
        x.tofile(OUT / f"input_{frames}.f32")
        cases.append({"frames": frames, "input": f"input_{frames}.f32", "logit": y})
    (OUT / "reference.json").write_text(json.dumps({"cases": cases}, indent=2) + "\n")


if __name__ == "__main__":
    main()
