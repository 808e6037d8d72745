#include "indicators/harmonicity.hpp"

#include <cmath>
#include <span>
#include <vector>

#include <gtest/gtest.h>

#include "test_signals.hpp"

namespace dvd::indicators {
namespace {

using testing::harmonic;
using testing::rms;
using testing::white_noise;

// Mean HNR (dB) over frames every 80 samples of `x` (the tracker's hop), as the tracker reports
// it (mean of the per-frame dB values).
double mean_hnr_db(const std::vector<float>& x, double period) {
    HarmonicityAnalyzer hnr;
    const auto n = static_cast<std::size_t>(HarmonicityAnalyzer::frame_samples());
    double sum = 0.0;
    int frames = 0;
    for (std::size_t start = 0; start + n <= x.size(); start += 80) {
        const HarmonicityEstimate e = hnr.estimate(std::span<const float>(x).subspan(start, n),
                                                   static_cast<float>(period));
        EXPECT_TRUE(e.valid);
        sum += static_cast<double>(e.hnr_db);
        ++frames;
    }
    return sum / frames;
}

// Harmonic complex (150 Hz, harmonics to 3.4 kHz) plus white noise at the given SNR.
std::vector<float> harmonic_plus_noise(double snr_db, unsigned seed) {
    auto x = harmonic(16000, 150.0, 0.1);
    const double noise_rms = rms(x) / std::pow(10.0, snr_db / 20.0);
    testing::mix(x, white_noise(x.size(), noise_rms, seed));
    return x;
}

TEST(Harmonicity, CleanHarmonicSignalIsAbove35Db) {
    EXPECT_GT(mean_hnr_db(harmonic(8000, 150.0, 0.1), 8000.0 / 150.0), 35.0);
}

TEST(Harmonicity, KnownSnrMixturesWithinOneAndAHalfDb) {
    // HNR of harmonic power H plus white noise N is 10 log10(H / N) = the SNR (Boersma 1993).
    for (const double snr : {0.0, 5.0, 10.0, 15.0, 20.0}) {
        const double hnr = mean_hnr_db(harmonic_plus_noise(snr, 11), 8000.0 / 150.0);
        EXPECT_NEAR(hnr, snr, 1.5) << "SNR " << snr << " dB";
    }
}

TEST(Harmonicity, PeakLagIsThePeriod) {
    HarmonicityAnalyzer hnr;
    const auto x = harmonic(480, 123.0, 0.1);
    const HarmonicityEstimate e = hnr.estimate(x, 66.0f);  // YIN's estimate, slightly off
    ASSERT_TRUE(e.valid);
    EXPECT_NEAR(e.lag_samples, 8000.0 / 123.0, 0.05);
}

TEST(Harmonicity, WhiteNoiseIsFarBelowZeroDb) {
    const double hnr = mean_hnr_db(white_noise(16000, 0.1, 3), 53.3);
    EXPECT_LT(hnr, -5.0);
}

TEST(Harmonicity, SilenceAndOutOfRangePeriodsAreInvalid) {
    HarmonicityAnalyzer hnr;
    const std::vector<float> zeros(480, 0.0f);
    EXPECT_FALSE(hnr.estimate(zeros, 53.0f).valid);
    const auto x = harmonic(480, 150.0, 0.1);
    EXPECT_FALSE(hnr.estimate(x, 1.0f).valid);
    EXPECT_FALSE(hnr.estimate(x, 400.0f).valid);
}

}  // namespace
}  // namespace dvd::indicators
