#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "dsp/feature_extractor.hpp"

// Golden data: tests/data/features/<case>.{json,input.f32,feats.f32,energy.f32}, written by the
// independent numpy implementation tools/golden/make_golden.py (recipe in tests/data/README.md).

namespace dvd::dsp {
namespace {

const std::string kDataDir = std::string(DVD_SOURCE_DIR) + "/tests/data/features/";

std::vector<float> read_f32(const std::string& path) {
    std::ifstream in(path, std::ios::binary | std::ios::ate);
    EXPECT_TRUE(in) << "cannot open " << path;
    if (!in) {
        return {};
    }
    const auto bytes = static_cast<std::size_t>(in.tellg());
    EXPECT_EQ(bytes % sizeof(float), 0u) << path;
    std::vector<float> v(bytes / sizeof(float));
    in.seekg(0);
    in.read(reinterpret_cast<char*>(v.data()),
            static_cast<std::streamsize>(v.size() * sizeof(float)));
    return v;  // little-endian float32 on disk; this project only targets little-endian hosts
}

struct GoldenCase {
    FeatureOptions options;
    std::vector<float> input;
    std::vector<float> features;
    std::vector<float> energies;
    std::size_t num_frames = 0;
    std::size_t num_features = 0;
    double tolerance_log = 0.0;
    double tolerance_db = 0.0;
};

GoldenCase load(const std::string& name) {
    GoldenCase g;
    std::ifstream in(kDataDir + name + ".json");
    EXPECT_TRUE(in) << "missing " << kDataDir << name << ".json";
    if (!in) {
        return g;
    }
    const auto meta = nlohmann::json::parse(in);
    const auto& o = meta.at("options");
    g.options.sample_rate_hz = o.at("sample_rate_hz").get<int>();
    g.options.frame_length_samples = o.at("frame_length_samples").get<int>();
    g.options.frame_shift_samples = o.at("frame_shift_samples").get<int>();
    g.options.fft_size = o.at("fft_size").get<int>();
    g.options.num_filters = o.at("num_filters").get<int>();
    g.options.low_freq_hz = o.at("low_freq_hz").get<float>();
    g.options.high_freq_hz = o.at("high_freq_hz").get<float>();
    g.options.preemphasis = o.at("preemphasis").get<float>();
    g.options.log_floor = o.at("log_floor").get<float>();
    g.options.excitation = o.value("excitation", false);
    g.options.fine_bands = o.value("fine_bands", 0);
    g.options.band_harmonicity = o.value("band_harmonicity", false);
    g.num_frames = meta.at("num_frames").get<std::size_t>();
    g.num_features = meta.at("num_features").get<std::size_t>();
    g.tolerance_log = meta.at("tolerance_log").get<double>();
    g.tolerance_db = meta.at("tolerance_db").get<double>();
    g.input = read_f32(kDataDir + meta.at("input").get<std::string>());
    g.features = read_f32(kDataDir + meta.at("features").get<std::string>());
    g.energies = read_f32(kDataDir + meta.at("energy").get<std::string>());
    EXPECT_EQ(g.input.size(), meta.at("num_samples").get<std::size_t>());
    EXPECT_EQ(g.features.size(), g.num_frames * g.num_features);
    EXPECT_EQ(g.energies.size(), g.num_frames);
    return g;
}

class Golden : public ::testing::TestWithParam<const char*> {};

TEST_P(Golden, FeaturesAndEnergiesMatchTheNumpyReference) {
    const GoldenCase g = load(GetParam());
    ASSERT_FALSE(g.input.empty());
    const auto tables = FeatureTables::create(g.options);
    ASSERT_TRUE(tables) << tables.error().message;
    std::vector<float> energies;
    const auto features = compute_features(**tables, g.input, &energies);
    ASSERT_EQ(features.size(), g.features.size());
    ASSERT_EQ(energies.size(), g.energies.size());

    double worst = -1.0;
    std::size_t worst_at = 0;
    for (std::size_t i = 0; i < features.size(); ++i) {
        const double d =
                std::abs(static_cast<double>(features[i]) - static_cast<double>(g.features[i]));
        if (d > worst) {
            worst = d;
            worst_at = i;
        }
    }
    const std::size_t frame = worst_at / g.num_features;
    const std::size_t filter = worst_at % g.num_features;
    EXPECT_LE(worst, g.tolerance_log)
            << "worst feature cell: frame " << frame << " filter " << filter << " expected "
            << g.features[worst_at] << " got " << features[worst_at];

    double worst_db = -1.0;
    std::size_t worst_db_at = 0;
    for (std::size_t i = 0; i < energies.size(); ++i) {
        const double d =
                std::abs(static_cast<double>(energies[i]) - static_cast<double>(g.energies[i]));
        if (d > worst_db) {
            worst_db = d;
            worst_db_at = i;
        }
    }
    EXPECT_LE(worst_db, g.tolerance_db)
            << "worst energy: frame " << worst_db_at << " expected " << g.energies[worst_db_at]
            << " got " << energies[worst_db_at];
    std::printf(
            "[ golden   ] %s: %zu frames x %zu, max |diff| %.3g (log), %.3g dB; tolerance %g / "
            "%g\n",
            GetParam(), g.num_frames, g.num_features, worst, worst_db, g.tolerance_log,
            g.tolerance_db);
}

TEST_P(Golden, StreamingInRandomChunksEqualsBatchBitForBit) {
    const GoldenCase g = load(GetParam());
    ASSERT_FALSE(g.input.empty());
    const auto tables = FeatureTables::create(g.options);
    ASSERT_TRUE(tables);
    std::vector<float> batch_energies;
    const auto batch = compute_features(**tables, g.input, &batch_energies);
    for (unsigned seed : {3u, 99u, 2024u}) {
        FeatureExtractor ex(*tables);
        std::vector<float> features;
        std::vector<float> energies;
        std::mt19937 rng(seed);
        const std::span<const float> x(g.input);
        const auto sink = [&](std::span<const float> f, float e) {
            features.insert(features.end(), f.begin(), f.end());
            energies.push_back(e);
        };
        std::size_t pos = 0;
        while (pos < x.size()) {
            const std::size_t n =
                    std::min<std::size_t>(rng() % 4 == 0 ? rng() % 2 : rng() % 400, x.size() - pos);
            ex.accept(x.subspan(pos, n), sink);
            pos += n;
        }
        ex.finish(sink);
        ASSERT_EQ(features.size(), batch.size());
        EXPECT_EQ(0, std::memcmp(features.data(), batch.data(), batch.size() * sizeof(float)))
                << "seed " << seed;
        EXPECT_EQ(energies, batch_energies) << "seed " << seed;
    }
}

INSTANTIATE_TEST_SUITE_P(Cases, Golden,
                         ::testing::Values("speech8k", "wide16k", "excitation8k", "fine8k",
                                           "harmonicity8k"));

}  // namespace
}  // namespace dvd::dsp
