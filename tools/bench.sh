#!/usr/bin/env bash
# `make bench`: micro-benchmarks (Google Benchmark) and a whole-process throughput run.
# Prints the figures quoted in README.md and docs/model-card.md; writes build/bench/*.json.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=build/bin/deepfake-voice-detector
bench=build/release/bench/micro/dvd_micro_bench
out=build/bench
mkdir -p "$out"

echo "== micro-benchmarks (one core each; rtf = seconds of audio per second of CPU) =="
"$bench" --benchmark_out="$out/micro.json" --benchmark_out_format=json \
    --benchmark_counters_tabular=true

echo
echo "== whole process: analyze --jobs 1 over generated 8 kHz clips (decode, features, model) =="
clips="$out/clips"
if [ ! -f "$clips/.complete" ]; then
    rm -rf "$clips" && mkdir -p "$clips"
    /usr/bin/python3 - "$clips" <<'PY'
import pathlib, sys, wave
import numpy as np
out = pathlib.Path(sys.argv[1])
rng = np.random.default_rng(1)
for i in range(100):  # 100 clips x 10 s of voiced, speech-like audio
    t = np.arange(80000) / 8000.0
    f0 = 110 + 40 * rng.random() + 25 * np.sin(2 * np.pi * (0.5 + rng.random()) * t)
    phase = 2 * np.pi * np.cumsum(f0) / 8000.0
    x = sum(np.sin(h * phase) / h for h in range(1, 16))
    x *= 0.1 * (0.6 + 0.4 * np.sin(2 * np.pi * (3 + 2 * rng.random()) * t))
    x += rng.normal(0, 0.003, x.shape)
    with wave.open(str(out / f"clip{i:03d}.wav"), "wb") as w:
        w.setnchannels(1); w.setsampwidth(2); w.setframerate(8000)
        w.writeframes((np.clip(x, -1, 1) * 32767).astype("<i2").tobytes())
PY
    touch "$clips/.complete"
fi
start=$(date +%s.%N)
"$bin" analyze --jobs 1 --jsonl "$clips"/*.wav > "$out/analyze.jsonl"
end=$(date +%s.%N)
/usr/bin/python3 - "$out/analyze.jsonl" "$start" "$end" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
audio = sum(r["duration_seconds"] for r in rows)
speech = sum(r["speech_seconds"] for r in rows)
wall = float(sys.argv[3]) - float(sys.argv[2])
print(f"{len(rows)} files, {audio:.0f} s of audio ({100 * speech / audio:.0f} % of it speech to the "
      f"VAD) in {wall:.2f} s on one thread: {audio / wall:.0f}x real time per core "
      f"(model loaded once)")
PY
