#include "dsp/g711.hpp"

#include <cstdint>
#include <random>
#include <vector>

#include <benchmark/benchmark.h>

namespace dvd::dsp {
namespace {

std::vector<uint8_t> random_codes(std::size_t n) {
    std::mt19937 rng(3);
    std::vector<uint8_t> codes(n);
    for (auto& c : codes) {
        c = static_cast<uint8_t>(rng());
    }
    return codes;
}

// One 20 ms PCMU message (160 bytes) to floats.
void BM_MulawDecode(benchmark::State& state) {
    const auto codes = random_codes(160);
    std::vector<float> out(160);
    for (auto _ : state) {
        decode_mulaw(codes, out);
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(state.iterations() * 160);
    state.counters["rtf"] = benchmark::Counter(static_cast<double>(state.iterations()) * 0.020,
                                               benchmark::Counter::kIsRate);
}

BENCHMARK(BM_MulawDecode);

void BM_AlawDecode(benchmark::State& state) {
    const auto codes = random_codes(160);
    std::vector<float> out(160);
    for (auto _ : state) {
        decode_alaw(codes, out);
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(state.iterations() * 160);
}

BENCHMARK(BM_AlawDecode);

void BM_MulawEncode(benchmark::State& state) {
    std::vector<int16_t> pcm(160);
    std::mt19937 rng(4);
    for (auto& v : pcm) {
        v = static_cast<int16_t>(rng());
    }
    std::vector<uint8_t> out(160);
    for (auto _ : state) {
        for (std::size_t i = 0; i < pcm.size(); ++i) {
            out[i] = linear_to_mulaw(pcm[i]);
        }
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(state.iterations() * 160);
}

BENCHMARK(BM_MulawEncode);

}  // namespace
}  // namespace dvd::dsp
