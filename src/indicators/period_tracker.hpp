#pragma once

#include <array>
#include <cstddef>
#include <span>

namespace dvd::indicators {

/// Read-only view of a stretch of the stream by absolute sample index:
/// samples[i - first_index] is sample i, for first_index <= i < first_index + samples.size().
struct SignalView {
    std::span<const float> samples;
    long long first_index = 0;

    long long end_index() const { return first_index + static_cast<long long>(samples.size()); }

    float at(long long index) const {
        return samples[static_cast<std::size_t>(index - first_index)];
    }
};

/// One glottal period found between two successive pulse marks, with its comparisons to the
/// previous period of the same run of periodic frames (for jitter and shimmer).
struct PeriodEvent {
    double period_samples = 0.0;           ///< T_k
    double amplitude = 0.0;                ///< A_k, peak-to-peak
    bool has_period_pair = false;          ///< a valid previous period within max_period_factor
    double period_abs_diff_samples = 0.0;  ///< |T_k - T_{k-1}|
    bool has_amplitude_pair = false;       ///< a previous amplitude within max_amplitude_factor
    double amplitude_abs_diff = 0.0;       ///< |A_k - A_{k-1}|
    double amplitude_abs_db = 0.0;         ///< |20 log10(A_k / A_{k-1})|
};

/// Options of `PeriodTracker` (samples at 8 kHz).
struct PeriodTrackerOptions {
    double min_period_samples = 20.0;   ///< shorter periods are not valid (1 / max_f0)
    double max_period_samples = 134.0;  ///< longer periods are not valid (1 / min_f0)
    double max_period_factor = 1.3;     ///< consecutive periods compared only within this ratio
    double max_amplitude_factor = 1.6;  ///< consecutive amplitudes compared only within this ratio
    double min_correlation = 0.5;       ///< below it the pulse chain breaks
};

/// Pulse marking inside runs of periodic frames, one 10 ms frame at a time (in the spirit of
/// Praat's "To PointProcess (periodic, cc)").
///
/// In a periodic frame (`voiced` argument true) with YIN period T whose block is [b0, b1):
/// - a new chain starts at the sample of largest |x| in [b0, b0 + ceil(T));
/// - from the last mark m (P = round(m), h = round(T / 2)), the next mark is m + tau, where tau
///   maximises the normalised cross-correlation of x[P - h .. P + h] with x[P + tau - h ..
///   P + tau + h] over integer tau in [floor(0.8 T), ceil(1.25 T)], refined by a parabola;
///   the chain breaks when that maximum is below min_correlation;
/// - marks are placed while m + floor(0.8 T) <= b1; a frame that is not periodic ends
///   the chain.
/// Period T_k = tau; amplitude A_k = max - min of x over [m_k - T_k / 4, m_{k+1} - T_k / 4],
/// each extreme refined by windowed-sinc interpolation (sinc_interpolation.hpp), so the sampling
/// phase does not masquerade as shimmer.
/// Thread ownership: one thread at a time; no allocation (fixed-size state).
class PeriodTracker {
public:
    /// Most periods one frame may produce (80-sample frames, periods >= 10 samples).
    static constexpr std::size_t kMaxEventsPerFrame = 16;

    explicit PeriodTracker(const PeriodTrackerOptions& options) : options_(options) {}

    /// Processes frame [block_begin, block_begin + block_samples). `signal` must cover
    /// [block_begin - 2 max_period, block_begin + block_samples + 2 max_period] (checked in debug
    /// builds). Returns this frame's periods (valid until the next call). No allocation.
    std::span<const PeriodEvent> advance(const SignalView& signal, long long block_begin,
                                         int block_samples, bool voiced,
                                         double period_samples) noexcept;

    void reset() noexcept;

private:
    // Best normalised correlation lag around the mark; returns false when below the minimum.
    bool next_lag(const SignalView& signal, long long mark, double period,
                  double* lag) const noexcept;
    static double peak_to_peak(const SignalView& signal, double from, double to) noexcept;

    PeriodTrackerOptions options_;
    bool in_chain_ = false;
    double mark_ = 0.0;  // absolute sample position of the last pulse mark
    bool has_prev_period_ = false;
    double prev_period_ = 0.0;
    double prev_amplitude_ = 0.0;
    std::array<PeriodEvent, kMaxEventsPerFrame> events_{};
};

}  // namespace dvd::indicators
