#pragma once

#include <span>
#include <vector>

#include "indicators/indicator_options.hpp"

namespace dvd::indicators {

/// One harmonicity measurement.
struct HarmonicityEstimate {
    bool valid = false;   ///< false for a silent frame or no positive correlation peak
    float r_max = 0.0f;   ///< normalised autocorrelation peak, clamped to [1e-6, 1 - 1e-6]
    float hnr_db = 0.0f;  ///< 10 log10(r_max / (1 - r_max))
    float lag_samples = 0.0f;
};

/// Harmonics-to-noise ratio by Boersma's (1993) autocorrelation method, one frame at a time.
///
/// Frame of N = kHnrWindowSamples samples; a[n] = (x[n] - mean(x)) w[n] with the Hann window
/// w[n] = 0.5 - 0.5 cos(2 pi (n + 0.5) / N); r_a(tau) = sum_n a[n] a[n + tau], r_w likewise;
/// r(tau) = (r_a(tau) / r_a(0)) / (r_w(tau) / r_w(0))  (the window's taper divided out);
/// r_max = maximum of r over lags in [0.8 T, 1.25 T] around the caller's pitch period T, refined
/// with windowed-sinc interpolation (sinc_interpolation.hpp); HNR = 10 log10(r_max / (1 - r_max)).
/// With harmonic power H and white noise power N, r_max ~ H / (H + N), so HNR ~ 10 log10(H / N).
/// Thread ownership: one thread at a time. Allocates only in the constructor; the window tables
/// are immutable and shared by all instances (built once per process).
class HarmonicityAnalyzer {
public:
    /// Longest lag any estimate may use (window / 2 - 1).
    static constexpr int kMaxLag = kHnrWindowSamples / 2 - 1;

    HarmonicityAnalyzer();

    static constexpr int frame_samples() { return kHnrWindowSamples; }

    /// Precondition: x.size() == frame_samples() (checked in debug builds). Periods outside
    /// [2.5, (kMaxLag - kSincHalfWidth - 1) / 1.25] = [2.5, 180] samples give an invalid
    /// estimate. No allocation.
    HarmonicityEstimate estimate(std::span<const float> x, float period_samples) noexcept;

    std::size_t state_bytes() const;

private:
    std::vector<float> frame_;  // a[n]
    std::vector<double> r_;     // r(first + j) for the lags of one estimate
};

}  // namespace dvd::indicators
