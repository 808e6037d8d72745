#include "dsp/vad.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include <fmt/format.h>

#include "base/check.hpp"

namespace dvd::dsp {

base::Result<void> validate(const VadOptions& o) {
    const bool finite = std::isfinite(o.absolute_floor_db) && std::isfinite(o.margin_db)
                        && std::isfinite(o.noise_rise_db_per_frame)
                        && std::isfinite(o.initial_noise_db);
    if (!finite) {
        return base::fail(base::Errc::InvalidArgument, "VadOptions: values must be finite");
    }
    if (o.margin_db < 0.0f || o.noise_rise_db_per_frame < 0.0f) {
        return base::fail(base::Errc::InvalidArgument,
                          fmt::format("VadOptions: margin_db ({}) and noise_rise_db_per_frame ({}) "
                                      "must be >= 0",
                                      o.margin_db, o.noise_rise_db_per_frame));
    }
    if (o.hangover_frames < 0 || o.min_speech_frames < 1) {
        return base::fail(base::Errc::InvalidArgument,
                          fmt::format("VadOptions: need hangover_frames >= 0 (got {}) and "
                                      "min_speech_frames >= 1 (got {})",
                                      o.hangover_frames, o.min_speech_frames));
    }
    return {};
}

EnergyVad::EnergyVad(const VadOptions& options)
    : options_(options), noise_db_(options.initial_noise_db) {
    DVD_CHECK(validate(options).has_value(), "EnergyVad: invalid VadOptions (call validate first)");
}

bool EnergyVad::accept(float energy_db) noexcept {
    if (std::isnan(energy_db)) {
        energy_db = -std::numeric_limits<float>::infinity();  // garbage input is not speech
    }
    const float threshold_db = std::max(options_.absolute_floor_db, noise_db_ + options_.margin_db);
    const bool candidate = energy_db > threshold_db;
    run_frames_ = candidate ? run_frames_ + 1 : 0;

    bool decision = false;
    if (candidate && (run_frames_ >= options_.min_speech_frames || in_speech_)) {
        in_speech_ = true;
        hangover_left_ = options_.hangover_frames;
        decision = true;
    } else if (in_speech_ && hangover_left_ > 0) {
        --hangover_left_;
        decision = true;
    } else {
        in_speech_ = false;
    }

    // Minimum tracking: fall at once, rise slowly, never above the current energy.
    if (energy_db < noise_db_) {
        noise_db_ = energy_db;
    } else {
        noise_db_ = std::min(energy_db, noise_db_ + options_.noise_rise_db_per_frame);
    }
    return decision;
}

void EnergyVad::reset() noexcept {
    noise_db_ = options_.initial_noise_db;
    run_frames_ = 0;
    hangover_left_ = 0;
    in_speech_ = false;
}

}  // namespace dvd::dsp

fmt::format_context::iterator fmt::formatter<dvd::dsp::VadOptions>::format(
        const dvd::dsp::VadOptions& o, fmt::format_context& ctx) const {
    const std::string text = fmt::format(
            "absolute_floor_db={} margin_db={} noise_rise_db_per_frame={} initial_noise_db={} "
            "hangover_frames={} min_speech_frames={}",
            o.absolute_floor_db, o.margin_db, o.noise_rise_db_per_frame, o.initial_noise_db,
            o.hangover_frames, o.min_speech_frames);
    return fmt::formatter<fmt::string_view>::format(text, ctx);
}
