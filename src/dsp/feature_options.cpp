#include "dsp/feature_options.hpp"

#include <cmath>
#include <string>

#include <fmt/format.h>

namespace dvd::dsp {
namespace {

base::Error invalid(std::string message) {
    return base::fail(base::Errc::InvalidArgument, "FeatureOptions: " + std::move(message));
}

}  // namespace

base::Result<void> validate(const FeatureOptions& o) {
    if (o.sample_rate_hz <= 0) {
        return invalid(fmt::format("sample_rate_hz must be > 0 (got {})", o.sample_rate_hz));
    }
    if (o.fft_size < 2 || o.fft_size % 2 != 0 || o.fft_size > kMaxFftSize) {
        return invalid(fmt::format("fft_size must be even and in 2..{} (got {})", kMaxFftSize,
                                   o.fft_size));
    }
    if (o.frame_length_samples < 2 || o.frame_length_samples > o.fft_size) {
        return invalid(fmt::format("frame_length_samples must be in 2..fft_size={} (got {})",
                                   o.fft_size, o.frame_length_samples));
    }
    if (o.frame_shift_samples <= 0) {
        return invalid(
                fmt::format("frame_shift_samples must be > 0 (got {})", o.frame_shift_samples));
    }
    if (o.num_filters < 1 || o.num_filters > kMaxFilters) {
        return invalid(
                fmt::format("num_filters must be in 1..{} (got {})", kMaxFilters, o.num_filters));
    }
    const double nyquist_hz = o.sample_rate_hz / 2.0;
    if (!std::isfinite(o.low_freq_hz) || !std::isfinite(o.high_freq_hz) || o.low_freq_hz < 0.0f
        || static_cast<double>(o.high_freq_hz) > nyquist_hz || o.low_freq_hz >= o.high_freq_hz) {
        return invalid(fmt::format(
                "need 0 <= low_freq_hz < high_freq_hz <= sample_rate_hz/2 = {} (got {} .. {})",
                nyquist_hz, o.low_freq_hz, o.high_freq_hz));
    }
    if (!(o.preemphasis >= 0.0f && o.preemphasis < 1.0f)) {
        return invalid(fmt::format("preemphasis must be in [0, 1) (got {})", o.preemphasis));
    }
    if (!(o.log_floor > 0.0f) || !std::isfinite(o.log_floor)) {
        return invalid(fmt::format("log_floor must be finite and > 0 (got {})", o.log_floor));
    }
    if (o.excitation && o.frame_length_samples <= 2 * kExcitationLpcOrder) {
        return invalid(fmt::format("excitation needs frame_length_samples > {} (got {})",
                                   2 * kExcitationLpcOrder, o.frame_length_samples));
    }
    if (o.fine_bands < 0 || o.fine_bands > kMaxFineBands) {
        return invalid(fmt::format("fine_bands must be in 0..{} (got {})", kMaxFineBands,
                                   o.fine_bands));
    }
    if (o.fine_bands > 0
        && (o.frame_shift_samples % kFineHopSamples != 0
            || o.frame_length_samples < o.frame_shift_samples + kFineHopSamples)) {
        return invalid(fmt::format(
                "fine_bands needs frame_shift_samples to be a multiple of {} and "
                "frame_length_samples >= frame_shift_samples + {} (got {} and {})",
                kFineHopSamples, kFineHopSamples, o.frame_shift_samples, o.frame_length_samples));
    }
    if (o.band_harmonicity && o.sample_rate_hz != kHarmonicityRateHz) {
        return invalid(fmt::format("band_harmonicity needs sample_rate_hz = {} (got {})",
                                   kHarmonicityRateHz, o.sample_rate_hz));
    }
    return {};
}

}  // namespace dvd::dsp

fmt::format_context::iterator fmt::formatter<dvd::dsp::FeatureOptions>::format(
        const dvd::dsp::FeatureOptions& o, fmt::format_context& ctx) const {
    const std::string text = fmt::format(
            "sample_rate_hz={} frame_length_samples={} frame_shift_samples={} fft_size={} "
            "num_filters={} low_freq_hz={} high_freq_hz={} preemphasis={} log_floor={} "
            "excitation={} "
            "fine_bands={} band_harmonicity={}",
            o.sample_rate_hz, o.frame_length_samples, o.frame_shift_samples, o.fft_size,
            o.num_filters, o.low_freq_hz, o.high_freq_hz, o.preemphasis, o.log_floor, o.excitation,
            o.fine_bands, o.band_harmonicity);
    return fmt::formatter<fmt::string_view>::format(text, ctx);
}
