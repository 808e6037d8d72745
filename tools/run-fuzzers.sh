#!/usr/bin/env bash
# Runs every libFuzzer target built by the `fuzz` preset (build/fuzz/tests/fuzz/fuzz_*) for the
# given number of seconds each, starting from the committed seeds (tests/fuzz/corpus/<target>/)
# plus what earlier runs found (build/fuzz/corpus/<target>/, kept between runs). A crash, leak,
# timeout or sanitizer report stops that target; its input lands in build/fuzz/crashes/ and the
# script exits 1 after the others ran. Reproduce with the printed command; once fixed, copy the
# input into tests/fuzz/corpus/<target>/ so that ctest replays it for good.
#
#   tools/run-fuzzers.sh [SECONDS] [TARGET...]
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
seconds=${1:-60}
shift || true
bin_dir="$here/build/fuzz/tests/fuzz"
work="$here/build/fuzz/corpus"
crashes="$here/build/fuzz/crashes"
mkdir -p "$work" "$crashes"

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    for binary in "$bin_dir"/fuzz_*; do
        name=$(basename "$binary")
        [[ "$name" == fuzz_replay_* ]] && continue
        targets+=("${name#fuzz_}")
    done
fi
if [ ${#targets[@]} -eq 0 ]; then
    echo "run-fuzzers: no fuzz targets in $bin_dir (cmake --build --preset fuzz --target dvd_fuzz_targets)" >&2
    exit 2
fi

failed=()
for target in "${targets[@]}"; do
    mkdir -p "$work/$target"
    echo "== fuzz_$target for ${seconds}s"
    # ASan's leak check stays on; UBSan findings abort (-fno-sanitize-recover in the preset).
    if ! "$bin_dir/fuzz_$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
            -max_len=65536 -print_final_stats=1 -artifact_prefix="$crashes/$target-" \
            "$work/$target" "$here/tests/fuzz/corpus/$target" 2>&1 | tail -n 25; then
        failed+=("$target")
    fi
done

if [ ${#failed[@]} -gt 0 ]; then
    echo "run-fuzzers: FAILED: ${failed[*]} (inputs in $crashes; reproduce: build/fuzz/tests/fuzz/fuzz_<target> <input>)" >&2
    exit 1
fi
echo "run-fuzzers: ${#targets[@]} targets, ${seconds}s each, no crash"
