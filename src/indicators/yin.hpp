#pragma once

#include <span>
#include <vector>

namespace dvd::indicators {

/// One YIN estimate.
struct PitchEstimate {
    float period_samples = 0.0f;  ///< interpolated lag tau* (0 when the search found nothing)
    float aperiodicity = 1.0f;    ///< d'(tau*), 0 = perfectly periodic, about 1 for noise
    bool periodic = false;        ///< aperiodicity < threshold
};

/// YIN pitch estimator (de Cheveigne & Kawahara 2002, steps 1-5), on one analysis span.
///
/// For a span x[0 .. W + tau_max + 1]:
///   d(tau)  = sum_{j=0}^{W-1} (x[j] - x[j + tau])^2,             tau = 1 .. tau_max + 1
///   d'(0) = 1, d'(tau) = d(tau) tau / sum_{j=1}^{tau} d(j)      (1 when the sum is 0)
///   tau*  = the first tau in [tau_min, tau_max] with d'(tau) < threshold, moved on to the bottom
///           of that dip; when none, the global minimum of d' over [tau_min, tau_max];
///   the period is tau* refined by a parabola through d'(tau* - 1), d'(tau*), d'(tau* + 1).
/// Thread ownership: one thread at a time. Allocates only in the constructor.
class YinEstimator {
public:
    /// Preconditions (checked): 2 <= tau_min < tau_max, window_samples >= 1, threshold in (0, 1).
    YinEstimator(int window_samples, int tau_min, int tau_max, float threshold);

    /// Samples one estimate reads: W + tau_max + 2.
    int span_samples() const { return window_ + tau_max_ + 2; }

    /// Precondition: x.size() == span_samples() (checked in debug builds). No allocation.
    PitchEstimate estimate(std::span<const float> x) noexcept;

    std::size_t state_bytes() const { return d_.capacity() * sizeof(float); }

private:
    int window_;
    int tau_min_;
    int tau_max_;
    float threshold_;
    std::vector<float> d_;  // d'(tau), tau = 0 .. tau_max + 1
};

}  // namespace dvd::indicators
