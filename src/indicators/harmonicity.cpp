#include "indicators/harmonicity.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <numbers>

#include "base/check.hpp"
#include "indicators/sinc_interpolation.hpp"

namespace dvd::indicators {
namespace {

constexpr double kMinR = 1e-6;
constexpr double kMaxR = 1.0 - 1e-6;
constexpr auto kN = static_cast<std::size_t>(kHnrWindowSamples);
// Lags one estimate evaluates at most: 0.45 T + 2 + 2 (kSincHalfWidth + 1) + 1 <= 110 (T <= 180).
constexpr std::size_t kMaxSearchLags = 128;

double lagged_dot(const float* a, std::size_t n, std::size_t tau) noexcept {
    // Four partial sums in double: a fixed order, and no single accumulator dependency chain.
    double s0 = 0.0;
    double s1 = 0.0;
    double s2 = 0.0;
    double s3 = 0.0;
    const std::size_t m = n - tau;
    const float* b = a + tau;
    std::size_t j = 0;
    for (; j + 4 <= m; j += 4) {
        s0 += static_cast<double>(a[j] * b[j]);
        s1 += static_cast<double>(a[j + 1] * b[j + 1]);
        s2 += static_cast<double>(a[j + 2] * b[j + 2]);
        s3 += static_cast<double>(a[j + 3] * b[j + 3]);
    }
    for (; j < m; ++j) {
        s0 += static_cast<double>(a[j] * b[j]);
    }
    return (s0 + s1) + (s2 + s3);
}

struct Tables {
    std::array<float, kN> window{};
    std::array<double, HarmonicityAnalyzer::kMaxLag + 1> window_ac{};  // r_w(tau) / r_w(0)
};

Tables make_tables() {
    Tables t;
    for (std::size_t i = 0; i < kN; ++i) {
        const double phase =
                2.0 * std::numbers::pi * (static_cast<double>(i) + 0.5) / static_cast<double>(kN);
        t.window[i] = static_cast<float>(0.5 - 0.5 * std::cos(phase));
    }
    const double w0 = lagged_dot(t.window.data(), kN, 0);
    for (std::size_t tau = 0; tau < t.window_ac.size(); ++tau) {
        t.window_ac[tau] = lagged_dot(t.window.data(), kN, tau) / w0;
    }
    return t;
}

// Immutable after the first call (thread-safe initialisation of a function-local static).
const Tables& tables() {
    static const Tables t = make_tables();
    return t;
}

}  // namespace

HarmonicityAnalyzer::HarmonicityAnalyzer() {
    (void)tables();
    frame_.assign(kN, 0.0f);
    r_.assign(kMaxSearchLags, 0.0);
}

std::size_t HarmonicityAnalyzer::state_bytes() const {
    return frame_.capacity() * sizeof(float) + r_.capacity() * sizeof(double);
}

HarmonicityEstimate HarmonicityAnalyzer::estimate(std::span<const float> x,
                                                  float period_samples) noexcept {
    DVD_ASSERT(x.size() == kN, "HarmonicityAnalyzer: frame size");
    HarmonicityEstimate out;
    const double t = static_cast<double>(period_samples);
    const int lo = static_cast<int>(std::floor(0.8 * t));
    const int hi = static_cast<int>(std::ceil(1.25 * t));
    if (!(t >= 2.5) || hi + kSincHalfWidth + 1 > kMaxLag) {
        return out;
    }
    const Tables& tab = tables();
    double mean = 0.0;
    for (float v : x) {
        mean += static_cast<double>(v);
    }
    mean /= static_cast<double>(kN);
    for (std::size_t i = 0; i < kN; ++i) {
        frame_[i] = static_cast<float>(static_cast<double>(x[i]) - mean) * tab.window[i];
    }
    const double r0 = lagged_dot(frame_.data(), kN, 0);
    if (!(r0 > 1e-20)) {
        return out;
    }
    // r over the search range plus the interpolation kernel's reach.
    const int first = std::max(1, lo - kSincHalfWidth - 1);
    const int last = hi + kSincHalfWidth + 1;
    const auto count = static_cast<std::size_t>(last - first + 1);
    DVD_ASSERT(count <= r_.size(), "HarmonicityAnalyzer: lag range too wide");
    for (std::size_t j = 0; j < count; ++j) {  // r_[j] = r(first + j)
        const std::size_t tau = static_cast<std::size_t>(first) + j;
        r_[j] = lagged_dot(frame_.data(), kN, tau) / r0 / tab.window_ac[tau];
    }
    auto best = static_cast<std::size_t>(std::max(lo, 2) - first);
    for (auto j = best + 1; j <= static_cast<std::size_t>(hi - first); ++j) {
        if (r_[j] > r_[best]) {
            best = j;
        }
    }
    const Extreme peak = refine_extreme(std::span<const double>(r_.data(), count), best, true);
    if (!(peak.value > 0.0)) {
        return out;
    }
    const double r_max = std::clamp(peak.value, kMinR, kMaxR);
    out.valid = true;
    out.r_max = static_cast<float>(r_max);
    out.hnr_db = static_cast<float>(10.0 * std::log10(r_max / (1.0 - r_max)));
    out.lag_samples = static_cast<float>(first + peak.position);
    return out;
}

}  // namespace dvd::indicators
