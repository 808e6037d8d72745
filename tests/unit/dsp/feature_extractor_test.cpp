#include "dsp/feature_extractor.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numbers>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "dsp/band_harmonicity.hpp"
#include "dsp/vad.hpp"
#include "test_signals.hpp"

namespace dvd::dsp {
namespace {

using testing::sine;
using testing::white_noise;

std::shared_ptr<const FeatureTables> make_tables(const FeatureOptions& o = {}) {
    auto t = FeatureTables::create(o);
    EXPECT_TRUE(t) << (t ? "" : t.error().message);
    return t ? *t : nullptr;
}

struct Output {
    std::vector<float> features;
    std::vector<float> energies;
};

// Feeds `x` in seeded random chunk sizes (including 0 and 1) and collects everything.
Output run_chunked(FeatureExtractor& ex, std::span<const float> x, unsigned seed) {
    std::mt19937 rng(seed);
    std::uniform_int_distribution<int> pick(0, 9);
    std::uniform_int_distribution<std::size_t> big(2, 700);
    Output out;
    std::size_t pos = 0;
    while (pos < x.size()) {
        const int kind = pick(rng);
        std::size_t n = kind == 0 ? 0 : kind <= 3 ? 1 : kind <= 5 ? rng() % 80 : big(rng);
        n = std::min(n, x.size() - pos);
        ex.accept(x.subspan(pos, n), [&](std::span<const float> f, float e) {
            out.features.insert(out.features.end(), f.begin(), f.end());
            out.energies.push_back(e);
        });
        pos += n;
    }
    return out;
}

bool bit_identical(const std::vector<float>& a, const std::vector<float>& b) {
    return a.size() == b.size()
           && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

// ----------------------------------------------------------------------------------------------
// Tables

TEST(FeatureTables, RejectsInvalidOptions) {
    FeatureOptions o;
    o.frame_shift_samples = 0;
    const auto t = FeatureTables::create(o);
    ASSERT_FALSE(t);
    EXPECT_EQ(t.error().code, base::make_error_code(base::Errc::InvalidArgument));
}

TEST(FeatureTables, RejectsFiltersThatCoverNoBin) {
    FeatureOptions o;
    o.fft_size = 64;  // 125 Hz bins
    o.frame_length_samples = 64;
    o.num_filters = 128;  // 31 Hz spacing: some triangles fall between bins
    const auto t = FeatureTables::create(o);
    ASSERT_FALSE(t);
    EXPECT_NE(t.error().message.find("covers no FFT bin"), std::string::npos) << t.error().message;
}

TEST(FeatureTables, SymmetricHammingWindow) {
    const auto t = make_tables();
    const auto w = t->window();
    ASSERT_EQ(w.size(), 200u);
    EXPECT_FLOAT_EQ(w[0], 0.08f);
    EXPECT_FLOAT_EQ(w[199], 0.08f);
    for (std::size_t n = 0; n < w.size(); ++n) {
        EXPECT_EQ(w[n], w[199 - n]);
        const double expected =
                0.54 - 0.46 * std::cos(2.0 * std::numbers::pi * static_cast<double>(n) / 199.0);
        EXPECT_NEAR(w[n], expected, 1e-7);
    }
}

TEST(FeatureTables, FilterbankWeightsFollowTheTriangleFormula) {
    const FeatureOptions o;
    const auto t = make_tables(o);
    const int nf = o.num_filters;
    auto edge = [&](int j) {
        return 4000.0 * j / (nf + 1);
    };
    for (int m = 0; m < nf; ++m) {
        float peak = 0.0f;
        for (int k = 0; k <= 128; ++k) {
            const double f = k * 8000.0 / 256.0;
            const double expected =
                    std::max(0.0, std::min((f - edge(m)) / (edge(m + 1) - edge(m)),
                                           (edge(m + 2) - f) / (edge(m + 2) - edge(m + 1))));
            EXPECT_NEAR(t->weight(m, k), expected, 1e-7) << "filter " << m << " bin " << k;
            peak = std::max(peak, t->weight(m, k));
        }
        EXPECT_LE(peak, 1.0f);
        EXPECT_GT(peak, 0.5f);  // 31.25 Hz bins vs 65.6 Hz filter spacing
    }
}

TEST(FeatureTables, FiltersSumToOneBetweenFirstAndLastPeak) {
    const FeatureOptions o;
    const auto t = make_tables(o);
    const double first_peak = 4000.0 / 61.0;
    const double last_peak = 4000.0 * 60.0 / 61.0;
    for (int k = 0; k <= 128; ++k) {
        const double f = k * 8000.0 / 256.0;
        double sum = 0.0;
        for (int m = 0; m < o.num_filters; ++m) {
            sum += static_cast<double>(t->weight(m, k));
        }
        if (f >= first_peak && f <= last_peak) {
            EXPECT_NEAR(sum, 1.0, 1e-6) << "bin " << k;
        } else {
            EXPECT_LE(sum, 1.0 + 1e-6) << "bin " << k;
        }
    }
}

// ----------------------------------------------------------------------------------------------
// Analytic checks

TEST(FeatureExtractor, SinePeaksInTheFilterCentredOnIt) {
    const FeatureOptions o;
    const auto t = make_tables(o);
    for (int m : {3, 14, 30, 45, 57}) {
        const double peak_hz = 4000.0 * (m + 1) / 61.0;
        const auto x = sine(4000, peak_hz, 8000.0, 0.5);
        const auto feats = compute_features(*t, x);
        const std::size_t frames = feats.size() / 60;
        ASSERT_EQ(frames, 48u);
        for (std::size_t i = 0; i < frames; ++i) {
            const auto row = std::span<const float>(feats).subspan(i * 60, 60);
            const auto best = std::max_element(row.begin(), row.end()) - row.begin();
            EXPECT_EQ(best, m) << "frame " << i << " for a " << peak_hz << " Hz sine";
        }
    }
}

// Parseval: for in-band content (no pre-emphasis), the filters sum to one over the occupied bins,
// so sum_m exp(feature_m) = sum_k P[k] = (fft_size / 2) * sum_n (w[n] x[n])^2.
TEST(FeatureExtractor, ParsevalEnergyOfInBandSignal) {
    FeatureOptions o;
    o.preemphasis = 0.0f;
    const auto t = make_tables(o);
    std::vector<float> x = sine(2000, 500.0, 8000.0, 0.3);
    const auto b = sine(2000, 1234.5, 8000.0, 0.2, 0.7);
    const auto c = sine(2000, 2890.0, 8000.0, 0.1, 1.9);
    for (std::size_t i = 0; i < x.size(); ++i) {
        x[i] += b[i] + c[i];
    }
    const auto feats = compute_features(*t, x);
    const auto w = t->window();
    const std::size_t frames = feats.size() / 60;
    ASSERT_GT(frames, 10u);
    for (std::size_t i = 0; i < frames; ++i) {
        double time_energy = 0.0;
        for (std::size_t n = 0; n < 200; ++n) {
            const double v = static_cast<double>(w[n]) * static_cast<double>(x[i * 80 + n]);
            time_energy += v * v;
        }
        double filter_energy = 0.0;
        for (std::size_t m = 0; m < 60; ++m) {
            filter_energy += std::exp(static_cast<double>(feats[i * 60 + m]));
        }
        EXPECT_NEAR(filter_energy / (128.0 * time_energy), 1.0, 1e-3) << "frame " << i;
    }
}

TEST(FeatureExtractor, FullScaleSineIsMinus3Dbfs) {
    const auto t = make_tables();
    // 1 kHz: 25 whole periods per 200-sample frame, so mean(x^2) = 0.5 exactly.
    std::vector<float> energies;
    (void)compute_features(*t, sine(2000, 1000.0, 8000.0, 1.0), &energies);
    ASSERT_FALSE(energies.empty());
    for (float e : energies) {
        EXPECT_NEAR(e, -3.0103, 1e-3);
    }
    // Any other frequency: within the window's partial-period error.
    (void)compute_features(*t, sine(2000, 437.0, 8000.0, 1.0), &energies);
    for (float e : energies) {
        EXPECT_NEAR(e, -3.01, 0.1);
    }
    // -20 dBFS RMS noise.
    (void)compute_features(*t, white_noise(8000, 0.1, 1), &energies);
    for (float e : energies) {
        EXPECT_NEAR(e, -20.0, 1.5);
    }
}

TEST(FeatureExtractor, SilenceGivesTheLogFloor) {
    const FeatureOptions o;
    const auto t = make_tables(o);
    std::vector<float> energies;
    const auto feats = compute_features(*t, std::vector<float>(1000, 0.0f), &energies);
    ASSERT_EQ(feats.size(), 11u * 60u);
    for (float f : feats) {
        EXPECT_EQ(f, std::log(o.log_floor));
    }
    for (float e : energies) {
        EXPECT_FLOAT_EQ(e, -100.0f);
    }
}

TEST(FeatureExtractor, FramesAreEmittedWhenTheirLastSampleArrives) {
    const auto t = make_tables();
    FeatureExtractor ex(t);
    int frames = 0;
    auto sink = [&](std::span<const float> f, float) {
        EXPECT_EQ(f.size(), 60u);
        ++frames;
    };
    const std::vector<float> x(1000, 0.25f);
    std::span<const float> s(x);
    ex.accept(s.subspan(0, 199), sink);
    EXPECT_EQ(frames, 0);
    ex.accept(s.subspan(199, 1), sink);
    EXPECT_EQ(frames, 1);
    ex.accept(s.subspan(200, 79), sink);
    EXPECT_EQ(frames, 1);
    ex.accept(s.subspan(279, 1), sink);
    EXPECT_EQ(frames, 2);
    ex.accept(s.subspan(280, 0), sink);
    EXPECT_EQ(frames, 2);
    ex.accept(s.subspan(280, 720), sink);
    EXPECT_EQ(frames, static_cast<int>(num_frames(FeatureOptions{}, 1000)));
    EXPECT_EQ(frames, 11);  // the 40-sample partial tail is not emitted
    EXPECT_EQ(ex.frames_emitted(), 11);
}

TEST(FeatureExtractor, NumFrames) {
    FeatureOptions o;
    EXPECT_EQ(num_frames(o, 0), 0);
    EXPECT_EQ(num_frames(o, 199), 0);
    EXPECT_EQ(num_frames(o, 200), 1);
    EXPECT_EQ(num_frames(o, 279), 1);
    EXPECT_EQ(num_frames(o, 280), 2);
    EXPECT_EQ(num_frames(o, 8000), 98);
}

// Pre-emphasis starts from x[-1] = 0: a constant signal's first frame sees a step at n = 0,
// later frames see (1 - p) x everywhere; so frame 0 differs from frame 1, frames 1.. are equal.
TEST(FeatureExtractor, PreemphasisStartsFromZeroAndIsContinuous) {
    const auto t = make_tables();
    const auto feats = compute_features(*t, std::vector<float>(600, 0.5f));
    ASSERT_EQ(feats.size(), 6u * 60u);
    EXPECT_NE(feats[0], feats[60]);
    for (std::size_t i = 2; i < 6; ++i) {
        for (std::size_t m = 0; m < 60; ++m) {
            EXPECT_EQ(feats[i * 60 + m], feats[60 + m]);
        }
    }
}

TEST(FeatureExtractor, ResetReturnsToStreamStart) {
    const auto t = make_tables();
    const auto x = white_noise(3000, 0.1, 4);
    FeatureExtractor ex(t);
    const Output first = run_chunked(ex, x, 1);
    ex.accept(std::span<const float>(x).subspan(0, 123), [](std::span<const float>, float) {});
    ex.reset();
    EXPECT_EQ(ex.frames_emitted(), 0);
    const Output second = run_chunked(ex, x, 2);
    EXPECT_TRUE(bit_identical(first.features, second.features));
    EXPECT_TRUE(bit_identical(first.energies, second.energies));
}

TEST(FeatureExtractor, MovedExtractorContinuesTheStream) {
    const auto t = make_tables();
    const auto x = white_noise(4000, 0.1, 8);
    std::vector<float> energies;
    const auto batch = compute_features(*t, x, &energies);

    Output out;
    auto sink = [&](std::span<const float> f, float e) {
        out.features.insert(out.features.end(), f.begin(), f.end());
        out.energies.push_back(e);
    };
    FeatureExtractor a(t);
    a.accept(std::span<const float>(x).subspan(0, 1500), sink);
    FeatureExtractor b(std::move(a));
    b.accept(std::span<const float>(x).subspan(1500, 1000), sink);
    FeatureExtractor c(t);
    c = std::move(b);
    c.accept(std::span<const float>(x).subspan(2500), sink);
    EXPECT_TRUE(bit_identical(out.features, batch));
    EXPECT_TRUE(bit_identical(out.energies, energies));
}

TEST(FeatureExtractor, StateIsSmall) {
    const auto t = make_tables();
    FeatureExtractor ex(t);
    EXPECT_LT(ex.state_bytes(), 16u * 1024u) << ex.state_bytes();
    EXPECT_GT(ex.state_bytes(), 2000u);

    FeatureOptions big;
    big.fft_size = kMaxFftSize;
    big.frame_length_samples = kMaxFftSize;
    big.num_filters = kMaxFilters;
    FeatureExtractor ex_big(make_tables(big));
    EXPECT_LT(ex_big.state_bytes(), 100u * 1024u) << ex_big.state_bytes();
}

// ----------------------------------------------------------------------------------------------
// Excitation features (LPC residual shape)

struct ExcitationMeans {
    double kurtosis = 0.0;
    double skewness = 0.0;
    double crest = 0.0;
    std::size_t frames = 0;
};

ExcitationMeans mean_excitation(const std::vector<float>& x) {
    FeatureOptions o;
    o.excitation = true;
    const auto t = make_tables(o);
    const auto f = compute_features(*t, x);
    const auto width = static_cast<std::size_t>(feature_width(o));
    ExcitationMeans m;
    m.frames = f.size() / width;
    for (std::size_t i = 0; i < m.frames; ++i) {
        m.kurtosis += static_cast<double>(f[i * width + 60]);
        m.skewness += static_cast<double>(f[i * width + 61]);
        m.crest += static_cast<double>(f[i * width + 62]);
    }
    m.kurtosis /= static_cast<double>(m.frames);
    m.skewness /= static_cast<double>(m.frames);
    m.crest /= static_cast<double>(m.frames);
    return m;
}

TEST(FeatureExtractor, ExcitationIsOffByDefaultAndAddsThreeValues) {
    FeatureOptions o;
    EXPECT_EQ(feature_width(o), 60);
    EXPECT_EQ(FeatureExtractor(make_tables(o)).num_features(), 60);
    o.excitation = true;
    EXPECT_EQ(feature_width(o), 60 + kExcitationFeatures);
    EXPECT_EQ(FeatureExtractor(make_tables(o)).num_features(), 63);
    o.frame_length_samples = 2 * kExcitationLpcOrder;
    EXPECT_FALSE(validate(o));
}

TEST(FeatureExtractor, ExcitationOfGaussianNoiseIsGaussian) {
    // White Gaussian noise is its own prediction residual: kurtosis 3 (ln 3 = 1.099), skewness 0.
    const auto m = mean_excitation(white_noise(8000 * 4, 0.1, 5));
    ASSERT_GT(m.frames, 300u);
    EXPECT_NEAR(m.kurtosis, std::log(3.0), 0.08);
    EXPECT_NEAR(m.skewness, 0.0, 0.05);
    // The largest of 190 Gaussian squares is about 2 ln(190) - ln ln 190 ~ 8.8 variances.
    EXPECT_GT(m.crest, std::log(5.0));
    EXPECT_LT(m.crest, std::log(20.0));
}

TEST(FeatureExtractor, ExcitationOfAPulseTrainIsPeakyAndSkewed) {
    // A 100 Hz train of positive pulses through a resonance: the residual is the pulses again,
    // so the kurtosis and crest are far above Gaussian and the skewness is positive. Scrambling
    // the pulses' phase (the same magnitude spectrum) is what Griffin-Lim does; it lowers both.
    std::vector<float> x(8000 * 2, 0.0f);
    double y1 = 0.0, y2 = 0.0;
    for (std::size_t n = 0; n < x.size(); ++n) {
        const double pulse = n % 80 == 0 ? 1.0 : 0.0;
        const double y = pulse + 1.6 * y1 - 0.9 * y2;  // resonance near 500 Hz
        y2 = y1;
        y1 = y;
        x[n] = static_cast<float>(0.05 * y);
    }
    const auto m = mean_excitation(x);
    const auto noise = mean_excitation(white_noise(x.size(), 0.1, 6));
    EXPECT_GT(m.kurtosis, noise.kurtosis + 1.5) << m.kurtosis;
    EXPECT_GT(m.crest, noise.crest + 1.0) << m.crest;
    EXPECT_GT(m.skewness, 2.0) << m.skewness;
}

TEST(FeatureExtractor, ExcitationOfSilenceIsFinite) {
    const auto m = mean_excitation(std::vector<float>(8000, 0.0f));
    EXPECT_TRUE(std::isfinite(m.kurtosis) && std::isfinite(m.skewness) && std::isfinite(m.crest));
}

// ----------------------------------------------------------------------------------------------
// Fine time structure (2 ms sub-frames)

// Per fine band, the mean over frames of the standard deviation of the band's log energy across
// the frame's sub-frames: how much the energy ripples inside 10 ms.
std::vector<double> fine_ripple(const std::vector<float>& x, int bands) {
    FeatureOptions o;
    o.fine_bands = bands;
    const auto t = make_tables(o);
    const auto f = compute_features(*t, x);
    const auto width = static_cast<std::size_t>(feature_width(o));
    const auto subframes = static_cast<std::size_t>(fine_subframes(o));
    const std::size_t frames = f.size() / width;
    std::vector<double> ripple(static_cast<std::size_t>(bands), 0.0);
    for (std::size_t i = 0; i < frames; ++i) {
        const float* fine = f.data() + i * width + 60;
        for (std::size_t b = 0; b < ripple.size(); ++b) {
            double sum = 0.0, sum_sq = 0.0;
            for (std::size_t j = 0; j < subframes; ++j) {
                const double v = fine[j * ripple.size() + b];
                sum += v;
                sum_sq += v * v;
            }
            const double mean = sum / static_cast<double>(subframes);
            ripple[b] += std::sqrt(std::max(0.0, sum_sq / static_cast<double>(subframes)
                                                         - mean * mean));
        }
    }
    for (double& r : ripple) {
        r /= static_cast<double>(frames);
    }
    return ripple;
}

// A 125 Hz voiced sound: harmonics 1..31 with equal amplitude; with `zero_phase` all cosines
// peak together every 8 ms (sharp pulses, like glottal closures), otherwise each harmonic gets a
// random phase (the same magnitude spectrum, the pulses smeared -- what Griffin-Lim does).
std::vector<float> harmonic_sound(bool zero_phase, unsigned seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<double> phase(0.0, 2.0 * std::numbers::pi);
    std::vector<double> phases(31, 0.0);
    if (!zero_phase) {
        for (double& p : phases) {
            p = phase(rng);
        }
    }
    std::vector<float> x(8000 * 2);
    for (std::size_t n = 0; n < x.size(); ++n) {
        double v = 0.0;
        for (std::size_t h = 1; h <= phases.size(); ++h) {
            v += std::cos(2.0 * std::numbers::pi * 125.0 * static_cast<double>(h)
                                  * static_cast<double>(n) / 8000.0
                          + phases[h - 1]);
        }
        x[n] = static_cast<float>(0.01 * v);
    }
    return x;
}

TEST(FeatureExtractor, FineBandsAreOffByDefaultAndAddSubframeValues) {
    FeatureOptions o;
    EXPECT_EQ(FeatureExtractor(make_tables(o)).num_features(), 60);
    o.fine_bands = 6;
    FeatureExtractor ex(make_tables(o));
    EXPECT_EQ(ex.num_features(), 90);
    std::size_t frames = 0;
    ex.accept(white_noise(8000, 0.1, 9), [&](std::span<const float> f, float) {
        ASSERT_EQ(f.size(), 90u);
        ++frames;
    });
    EXPECT_EQ(frames, 98u);
}

TEST(FeatureExtractor, FineBandsSeeSharpPulsesThatPhaseScramblingSmears) {
    // The same magnitude spectrum at 25 ms: the filterbank values barely differ, but inside each
    // 8 ms period the pulse train's energy rises and falls far more than the scrambled sound's.
    const auto pulses = fine_ripple(harmonic_sound(true, 1), 6);
    for (unsigned seed : {2u, 3u}) {
        const auto scrambled = fine_ripple(harmonic_sound(false, seed), 6);
        for (std::size_t b = 0; b < pulses.size(); ++b) {
            EXPECT_GT(pulses[b], scrambled[b] + 0.5) << "band " << b << " seed " << seed;
        }
    }
}

TEST(FeatureExtractor, FineBandsOfAStationaryToneDoNotRipple) {
    // A 1 kHz tone has the same energy in every 4 ms sub-frame (8 cycles each): no ripple.
    std::vector<float> x(8000);
    for (std::size_t n = 0; n < x.size(); ++n) {
        x[n] = static_cast<float>(0.3 * std::sin(2.0 * std::numbers::pi * 1000.0
                                                 * static_cast<double>(n) / 8000.0));
    }
    const auto ripple = fine_ripple(x, 6);
    EXPECT_LT(ripple[1], 1e-3);  // the band around 1.14 kHz holds the tone
}

// ----------------------------------------------------------------------------------------------
// Band harmonicity (normalised autocorrelation at the pitch lag in three bands)

FeatureOptions harmonicity_options() {
    FeatureOptions o;
    o.band_harmonicity = true;
    return o;
}

// Per band, the mean band harmonicity over the frames whose window lies inside the signal.
std::vector<double> mean_harmonicity(const std::vector<float>& x) {
    const FeatureOptions o = harmonicity_options();
    const auto f = compute_features(*make_tables(o), x);
    const auto width = static_cast<std::size_t>(feature_width(o));
    const std::size_t frames = f.size() / width;
    std::vector<double> mean(kHarmonicityFeatures, 0.0);
    for (std::size_t i = 2; i + 2 < frames; ++i) {
        for (std::size_t b = 0; b < mean.size(); ++b) {
            mean[b] += static_cast<double>(f[i * width + 60 + b]) / static_cast<double>(frames - 4);
        }
    }
    return mean;
}

TEST(FeatureExtractor, HarmonicityOfAPulseTrainIsNearOneInEveryBand) {
    // Harmonics of 125 Hz up to 3875 Hz: every band is exactly periodic with an 8 ms period.
    // (Dividing by the Hann window's own autocorrelation is exact for white spectra only, so a
    // band with few harmonics lands a few percent off 1: 0.961, 1.000, 1.027 here, as in
    // training/probes/band_harmonicity.py.)
    for (const bool zero_phase : {true, false}) {
        const auto h = mean_harmonicity(harmonic_sound(zero_phase, 4));
        for (std::size_t b = 0; b < h.size(); ++b) {
            EXPECT_GT(h[b], 0.95) << "band " << b << " zero_phase " << zero_phase;
            EXPECT_LT(h[b], 1.04) << "band " << b;
        }
    }
}

TEST(FeatureExtractor, HarmonicityDropsOnlyInTheBandWhereNoiseReplacesTheHarmonics) {
    // A voice whose excitation turns to noise above 2 kHz (as a human voice's does): the low
    // bands stay periodic, 2000-3400 Hz is not.
    auto x = harmonic_sound(false, 5);
    std::vector<float> high(x.size(), 0.0f);
    const auto noise = white_noise(x.size(), 0.005, 11);
    for (std::size_t n = 0; n < x.size(); ++n) {
        // Harmonics 17..31 (2125-3875 Hz) out, noise differenced twice (mostly high) in.
        double v = 0.0;
        for (int h = 17; h <= 31; ++h) {
            v += std::cos(2.0 * std::numbers::pi * 125.0 * h * static_cast<double>(n) / 8000.0);
        }
        high[n] = static_cast<float>(0.01 * v);
    }
    const auto periodic = harmonic_sound(true, 0);
    for (std::size_t n = 0; n < x.size(); ++n) {
        const float diff2 =
                noise[n] - 2.0f * (n >= 1 ? noise[n - 1] : 0.0f) + (n >= 2 ? noise[n - 2] : 0.0f);
        x[n] = periodic[n] - high[n] + diff2;
    }
    const auto h = mean_harmonicity(x);
    EXPECT_GT(h[0], 0.9) << h[0];
    EXPECT_LT(h[2], 0.5) << h[2];
    EXPECT_GT(h[0], h[2] + 0.4);
}

TEST(FeatureExtractor, HarmonicityOfNoiseIsLowAndOfSilenceZero) {
    const auto h = mean_harmonicity(white_noise(8000 * 2, 0.1, 12));
    for (std::size_t b = 0; b < h.size(); ++b) {
        EXPECT_LT(std::abs(h[b]), 0.35) << "band " << b;
    }
    for (const double v : mean_harmonicity(std::vector<float>(8000, 0.0f))) {
        EXPECT_EQ(v, 0.0);
    }
}

TEST(FeatureExtractor, HarmonicityFramesWaitForTheirWindowAndFinishEmitsTheRest) {
    const FeatureOptions o = harmonicity_options();
    FeatureExtractor ex(make_tables(o));
    int frames = 0;
    auto sink = [&](std::span<const float> f, float) {
        EXPECT_EQ(f.size(), 63u);
        ++frames;
    };
    const auto x = white_noise(1000, 0.1, 13);
    std::span<const float> s(x);
    ex.accept(s.subspan(0, 259), sink);  // frame 0 ends at 199, its window at 259
    EXPECT_EQ(frames, 0);
    ex.accept(s.subspan(259, 1), sink);
    EXPECT_EQ(frames, 1);
    ex.accept(s.subspan(260, 740), sink);
    EXPECT_EQ(frames, 10);  // frame 10 (800..999) waits for samples 1000..1059
    ex.finish(sink);
    EXPECT_EQ(frames, 11);
    EXPECT_EQ(ex.frames_emitted(), num_frames(o, 1000));
    ex.reset();
    frames = 0;
    ex.accept(s, sink);
    ex.finish(sink);
    EXPECT_EQ(frames, 11);
    // Without the option nothing waits: finish emits nothing.
    FeatureExtractor plain(make_tables());
    auto count = [&](std::span<const float>, float) {
        ++frames;
    };
    plain.accept(s, count);
    plain.finish(count);
    EXPECT_EQ(frames, 22);
}

TEST(FeatureExtractor, HarmonicityStateStaysSmall) {
    FeatureOptions o = harmonicity_options();
    o.fine_bands = 6;
    FeatureExtractor ex(make_tables(o));
    FeatureOptions without = o;
    without.band_harmonicity = false;
    // The stream keeps only 120 more history samples and 3 more values: the 1024-point FFT is
    // per thread.
    EXPECT_LE(ex.state_bytes(),
              FeatureExtractor(make_tables(without)).state_bytes() + (120 + 3) * sizeof(float));
    EXPECT_GT(band_harmonicity_thread_bytes(), kHarmonicityFftSize * 2 * sizeof(float));
}

// ----------------------------------------------------------------------------------------------
// Streaming equals batch, bit for bit

class StreamingEqualsBatch : public ::testing::TestWithParam<FeatureOptions> {};

TEST_P(StreamingEqualsBatch, RandomChunksGiveIdenticalFeaturesAndEnergies) {
    const FeatureOptions o = GetParam();
    const auto t = make_tables(o);
    ASSERT_NE(t, nullptr);
    auto x = white_noise(static_cast<std::size_t>(o.sample_rate_hz) * 2 + 37, 0.05, 17);
    const auto tone = sine(x.size(), 700.0, o.sample_rate_hz, 0.3);
    for (std::size_t i = x.size() / 3; i < 2 * x.size() / 3; ++i) {
        x[i] += tone[i];
    }
    std::vector<float> energies;
    const auto batch = compute_features(*t, x, &energies);
    ASSERT_EQ(static_cast<long long>(energies.size()),
              num_frames(o, static_cast<long long>(x.size())));

    std::vector<bool> batch_vad;
    EnergyVad vad_batch;
    for (float e : energies) {
        batch_vad.push_back(vad_batch.accept(e));
    }

    for (unsigned seed = 1; seed <= 6; ++seed) {
        FeatureExtractor ex(t);
        EnergyVad vad;
        std::vector<bool> stream_vad;
        Output out;
        const auto sink = [&](std::span<const float> f, float e) {
            out.features.insert(out.features.end(), f.begin(), f.end());
            out.energies.push_back(e);
            stream_vad.push_back(vad.accept(e));
        };
        std::mt19937 rng(seed);
        std::size_t pos = 0;
        while (pos < x.size()) {
            const std::size_t kind = rng() % 10;
            std::size_t n = kind == 0 ? 0 : kind <= 3 ? 1 : rng() % (kind <= 6 ? 90 : 1200);
            n = std::min(n, x.size() - pos);
            ex.accept(std::span<const float>(x).subspan(pos, n), sink);
            pos += n;
        }
        ex.finish(sink);
        EXPECT_TRUE(bit_identical(out.features, batch)) << "seed " << seed;
        EXPECT_TRUE(bit_identical(out.energies, energies)) << "seed " << seed;
        EXPECT_EQ(stream_vad, batch_vad) << "seed " << seed;
    }
}

// What the speech front end does: the VAD decides from the energy, and only speech frames get
// features. `keep` sees every frame's energy once, in order; the kept frames are the batch's.
TEST_P(StreamingEqualsBatch, AcceptIfComputesTheKeptFramesOnlyAndTheyEqualBatch) {
    const FeatureOptions o = GetParam();
    const auto t = make_tables(o);
    ASSERT_NE(t, nullptr);
    // Speech-like bursts between stretches of near-silence, so the VAD both keeps and drops.
    auto x = white_noise(static_cast<std::size_t>(o.sample_rate_hz) * 3 + 11, 1e-4, 23);
    const auto loud = white_noise(x.size(), 0.1, 29);
    for (std::size_t i = 0; i < x.size(); ++i) {
        if ((i / static_cast<std::size_t>(o.sample_rate_hz / 4)) % 3 == 1) {
            x[i] += loud[i];
        }
    }
    std::vector<float> energies;
    const auto batch = compute_features(*t, x, &energies);
    const auto width = static_cast<std::size_t>(t->num_features());
    std::vector<float> batch_speech;
    EnergyVad batch_vad;
    for (std::size_t i = 0; i < energies.size(); ++i) {
        if (batch_vad.accept(energies[i])) {
            batch_speech.insert(batch_speech.end(), batch.begin() + static_cast<long>(i * width),
                                batch.begin() + static_cast<long>((i + 1) * width));
        }
    }
    ASSERT_GT(batch_speech.size(), 0u);
    ASSERT_LT(batch_speech.size(), batch.size());

    for (unsigned seed = 1; seed <= 3; ++seed) {
        FeatureExtractor ex(t);
        EnergyVad vad;
        std::vector<float> seen_energies;
        std::vector<float> kept;
        const auto keep = [&](float e) {
            seen_energies.push_back(e);
            return vad.accept(e);
        };
        const auto sink = [&](std::span<const float> f, float e) {
            EXPECT_EQ(e, seen_energies.back());
            kept.insert(kept.end(), f.begin(), f.end());
        };
        std::mt19937 rng(seed);
        std::size_t pos = 0;
        while (pos < x.size()) {
            std::size_t n = rng() % 4 == 0 ? 1 : rng() % 900;
            n = std::min(n, x.size() - pos);
            ex.accept_if(std::span<const float>(x).subspan(pos, n), keep, sink);
            pos += n;
        }
        ex.finish_if(keep, sink);
        EXPECT_TRUE(bit_identical(seen_energies, energies)) << "seed " << seed;
        EXPECT_TRUE(bit_identical(kept, batch_speech)) << "seed " << seed;
        EXPECT_EQ(ex.frames_emitted(), static_cast<long long>(energies.size()));
    }
}

FeatureOptions with_frames(int length, int shift) {
    FeatureOptions o;
    o.frame_length_samples = length;
    o.frame_shift_samples = shift;
    return o;
}

FeatureOptions with_excitation() {
    FeatureOptions o;
    o.excitation = true;
    return o;
}

FeatureOptions with_fine_bands() {
    FeatureOptions o;
    o.fine_bands = 6;
    o.excitation = true;
    return o;
}

FeatureOptions with_harmonicity(int length = 200, int shift = 80) {
    FeatureOptions o = with_frames(length, shift);
    o.band_harmonicity = true;
    o.fine_bands = shift % kFineHopSamples == 0 && length >= shift + kFineHopSamples ? 6 : 0;
    return o;
}

FeatureOptions with_excitation_and_harmonicity() {
    FeatureOptions o = with_harmonicity();
    o.excitation = true;
    return o;
}

FeatureOptions wideband() {
    FeatureOptions o;
    o.sample_rate_hz = 16000;
    o.frame_length_samples = 400;
    o.frame_shift_samples = 160;
    o.fft_size = 512;
    o.num_filters = 40;
    o.low_freq_hz = 100.0f;
    o.high_freq_hz = 7600.0f;
    return o;
}

std::string options_name(const ::testing::TestParamInfo<FeatureOptions>& info) {
    const FeatureOptions& o = info.param;
    return "rate" + std::to_string(o.sample_rate_hz) + "_len"
           + std::to_string(o.frame_length_samples) + "_shift"
           + std::to_string(o.frame_shift_samples) + "_fft" + std::to_string(o.fft_size)
           + (o.excitation ? "_excitation" : "")
           + (o.fine_bands > 0 ? "_fine" + std::to_string(o.fine_bands) : "")
           + (o.band_harmonicity ? "_harmonicity" : "");
}

INSTANTIATE_TEST_SUITE_P(Options, StreamingEqualsBatch,
                         ::testing::Values(FeatureOptions{}, with_frames(200, 200),
                                           with_frames(160, 250), with_frames(2, 1), wideband(),
                                           with_excitation(), with_fine_bands(), with_harmonicity(),
                                           with_harmonicity(255, 80), with_harmonicity(200, 400),
                                           with_harmonicity(256, 32),
                                           with_excitation_and_harmonicity()),
                         options_name);

}  // namespace
}  // namespace dvd::dsp
