#pragma once

#include <fmt/core.h>

#include "base/result.hpp"

namespace dvd::indicators {

/// Input sampling rate: the service's decoded stream (float samples in [-1, 1]).
inline constexpr int kSampleRateHz = 8000;

/// Frame hop: every figure is computed on a 10 ms grid. Frame i is the block of samples
/// [i * kHopSamples, (i + 1) * kHopSamples); its analysis windows are centred on the block centre.
inline constexpr int kHopSamples = 80;

/// Samples needed after a frame's centre before the frame can be analysed (half the HNR window
/// plus margin): figures lag the input by this much (32 ms).
inline constexpr int kLookaheadSamples = 256;

/// Hann window of the harmonics-to-noise analysis (60 ms = 4.5 periods of 75 Hz, Praat's default
/// "periods per window" for its autocorrelation method).
inline constexpr int kHnrWindowSamples = 480;

/// FFT size (and Hann window length) of the spectral analysis: 32 ms, 31.25 Hz bins.
inline constexpr int kFftSize = 256;

/// Options of `IndicatorTracker`. Defaults suit 8 kHz telephone speech; formulas are documented
/// on the `Indicators` structs and in docs/indicators.md.
struct IndicatorOptions {
    // Pitch (YIN, de Cheveigne & Kawahara 2002).
    float min_f0_hz = 60.0f;          ///< lowest pitch searched; >= 50 Hz
    float max_f0_hz = 400.0f;         ///< highest pitch searched; <= 800 Hz, > min_f0_hz
    int yin_window_samples = 240;     ///< YIN integration window W (30 ms); 64..320
    float yin_threshold = 0.15f;      ///< absolute threshold on d'(tau) and voicing limit; (0, 1)
    float voicing_floor_db = -50.0f;  ///< frames at or below this energy (dBFS) are never voiced

    // Activity (the energy VAD that pauses, breaths and the speech rate build on).
    float activity_floor_db = -55.0f;       ///< never active at or below this energy (dBFS)
    float activity_margin_db = 6.0f;        ///< active: energy > noise floor + margin; >= 0
    float noise_rise_db_per_frame = 0.05f;  ///< noise-floor tracker's rise per frame; >= 0

    // Segments.
    int min_voiced_frames = 3;             ///< an active run with this many voiced frames is speech
    float min_pause_s = 0.25f;             ///< a gap between speech segments this long is a pause
    float breath_min_s = 0.1f;             ///< shortest breath burst
    float breath_max_s = 0.8f;             ///< longest breath burst; >= breath_min_s
    float breath_min_flatness = 0.15f;     ///< mean per-frame spectral flatness of a breath; [0, 1]
    float breath_below_speech_db = 10.0f;  ///< a breath's loudest frame is this far below speech
    float nucleus_dip_db = 2.0f;           ///< dip needed on both sides of a syllable nucleus; > 0

    // Periods (jitter, shimmer), Praat's conventions.
    /// Pulses are marked in active frames above the voicing floor whose YIN aperiodicity is below
    /// this (>= yin_threshold): a stricter limit would drop exactly the frames with the largest
    /// period changes and bias jitter low.
    float pulse_threshold = 0.3f;
    float max_period_factor = 1.3f;       ///< consecutive periods differing more are not compared
    float max_amplitude_factor = 1.6f;    ///< consecutive amplitudes differing more: not compared
    float min_period_correlation = 0.5f;  ///< cycle-to-cycle correlation needed to follow a pulse

    // Spectral shape.
    float band_low_hz = 300.0f;    ///< flatness and tilt use FFT bins in [low, high]
    float band_high_hz = 3400.0f;  ///< (telephone band); low >= 31.25 Hz, high <= 4000 Hz
};

/// Rejects non-finite values and out-of-range fields with `Errc::InvalidArgument`, naming the
/// field (ranges as documented on each member).
[[nodiscard]] base::Result<void> validate(const IndicatorOptions& options);

}  // namespace dvd::indicators

/// `fmt::format("{}", options)` prints every field.
template <>
struct fmt::formatter<dvd::indicators::IndicatorOptions> : fmt::formatter<fmt::string_view> {
    fmt::format_context::iterator format(const dvd::indicators::IndicatorOptions& options,
                                         fmt::format_context& ctx) const;
};
