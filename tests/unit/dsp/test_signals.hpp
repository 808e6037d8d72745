#pragma once

// Small deterministic signal helpers shared by the dsp tests.

#include <cmath>
#include <cstddef>
#include <numbers>
#include <random>
#include <span>
#include <vector>

namespace dvd::dsp::testing {

inline std::vector<float> sine(std::size_t n, double freq_hz, double rate_hz, double amplitude,
                               double phase = 0.0) {
    std::vector<float> x(n);
    for (std::size_t i = 0; i < n; ++i) {
        x[i] = static_cast<float>(
                amplitude
                * std::sin(2.0 * std::numbers::pi * freq_hz * static_cast<double>(i) / rate_hz
                           + phase));
    }
    return x;
}

inline std::vector<float> white_noise(std::size_t n, double rms, unsigned seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<double> dist(0.0, rms);
    std::vector<float> x(n);
    for (auto& v : x) {
        v = static_cast<float>(dist(rng));
    }
    return x;
}

/// Least-squares amplitude of a sinusoid at `freq_hz` in `x` (projection on sin and cos).
inline double tone_amplitude(std::span<const float> x, double freq_hz, double rate_hz) {
    double s = 0.0;
    double c = 0.0;
    for (std::size_t i = 0; i < x.size(); ++i) {
        const double ph = 2.0 * std::numbers::pi * freq_hz * static_cast<double>(i) / rate_hz;
        s += static_cast<double>(x[i]) * std::sin(ph);
        c += static_cast<double>(x[i]) * std::cos(ph);
    }
    const auto n = static_cast<double>(x.size());
    return 2.0 * std::sqrt(s * s + c * c) / n;
}

inline double rms(std::span<const float> x) {
    double sum = 0.0;
    for (float v : x) {
        sum += static_cast<double>(v) * static_cast<double>(v);
    }
    return x.empty() ? 0.0 : std::sqrt(sum / static_cast<double>(x.size()));
}

}  // namespace dvd::dsp::testing
