#include "indicators/yin.hpp"

#include <cstddef>

#include "base/check.hpp"

namespace dvd::indicators {

YinEstimator::YinEstimator(int window_samples, int tau_min, int tau_max, float threshold)
    : window_(window_samples), tau_min_(tau_min), tau_max_(tau_max), threshold_(threshold) {
    DVD_CHECK(tau_min_ >= 2 && tau_min_ < tau_max_, "YinEstimator: need 2 <= tau_min < tau_max");
    DVD_CHECK(window_ >= 1, "YinEstimator: window must be positive");
    DVD_CHECK(threshold_ > 0.0f && threshold_ < 1.0f, "YinEstimator: threshold must be in (0, 1)");
    d_.assign(static_cast<std::size_t>(tau_max_) + 2, 0.0f);
}

PitchEstimate YinEstimator::estimate(std::span<const float> x) noexcept {
    DVD_ASSERT(x.size() == static_cast<std::size_t>(span_samples()), "YinEstimator: span size");
    const auto w = static_cast<std::size_t>(window_);
    const std::size_t last = static_cast<std::size_t>(tau_max_) + 1;
    float* d = d_.data();

    // Step 2: difference function. Four partial sums break the floating-point dependency chain
    // (a fixed order: the result does not depend on chunking or on the compiler vectoriser).
    for (std::size_t tau = 1; tau <= last; ++tau) {
        const float* a = x.data();
        const float* b = x.data() + tau;
        float s0 = 0.0f;
        float s1 = 0.0f;
        float s2 = 0.0f;
        float s3 = 0.0f;
        std::size_t j = 0;
        for (; j + 4 <= w; j += 4) {
            const float e0 = a[j] - b[j];
            const float e1 = a[j + 1] - b[j + 1];
            const float e2 = a[j + 2] - b[j + 2];
            const float e3 = a[j + 3] - b[j + 3];
            s0 += e0 * e0;
            s1 += e1 * e1;
            s2 += e2 * e2;
            s3 += e3 * e3;
        }
        for (; j < w; ++j) {
            const float e = a[j] - b[j];
            s0 += e * e;
        }
        d[tau] = (s0 + s1) + (s2 + s3);
    }

    // Step 3: cumulative mean normalised difference (in place).
    d[0] = 1.0f;
    double running = 0.0;
    for (std::size_t tau = 1; tau <= last; ++tau) {
        running += static_cast<double>(d[tau]);
        d[tau] = running > 0.0 ? static_cast<float>(static_cast<double>(d[tau])
                                                    * static_cast<double>(tau) / running)
                               : 1.0f;
    }

    // Step 4: absolute threshold, then down to the bottom of that dip; else the global minimum.
    const auto lo = static_cast<std::size_t>(tau_min_);
    const auto hi = static_cast<std::size_t>(tau_max_);
    std::size_t best = 0;
    for (std::size_t tau = lo; tau <= hi; ++tau) {
        if (d[tau] < threshold_) {
            while (tau + 1 <= hi && d[tau + 1] < d[tau]) {
                ++tau;
            }
            best = tau;
            break;
        }
    }
    if (best == 0) {
        best = lo;
        for (std::size_t tau = lo + 1; tau <= hi; ++tau) {
            if (d[tau] < d[best]) {
                best = tau;
            }
        }
    }

    // Step 5: parabolic interpolation (neighbours exist: tau_min - 1 >= 1, tau_max + 1 stored).
    const double ym = d[best - 1];
    const double y0 = d[best];
    const double yp = d[best + 1];
    const double denom = ym - 2.0 * y0 + yp;
    double shift = 0.0;
    double minimum = y0;
    if (denom > 0.0) {
        shift = 0.5 * (ym - yp) / denom;
        if (shift > 0.5 || shift < -0.5) {
            shift = 0.0;
        } else {
            minimum = y0 - 0.25 * (ym - yp) * shift;
        }
    }
    PitchEstimate out;
    out.period_samples = static_cast<float>(static_cast<double>(best) + shift);
    out.aperiodicity = static_cast<float>(minimum < 0.0 ? 0.0 : minimum);
    out.periodic = out.aperiodicity < threshold_;
    return out;
}

}  // namespace dvd::indicators
