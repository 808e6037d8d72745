#pragma once

#include <array>
#include <cstdint>
#include <span>

#include "indicators/indicator_options.hpp"
#include "indicators/indicators.hpp"
#include "indicators/period_tracker.hpp"
#include "indicators/segment_tracker.hpp"

namespace dvd::indicators::detail {

/// Pitch histogram: 0.1-semitone bins from 50 Hz (400 bins reach 503 Hz).
inline constexpr int kPitchBins = 400;
inline constexpr double kPitchHistogramBaseHz = 50.0;
inline constexpr double kPitchBinsPerSemitone = 10.0;

/// Sums behind `Indicators` for one stretch of audio (the call, or the current window).
/// Fixed size (about 3 kB), trivially copyable; `finish` turns the sums into figures. Its bytes
/// are the saved call state (`IndicatorTracker::save_call_state`): a change to the fields must
/// bump kStateVersion in indicator_tracker.cpp, so that a saved state of the old layout is
/// refused instead of misread.
class Accumulator {
public:
    void reset() noexcept { *this = Accumulator(); }

    void add_frame(float energy_db, bool active, bool voiced, double f0_hz) noexcept;
    void add_hnr(double hnr_db) noexcept;
    void add_period(const PeriodEvent& event) noexcept;
    void add_spectrum(std::span<const float> power) noexcept;
    void add_segments(const SegmentEvents& events) noexcept;

    /// Figures over the bins lo_bin..hi_bin of the average spectrum.
    Indicators finish(int lo_bin, int hi_bin) const;

private:
    long long frames_ = 0;
    long long active_frames_ = 0;
    long long voiced_frames_ = 0;
    double voiced_energy_db_sum_ = 0.0;

    double f0_sum_ = 0.0;
    double f0_sum_sq_ = 0.0;
    double semitone_sum_ = 0.0;
    double semitone_sum_sq_ = 0.0;
    std::array<std::uint32_t, kPitchBins> pitch_histogram_{};

    long long hnr_frames_ = 0;
    double hnr_sum_db_ = 0.0;

    long long periods_ = 0;
    double period_sum_ = 0.0;
    double amplitude_sum_ = 0.0;
    long long period_pairs_ = 0;
    double period_diff_sum_ = 0.0;
    long long amplitude_pairs_ = 0;
    double amplitude_diff_sum_ = 0.0;
    double amplitude_db_sum_ = 0.0;

    long long spectrum_frames_ = 0;
    std::array<double, kFftSize / 2 + 1> ltas_{};

    long long speech_segments_ = 0;
    long long speech_frames_ = 0;
    long long gap_frames_ = 0;
    long long pauses_ = 0;
    long long pause_frames_ = 0;
    long long breaths_ = 0;
    long long breath_frames_ = 0;
    long long nuclei_ = 0;
};

}  // namespace dvd::indicators::detail
