#include "indicators/sinc_interpolation.hpp"

#include <array>
#include <cmath>
#include <numbers>

#include "base/check.hpp"

namespace dvd::indicators {
namespace {

constexpr int kTaps =
        2 * kSincHalfWidth + 1;  // offsets -kSincHalfWidth .. +kSincHalfWidth around i

// weights[step][j]: weight of y[i - kSincHalfWidth + j] for the value at i + step / 8.
using Kernel = std::array<std::array<double, kTaps>, kSincSteps>;

Kernel make_kernel() {
    Kernel k{};
    for (int step = 0; step < kSincSteps; ++step) {
        const double frac = static_cast<double>(step) / kSincSteps;
        for (int j = 0; j < kTaps; ++j) {
            const double d = frac - static_cast<double>(j - kSincHalfWidth);  // t - tap
            double w = 0.0;
            if (std::fabs(d) < 1e-12) {
                w = 1.0;
            } else if (std::fabs(d) < kSincHalfWidth + 1) {
                const double x = std::numbers::pi * d;
                w = std::sin(x) / x
                    * (0.5 + 0.5 * std::cos(std::numbers::pi * d / (kSincHalfWidth + 1)));
            }
            k[static_cast<std::size_t>(step)][static_cast<std::size_t>(j)] = w;
        }
    }
    return k;
}

// Immutable after the first call (thread-safe initialisation of a function-local static).
const Kernel& kernel() {
    static const Kernel k = make_kernel();
    return k;
}

template <class T>
double value_impl(std::span<const T> y, std::size_t i, int step) noexcept {
    DVD_ASSERT(i < y.size() && step >= 0 && step < kSincSteps, "sinc_value: bad position");
    if (step == 0) {
        return static_cast<double>(y[i]);
    }
    const auto& w = kernel()[static_cast<std::size_t>(step)];
    const long long first = static_cast<long long>(i) - kSincHalfWidth;
    double sum = 0.0;
    for (int j = 0; j < kTaps; ++j) {
        const long long n = first + j;
        if (n >= 0 && n < static_cast<long long>(y.size())) {
            sum += w[static_cast<std::size_t>(j)]
                   * static_cast<double>(y[static_cast<std::size_t>(n)]);
        }
    }
    return sum;
}

template <class T>
Extreme refine_impl(std::span<const T> y, std::size_t i, bool maximum) noexcept {
    DVD_ASSERT(i >= 1 && i + 1 < y.size(), "refine_extreme: no neighbours");
    constexpr int kPoints = 2 * kSincSteps + 1;  // grid over [i - 1, i + 1]
    std::array<double, kPoints> v{};
    for (int p = 0; p < kPoints; ++p) {
        const std::size_t base = i - 1 + static_cast<std::size_t>(p / kSincSteps);
        v[static_cast<std::size_t>(p)] = value_impl(y, base, p % kSincSteps);
    }
    const double sign = maximum ? 1.0 : -1.0;
    int best = 0;
    for (int p = 1; p < kPoints; ++p) {
        if (sign * v[static_cast<std::size_t>(p)] > sign * v[static_cast<std::size_t>(best)]) {
            best = p;
        }
    }
    Extreme e;
    e.position = static_cast<double>(i) - 1.0 + static_cast<double>(best) / kSincSteps;
    e.value = v[static_cast<std::size_t>(best)];
    if (best > 0 && best < kPoints - 1) {
        const double ym = v[static_cast<std::size_t>(best - 1)];
        const double y0 = v[static_cast<std::size_t>(best)];
        const double yp = v[static_cast<std::size_t>(best + 1)];
        const double denom = ym - 2.0 * y0 + yp;
        if (denom != 0.0) {
            const double shift = 0.5 * (ym - yp) / denom;
            if (shift >= -0.5 && shift <= 0.5) {
                e.position += shift / kSincSteps;
                e.value = y0 - 0.25 * (ym - yp) * shift;
            }
        }
    }
    return e;
}

}  // namespace

double sinc_value(std::span<const float> y, std::size_t i, int step) noexcept {
    return value_impl(y, i, step);
}

double sinc_value(std::span<const double> y, std::size_t i, int step) noexcept {
    return value_impl(y, i, step);
}

Extreme refine_extreme(std::span<const float> y, std::size_t i, bool maximum) noexcept {
    return refine_impl(y, i, maximum);
}

Extreme refine_extreme(std::span<const double> y, std::size_t i, bool maximum) noexcept {
    return refine_impl(y, i, maximum);
}

}  // namespace dvd::indicators
