#pragma once

#include <fmt/core.h>

#include "base/result.hpp"

namespace dvd::dsp {

/// Options of `EnergyVad`. Energies are per-frame dBFS as produced by `FeatureExtractor`.
struct VadOptions {
    float absolute_floor_db = -55.0f;       ///< never speech at or below this energy
    float margin_db = 9.0f;                 ///< speech needs energy > noise floor + margin
    float noise_rise_db_per_frame = 0.05f;  ///< how fast the noise floor may rise (>= 0)
    /// Noise floor at stream start. 0 dBFS: the floor falls onto the first frame at once (it
    /// only ever drops immediately), so stationary noise of any level is never taken for speech
    /// at the start of a stream; a low start would call loud noise speech until the slow rise
    /// caught up (30 dB at 0.05 dB per frame = 6 s).
    float initial_noise_db = 0.0f;
    int hangover_frames = 8;                ///< frames kept as speech after the last candidate
    int min_speech_frames = 3;              ///< consecutive candidates needed for an onset (>= 1)
};

/// Rejects non-finite values, negative margin/rise/hangover and min_speech_frames < 1
/// with `Errc::InvalidArgument`.
[[nodiscard]] base::Result<void> validate(const VadOptions& options);

/// Causal, deterministic energy voice-activity detector; one decision per feature frame, no
/// lookahead, so streaming and batch decisions are identical.
///
/// Exact rule for each frame with energy e (noise N and counters carried between frames;
/// at start N = initial_noise_db, run = 0, hang = 0, speech = false):
///   1. candidate = e > max(absolute_floor_db, N + margin_db)      (N from previous frames)
///   2. run = candidate ? run + 1 : 0
///   3. if candidate and (run >= min_speech_frames or speech): speech = true, hang = hangover;
///         decision = true
///      else if speech and hang > 0: hang = hang - 1; decision = true   (hangover)
///      else: speech = false; decision = false
///   4. noise update: N = e if e < N, else N = min(e, N + noise_rise_db_per_frame)
/// So an onset is reported from its min_speech_frames-th consecutive candidate frame on (the
/// earlier candidates of that onset stay false), a candidate inside a hangover continues the
/// speech at once, and exactly hangover_frames frames after the last candidate are still true.
/// The noise floor follows a lower energy immediately and rises by at most
/// noise_rise_db_per_frame per frame.
///
/// Thread ownership: one thread at a time. No allocation; trivially copyable state.
class EnergyVad {
public:
    /// Precondition: validate(options) succeeds (checked with DVD_CHECK).
    explicit EnergyVad(const VadOptions& options = {});

    /// The decision for this frame (see the class comment).
    bool accept(float energy_db) noexcept;

    /// Back to the stream start.
    void reset() noexcept;

    /// Current noise-floor estimate, dBFS (after the last accept()).
    float noise_db() const noexcept { return noise_db_; }

    bool in_speech() const noexcept { return in_speech_; }

    const VadOptions& options() const noexcept { return options_; }

private:
    VadOptions options_;
    float noise_db_;
    int run_frames_ = 0;
    int hangover_left_ = 0;
    bool in_speech_ = false;
};

}  // namespace dvd::dsp

/// `fmt::format("{}", options)` prints every field, e.g. for the server's startup log.
template <>
struct fmt::formatter<dvd::dsp::VadOptions> : fmt::formatter<fmt::string_view> {
    fmt::format_context::iterator format(const dvd::dsp::VadOptions& options,
                                         fmt::format_context& ctx) const;
};
