#!/bin/sh
# Regenerates the codec test fixtures with Debian's ffmpeg (5.1, with libopus); byte-identical
# output on the same Debian release (libopus output could change with the library version: the
# Opus test compares with a tolerance, and the committed .opus/.s16le pair is what it checks).
# Usage: tests/data/codec/make_fixtures.sh   (from anywhere)
set -eu
cd "$(dirname "$0")"
ff() { ffmpeg -hide_banner -loglevel error -y "$@"; }
# Test signal: tones at 300, 1000, 2500 Hz (+ 6000 Hz at 16 kHz, which 8 kHz output must drop).
T8='0.25*sin(2*PI*300*t)+0.2*sin(2*PI*1000*t)+0.15*sin(2*PI*2500*t)'
T16="${T8}+0.1*sin(2*PI*6000*t)"
ff -f lavfi -i "aevalsrc=${T8}:s=8000:d=0.5" -c:a pcm_mulaw -f mulaw tones_8k.pcmu
ff -f lavfi -i "aevalsrc=${T8}:s=8000:d=0.5" -c:a pcm_alaw -f alaw tones_8k.pcma
ff -f mulaw -ar 8000 -ac 1 -i tones_8k.pcmu -f s16le tones_8k_pcmu_ref.s16le
ff -f alaw -ar 8000 -ac 1 -i tones_8k.pcma -f s16le tones_8k_pcma_ref.s16le
ff -f lavfi -i "aevalsrc=${T16}:s=16000:d=0.5" -c:a g722 -f g722 tones_16k.g722
ff -f g722 -i tones_16k.g722 -f s16le tones_16k_g722_ref.s16le
ff -f lavfi -i "aevalsrc=${T16}:s=16000:d=0.5" -f s16be tones_16k.l16
ff -f lavfi -i "aevalsrc=${T16}:s=16000:d=0.5" -c:a libopus -b:a 32k -frame_duration 20 \
    -application audio -fflags +bitexact tones_16k.opus
ff -c:a libopus -i tones_16k.opus -ar 8000 -f s16le tones_16k_opus_ref_8k.s16le
