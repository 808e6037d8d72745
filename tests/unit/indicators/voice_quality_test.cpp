// Jitter, shimmer and HNR through the whole tracker, on glottal-like pulse trains whose period
// and amplitude sequences are known exactly.

#include <cmath>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "indicators/indicator_tracker.hpp"
#include "indicators/period_tracker.hpp"
#include "test_signals.hpp"

namespace dvd::indicators {
namespace {

using testing::pulse_train;
using testing::samples_of;

struct Truth {
    double jitter_percent = 0.0;
    double shimmer_percent = 0.0;
    double shimmer_db = 0.0;
};

// The formulas of VoiceQuality applied to the generator's own sequences.
Truth truth_of(const std::vector<double>& periods, const std::vector<double>& amplitudes) {
    double diff = 0.0;
    double sum = 0.0;
    double adiff = 0.0;
    double asum = 0.0;
    double adb = 0.0;
    for (std::size_t k = 0; k < periods.size(); ++k) {
        sum += periods[k];
        asum += amplitudes[k];
        if (k > 0) {
            diff += std::fabs(periods[k] - periods[k - 1]);
            adiff += std::fabs(amplitudes[k] - amplitudes[k - 1]);
            adb += std::fabs(20.0 * std::log10(amplitudes[k] / amplitudes[k - 1]));
        }
    }
    const auto n = static_cast<double>(periods.size());
    Truth t;
    t.jitter_percent = 100.0 * (diff / (n - 1)) / (sum / n);
    t.shimmer_percent = 100.0 * (adiff / (n - 1)) / (asum / n);
    t.shimmer_db = adb / (n - 1);
    return t;
}

// 0.3 s of silence, then `periods.size()` cycles, then 0.3 s of silence.
std::vector<float> voiced_burst(const std::vector<double>& periods,
                                const std::vector<double>& amplitudes) {
    double total = 0.0;
    for (double p : periods) {
        total += p;
    }
    const std::size_t lead = samples_of(0.3);
    const std::size_t n = lead + static_cast<std::size_t>(total) + samples_of(0.3);
    return pulse_train(n, static_cast<double>(lead), periods, amplitudes);
}

Indicators run(const std::vector<float>& x) {
    IndicatorTracker tracker;
    tracker.accept(x);
    return tracker.snapshot();
}

std::vector<double> jittered_periods(double f0_hz, double sigma, std::size_t count, unsigned seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<double> g(0.0, 1.0);
    std::vector<double> periods(count);
    for (auto& p : periods) {
        p = 8000.0 / f0_hz * (1.0 + sigma * std::clamp(g(rng), -3.0, 3.0));
    }
    return periods;
}

TEST(VoiceQuality, SteadyPulseTrainHasNoJitterOrShimmer) {
    const std::vector<double> periods(150, 8000.0 / 150.0);
    const std::vector<double> amps(150, 0.3);
    const Indicators ind = run(voiced_burst(periods, amps));
    ASSERT_GT(ind.voice.periods, 120);
    ASSERT_TRUE(ind.voice.jitter_local_percent && ind.voice.shimmer_local_percent);
    EXPECT_LT(*ind.voice.jitter_local_percent, 0.05);
    EXPECT_LT(*ind.voice.shimmer_local_percent, 0.2);
    EXPECT_LT(*ind.voice.shimmer_local_db, 0.02);
    ASSERT_TRUE(ind.pitch.mean_hz);
    EXPECT_NEAR(*ind.pitch.mean_hz, 150.0, 1.5);
}

TEST(VoiceQuality, OnePercentPeriodJitterIsMeasured) {
    // sigma = 0.886 % gives E|T_k - T_{k-1}| / T = sigma * 2 / sqrt(pi) = 1 %.
    for (const unsigned seed : {1u, 2u, 3u}) {
        const auto periods = jittered_periods(150.0, 0.00886, 200, seed);
        const std::vector<double> amps(periods.size(), 0.3);
        const Truth truth = truth_of(periods, amps);
        const Indicators ind = run(voiced_burst(periods, amps));
        ASSERT_TRUE(ind.voice.jitter_local_percent) << seed;
        EXPECT_NEAR(truth.jitter_percent, 1.0, 0.2) << seed;
        EXPECT_NEAR(*ind.voice.jitter_local_percent, truth.jitter_percent, 0.1) << seed;
        EXPECT_NEAR(*ind.voice.jitter_local_abs_us, truth.jitter_percent / 100.0 * 1e6 / 150.0, 8.0)
                << seed;
    }
}

TEST(VoiceQuality, JitterAtOtherPitchesAndSizes) {
    for (const auto& [f0, sigma] : std::vector<std::pair<double, double>>{
                 {110.0, 0.0177}, {220.0, 0.00443}, {180.0, 0.0266}}) {
        const auto periods = jittered_periods(f0, sigma, 160, 9);
        const std::vector<double> amps(periods.size(), 0.3);
        const Truth truth = truth_of(periods, amps);
        const Indicators ind = run(voiced_burst(periods, amps));
        ASSERT_TRUE(ind.voice.jitter_local_percent) << f0;
        EXPECT_NEAR(*ind.voice.jitter_local_percent, truth.jitter_percent,
                    0.05 * truth.jitter_percent + 0.03)
                << f0;
    }
}

TEST(VoiceQuality, AlternatingAmplitudesGiveTheirShimmer) {
    // 1.0, 0.85, 1.0, 0.85 ...: |dA| = 0.15, mean A = 0.925 -> 16.2 %, 20 log10(1/0.85) = 1.41 dB.
    const std::vector<double> periods(150, 8000.0 / 140.0);
    std::vector<double> amps(periods.size());
    for (std::size_t k = 0; k < amps.size(); ++k) {
        amps[k] = 0.3 * (k % 2 == 0 ? 1.0 : 0.85);
    }
    const Truth truth = truth_of(periods, amps);
    const Indicators ind = run(voiced_burst(periods, amps));
    ASSERT_TRUE(ind.voice.shimmer_local_percent);
    EXPECT_NEAR(truth.shimmer_percent, 16.2, 0.1);
    EXPECT_NEAR(*ind.voice.shimmer_local_percent, truth.shimmer_percent, 0.5);
    EXPECT_NEAR(*ind.voice.shimmer_local_db, truth.shimmer_db, 0.05);
}

TEST(VoiceQuality, RandomAmplitudesGiveTheirShimmer) {
    std::mt19937 rng(4);
    std::normal_distribution<double> g(0.0, 0.04);
    const std::vector<double> periods(180, 8000.0 / 160.0);
    std::vector<double> amps(periods.size());
    for (auto& a : amps) {
        a = 0.3 * (1.0 + std::clamp(g(rng), -0.12, 0.12));
    }
    const Truth truth = truth_of(periods, amps);
    const Indicators ind = run(voiced_burst(periods, amps));
    ASSERT_TRUE(ind.voice.shimmer_local_percent);
    EXPECT_NEAR(*ind.voice.shimmer_local_percent, truth.shimmer_percent,
                0.1 * truth.shimmer_percent);
    EXPECT_NEAR(*ind.voice.shimmer_local_db, truth.shimmer_db, 0.1 * truth.shimmer_db);
}

TEST(VoiceQuality, HnrOfANoisyVoiceWithinTwoDb) {
    // Harmonic complex plus white noise at 12 dB SNR, in a burst after silence.
    auto voice = testing::harmonic(samples_of(1.5), 130.0, 0.1);
    testing::mix(voice, testing::white_noise(voice.size(), 0.1 / std::pow(10.0, 12.0 / 20.0), 8));
    std::vector<float> x(samples_of(0.3), 0.0f);
    testing::append(x, voice);
    testing::append(x, std::vector<float>(samples_of(0.3), 0.0f));
    const Indicators ind = run(x);
    ASSERT_TRUE(ind.voice.hnr_db);
    EXPECT_GT(ind.voice.hnr_frames, 120);
    EXPECT_NEAR(*ind.voice.hnr_db, 12.0, 2.0);
}

TEST(PeriodTracker, UnvoicedFrameEndsTheChainAndPairs) {
    const std::vector<double> periods(40, 50.0);
    const std::vector<double> amps(40, 0.5);
    const auto x = pulse_train(2400, 100.0, periods, amps);
    PeriodTracker tracker(PeriodTrackerOptions{});
    const SignalView view{x, 0};
    int events = 0;
    int pairs = 0;
    for (long long begin = 400; begin < 1600; begin += 80) {
        const bool voiced = begin != 800;
        for (const PeriodEvent& e : tracker.advance(view, begin, 80, voiced, 50.0)) {
            ++events;
            pairs += e.has_period_pair ? 1 : 0;
            EXPECT_NEAR(e.period_samples, 50.0, 0.05);
        }
    }
    EXPECT_GT(events, 15);
    EXPECT_EQ(pairs, events - 2);  // the first period of each of the two chains has no pair
}

}  // namespace
}  // namespace dvd::indicators
