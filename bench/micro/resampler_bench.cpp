#include "dsp/resampler.hpp"

#include <cmath>
#include <numbers>
#include <vector>

#include <benchmark/benchmark.h>

namespace dvd::dsp {
namespace {

// Streaming 16 kHz -> 8 kHz (L16 wideband input), 20 ms chunks; arg 0 = VHQ, 1 = HQ.
void BM_Resampler16kTo8k(benchmark::State& state) {
    const auto quality = state.range(0) == 0 ? ResampleQuality::VeryHigh : ResampleQuality::High;
    auto resampler = Resampler::create(16000.0, 8000.0, quality);
    std::vector<float> in(320);
    for (std::size_t i = 0; i < in.size(); ++i) {
        in[i] = static_cast<float>(
                0.3 * std::sin(2.0 * std::numbers::pi * 440.0 * static_cast<double>(i) / 16000.0));
    }
    std::vector<float> out;
    out.reserve(4096);
    for (auto _ : state) {
        out.clear();
        resampler->process(in, out);
        benchmark::DoNotOptimize(out.data());
    }
    state.counters["rtf"] = benchmark::Counter(static_cast<double>(state.iterations()) * 0.020,
                                               benchmark::Counter::kIsRate);
}

BENCHMARK(BM_Resampler16kTo8k)->Arg(0)->Arg(1);

}  // namespace
}  // namespace dvd::dsp
