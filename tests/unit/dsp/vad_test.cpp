#include "dsp/vad.hpp"

#include <cmath>
#include <numbers>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "dsp/feature_extractor.hpp"

namespace dvd::dsp {
namespace {

std::vector<float> energies_of(const std::vector<float>& samples) {
    const auto tables = FeatureTables::create(FeatureOptions{});
    EXPECT_TRUE(tables);
    std::vector<float> energies;
    (void)compute_features(**tables, samples, &energies);
    return energies;
}

std::vector<bool> run_vad(const std::vector<float>& energies, const VadOptions& options = {}) {
    EnergyVad vad(options);
    std::vector<bool> out;
    for (float e : energies) {
        out.push_back(vad.accept(e));
    }
    return out;
}

int count_true(const std::vector<bool>& v) {
    int n = 0;
    for (bool b : v) {
        n += b ? 1 : 0;
    }
    return n;
}

// White noise at `level_db` dBFS RMS.
std::vector<float> noise(std::size_t n, float level_db, unsigned seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> dist(0.0f, std::pow(10.0f, level_db / 20.0f));
    std::vector<float> x(n);
    for (auto& v : x) {
        v = dist(rng);
    }
    return x;
}

// Crude voiced signal: harmonics of 120 Hz with a 1/h spectrum, scaled to `level_db` dBFS RMS.
std::vector<float> voiced(std::size_t n, float level_db) {
    std::vector<float> x(n, 0.0f);
    double sum_sq = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
        double v = 0.0;
        for (int h = 1; h <= 25; ++h) {
            v += std::sin(2.0 * std::numbers::pi * 120.0 * h * static_cast<double>(i) / 8000.0) / h;
        }
        x[i] = static_cast<float>(v);
        sum_sq += v * v;
    }
    const double scale = std::pow(10.0, static_cast<double>(level_db) / 20.0)
                         / std::sqrt(sum_sq / static_cast<double>(n));
    for (auto& v : x) {
        v = static_cast<float>(static_cast<double>(v) * scale);
    }
    return x;
}

TEST(EnergyVad, OptionsValidate) {
    EXPECT_TRUE(validate(VadOptions{}));
    VadOptions o;
    o.min_speech_frames = 0;
    EXPECT_FALSE(validate(o));
    o = {};
    o.hangover_frames = -1;
    EXPECT_FALSE(validate(o));
    o = {};
    o.margin_db = std::nanf("");
    EXPECT_FALSE(validate(o));
}

TEST(EnergyVad, OptionsFormat) {
    EXPECT_EQ(fmt::format("{}", VadOptions{}),
              "absolute_floor_db=-55 margin_db=9 noise_rise_db_per_frame=0.05 "
              "initial_noise_db=0 hangover_frames=8 min_speech_frames=3");
}

TEST(EnergyVad, DigitalSilenceIsNeverSpeech) {
    const auto decisions = run_vad(energies_of(std::vector<float>(8000 * 3, 0.0f)));
    ASSERT_EQ(decisions.size(), 298u);
    EXPECT_EQ(count_true(decisions), 0);
}

TEST(EnergyVad, LowNoiseIsNeverSpeech) {
    // The floor falls onto the first frame, so stationary noise is never a candidate.
    for (float level : {-90.0f, -70.0f, -62.0f}) {
        const auto decisions = run_vad(energies_of(noise(8000 * 5, level, 3)));
        EXPECT_EQ(count_true(decisions), 0) << "noise at " << level << " dBFS";
    }
}

// With a low initial floor, louder stationary noise would be a candidate until the slowly
// rising floor reached it: (energy - margin - initial_noise) / rise frames, about 2.2 s for
// -50 dBFS from -70. The default start (0 dBFS) avoids that transient, because the floor falls
// onto the first quiet frame at once.
TEST(EnergyVad, LouderNoiseIsNotSpeechWithTheDefaultStart) {
    const auto energies = energies_of(noise(8000 * 5, -50.0f, 5));
    VadOptions low_start;
    low_start.initial_noise_db = -70.0f;
    const auto with_low_start = run_vad(energies, low_start);
    EXPECT_GT(count_true(with_low_start), 150);
    for (std::size_t i = 260; i < with_low_start.size(); ++i) {
        EXPECT_FALSE(with_low_start[i]) << "frame " << i << " after the floor caught up";
    }
    EXPECT_EQ(count_true(run_vad(energies)), 0);
    for (float level : {-50.0f, -40.0f, -30.0f}) {
        EXPECT_EQ(count_true(run_vad(energies_of(noise(8000 * 5, level, 9)))), 0) << level;
    }
}

void check_burst(const VadOptions& options, std::size_t lead_samples) {
    // noise at -50 dBFS, then 1 s voiced at -20 dBFS (plus the noise), then 2 s noise.
    const std::size_t burst_end = lead_samples + 8000;
    auto x = noise(burst_end + 16000, -50.0f, 11);
    const auto v = voiced(8000, -20.0f);
    for (std::size_t i = 0; i < v.size(); ++i) {
        x[lead_samples + i] += v[i];
    }
    const auto decisions = run_vad(energies_of(x), options);
    int speech_inside = 0;
    int inside = 0;
    for (std::size_t i = 0; i < decisions.size(); ++i) {
        const std::size_t start = i * 80;  // frame i covers samples [80 i, 80 i + 200)
        if (start >= lead_samples && start + 200 <= burst_end) {
            ++inside;
            speech_inside += decisions[i] ? 1 : 0;
        }
        const bool settled = start >= lead_samples - 4000;  // past any start-up transient
        if ((settled && start + 200 < lead_samples) || start >= burst_end + 80 * 9) {
            EXPECT_FALSE(decisions[i]) << "frame " << i << " is noise only";
        }
    }
    EXPECT_GE(speech_inside, inside - 2);  // the onset waits for min_speech_frames
}

TEST(EnergyVad, VoicedBurstInNoiseIsSpeech) {
    check_burst(VadOptions{}, 8000 * 3);  // defaults: lead-in longer than the 2.2 s transient
    VadOptions high_start;
    high_start.initial_noise_db = 0.0f;
    check_burst(high_start, 8000);
}

TEST(EnergyVad, ToneBurstInDigitalSilence) {
    std::vector<float> x(8000 * 2, 0.0f);
    for (std::size_t i = 4000; i < 12000; ++i) {
        x[i] = 0.1f
               * static_cast<float>(
                       std::sin(2.0 * std::numbers::pi * 440.0 * static_cast<double>(i) / 8000.0));
    }
    const auto decisions = run_vad(energies_of(x));
    EXPECT_GE(count_true(decisions), 95);
    EXPECT_LE(count_true(decisions), 100 + 8 + 3);
}

TEST(EnergyVad, OnsetNeedsMinSpeechFramesAndHangoverHoldsExactly) {
    VadOptions o;
    o.min_speech_frames = 3;
    o.hangover_frames = 8;
    EnergyVad vad(o);
    for (int i = 0; i < 20; ++i) {
        ASSERT_FALSE(vad.accept(-80.0f));
    }
    EXPECT_FALSE(vad.accept(-20.0f));
    EXPECT_FALSE(vad.accept(-20.0f));
    EXPECT_TRUE(vad.accept(-20.0f));  // third consecutive candidate
    EXPECT_TRUE(vad.accept(-20.0f));
    for (int i = 0; i < 8; ++i) {
        EXPECT_TRUE(vad.accept(-80.0f)) << "hangover frame " << i;
    }
    EXPECT_FALSE(vad.accept(-80.0f));
    EXPECT_FALSE(vad.in_speech());
}

TEST(EnergyVad, CandidateDuringHangoverContinuesSpeechAtOnce) {
    VadOptions o;
    o.hangover_frames = 4;
    EnergyVad vad(o);
    (void)vad.accept(-80.0f);  // the floor falls onto the first (quiet) frame
    for (int i = 0; i < 3; ++i) {
        (void)vad.accept(-20.0f);
    }
    EXPECT_TRUE(vad.accept(-80.0f));
    EXPECT_TRUE(vad.accept(-80.0f));
    EXPECT_TRUE(vad.accept(-20.0f));  // one candidate suffices inside the hangover
    for (int i = 0; i < 4; ++i) {
        EXPECT_TRUE(vad.accept(-80.0f));
    }
    EXPECT_FALSE(vad.accept(-80.0f));
}

TEST(EnergyVad, ShortBlipsAreNotSpeech) {
    EnergyVad vad;
    for (int i = 0; i < 50; ++i) {
        const bool blip = i % 5 == 0 || i % 5 == 1;  // two loud frames, three quiet
        EXPECT_FALSE(vad.accept(blip ? -20.0f : -80.0f)) << i;
    }
}

TEST(EnergyVad, NoiseFloorFallsAtOnceAndRisesSlowly) {
    VadOptions o;
    o.noise_rise_db_per_frame = 0.05f;
    EnergyVad vad(o);
    (void)vad.accept(-90.0f);
    EXPECT_FLOAT_EQ(vad.noise_db(), -90.0f);
    (void)vad.accept(-30.0f);
    EXPECT_FLOAT_EQ(vad.noise_db(), -89.95f);
    for (int i = 0; i < 99; ++i) {
        (void)vad.accept(-30.0f);
    }
    EXPECT_NEAR(vad.noise_db(), -85.0f, 1e-3f);
    (void)vad.accept(-86.0f);
    EXPECT_FLOAT_EQ(vad.noise_db(), -86.0f);
    // The floor never rises above the energy it tracks.
    for (int i = 0; i < 1000; ++i) {
        (void)vad.accept(-40.0f);
    }
    EXPECT_FLOAT_EQ(vad.noise_db(), -40.0f);
}

TEST(EnergyVad, SteadyHumStopsBeingSpeechOnceTheFloorCatchesUp) {
    // -40 dBFS hum after a quiet start: candidate while noise + 9 < -40, i.e. while the floor
    // (rising 0.05 dB per frame from -70) is below -49: 420 frames, then 8 hangover frames.
    VadOptions o;
    o.initial_noise_db = -70.0f;
    EnergyVad vad(o);
    std::vector<bool> d;
    for (int i = 0; i < 600; ++i) {
        d.push_back(vad.accept(-40.0f));
    }
    EXPECT_FALSE(d[0]);
    EXPECT_FALSE(d[1]);
    for (int i = 2; i < 415; ++i) {
        EXPECT_TRUE(d[static_cast<std::size_t>(i)]) << i;
    }
    for (int i = 440; i < 600; ++i) {
        EXPECT_FALSE(d[static_cast<std::size_t>(i)]) << i;
    }
    EXPECT_FLOAT_EQ(vad.noise_db(), -40.0f);
}

TEST(EnergyVad, NanIsNotSpeechAndDoesNotPoisonTheFloor) {
    EnergyVad vad;
    EXPECT_FALSE(vad.accept(std::nanf("")));
    EXPECT_FALSE(std::isnan(vad.noise_db()));
}

TEST(EnergyVad, ResetRestoresStartState) {
    EnergyVad vad;
    const std::vector<float> energies = {-80, -20, -20, -20, -20, -70, -70, -20, -90, -90, -20};
    std::vector<bool> first;
    for (float e : energies) {
        first.push_back(vad.accept(e));
    }
    vad.reset();
    EXPECT_EQ(vad.noise_db(), VadOptions{}.initial_noise_db);
    for (std::size_t i = 0; i < energies.size(); ++i) {
        EXPECT_EQ(vad.accept(energies[i]), first[i]) << i;
    }
}

}  // namespace
}  // namespace dvd::dsp
