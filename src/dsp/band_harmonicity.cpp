#include "dsp/band_harmonicity.hpp"

#include <algorithm>
#include <array>
#include <cassert>
#include <cmath>
#include <numbers>

#include "dsp/power_spectrum.hpp"

namespace dvd::dsp {
namespace {

constexpr int kN = kHarmonicityFftSize;
constexpr int kL = kHarmonicityWindowSamples;
constexpr int kBands = kHarmonicityFeatures;
static_assert(kN >= 2 * kL, "the autocorrelation must not wrap");
static_assert(kHarmonicityMaxLag + 1 < kL, "lags must stay inside the window");

// First bin with lo <= f_k, and first bin with f_k >= hi (f_k = k rate / N).
constexpr int first_bin_at(double hz) {
    int k = 0;
    while (static_cast<double>(k) * kHarmonicityRateHz / kN < hz) {
        ++k;
    }
    return k;
}

struct BinRange {
    int begin = 0;
    int end = 0;
};

// The shared, immutable tables: the same for every stream, built once.
struct Tables {
    std::array<double, kL> window{};
    std::array<double, kHarmonicityMaxLag + 2> window_ac{};  // c[n]
    std::array<double, kN> cosine{};                         // cos(2 pi m / N)
    std::array<BinRange, kBands> bands{};                    // b1, b2, b3
    BinRange full;

    Tables() {
        for (int n = 0; n < kL; ++n) {
            window[static_cast<std::size_t>(n)] =
                    0.5 - 0.5 * std::cos(2.0 * std::numbers::pi * n / (kL - 1));
        }
        double energy = 0.0;
        for (const double w : window) {
            energy += w * w;
        }
        for (std::size_t lag = 0; lag < window_ac.size(); ++lag) {
            double acc = 0.0;
            for (std::size_t m = 0; m + lag < window.size(); ++m) {
                acc += window[m] * window[m + lag];
            }
            window_ac[lag] = acc / energy;
        }
        for (int m = 0; m < kN; ++m) {
            cosine[static_cast<std::size_t>(m)] = std::cos(2.0 * std::numbers::pi * m / kN);
        }
        constexpr std::array<double, kBands + 1> edges_hz{300.0, 1000.0, 2000.0, 3400.0};
        for (std::size_t b = 0; b < bands.size(); ++b) {
            bands[b] = BinRange{first_bin_at(edges_hz[b]), first_bin_at(edges_hz[b + 1])};
        }
        full = BinRange{bands.front().begin, bands.back().end};
    }
};

const Tables& tables() {
    static const Tables instance;
    return instance;
}

// (2 / N) sum_{k in range} power[k] cos(2 pi k lag / N).
double band_autocorrelation(const Tables& t, const float* power, BinRange range, int lag) {
    double acc = 0.0;
    int phase = (range.begin * lag) % kN;
    for (int k = range.begin; k < range.end; ++k) {
        acc += static_cast<double>(power[k]) * t.cosine[static_cast<std::size_t>(phase)];
        phase += lag;
        if (phase >= kN) {
            phase -= kN;
        }
    }
    return 2.0 * acc / kN;
}

PowerSpectrum& thread_fft() {
    thread_local PowerSpectrum fft(kN);
    return fft;
}

}  // namespace

void prepare_band_harmonicity_thread() {
    (void)tables();
    (void)thread_fft();
}

std::size_t band_harmonicity_thread_bytes() { return thread_fft().state_bytes(); }

void band_harmonicity(std::span<const float> x, std::span<float> out) noexcept {
    assert(x.size() == static_cast<std::size_t>(kL));
    assert(out.size() == static_cast<std::size_t>(kBands));
    const Tables& t = tables();
    PowerSpectrum& fft = thread_fft();
    double mean = 0.0;
    for (const float v : x) {
        mean += static_cast<double>(v);
    }
    mean /= kL;
    float* frame = fft.frame().data();
    for (std::size_t n = 0; n < x.size(); ++n) {
        frame[n] = static_cast<float>((static_cast<double>(x[n]) - mean) * t.window[n]);
    }
    std::fill(frame + kL, frame + kN, 0.0f);
    const std::span<const float> power = fft.compute();

    // The power spectrum masked to the full band, extended evenly: its FFT's real part is
    // N x ac_full at every lag. It stays in `frame` for the band sums below.
    std::fill(frame, frame + kN, 0.0f);
    for (int k = t.full.begin; k < t.full.end; ++k) {
        frame[k] = power[static_cast<std::size_t>(k)];
        frame[kN - k] = frame[k];
    }
    const std::span<const float> ac_full = fft.compute_real();
    const double ac0 = static_cast<double>(ac_full[0]) / kN + 1e-12;
    int lag = kHarmonicityMinLag;
    double best = -1e300;
    for (int n = kHarmonicityMinLag; n <= kHarmonicityMaxLag; ++n) {
        const double v = static_cast<double>(ac_full[static_cast<std::size_t>(n)]) / kN / ac0
                         / t.window_ac[static_cast<std::size_t>(n)];
        if (v > best) {
            best = v;
            lag = n;
        }
    }
    for (std::size_t b = 0; b < t.bands.size(); ++b) {
        double peak = -1e300;
        for (int n = lag - 1; n <= lag + 1; ++n) {
            peak = std::max(peak, band_autocorrelation(t, frame, t.bands[b], n)
                                          / t.window_ac[static_cast<std::size_t>(n)]);
        }
        out[b] = static_cast<float>(peak / (band_autocorrelation(t, frame, t.bands[b], 0) + 1e-12));
    }
}

}  // namespace dvd::dsp
