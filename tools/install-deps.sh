#!/usr/bin/env bash
# Installs every Debian package the project needs, fetches the pinned ONNX Runtime, and installs
# the npm packages of the dashboard and its browser test.
#
#   tools/install-deps.sh build    # compilers and libraries for `make build` / `make test` / `make run`,
#                                  # chromium, and `npm ci` for web/ and tests/browser/
#   tools/install-deps.sh corpus   # speech sources, TTS engines, codecs, python3-torch for `make corpus` / `make train`
#   tools/install-deps.sh fuzz     # the build packages plus clang and libFuzzer for `make fuzz`
#
# Idempotent: packages already present are not reinstalled, and the ONNX Runtime cache under
# .deps/ is reused when its checksum matches. Runs apt-get as root (directly or through sudo).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
group=${1:-build}

# python3-scipy is left out on purpose: on Debian 12 it pulls libboost-dev (1.74), which conflicts
# with libboost1.81-dev. postgresql-15 is the server the PostgreSQL store's tests start privately
# (initdb into a temporary folder, a Unix socket only; tests/support/postgres_server.hpp); the
# service itself needs only libpq.
BUILD_PACKAGES=(
    build-essential cmake ninja-build pkg-config git ca-certificates
    libboost1.81-dev libfmt-dev libspdlog-dev nlohmann-json3-dev libfftw3-dev
    libsndfile1-dev libsoxr-dev libsodium-dev libcurl4-openssl-dev libsqlite3-dev libpq-dev
    libcairo2-dev libopus-dev libspandsp-dev
    libgtest-dev libgmock-dev libbenchmark-dev
    python3 python3-numpy
    chromium fonts-dejavu-core
    postgresql-15
)

# libFuzzer ships in compiler-rt (libclang-rt-14-dev) beside clang 14.
FUZZ_PACKAGES=(clang libclang-rt-14-dev)

CORPUS_PACKAGES=(
    sox libsox-fmt-all ffmpeg espeak-ng festival flite sptk
    festvox-kallpc16k festvox-rablpc16k festvox-don festvox-ellpc11k festvox-italp16k festvox-itapc16k
    festvox-us-slt-hts festvox-ru festvox-czech-dita
    flight-of-the-amazon-queen beneath-a-steel-sky tuxpaint-stamps-default fillets-ng-data-cs
    klettres-data ktuberling-data codec2-examples pocketsphinx-en-us pocketsphinx-testdata
    warzone2100-data
    fortunes-min fortunes-de fortunes-es fortunes-it fortunes-cs fortunes-ru
    python3-torch python3-torchaudio python3-onnx python3-numpy python3-soundfile
    mbrola mbrola-en1 mbrola-us1 mbrola-us2 mbrola-us3 mbrola-de2 mbrola-fr1
    mbrola-es1 mbrola-cz2 mbrola-it3 libttspico-utils
)

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

missing_packages() {
    local p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || echo "$p"
    done
}

enable_contrib_non_free() {
    # mbrola and SVOX pico live in contrib/non-free: add them beside the existing deb822 source,
    # same mirror and suites (see shared docs, data-sources.md).
    local src=/etc/apt/sources.list.d/debian.sources extra=/etc/apt/sources.list.d/dvd-contrib-non-free.sources
    [ -f "$extra" ] && return 0
    [ -f "$src" ] || { echo "install-deps: $src not found; enable contrib and non-free by hand" >&2; return 1; }
    awk '/^(Types|URIs|Suites|Signed-By):/ {print} /^$/ {print "Components: contrib non-free\n"}
         END {print "Components: contrib non-free"}' "$src" | awk 'NF || !blank++' | as_root tee "$extra" >/dev/null
    as_root apt-get update -q
}

apt_install() {
    local missing
    missing=$(missing_packages "$@")
    [ -z "$missing" ] && return 0
    echo "install-deps: installing: $missing"
    # shellcheck disable=SC2086
    if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing; then
        as_root apt-get update -q
        # shellcheck disable=SC2086
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing
    fi
}

# ONNX Runtime 1.29.0 C/C++ API: Microsoft's official linux-x64 build, redistributed (MIT) inside
# an npm package; no Debian 12 package ships it (shared docs, onnxruntime.md).
ORT_NPM_PACKAGE=com.github.asus4.onnxruntime@0.4.9
ORT_TARBALL=com.github.asus4.onnxruntime-0.4.9.tgz
ORT_SHA256=e59788788818fdde1b2e522e766a21ba0f7d8391de55737abf81e32cc801785d
ORT_DIR="$here/.deps/onnxruntime-1.29.0"

fetch_onnxruntime() {
    [ -f "$ORT_DIR/.complete" ] && return 0
    # npm only fetches the tarball; a machine that already has Node.js keeps its own.
    command -v npm >/dev/null 2>&1 || apt_install npm
    local tmp
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' RETURN
    echo "install-deps: fetching ONNX Runtime ($ORT_NPM_PACKAGE)"
    (cd "$tmp" && npm pack --silent "$ORT_NPM_PACKAGE" >/dev/null)
    echo "$ORT_SHA256  $tmp/$ORT_TARBALL" | sha256sum -c --quiet - || {
        echo "install-deps: checksum mismatch for $ORT_TARBALL" >&2
        return 1
    }
    tar -xzf "$tmp/$ORT_TARBALL" -C "$tmp" \
        package/Plugins/Linux/x64/libonnxruntime.so package/LICENSE package/ThirdPartyNotices.txt \
        'package/Plugins/iOS~/onnxruntime.xcframework/ios-arm64/onnxruntime.framework/Headers'
    rm -rf "$ORT_DIR"
    mkdir -p "$ORT_DIR/lib" "$ORT_DIR/include"
    cp "$tmp/package/Plugins/Linux/x64/libonnxruntime.so" "$ORT_DIR/lib/libonnxruntime.so.1"
    ln -s libonnxruntime.so.1 "$ORT_DIR/lib/libonnxruntime.so"
    cp "$tmp"/package/Plugins/iOS~/onnxruntime.xcframework/ios-arm64/onnxruntime.framework/Headers/*.h "$ORT_DIR/include/"
    cp "$tmp/package/LICENSE" "$tmp/package/ThirdPartyNotices.txt" "$ORT_DIR/"
    touch "$ORT_DIR/.complete"
}

# The dashboard's build (web/: esbuild, uPlot) and its browser test (tests/browser/:
# playwright-core, which drives Debian's chromium) come from npm, pinned by their lockfiles.
# `npm ci` runs only when node_modules is missing or the lockfile changed since the last one.
npm_ci() {
    local dir="$here/$1" stamp sum
    [ -f "$dir/package-lock.json" ] || return 0
    stamp="$dir/node_modules/.dvd-lockfile.sha256"
    sum=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
    [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$sum" ] && return 0
    command -v npm >/dev/null 2>&1 || apt_install npm
    echo "install-deps: npm ci in $1"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
    echo "$sum" > "$stamp"
}

case "$group" in
    build)
        apt_install "${BUILD_PACKAGES[@]}"
        fetch_onnxruntime
        npm_ci web
        npm_ci tests/browser
        ;;
    corpus)
        enable_contrib_non_free
        apt_install "${BUILD_PACKAGES[@]}"
        apt_install "${CORPUS_PACKAGES[@]}"
        fetch_onnxruntime
        ;;
    fuzz)
        apt_install "${BUILD_PACKAGES[@]}"
        apt_install "${FUZZ_PACKAGES[@]}"
        fetch_onnxruntime
        ;;
    *)
        echo "usage: $0 build|corpus|fuzz" >&2
        exit 2
        ;;
esac
