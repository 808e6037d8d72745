#pragma once

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/result.hpp"

namespace dvd::sim {

/// What a simulated caller says: 8 kHz mono float samples (full scale +-1.0). Immutable once
/// built, shared by every call that plays it (`shared_ptr<const CallAudio>`).
struct CallAudio {
    std::string label;  ///< for summaries, e.g. the WAV's path
    std::vector<float> samples_8k;

    [[nodiscard]] double duration_seconds() const {
        return static_cast<double>(samples_8k.size()) / 8000.0;
    }
};

/// Reads any file libsndfile reads (audio::read_audio_file), downmixed and resampled to 8 kHz.
/// Blocking file I/O: call it before placing calls, never on a network worker. Errors: those of
/// read_audio_file (NotFound, Corrupt, Io, ...).
[[nodiscard]] base::Result<std::shared_ptr<const CallAudio>> load_call_audio(
        const std::string& path);

/// A complete mono 16-bit PCM WAV file (RIFF, 44-byte header) in memory: what the simulator
/// serves at a recording URL. Samples are rounded and clipped to int16.
[[nodiscard]] std::string wav_file_bytes(std::span<const float> samples, int rate_hz);

}  // namespace dvd::sim
