#!/usr/bin/env bash
# Runs a folder's Python unit tests with Debian's python3 as a ctest; exits 77 (skipped) when a
# module they need is not installed (torch is only installed by `tools/install-deps.sh corpus`).
#   tools/run_python_tests.sh START_DIR PATTERN MODULE...
set -euo pipefail
start=$1 pattern=$2
shift 2
for module in "$@"; do
    if ! /usr/bin/python3 -c "import $module" 2>/dev/null; then
        echo "skipped: python module '$module' is not installed (tools/install-deps.sh corpus)"
        exit 77
    fi
done
cd "$(dirname "$0")/.."
exec /usr/bin/python3 -m unittest discover -s "$start" -p "$pattern" -t "$start"
