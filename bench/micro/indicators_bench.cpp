#include <cmath>
#include <numbers>
#include <random>
#include <span>
#include <vector>

#include <benchmark/benchmark.h>

#include "indicators/indicator_tracker.hpp"

namespace dvd::indicators {
namespace {

constexpr std::size_t kChunkSamples = 160;  // 20 ms at 8 kHz, as a phone stream delivers it
constexpr double kChunkSeconds = 0.020;

// 10 s: a harmonic voice (f0 gliding 100-200 Hz, 4 Hz syllable modulation) in words of 0.6 s
// with 0.3 s gaps when `with_pauses`, else continuously voiced; -60 dBFS background noise.
std::vector<float> test_signal(bool with_pauses) {
    const std::size_t n = 80000;
    std::mt19937 rng(1);
    std::normal_distribution<float> noise(0.0f, 0.001f);
    std::vector<float> x(n);
    double phase = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
        const double t = static_cast<double>(i) / 8000.0;
        const double f0 = 150.0 + 50.0 * std::sin(2.0 * std::numbers::pi * 0.3 * t);
        phase += 2.0 * std::numbers::pi * f0 / 8000.0;
        double v = 0.0;
        for (int k = 1; k * f0 < 3400.0; ++k) {
            v += std::sin(k * phase + 0.7 * k * k) / k;
        }
        const double syllables = 0.6 - 0.4 * std::cos(2.0 * std::numbers::pi * 4.0 * t);
        const bool gap = with_pauses && std::fmod(t, 0.9) > 0.6;
        x[i] = static_cast<float>(gap ? 0.0 : 0.05 * v * syllables) + noise(rng);
    }
    return x;
}

void run(benchmark::State& state, bool with_pauses) {
    const auto x = test_signal(with_pauses);
    IndicatorTracker tracker;
    std::size_t pos = 0;
    for (auto _ : state) {
        tracker.accept(std::span<const float>(x).subspan(pos, kChunkSamples));
        pos += kChunkSamples;
        if (pos + kChunkSamples > x.size()) {
            pos = 0;
        }
    }
    benchmark::DoNotOptimize(tracker.frames_analysed());
    const auto chunks = static_cast<double>(state.iterations());
    state.counters["rtf"] = benchmark::Counter(chunks * kChunkSeconds, benchmark::Counter::kIsRate);
    state.counters["frame_time"] = benchmark::Counter(
            chunks * 2.0, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
    state.counters["state_bytes"] = static_cast<double>(tracker.state_bytes());
}

// Every indicator over 20 ms chunks of speech with pauses (about 2/3 of the frames voiced).
void BM_IndicatorTracker(benchmark::State& state) {
    run(state, true);
}

// The worst case: every frame active and voiced (pitch, HNR, pulses and spectrum all run).
void BM_IndicatorTrackerAllVoiced(benchmark::State& state) {
    run(state, false);
}

// The per-window cost: snapshot + to_list (allocates the list).
void BM_IndicatorSnapshot(benchmark::State& state) {
    IndicatorTracker tracker;
    tracker.accept(test_signal(true));
    for (auto _ : state) {
        benchmark::DoNotOptimize(to_list(tracker.window_snapshot()));
        benchmark::DoNotOptimize(to_list(tracker.snapshot()));
    }
}

BENCHMARK(BM_IndicatorTracker);
BENCHMARK(BM_IndicatorTrackerAllVoiced);
BENCHMARK(BM_IndicatorSnapshot);

}  // namespace
}  // namespace dvd::indicators
