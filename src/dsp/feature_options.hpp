#pragma once

#include <algorithm>

#include <fmt/core.h>

#include "base/result.hpp"

namespace dvd::dsp {

/// Most filters a filterbank may have (bounds the per-stream feature buffer).
inline constexpr int kMaxFilters = 128;

/// Excitation features appended after the filterbank when `FeatureOptions::excitation` is set:
/// log kurtosis, skewness and log crest factor of the frame's linear-prediction residual.
inline constexpr int kExcitationFeatures = 3;

/// Order of the linear predictor whose residual the excitation features describe.
inline constexpr int kExcitationLpcOrder = 10;

/// Fine time structure (`FeatureOptions::fine_bands`): every frame shift is cut into sub-frames of
/// kFineWindowSamples samples (4 ms at 8 kHz, shorter than a pitch period) every kFineHopSamples,
/// each transformed with a kFineFftSize-point FFT and summed into `fine_bands` linear bands.
inline constexpr int kFineWindowSamples = 32;
inline constexpr int kFineHopSamples = 16;
inline constexpr int kFineFftSize = 64;
/// Most fine bands a frame may have (bounds the per-stream feature buffer).
inline constexpr int kMaxFineBands = 16;

/// Band harmonicity (`FeatureOptions::band_harmonicity`): kHarmonicityFeatures values per frame,
/// the normalised autocorrelation at the pitch lag in three bands, over a kHarmonicityWindowSamples
/// window (40 ms at 8 kHz: two periods of a 60 Hz voice) centred on the frame, transformed with a
/// kHarmonicityFftSize-point FFT (at least twice the window, so the autocorrelation does not
/// wrap). Pitch lags kHarmonicityMinLag..kHarmonicityMaxLag samples (400 Hz down to 60 Hz at
/// 8 kHz). The definition is in samples at 8 kHz: the option needs sample_rate_hz = 8000.
inline constexpr int kHarmonicityFeatures = 3;
inline constexpr int kHarmonicityWindowSamples = 320;
inline constexpr int kHarmonicityFftSize = 1024;
inline constexpr int kHarmonicityMinLag = 20;
inline constexpr int kHarmonicityMaxLag = 134;
inline constexpr int kHarmonicityRateHz = 8000;

/// Largest FFT size accepted (bounds the per-stream state; 4096 points = 512 ms at 8 kHz).
inline constexpr int kMaxFftSize = 4096;

/// Options of the log linear-filterbank front end ("LFB"). Defaults: 8 kHz telephone audio,
/// 25 ms frames every 10 ms, 256-point FFT, 60 linear triangular filters over 0-4 kHz.
/// The exact formulas are documented on `FeatureExtractor`.
struct FeatureOptions {
    int sample_rate_hz = 8000;       ///< sampling rate of the input samples
    int frame_length_samples = 200;  ///< 25 ms at 8 kHz; must be 2..fft_size
    int frame_shift_samples = 80;    ///< 10 ms at 8 kHz; must be > 0
    int fft_size = 256;              ///< even, >= frame_length_samples, <= kMaxFftSize
    int num_filters = 60;            ///< 1..kMaxFilters triangular filters
    float low_freq_hz = 0.0f;        ///< lower edge of the first filter, >= 0
    float high_freq_hz = 4000.0f;    ///< upper edge of the last filter, <= sample_rate_hz / 2
    float preemphasis = 0.97f;       ///< y[n] = x[n] - p x[n-1]; p in [0, 1)
    float log_floor = 1e-10f;        ///< energies are clamped to this before ln(); > 0
    /// Appends kExcitationFeatures values per frame that describe the LPC residual's shape
    /// (how peaky the glottal pulses are): phase and excitation cues that the magnitude
    /// filterbank cannot see. The frame length must then exceed 2 x kExcitationLpcOrder.
    bool excitation = false;
    /// When > 0, appends fine_subframes() x fine_bands values per frame: the log energies of
    /// short sub-frames inside the frame, in `fine_bands` linear bands over 0..sample_rate_hz/2.
    /// They show how sharp the glottal pulses are inside each pitch period, which phase
    /// re-synthesis (Griffin-Lim) smears while keeping the 25 ms magnitude. Needs
    /// frame_shift_samples to be a multiple of kFineHopSamples and frame_length_samples >=
    /// frame_shift_samples + kFineHopSamples. 0 = off.
    int fine_bands = 0;
    /// Appends kHarmonicityFeatures values per frame (after the excitation values, before the
    /// fine ones): how periodic the voice is at its pitch period in 300-1000, 1000-2000 and
    /// 2000-3400 Hz. A human voice's excitation grows noisier with frequency; pulse-excited
    /// vocoders (MLSA, LPC) excite every band with the same pulse and Griffin-Lim rebuilds the
    /// phase without regard to the pitch period. The window reaches
    /// `harmonicity_lookahead(options)` samples past the frame, so a frame is emitted that much
    /// later (7.5 ms with the defaults) and a stream's last frames only by
    /// `FeatureExtractor::finish`. Needs sample_rate_hz = kHarmonicityRateHz.
    bool band_harmonicity = false;
};

/// Samples of the band-harmonicity window before the frame's first sample (0 without the
/// option): the window is centred on the frame.
inline int harmonicity_lookbehind(const FeatureOptions& options) {
    return options.band_harmonicity
                   ? std::max(0, kHarmonicityWindowSamples / 2 - options.frame_length_samples / 2)
                   : 0;
}

/// Samples of the band-harmonicity window after the frame's last sample (0 without the option).
inline int harmonicity_lookahead(const FeatureOptions& options) {
    return options.band_harmonicity
                   ? std::max(0, kHarmonicityWindowSamples - harmonicity_lookbehind(options)
                                         - options.frame_length_samples)
                   : 0;
}

/// Sub-frames per frame with `fine_bands` (frame_shift_samples / kFineHopSamples), else 0.
inline int fine_subframes(const FeatureOptions& options) {
    return options.fine_bands > 0 ? options.frame_shift_samples / kFineHopSamples : 0;
}

/// Index of the first band-harmonicity value in a frame (after the filterbank and excitation).
inline int harmonicity_offset(const FeatureOptions& options) {
    return options.num_filters + (options.excitation ? kExcitationFeatures : 0);
}

/// Index of the first fine value in a frame (after the band-harmonicity values).
inline int fine_values_offset(const FeatureOptions& options) {
    return harmonicity_offset(options) + (options.band_harmonicity ? kHarmonicityFeatures : 0);
}

/// Values per frame: num_filters, plus kExcitationFeatures with `excitation`, plus
/// kHarmonicityFeatures with `band_harmonicity`, plus fine_subframes() x fine_bands with
/// `fine_bands`, in that order.
inline int feature_width(const FeatureOptions& options) {
    return fine_values_offset(options) + fine_subframes(options) * options.fine_bands;
}

/// Rejects nonsense options with `Errc::InvalidArgument` and a message naming the field:
/// non-positive rate, frame length < 2 or > fft_size, shift <= 0, odd or oversized fft_size,
/// filters outside 1..kMaxFilters, frequency range outside [0, rate/2] or empty,
/// preemphasis outside [0, 1), log_floor <= 0 or not finite, fine_bands outside 0..kMaxFineBands
/// or a frame geometry the fine sub-frames do not fit, band_harmonicity at another rate than
/// kHarmonicityRateHz.
[[nodiscard]] base::Result<void> validate(const FeatureOptions& options);

}  // namespace dvd::dsp

/// `fmt::format("{}", options)` prints every field, e.g. for the server's startup log.
template <>
struct fmt::formatter<dvd::dsp::FeatureOptions> : fmt::formatter<fmt::string_view> {
    fmt::format_context::iterator format(const dvd::dsp::FeatureOptions& options,
                                         fmt::format_context& ctx) const;
};
