#pragma once

// Deterministic synthetic signals with known indicator values (8 kHz, float in [-1, 1]).

#include <cmath>
#include <cstddef>
#include <numbers>
#include <random>
#include <span>
#include <vector>

namespace dvd::indicators::testing {

inline constexpr double kRate = 8000.0;

inline std::size_t samples_of(double seconds) {
    return static_cast<std::size_t>(std::llround(seconds * kRate));
}

inline std::vector<float> sine(std::size_t n, double freq_hz, double amplitude,
                               double phase = 0.0) {
    std::vector<float> x(n);
    for (std::size_t i = 0; i < n; ++i) {
        x[i] = static_cast<float>(
                amplitude
                * std::sin(2.0 * std::numbers::pi * freq_hz * static_cast<double>(i) / kRate
                           + phase));
    }
    return x;
}

/// Harmonic complex: harmonics k f0 below max_hz with amplitudes 1/k and phases k^2 (a fixed
/// spread, so the waveform is not one big spike), scaled to the given RMS.
inline std::vector<float> harmonic(std::size_t n, double f0_hz, double rms,
                                   double max_hz = 3400.0) {
    std::vector<double> y(n, 0.0);
    for (int k = 1; k * f0_hz < max_hz; ++k) {
        const double a = 1.0 / k;
        const double w = 2.0 * std::numbers::pi * k * f0_hz / kRate;
        const double ph = 0.7 * k * k;
        for (std::size_t i = 0; i < n; ++i) {
            y[i] += a * std::sin(w * static_cast<double>(i) + ph);
        }
    }
    double sum = 0.0;
    for (double v : y) {
        sum += v * v;
    }
    const double scale = n > 0 && sum > 0.0 ? rms / std::sqrt(sum / static_cast<double>(n)) : 0.0;
    std::vector<float> x(n);
    for (std::size_t i = 0; i < n; ++i) {
        x[i] = static_cast<float>(y[i] * scale);
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

inline double rms(std::span<const float> x) {
    double sum = 0.0;
    for (float v : x) {
        sum += static_cast<double>(v) * static_cast<double>(v);
    }
    return x.empty() ? 0.0 : std::sqrt(sum / static_cast<double>(x.size()));
}

/// Glottal-like pulse train, band-limited like real telephone audio: pulse k is a windowed-sinc
/// impulse (cut-off 3.6 kHz, 32 taps each side) of height amplitudes[k] at the fractional time
/// t_k (t_0 = start, t_{k+1} = t_k + periods[k] samples), and the impulse train goes through a
/// two-pole "formant" resonator at f1_hz whose ringing decays with time constant decay_ms. Being
/// linear and time-invariant, every cycle has the same shape, scaled by its amplitude.
inline std::vector<float> pulse_train(std::size_t n, double start, std::span<const double> periods,
                                      std::span<const double> amplitudes, double f1_hz = 500.0,
                                      double decay_ms = 1.2) {
    constexpr int kHalf = 32;
    constexpr double kCutoff = 3600.0 / kRate;  // of the sampling rate
    std::vector<double> e(n, 0.0);
    double onset = start;
    for (std::size_t k = 0; k < periods.size(); ++k) {
        const auto centre = static_cast<long long>(std::floor(onset));
        for (long long i = centre - kHalf; i <= centre + kHalf + 1; ++i) {
            if (i < 0 || i >= static_cast<long long>(n)) {
                continue;
            }
            const double d = static_cast<double>(i) - onset;
            if (std::fabs(d) >= kHalf + 1) {
                continue;
            }
            const double x = std::numbers::pi * 2.0 * kCutoff * d;
            const double sinc = std::fabs(x) < 1e-12 ? 1.0 : std::sin(x) / x;
            const double w = 0.5 + 0.5 * std::cos(std::numbers::pi * d / (kHalf + 1));
            e[static_cast<std::size_t>(i)] += amplitudes[k] * 2.0 * kCutoff * sinc * w;
        }
        onset += periods[k];
    }
    const double r = std::exp(-1.0 / (decay_ms * 1e-3 * kRate));
    const double c = 2.0 * r * std::cos(2.0 * std::numbers::pi * f1_hz / kRate);
    std::vector<float> x(n);
    double y1 = 0.0;
    double y2 = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
        const double y = e[i] + c * y1 - r * r * y2;
        y2 = y1;
        y1 = y;
        x[i] = static_cast<float>(y);
    }
    return x;
}

/// Appends `b` to `a`.
inline void append(std::vector<float>& a, std::span<const float> b) {
    a.insert(a.end(), b.begin(), b.end());
}

/// Adds `b` (same length or shorter) into `a` starting at `offset`.
inline void mix(std::vector<float>& a, std::span<const float> b, std::size_t offset = 0) {
    for (std::size_t i = 0; i < b.size() && offset + i < a.size(); ++i) {
        a[offset + i] += b[i];
    }
}

/// Multiplies by a raised-cosine fade of `ramp` samples at both ends.
inline void fade(std::span<float> x, std::size_t ramp) {
    for (std::size_t i = 0; i < ramp && i < x.size(); ++i) {
        const double g = 0.5
                         - 0.5
                                   * std::cos(std::numbers::pi * static_cast<double>(i)
                                              / static_cast<double>(ramp));
        x[i] = static_cast<float>(static_cast<double>(x[i]) * g);
        x[x.size() - 1 - i] = static_cast<float>(static_cast<double>(x[x.size() - 1 - i]) * g);
    }
}

}  // namespace dvd::indicators::testing
