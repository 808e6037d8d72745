#!/usr/bin/env bash
# `make load` (opt-in, not part of `make test`): N concurrent simulated calls in real time against
# a real `serve` process, through the whole path (signed webhooks, Call Control commands, media
# WebSockets, decoding, scoring, the store). Reports the service's CPU seconds per second of call
# audio and the concurrent calls one core could carry, from /proc (not wall-clock guesses), and
# fails if any call did not complete, was not scored, or left the service without its copy of
# the call's recording (the simulator's summary says so per call).
#   tools/load.sh [CALLS] [SPEED]      defaults: 100 calls at once, real time (speed 1)
# LOAD_DATABASE_URL=postgresql://... runs it on that (empty) PostgreSQL database instead of a
# fresh SQLite file. The database server's own CPU is not in the service's figure; for a local
# server, LOAD_DB_PID=<its postmaster's pid> (the first line of $PGDATA/postmaster.pid) reports it
# too (the postmaster and its backends, from /proc). LOAD_SERVE_ARGS adds `serve` options, e.g.
# LOAD_SERVE_ARGS="--scoring-threads -1" to run the model on the network workers. LOAD_WAVS
# (space-separated paths) replaces the four 3-6 s samples the calls play in turn: longer files
# spread each call's set-up (webhooks, commands, store rows) over more audio.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$PWD/build/bin/deepfake-voice-detector
calls=${1:-100}
speed=${2:-1}
work=$(mktemp -d)
trap 'kill "$service_pid" 2>/dev/null || true; rm -rf "$work"' EXIT

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
service_port=$(free_port)
sim_port=$(free_port)
seed=$(printf '4%.0s' $(seq 64))
public_key=$("$bin" simulate --print-key --signing-seed "$seed" | sed -n 's/^TELNYX_PUBLIC_KEY=//p')

# In $work, so that its ./var (call audio, recording copies) goes there too.
(cd "$work" && TELNYX_API_KEY=KEYload0123456789 TELNYX_PUBLIC_KEY="$public_key" \
    TELNYX_API_BASE="http://127.0.0.1:$sim_port/v2" PORT="$service_port" \
    DATABASE_URL="${LOAD_DATABASE_URL:-sqlite://$work/dvd.db}" LOG_LEVEL=warn \
    exec "$bin" serve --ready-file "$work/ready.json" ${LOAD_SERVE_ARGS:-} \
    > "$work/service.log" 2>&1) &
service_pid=$!
# The calls start only once the service listens (it writes the ready file then): calls placed
# before that would be timed by the simulator's webhook retries, not by the service.
launched=$(date +%s.%N)
for _ in $(seq 1200); do
    [ -s "$work/ready.json" ] && break
    kill -0 "$service_pid" 2>/dev/null || { cat "$work/service.log"; exit 1; }
    sleep 0.1
done
[ -s "$work/ready.json" ] || { echo "service not ready after 120 s"; cat "$work/service.log"; exit 1; }
awk -v a="$launched" -v b="$(date +%s.%N)" 'BEGIN { printf "service ready after %.1f s\n", b - a }'

ticks() { awk '{print $14 + $15}' "/proc/$service_pid/stat"; }
db_ticks() {
    local total=0 pid t
    [ -n "${LOAD_DB_PID:-}" ] || { echo 0; return; }
    # The postmaster with its exited children (cutime, cstime), and its live backends.
    for pid in "$LOAD_DB_PID" $(pgrep -P "$LOAD_DB_PID"); do
        t=$(awk '{print $14 + $15 + $16 + $17}' "/proc/$pid/stat" 2>/dev/null || echo 0)
        total=$((total + t))
    done
    echo "$total"
}
wav_args=()
for wav in ${LOAD_WAVS:-samples/genuine-festvox-ru.wav samples/synthetic-espeak-ng.wav \
                       samples/synthetic-hifigan.wav samples/genuine-codec2-examples.wav}; do
    wav_args+=(--wav "$wav")
done
hz=$(getconf CLK_TCK)
before=$(ticks)
db_before=$(db_ticks)
start=$(date +%s.%N)
# In a subshell that reads its own children's CPU once the simulator has exited: the load
# generator shares the machine's cores with the service, so its cost is reported too.
(TELNYX_API_KEY=KEYload0123456789 "$bin" simulate --service "http://127.0.0.1:$service_port" \
    --api-port "$sim_port" --signing-seed "$seed" --calls "$calls" --concurrency "$calls" \
    --speed "$speed" "${wav_args[@]}" > "$work/simulate.log" 2>&1
 rc=$?
 awk '{print $16 + $17}' "/proc/$BASHPID/stat" > "$work/simulate.ticks"
 exit $rc) || { tail -30 "$work/simulate.log"; exit 1; }
end=$(date +%s.%N)
after=$(ticks)
db_after=$(db_ticks)

/usr/bin/python3 - "$service_port" "$before" "$after" "$hz" "$start" "$end" "$calls" \
    "$db_before" "$db_after" "${LOAD_DB_PID:-}" "$(cat "$work/simulate.ticks")" \
    "$work/simulate.log" <<'PY'
import json, sys, urllib.request
port, before, after, hz, start, end, calls, db_before, db_after, db_pid, sim_ticks, sim_log = \
    sys.argv[1:]
cpu = (int(after) - int(before)) / int(hz)
with urllib.request.urlopen(f"http://127.0.0.1:{port}/calls?limit=1000") as r:
    listed = json.load(r)["calls"]
ended = [c for c in listed if c["status"] == "ended"]
scored = [c for c in ended if c["score"] is not None]
with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics") as r:
    metrics = r.read().decode()
def sample(name):
    return next((float(l.split()[1]) for l in metrics.splitlines() if l.startswith(name + " ")), None)
audio = sample("dvd_audio_seconds_total")
wall = float(end) - float(start)
print(f"calls: {len(listed)} listed, {len(ended)} ended, {len(scored)} scored (of {calls} placed)")
print(f"audio decoded and scored: {audio:.1f} s in {wall:.1f} s wall")
print(f"service CPU: {cpu:.2f} s = {cpu / audio * 1000:.2f} ms per second of call audio")
print(f"=> one core carries about {audio / cpu:.0f} concurrent calls (webhooks, commands, media, scoring, store)")
print(f"simulator CPU (the load generator, on the same cores): {int(sim_ticks) / int(hz):.2f} s "
      f"= {int(sim_ticks) / int(hz) / wall * 100:.0f} % of one core")
buckets = []
for l in metrics.splitlines():
    if l.startswith('dvd_window_scoring_duration_seconds_bucket{le="'):
        bound = l.split('"')[1]
        buckets.append((float("inf") if bound == "+Inf" else float(bound), float(l.split()[1])))
windows = sample("dvd_window_scoring_duration_seconds_count") or 0
if windows:
    def upper(q):
        return next(b for b, n in buckets if n >= q * windows)
    print(f"windows: {windows:.0f}; hand-over to logit p50 <= {upper(0.5) * 1000:g} ms, "
          f"p99 <= {upper(0.99) * 1000:g} ms (histogram bounds)")
waits = sample("dvd_scoring_waits_total")
if waits is not None:
    copied = sample("dvd_scoring_copied_total")
    print(f"streams waited for the scoring pool {waits:.0f} times; "
          + (f"it copied {copied:.0f} queued windows out to score them late and " if copied is not None else "")
          + f"dropped {sample('dvd_scoring_skipped_total'):.0f} stale windows")
if db_pid:
    db_cpu = (int(db_after) - int(db_before)) / int(hz)
    print(f"database server CPU: {db_cpu:.2f} s = {db_cpu / audio * 1000:.2f} ms per second of call audio")
with open(sim_log) as f:
    copies = [l.strip() for l in f if l.startswith("  recording: ")]
stored = sum(1 for l in copies if "stored its copy" in l)
print(f"recording copies: {stored} stored by the service, {len(copies) - stored} not")
for line in sorted(set(l for l in copies if "stored its copy" not in l))[:5]:
    print(f"  {line}")
sys.exit(0 if len(scored) == int(calls) and stored == len(copies) else 1)
PY
