#include "indicators/spectral_shape.hpp"

#include <cmath>
#include <numbers>
#include <random>
#include <span>
#include <vector>

#include <gtest/gtest.h>

#include "test_signals.hpp"

namespace dvd::indicators {
namespace {

constexpr double kBinHz = 8000.0 / kFftSize;
constexpr int kLo = 10;   // 312.5 Hz
constexpr int kHi = 108;  // 3375 Hz

// Long-term average spectrum of x over frames every 80 samples.
std::vector<double> ltas(const std::vector<float>& x) {
    SpectrumAnalyzer analyzer;
    std::vector<double> sum(static_cast<std::size_t>(SpectrumAnalyzer::num_bins()), 0.0);
    for (std::size_t start = 0; start + kFftSize <= x.size(); start += 80) {
        const auto p = analyzer.power(std::span<const float>(x).subspan(start, kFftSize));
        for (std::size_t k = 0; k < sum.size(); ++k) {
            sum[k] += static_cast<double>(p[k]);
        }
    }
    return sum;
}

// Sum of sinusoids at every bin centre with power proportional to f^(slope / 3.0103), random
// phases: a spectrum whose log-log slope is exactly `slope_db_per_octave`.
std::vector<float> sloped_multisine(double slope_db_per_octave, std::size_t n) {
    const double exponent = slope_db_per_octave / (10.0 * std::log10(2.0));
    std::mt19937 rng(5);
    std::uniform_real_distribution<double> phase(0.0, 2.0 * std::numbers::pi);
    std::vector<double> y(n, 0.0);
    for (int k = 4; k < kFftSize / 2; ++k) {
        const double f = k * kBinHz;
        const double amp = 0.01 * std::sqrt(std::pow(f / 1000.0, exponent));
        const double ph = phase(rng);
        for (std::size_t i = 0; i < n; ++i) {
            y[i] += amp
                    * std::sin(2.0 * std::numbers::pi * f * static_cast<double>(i) / 8000.0 + ph);
        }
    }
    std::vector<float> x(n);
    for (std::size_t i = 0; i < n; ++i) {
        x[i] = static_cast<float>(y[i]);
    }
    return x;
}

TEST(SpectralShape, FlatSpectrumHasFlatnessOneAndNoTilt) {
    const std::vector<double> flat(129, 3.0);
    EXPECT_NEAR(spectral_flatness(std::span<const double>(flat), kLo, kHi), 1.0, 1e-12);
    EXPECT_NEAR(spectral_tilt_db_per_octave(flat, kLo, kHi, kBinHz), 0.0, 1e-9);
}

TEST(SpectralShape, PowerLawSpectrumGivesItsSlopeExactly) {
    std::vector<double> p(129, 0.0);
    for (std::size_t k = 1; k < p.size(); ++k) {
        p[k] = std::pow(static_cast<double>(k) * kBinHz, -2.0);  // -6.02 dB per octave
    }
    EXPECT_NEAR(spectral_tilt_db_per_octave(p, kLo, kHi, kBinHz), -20.0 * std::log10(2.0), 1e-9);
}

TEST(SpectralShape, ParsevalForTheHannWindowedFrame) {
    // A bin-centred sine of amplitude a: the Hann window's peak gain is N/2 * 1/2 in amplitude.
    SpectrumAnalyzer analyzer;
    const auto x = testing::sine(kFftSize, 32 * kBinHz, 1.0);
    const auto p = analyzer.power(x);
    EXPECT_NEAR(std::sqrt(p[32]), kFftSize / 4.0, kFftSize / 4.0 * 0.01);
}

TEST(SpectralShape, WhiteNoiseLongTermFlatnessNearOne) {
    const auto s = ltas(testing::white_noise(16000, 0.1, 9));
    EXPECT_GT(spectral_flatness(std::span<const double>(s), kLo, kHi), 0.97);
    EXPECT_NEAR(spectral_tilt_db_per_octave(s, kLo, kHi, kBinHz), 0.0, 0.3);
}

TEST(SpectralShape, SingleFrameWhiteNoiseFlatnessIsExponentialDistributionValue) {
    // One periodogram: bins are ~exponential, E[ln P] = ln E[P] - gamma, so the flatness is near
    // exp(-0.5772) = 0.56 (averaged over frames).
    SpectrumAnalyzer analyzer;
    const auto x = testing::white_noise(32000, 0.1, 4);
    double sum = 0.0;
    int frames = 0;
    for (std::size_t start = 0; start + kFftSize <= x.size(); start += kFftSize) {
        sum += spectral_flatness(analyzer.power(std::span<const float>(x).subspan(start, kFftSize)),
                                 kLo, kHi);
        ++frames;
    }
    EXPECT_NEAR(sum / frames, std::exp(-0.5772156649), 0.03);
}

TEST(SpectralShape, ToneFlatnessNearZero) {
    const auto s = ltas(testing::sine(16000, 1000.0, 0.5));
    EXPECT_LT(spectral_flatness(std::span<const double>(s), kLo, kHi), 0.01);
}

TEST(SpectralShape, KnownSlopesFromSignals) {
    for (const double slope : {-12.0, -6.0, 0.0, 3.0}) {
        const auto s = ltas(sloped_multisine(slope, 8000));
        EXPECT_NEAR(spectral_tilt_db_per_octave(s, kLo, kHi, kBinHz), slope, 0.3) << slope;
    }
}

}  // namespace
}  // namespace dvd::indicators
