#include "dsp/feature_extractor.hpp"

#include <cmath>
#include <numbers>
#include <random>
#include <span>
#include <vector>

#include <benchmark/benchmark.h>

#include "dsp/g711.hpp"
#include "dsp/vad.hpp"

namespace dvd::dsp {
namespace {

constexpr std::size_t kChunkSamples = 160;  // 20 ms at 8 kHz, as a phone stream delivers it
constexpr double kChunkSeconds = 0.020;

std::vector<float> test_signal(std::size_t n) {
    std::mt19937 rng(1);
    std::normal_distribution<float> noise(0.0f, 0.01f);
    std::vector<float> x(n);
    for (std::size_t i = 0; i < n; ++i) {
        const double t = static_cast<double>(i) / 8000.0;
        x[i] = static_cast<float>(0.3 * std::sin(2.0 * std::numbers::pi * 220.0 * t)
                                  + 0.1 * std::sin(2.0 * std::numbers::pi * 1870.0 * t))
               + noise(rng);
    }
    return x;
}

void set_counters(benchmark::State& state, long long frames) {
    const auto chunks = static_cast<double>(state.iterations());
    state.counters["rtf"] = benchmark::Counter(chunks * kChunkSeconds, benchmark::Counter::kIsRate);
    state.counters["frame_time"] = benchmark::Counter(
            static_cast<double>(frames), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
    state.SetItemsProcessed(frames);
}

// One extractor with `options`, fed 20 ms chunks (2 frames per chunk).
void run_extractor(benchmark::State& state, const FeatureOptions& options) {
    const auto tables = FeatureTables::create(options);
    FeatureExtractor extractor(*tables);
    const auto x = test_signal(8000 * 10);
    std::size_t pos = 0;
    long long frames = 0;
    float sink = 0.0f;
    for (auto _ : state) {
        extractor.accept(std::span<const float>(x).subspan(pos, kChunkSamples),
                         [&](std::span<const float> f, float e) {
                             sink += f.back() + e;
                             ++frames;
                         });
        pos = pos + 2 * kChunkSamples > x.size() ? 0 : pos + kChunkSamples;
    }
    benchmark::DoNotOptimize(sink);
    set_counters(state, frames);
}

// Log filterbank features, default options.
void BM_FeatureExtractor(benchmark::State& state) { run_extractor(state, FeatureOptions{}); }

BENCHMARK(BM_FeatureExtractor);

// The same with the shipped model's fine time structure (fine_bands 6: five more 64-point FFTs
// per frame).
void BM_FeatureExtractorFineBands(benchmark::State& state) {
    FeatureOptions options;
    options.fine_bands = 6;
    run_extractor(state, options);
}

BENCHMARK(BM_FeatureExtractorFineBands);

// The shipped model's front end: fine bands and band harmonicity (two more 1024-point FFTs and
// 4 x 397 cosine-table products per frame).
void BM_FeatureExtractorFineBandsHarmonicity(benchmark::State& state) {
    FeatureOptions options;
    options.fine_bands = 6;
    options.band_harmonicity = true;
    run_extractor(state, options);
}

BENCHMARK(BM_FeatureExtractorFineBandsHarmonicity);

// The whole dsp front end of one phone stream per 20 ms message: mu-law decode, features, VAD.
void BM_FrontEndMulawFeaturesVad(benchmark::State& state) {
    const auto tables = FeatureTables::create(FeatureOptions{});
    FeatureExtractor extractor(*tables);
    EnergyVad vad;
    const auto x = test_signal(8000 * 10);
    std::vector<uint8_t> codes(x.size());
    for (std::size_t i = 0; i < x.size(); ++i) {
        codes[i] = linear_to_mulaw(static_cast<int16_t>(std::lrint(x[i] * 32767.0f)));
    }
    std::vector<float> decoded(kChunkSamples);
    std::size_t pos = 0;
    long long frames = 0;
    int speech = 0;
    for (auto _ : state) {
        decode_mulaw(std::span<const uint8_t>(codes).subspan(pos, kChunkSamples), decoded);
        extractor.accept(decoded, [&](std::span<const float> f, float e) {
            benchmark::DoNotOptimize(f.data());
            speech += vad.accept(e) ? 1 : 0;
            ++frames;
        });
        pos = pos + 2 * kChunkSamples > codes.size() ? 0 : pos + kChunkSamples;
    }
    benchmark::DoNotOptimize(speech);
    set_counters(state, frames);
}

BENCHMARK(BM_FrontEndMulawFeaturesVad);

// Batch helper over 10 s (training-time feature dump), reported per frame.
void BM_ComputeFeaturesBatch10s(benchmark::State& state) {
    const auto tables = FeatureTables::create(FeatureOptions{});
    const auto x = test_signal(8000 * 10);
    long long frames = 0;
    for (auto _ : state) {
        const auto feats = compute_features(**tables, x);
        frames += static_cast<long long>(feats.size() / 60);
        benchmark::DoNotOptimize(feats.data());
    }
    state.counters["rtf"] = benchmark::Counter(static_cast<double>(state.iterations()) * 10.0,
                                               benchmark::Counter::kIsRate);
    state.SetItemsProcessed(frames);
}

BENCHMARK(BM_ComputeFeaturesBatch10s)->Unit(benchmark::kMillisecond);

void BM_FeatureTablesCreate(benchmark::State& state) {
    for (auto _ : state) {
        auto tables = FeatureTables::create(FeatureOptions{});
        benchmark::DoNotOptimize(tables);
    }
}

BENCHMARK(BM_FeatureTablesCreate)->Unit(benchmark::kMicrosecond);

void BM_FeatureExtractorConstruct(benchmark::State& state) {
    const auto tables = FeatureTables::create(FeatureOptions{});
    for (auto _ : state) {
        FeatureExtractor extractor(*tables);
        benchmark::DoNotOptimize(extractor);
    }
}

BENCHMARK(BM_FeatureExtractorConstruct);

}  // namespace
}  // namespace dvd::dsp
