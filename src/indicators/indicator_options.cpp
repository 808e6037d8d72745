#include "indicators/indicator_options.hpp"

#include <cmath>
#include <initializer_list>
#include <string>

#include <fmt/format.h>

namespace dvd::indicators {
namespace {

base::Error invalid(std::string message) {
    return base::fail(base::Errc::InvalidArgument, "IndicatorOptions: " + message);
}

}  // namespace

base::Result<void> validate(const IndicatorOptions& o) {
    for (float v :
         {o.min_f0_hz, o.max_f0_hz, o.yin_threshold, o.voicing_floor_db, o.activity_floor_db,
          o.activity_margin_db, o.noise_rise_db_per_frame, o.min_pause_s, o.breath_min_s,
          o.breath_max_s, o.breath_min_flatness, o.breath_below_speech_db, o.nucleus_dip_db,
          o.pulse_threshold, o.max_period_factor, o.max_amplitude_factor, o.min_period_correlation,
          o.band_low_hz, o.band_high_hz}) {
        if (!std::isfinite(v)) {
            return invalid("values must be finite");
        }
    }
    if (o.min_f0_hz < 50.0f || o.max_f0_hz > 800.0f || o.min_f0_hz >= o.max_f0_hz) {
        return invalid(fmt::format("need 50 <= min_f0_hz < max_f0_hz <= 800 (got {} and {})",
                                   o.min_f0_hz, o.max_f0_hz));
    }
    if (o.yin_window_samples < 64 || o.yin_window_samples > 320) {
        return invalid(fmt::format("yin_window_samples must be in 64..320 (got {})",
                                   o.yin_window_samples));
    }
    if (o.yin_threshold <= 0.0f || o.yin_threshold >= 1.0f) {
        return invalid(fmt::format("yin_threshold must be in (0, 1) (got {})", o.yin_threshold));
    }
    if (o.pulse_threshold < o.yin_threshold || o.pulse_threshold >= 1.0f) {
        return invalid(fmt::format("pulse_threshold must be in [yin_threshold, 1) (got {})",
                                   o.pulse_threshold));
    }
    if (o.activity_margin_db < 0.0f || o.noise_rise_db_per_frame < 0.0f) {
        return invalid(
                fmt::format("activity_margin_db ({}) and noise_rise_db_per_frame ({}) "
                            "must be >= 0",
                            o.activity_margin_db, o.noise_rise_db_per_frame));
    }
    if (o.min_voiced_frames < 1) {
        return invalid(fmt::format("min_voiced_frames must be >= 1 (got {})", o.min_voiced_frames));
    }
    if (o.min_pause_s < 0.01f || o.min_pause_s > 10.0f) {
        return invalid(fmt::format("min_pause_s must be in [0.01, 10] (got {})", o.min_pause_s));
    }
    if (o.breath_min_s < 0.01f || o.breath_max_s < o.breath_min_s || o.breath_max_s > 10.0f) {
        return invalid(
                fmt::format("need 0.01 <= breath_min_s <= breath_max_s <= 10 (got {} and {})",
                            o.breath_min_s, o.breath_max_s));
    }
    if (o.breath_min_flatness < 0.0f || o.breath_min_flatness > 1.0f) {
        return invalid(fmt::format("breath_min_flatness must be in [0, 1] (got {})",
                                   o.breath_min_flatness));
    }
    if (o.nucleus_dip_db <= 0.0f) {
        return invalid(fmt::format("nucleus_dip_db must be > 0 (got {})", o.nucleus_dip_db));
    }
    if (o.max_period_factor < 1.0f || o.max_amplitude_factor < 1.0f) {
        return invalid(
                fmt::format("max_period_factor ({}) and max_amplitude_factor ({}) must be "
                            ">= 1",
                            o.max_period_factor, o.max_amplitude_factor));
    }
    if (o.min_period_correlation < 0.0f || o.min_period_correlation >= 1.0f) {
        return invalid(fmt::format("min_period_correlation must be in [0, 1) (got {})",
                                   o.min_period_correlation));
    }
    const float bin_hz = static_cast<float>(kSampleRateHz) / kFftSize;
    if (o.band_low_hz < bin_hz || o.band_high_hz > kSampleRateHz / 2.0f
        || o.band_high_hz - o.band_low_hz < 4.0f * bin_hz) {
        return invalid(fmt::format(
                "need {} <= band_low_hz, band_high_hz <= {} and a band of at "
                "least {} Hz (got {} and {})",
                bin_hz, kSampleRateHz / 2, 4.0f * bin_hz, o.band_low_hz, o.band_high_hz));
    }
    return {};
}

}  // namespace dvd::indicators

fmt::format_context::iterator fmt::formatter<dvd::indicators::IndicatorOptions>::format(
        const dvd::indicators::IndicatorOptions& o, fmt::format_context& ctx) const {
    return fmt::format_to(
            ctx.out(),
            "min_f0_hz={} max_f0_hz={} yin_window_samples={} yin_threshold={} "
            "voicing_floor_db={} activity_floor_db={} activity_margin_db={} "
            "noise_rise_db_per_frame={} min_voiced_frames={} min_pause_s={} breath_min_s={} "
            "breath_max_s={} breath_min_flatness={} breath_below_speech_db={} nucleus_dip_db={} "
            "pulse_threshold={} max_period_factor={} max_amplitude_factor={} "
            "min_period_correlation={} "
            "band_low_hz={} band_high_hz={}",
            o.min_f0_hz, o.max_f0_hz, o.yin_window_samples, o.yin_threshold, o.voicing_floor_db,
            o.activity_floor_db, o.activity_margin_db, o.noise_rise_db_per_frame,
            o.min_voiced_frames, o.min_pause_s, o.breath_min_s, o.breath_max_s,
            o.breath_min_flatness, o.breath_below_speech_db, o.nucleus_dip_db, o.pulse_threshold,
            o.max_period_factor, o.max_amplitude_factor, o.min_period_correlation, o.band_low_hz,
            o.band_high_hz);
}
