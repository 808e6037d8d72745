"""Averages trained detectors into one model for the service: one ONNX graph that runs every
member and averages their logits (each standardised on the dev windows, as compare.py --average
measures it), calibrated and thresholded on dev exactly as train.py does for one network.

  /usr/bin/python3 training/ensemble.py --features data/features-fine6-harm --out models \
      --report training/last_run.json RUN1/best.pt RUN2/best.pt

Writes OUT/detector.onnx and OUT/detector.json (the service and `eval` read them unchanged) and
the report with the dev and test metrics. Each member costs a full network's compute per window
(the report and detector.json give the sum), so check `make bench` before shipping one.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
from typing import Dict, Optional, Sequence

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see train.py

import compare  # noqa: E402
import evaluate  # noqa: E402
import train  # noqa: E402
from data import MAX_FRAMES, FeatureDump, WindowSet, make_windows  # noqa: E402


def build_average(dump: FeatureDump, dev_ws: WindowSet, checkpoints: Sequence[str]):
    """(the members loaded, each standardised by its logits on `dev_ws`; the average's logits
    on `dev_ws`), so that the dev windows are scored once per member."""
    import model as model_lib  # noqa: PLC0415

    members = [model_lib.load_checkpoint(c) for c in checkpoints]
    logits = [evaluate.score_windows(m, dump, dev_ws) for m in members]
    dev_logits = compare.standardised_mean([{"dev": lg} for lg in logits])["dev"]
    return (model_lib.Average(members, [float(lg.mean()) for lg in logits],
                              [float(lg.std()) for lg in logits]), dev_logits)


def main(argv: Optional[Sequence[str]] = None) -> Dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--features", default="data/features-fine6-harm")
    p.add_argument("--out", default="models", help="where detector.onnx and detector.json go")
    p.add_argument("--report", default="training/last_run.json")
    p.add_argument("--max-frames", type=int, default=MAX_FRAMES,
                   help="the longest window, as the members were trained (200 = 2 s)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--quiet", action="store_true")
    p.add_argument("checkpoints", nargs="+", help="two or more train.py checkpoints (best.pt)")
    args = p.parse_args(argv)
    if len(args.checkpoints) < 2:
        raise SystemExit("an average needs at least two checkpoints")
    import torch  # noqa: PLC0415

    import model as model_lib  # noqa: PLC0415

    torch.set_num_threads(args.threads)
    log = (lambda *a: None) if args.quiet else (lambda *a: print(*a, flush=True))
    features_dir = train._repo_path(args.features)
    dump = FeatureDump(features_dir)
    dev_ws = make_windows(dump.split("dev"), args.max_frames)
    net, dev_logits = build_average(dump, dev_ws, args.checkpoints)
    params, mflops_200 = model_lib.describe(net)
    block = {
        "average_of": [os.path.relpath(os.path.abspath(c), train.REPO) for c in args.checkpoints],
        "member_means": net.means, "member_stds": net.stds, "dev_eer": None, "params": params,
        "mflops_200": round(mflops_200, 3),
        "trained_at": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "corpus": train.corpus_description(features_dir, dump),
    }
    out_dir = train._repo_path(args.out)
    detector, check, onnx_bytes, _ = train.export_detector(
        net, dump, dev_ws, out_dir, args.max_frames, block, log, dev_logits)
    results = evaluate.evaluate(net, dump, detector)
    for line in evaluate.summary_lines(results):
        log(line)
    report = {"detector": detector,
              "model": {"params": params, "mflops_200": mflops_200, "architecture": net.config,
                        "onnx_bytes": onnx_bytes, "onnx_max_abs_diff": check["max_abs_diff"]},
              "results": results}
    report_path = train.write_report(args.report, report)
    log(f"wrote {os.path.join(out_dir, 'detector.onnx')} ({onnx_bytes} bytes, {params} "
        f"parameters, {mflops_200:.1f} MFLOPs per 2 s window), detector.json, {report_path}")
    return report


if __name__ == "__main__":
    main()
