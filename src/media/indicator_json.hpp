#pragma once

#include <array>
#include <string>
#include <string_view>

#include "indicators/indicators.hpp"

namespace dvd::media {

/// The key figures stored with every score point (the window's audio since the previous
/// point): enough for a chart, small enough for every window (docs/api.md, "GET /calls/{id}").
inline constexpr std::array<std::string_view, 11> kWindowIndicatorNames{
        "voiced_s",
        "pitch_mean_hz",
        "pitch_stddev_semitones",
        "jitter_local_percent",
        "shimmer_local_db",
        "hnr_db",
        "spectral_flatness",
        "spectral_tilt_db_per_octave",
        "pauses",
        "breaths",
        "speech_rate_syllables_per_s",
};

/// Every indicator of `indicators::to_list(indicators)` as one compact JSON object
/// `{"analysed_s":12.3,"pitch_mean_hz":151.2,...,"codec":"PCMU",...}`: numbers rounded to 4
/// significant digits, `null` for a figure that is not available, strings for text rows (the
/// codec). Key order is to_list's. Units and descriptions are not stored: they are fixed per name
/// (`indicators::to_list`), and the API adds them.
[[nodiscard]] std::string indicators_json(const indicators::Indicators& indicators);

/// Only the kWindowIndicatorNames figures, same form.
[[nodiscard]] std::string window_indicators_json(const indicators::Indicators& indicators);

/// 4 significant digits (1234.5678 -> 1235, 0.012345 -> 0.01235); non-finite values unchanged.
[[nodiscard]] double round_significant(double value);

}  // namespace dvd::media
