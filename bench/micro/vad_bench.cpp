#include "dsp/vad.hpp"

#include <random>
#include <vector>

#include <benchmark/benchmark.h>

namespace dvd::dsp {
namespace {

// One decision per 10 ms frame energy.
void BM_Vad(benchmark::State& state) {
    std::mt19937 rng(2);
    std::uniform_real_distribution<float> energy(-80.0f, -10.0f);
    std::vector<float> energies(4096);
    for (auto& e : energies) {
        e = energy(rng);
    }
    EnergyVad vad;
    std::size_t i = 0;
    int speech = 0;
    for (auto _ : state) {
        speech += vad.accept(energies[i]) ? 1 : 0;
        i = (i + 1) & 4095;
    }
    benchmark::DoNotOptimize(speech);
    state.SetItemsProcessed(state.iterations());
    state.counters["rtf"] = benchmark::Counter(static_cast<double>(state.iterations()) * 0.010,
                                               benchmark::Counter::kIsRate);
}

BENCHMARK(BM_Vad);

}  // namespace
}  // namespace dvd::dsp
