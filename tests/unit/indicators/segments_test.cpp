// Pauses, breaths and the speech-rate proxy through the whole tracker, on signals whose gaps,
// bursts and syllables are placed exactly.

#include <cmath>
#include <numbers>
#include <vector>

#include <gtest/gtest.h>

#include "indicators/indicator_tracker.hpp"
#include "indicators/segment_tracker.hpp"
#include "test_signals.hpp"

namespace dvd::indicators {
namespace {

using testing::append;
using testing::harmonic;
using testing::samples_of;
using testing::white_noise;

constexpr double kNoiseRms = 0.0005;  // -66 dBFS background
constexpr double kSpeechRms = 0.1;    // -20 dBFS

// A "word": a voiced harmonic complex with 5 ms fades, f0 gliding by a few Hz per word.
std::vector<float> word(double seconds, double f0 = 140.0) {
    auto x = harmonic(samples_of(seconds), f0, kSpeechRms);
    testing::fade(x, 40);
    return x;
}

std::vector<float> silence(double seconds) {
    return std::vector<float>(samples_of(seconds), 0.0f);
}

// Adds the background noise to the whole signal.
void add_background(std::vector<float>& x, unsigned seed = 17) {
    testing::mix(x, white_noise(x.size(), kNoiseRms, seed));
}

Indicators run(const std::vector<float>& x) {
    IndicatorTracker tracker;
    tracker.accept(x);
    return tracker.snapshot();
}

TEST(Pauses, SilenceGapsOfKnownLength) {
    // lead 0.5 s | word 0.6 | gap 0.4 | word 0.5 | gap 0.7 | word 0.6 | gap 1.0 | word 0.4 |
    // gap 0.15 (no pause) | word 0.4 | trail 0.6 s
    std::vector<float> x = silence(0.5);
    append(x, word(0.6, 130.0));
    append(x, silence(0.4));
    append(x, word(0.5, 140.0));
    append(x, silence(0.7));
    append(x, word(0.6, 150.0));
    append(x, silence(1.0));
    append(x, word(0.4, 135.0));
    append(x, silence(0.15));
    append(x, word(0.4, 145.0));
    append(x, silence(0.6));
    add_background(x);
    const Indicators ind = run(x);
    const PauseStats& p = ind.pauses;
    EXPECT_EQ(p.speech_segments, 5);
    EXPECT_EQ(p.pauses, 3);
    EXPECT_NEAR(p.pause_total_s, 0.4 + 0.7 + 1.0, 0.06);  // within 2 frames per pause
    ASSERT_TRUE(p.pause_mean_s);
    EXPECT_NEAR(*p.pause_mean_s, 2.1 / 3.0, 0.02);
    EXPECT_NEAR(p.phonation_s, 0.6 + 0.5 + 0.6 + 0.4 + 0.4, 0.06);
    EXPECT_NEAR(p.talk_s, 2.5 + 2.25, 0.06);  // first word's start to last word's end
    ASSERT_TRUE(p.pauses_per_min);
    EXPECT_NEAR(*p.pauses_per_min, 60.0 * 3.0 / 4.75, 1.0);
    EXPECT_EQ(p.breaths, 0);
    EXPECT_FALSE(p.breath_mean_s);
}

TEST(Pauses, LeadingAndTrailingSilenceAreNotPauses) {
    std::vector<float> x = silence(1.5);
    append(x, word(0.8));
    append(x, silence(2.0));
    add_background(x);
    const Indicators ind = run(x);
    EXPECT_EQ(ind.pauses.speech_segments, 1);
    EXPECT_EQ(ind.pauses.pauses, 0);
    EXPECT_FALSE(ind.pauses.pause_mean_s);
    EXPECT_NEAR(ind.pauses.talk_s, 0.8, 0.03);
}

TEST(Breaths, QuietNoiseBurstInsideAPauseIsABreath) {
    // word | 0.25 s silence | 0.3 s noise burst at -40 dBFS | 0.25 s silence | word
    std::vector<float> x = silence(0.5);
    append(x, word(0.7));
    append(x, silence(0.25));
    append(x, white_noise(samples_of(0.3), 0.01, 23));
    append(x, silence(0.25));
    append(x, word(0.7));
    append(x, silence(0.5));
    add_background(x);
    const Indicators ind = run(x);
    EXPECT_EQ(ind.pauses.speech_segments, 2);
    EXPECT_EQ(ind.pauses.pauses, 1);  // the breath does not split the pause
    ASSERT_TRUE(ind.pauses.pause_mean_s);
    EXPECT_NEAR(*ind.pauses.pause_mean_s, 0.8, 0.03);
    EXPECT_EQ(ind.pauses.breaths, 1);
    ASSERT_TRUE(ind.pauses.breath_mean_s);
    EXPECT_NEAR(*ind.pauses.breath_mean_s, 0.3, 0.03);
}

TEST(Breaths, LoudOrVoicedOrLonelyBurstsAreNotBreaths) {
    // A burst as loud as speech, a quiet voiced burst (a short word), and a breath-like burst
    // before any speech: none is a breath.
    std::vector<float> x = silence(0.4);
    append(x, white_noise(samples_of(0.3), 0.01, 3));  // before the first word
    append(x, silence(0.4));
    append(x, word(0.6));
    append(x, silence(0.3));
    append(x, white_noise(samples_of(0.3), 0.08, 4));  // loud: -22 dBFS
    append(x, silence(0.3));
    append(x, word(0.6));
    append(x, silence(0.3));
    auto quiet_voice = harmonic(samples_of(0.3), 160.0, 0.01);
    testing::fade(quiet_voice, 40);
    append(x, quiet_voice);  // voiced: a speech segment
    append(x, silence(0.3));
    append(x, word(0.6));
    append(x, silence(0.4));
    add_background(x);
    const Indicators ind = run(x);
    EXPECT_EQ(ind.pauses.breaths, 0);
    EXPECT_EQ(ind.pauses.speech_segments, 4);
    EXPECT_EQ(ind.pauses.pauses, 3);
}

TEST(Breaths, TooShortOrTooLongBurstsAreNotBreaths) {
    std::vector<float> x = silence(0.4);
    append(x, word(0.6));
    append(x, silence(0.3));
    append(x, white_noise(samples_of(0.05), 0.01, 5));  // 50 ms click
    append(x, silence(0.3));
    append(x, word(0.6));
    append(x, silence(0.3));
    append(x, white_noise(samples_of(1.2), 0.01, 6));  // 1.2 s of noise
    append(x, silence(0.3));
    append(x, word(0.6));
    append(x, silence(0.4));
    add_background(x);
    EXPECT_EQ(run(x).pauses.breaths, 0);
}

// Syllable train: voiced syllables with a raised-cosine envelope, one every 1 / rate_hz seconds,
// syllable_s long, separated by silence.
std::vector<float> syllable_train(double rate_hz, double syllable_s, int count) {
    std::vector<float> x = silence(0.5);
    const std::size_t period = samples_of(1.0 / rate_hz);
    const std::size_t len = samples_of(syllable_s);
    for (int k = 0; k < count; ++k) {
        auto syl = harmonic(len, 120.0 + 4.0 * (k % 5), kSpeechRms * 1.4);
        for (std::size_t i = 0; i < len; ++i) {
            const double g = 0.5
                             - 0.5
                                       * std::cos(2.0 * std::numbers::pi * static_cast<double>(i)
                                                  / static_cast<double>(len));
            syl[i] = static_cast<float>(static_cast<double>(syl[i]) * g);
        }
        append(x, syl);
        append(x, silence(static_cast<double>(period - len) / testing::kRate));
    }
    append(x, silence(0.5));
    add_background(x);
    return x;
}

TEST(SpeechRate, FourHzSyllableTrainGivesFourSyllablesPerSecond) {
    const Indicators ind = run(syllable_train(4.0, 0.15, 20));
    EXPECT_EQ(ind.rate.syllable_nuclei, 20);
    ASSERT_TRUE(ind.rate.syllables_per_s);
    // Talk time runs from the first syllable's onset to the last one's offset (19 periods plus
    // one syllable's audible part), so the rate is a little above 4.
    EXPECT_NEAR(*ind.rate.syllables_per_s, 4.0, 0.25);
    EXPECT_EQ(ind.pauses.pauses, 0);  // 100 ms gaps are not pauses
}

TEST(SpeechRate, OtherRates) {
    for (const double rate : {2.5, 3.0, 5.0, 6.0}) {
        const Indicators ind = run(syllable_train(rate, 0.6 / rate, static_cast<int>(5 * rate)));
        EXPECT_EQ(ind.rate.syllable_nuclei, static_cast<long long>(5 * rate)) << rate;
        ASSERT_TRUE(ind.rate.syllables_per_s);
        EXPECT_NEAR(*ind.rate.syllables_per_s, rate, 0.08 * rate) << rate;
    }
}

TEST(SpeechRate, AmplitudeModulatedContinuousVoiceWithoutSilences) {
    // One continuous voiced segment at 4 Hz amplitude modulation (12 dB deep): nuclei still
    // come from the energy peaks; articulation rate = speech rate here.
    auto x = silence(0.5);
    auto voice = harmonic(samples_of(4.0), 125.0, kSpeechRms);
    for (std::size_t i = 0; i < voice.size(); ++i) {
        const double m = 0.625
                         - 0.375
                                   * std::cos(2.0 * std::numbers::pi * 4.0 * static_cast<double>(i)
                                              / testing::kRate);
        voice[i] = static_cast<float>(static_cast<double>(voice[i]) * m);
    }
    testing::fade(voice, 40);
    append(x, voice);
    append(x, silence(0.5));
    add_background(x);
    const Indicators ind = run(x);
    EXPECT_EQ(ind.pauses.speech_segments, 1);
    EXPECT_NEAR(static_cast<double>(ind.rate.syllable_nuclei), 16.0, 1.0);
    ASSERT_TRUE(ind.rate.articulation_syllables_per_s);
    EXPECT_NEAR(*ind.rate.articulation_syllables_per_s, 4.0, 0.3);
}

TEST(SpeechRate, UnvoicedPeaksAreNotNuclei) {
    std::vector<float> x = silence(0.5);
    for (int k = 0; k < 8; ++k) {
        auto burst = white_noise(samples_of(0.15), 0.05, static_cast<unsigned>(k + 30));
        testing::fade(burst, 400);
        append(x, burst);
        append(x, silence(0.1));
    }
    add_background(x);
    const Indicators ind = run(x);
    EXPECT_EQ(ind.rate.syllable_nuclei, 0);
    EXPECT_EQ(ind.pauses.speech_segments, 0);
    EXPECT_FALSE(ind.rate.syllables_per_s);
}

TEST(SegmentTracker, GapClosesWhenTheNextSegmentQualifies) {
    SegmentTrackerOptions o;
    o.min_voiced_frames = 3;
    o.min_pause_frames = 5;
    SegmentTracker seg(o);
    const auto frame = [](bool active, bool voiced) {
        SegmentFrame f;
        f.active = active;
        f.voiced = voiced;
        f.energy_db = active ? -20.0f : -70.0f;
        return f;
    };
    long long speech = 0;
    for (int i = 0; i < 4; ++i) {
        speech += seg.accept(frame(true, true)).speech_frames;
    }
    EXPECT_EQ(speech, 4);
    for (int i = 0; i < 6; ++i) {
        EXPECT_EQ(seg.accept(frame(false, false)).gap_frames, 0);
    }
    EXPECT_EQ(seg.accept(frame(true, false)).gap_frames, 0);  // not yet speech
    EXPECT_EQ(seg.accept(frame(true, true)).gap_frames, 0);
    EXPECT_EQ(seg.accept(frame(true, true)).gap_frames, 0);
    const SegmentEvents e = seg.accept(frame(true, true));  // third voiced frame
    EXPECT_TRUE(e.segment_started);
    EXPECT_EQ(e.gap_frames, 6);
    EXPECT_TRUE(e.pause);
    EXPECT_EQ(e.speech_frames, 4);  // the whole run so far
    EXPECT_EQ(seg.accept(frame(true, false)).speech_frames, 1);
}

}  // namespace
}  // namespace dvd::indicators
