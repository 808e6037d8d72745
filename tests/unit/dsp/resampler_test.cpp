#include "dsp/resampler.hpp"

#include <cmath>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "test_signals.hpp"

namespace dvd::dsp {
namespace {

using testing::rms;
using testing::sine;
using testing::tone_amplitude;

// The middle of the output, away from the filter's start-up and end transients.
std::span<const float> middle(const std::vector<float>& y) {
    const std::size_t skip = y.size() / 5;
    return std::span<const float>(y).subspan(skip, y.size() - 2 * skip);
}

TEST(Resampler, RejectsBadRates) {
    EXPECT_FALSE(Resampler::create(0.0, 8000.0));
    EXPECT_FALSE(Resampler::create(8000.0, -1.0));
    EXPECT_FALSE(Resampler::create(std::nan(""), 8000.0));
    const auto r = resample(std::vector<float>(10), 8000.0, 0.0);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, base::make_error_code(base::Errc::InvalidArgument));
}

TEST(Resampler, EqualRatesCopy) {
    const auto x = sine(1000, 440.0, 8000.0, 0.5);
    const auto y = resample(x, 8000.0, 8000.0);
    ASSERT_TRUE(y);
    EXPECT_EQ(*y, x);
}

TEST(Resampler, Sine1kHzFrom16kTo8kKeepsFrequencyAndAmplitude) {
    const auto x = sine(16000, 1000.0, 16000.0, 0.5);
    const auto y = resample(x, 16000.0, 8000.0);
    ASSERT_TRUE(y);
    EXPECT_NEAR(static_cast<double>(y->size()), 8000.0, 2.0);
    const auto mid = middle(*y);
    EXPECT_NEAR(tone_amplitude(mid, 1000.0, 8000.0), 0.5, 0.005);
    // Nothing but the tone: the residual after removing a 1 kHz fit is tiny.
    EXPECT_NEAR(rms(mid), 0.5 / std::sqrt(2.0), 0.005);
    EXPECT_LT(tone_amplitude(mid, 1010.0, 8000.0), 0.01);  // off-frequency projection is small
}

TEST(Resampler, Sine3500HzFrom44100To8kIsKept) {
    const auto x = sine(44100, 3500.0, 44100.0, 0.4);
    const auto y = resample(x, 44100.0, 8000.0);
    ASSERT_TRUE(y);
    EXPECT_NEAR(static_cast<double>(y->size()), 8000.0, 2.0);
    EXPECT_NEAR(tone_amplitude(middle(*y), 3500.0, 8000.0), 0.4, 0.01);
}

TEST(Resampler, ContentAboveTheNewNyquistIsRemoved) {
    for (auto quality : {ResampleQuality::VeryHigh, ResampleQuality::High}) {
        const auto x = sine(16000, 5000.0, 16000.0, 0.5);
        const auto y = resample(x, 16000.0, 8000.0, quality);
        ASSERT_TRUE(y);
        EXPECT_NEAR(static_cast<double>(y->size()), 8000.0, 2.0);
        // 5 kHz would alias to 3 kHz; it must be at least 100 dB down.
        EXPECT_LT(rms(middle(*y)), 0.5 * 1e-5);
    }
}

TEST(Resampler, UpsamplingKeepsTheTone) {
    const auto x = sine(8000, 700.0, 8000.0, 0.3);
    const auto y = resample(x, 8000.0, 44100.0);
    ASSERT_TRUE(y);
    EXPECT_NEAR(static_cast<double>(y->size()), 44100.0, 2.0);
    EXPECT_NEAR(tone_amplitude(middle(*y), 700.0, 44100.0), 0.3, 0.005);
}

TEST(Resampler, StreamingInChunksMatchesOneShot) {
    const auto x = testing::white_noise(22050, 0.1, 3);
    const auto one_shot = resample(x, 22050.0, 8000.0);
    ASSERT_TRUE(one_shot);
    auto r = Resampler::create(22050.0, 8000.0);
    ASSERT_TRUE(r);
    std::vector<float> out;
    std::mt19937 rng(5);
    std::size_t pos = 0;
    while (pos < x.size()) {
        const std::size_t n = std::min<std::size_t>(rng() % 500, x.size() - pos);
        r->process(std::span<const float>(x).subspan(pos, n), out);
        pos += n;
    }
    r->flush(out);
    ASSERT_EQ(out.size(), one_shot->size());
    double worst = 0.0;
    for (std::size_t i = 0; i < out.size(); ++i) {
        worst = std::max(worst, static_cast<double>(std::abs(out[i] - (*one_shot)[i])));
    }
    EXPECT_LT(worst, 1e-6);
}

TEST(Resampler, OutputLengthFollowsTheRatio) {
    for (double in_rate : {11025.0, 16000.0, 22050.0, 44100.0, 48000.0}) {
        const std::size_t n = 12345;
        const auto y = resample(std::vector<float>(n, 0.0f), in_rate, 8000.0);
        ASSERT_TRUE(y);
        EXPECT_NEAR(static_cast<double>(y->size()), static_cast<double>(n) * 8000.0 / in_rate, 1.0)
                << in_rate;
    }
}

TEST(Resampler, IsMovable) {
    auto r = Resampler::create(16000.0, 8000.0);
    ASSERT_TRUE(r);
    Resampler moved = std::move(*r);
    std::vector<float> out;
    moved.process(sine(1600, 440.0, 16000.0, 0.5), out);
    moved.flush(out);
    EXPECT_NEAR(static_cast<double>(out.size()), 800.0, 1.0);
    EXPECT_EQ(moved.in_rate_hz(), 16000.0);
}

}  // namespace
}  // namespace dvd::dsp
