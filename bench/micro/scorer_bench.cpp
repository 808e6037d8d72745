// Whole per-stream pipeline: features + VAD + model windows + calibration, fed 20 ms chunks.
// Uses the shipped model (models/detector.json; $DVD_MODEL overrides).
#include "pipeline/streaming_scorer.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numbers>
#include <random>
#include <thread>
#include <vector>

#include <benchmark/benchmark.h>

namespace dvd::pipeline {
namespace {

constexpr std::size_t kChunkSamples = 160;  // 20 ms at 8 kHz
constexpr double kChunkSeconds = 0.020;

// Voiced speech-like signal that the VAD keeps almost entirely (the worst case: every frame gets
// features, and a window is scored every 0.5 s of audio). The energy VAD calls a steady level
// noise once its floor has risen to it, so, like a caller who never stops talking, it breathes:
// 0.1 s of near-silence every 3 s holds the noise floor down (and the VAD's hangover bridges it).
// BM_SpeechFrontEnd's `speech` counter reports the share of frames kept: 0.9999.
std::vector<float> voiced_signal(double seconds) {
    std::mt19937 rng(3);
    std::normal_distribution<float> noise(0.0f, 0.003f);
    std::normal_distribution<float> quiet(0.0f, 0.0001f);
    const auto n = static_cast<std::size_t>(seconds * 8000.0);
    std::vector<float> x(n);
    double phase = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
        const double t = static_cast<double>(i) / 8000.0;
        phase += 2.0 * std::numbers::pi * (130.0 + 25.0 * std::sin(4.0 * t)) / 8000.0;
        double v = 0.0;
        for (int h = 1; h <= 15; ++h) {
            v += std::sin(h * phase) / h;
        }
        x[i] = i % 24000 < 800 ? quiet(rng)
                               : static_cast<float>(0.1 * (0.6 + 0.4 * std::sin(12.0 * t)) * v)
                                         + noise(rng);
    }
    return x;
}

// A call's inbound track: the caller speaks half the time (1.5 s turns of `voiced_signal`) and
// line noise at about -66 dBFS fills the pauses, which the VAD drops.
std::vector<float> conversation_signal(double seconds) {
    std::vector<float> x = voiced_signal(seconds);
    std::mt19937 rng(5);
    std::normal_distribution<float> noise(0.0f, 0.0005f);
    for (std::size_t i = 0; i < x.size(); ++i) {
        if ((i / 12000) % 2 == 1) {
            x[i] = noise(rng);
        }
    }
    return x;
}

struct Shared {
    std::shared_ptr<const model::DetectorModel> model;
    std::shared_ptr<const dsp::FeatureTables> tables;
    std::vector<float> signal = voiced_signal(30.0);
    std::vector<float> conversation = conversation_signal(30.0);
};

const Shared& shared() {
    static const Shared s = [] {
        Shared out;
        auto m = model::DetectorModel::load(model::default_model_path());
        if (!m) {
            std::fprintf(stderr, "scorer_bench: %s\n", m.error().message.c_str());
            std::abort();
        }
        out.model = *m;
        out.tables = *dsp::FeatureTables::create(out.model->metadata().feature);
        return out;
    }();
    return s;
}

// Throughput of one stream: reports rtf = seconds of audio processed per second of CPU time
// on one core, i.e. how many concurrent calls one core can watch.
void run_scorer(benchmark::State& state, const std::vector<float>& signal) {
    const auto& s = shared();
    StreamingScorer scorer(s.model, s.tables);
    std::size_t pos = 0;
    for (auto _ : state) {
        if (pos + kChunkSamples > signal.size()) {
            pos = 0;
        }
        auto ok = scorer.accept(std::span<const float>(signal).subspan(pos, kChunkSamples));
        benchmark::DoNotOptimize(ok);
        pos += kChunkSamples;
    }
    state.counters["rtf"] =
            benchmark::Counter(static_cast<double>(state.iterations()) * kChunkSeconds,
                               benchmark::Counter::kIsRate);
}

void BM_ScorerFeaturesAndModel(benchmark::State& state) {
    run_scorer(state, shared().signal);
}
BENCHMARK(BM_ScorerFeaturesAndModel)->MinTime(3.0);

// The same with pauses: the front end computes features for speech frames only.
void BM_ScorerFeaturesAndModelHalfPauses(benchmark::State& state) {
    run_scorer(state, shared().conversation);
}

BENCHMARK(BM_ScorerFeaturesAndModelHalfPauses)->MinTime(3.0);

// The speech front end alone (features + VAD), for comparison; `speech` counts the share of
// frames the VAD kept.
void run_front_end(benchmark::State& state, const std::vector<float>& signal) {
    const auto& s = shared();
    SpeechFrontEnd front_end(s.tables, s.model->metadata().vad);
    std::size_t pos = 0;
    float sink = 0.0f;
    for (auto _ : state) {
        if (pos + kChunkSamples > signal.size()) {
            pos = 0;
        }
        front_end.accept(std::span<const float>(signal).subspan(pos, kChunkSamples),
                         [&](std::span<const float> f) { sink += f[0]; });
        pos += kChunkSamples;
    }
    benchmark::DoNotOptimize(sink);
    state.counters["rtf"] =
            benchmark::Counter(static_cast<double>(state.iterations()) * kChunkSeconds,
                               benchmark::Counter::kIsRate);
    state.counters["speech"] = static_cast<double>(front_end.speech_frames())
                               / static_cast<double>(std::max(1LL, front_end.frames()));
}

void BM_SpeechFrontEnd(benchmark::State& state) {
    run_front_end(state, shared().signal);
}
BENCHMARK(BM_SpeechFrontEnd);

void BM_SpeechFrontEndHalfPauses(benchmark::State& state) {
    run_front_end(state, shared().conversation);
}

BENCHMARK(BM_SpeechFrontEndHalfPauses);

// One model window of max_frames (2 s) frames of the model's own width.
void BM_ModelWindow(benchmark::State& state) {
    const auto& s = shared();
    const int frames = static_cast<int>(state.range(0));
    const auto width = static_cast<std::size_t>(s.tables->num_features());
    std::vector<float> x(static_cast<std::size_t>(frames) * width, -4.0f);
    for (std::size_t i = 0; i < x.size(); ++i) {
        x[i] += static_cast<float>(std::sin(0.37 * static_cast<double>(i)));
    }
    for (auto _ : state) {
        auto logit = s.model->logit(x, frames);
        benchmark::DoNotOptimize(logit);
    }
}
BENCHMARK(BM_ModelWindow)->Arg(100)->Arg(200)->Unit(benchmark::kMicrosecond);

// A batch of 2 s windows in one model run; `s_per_window` is the cost per window (in seconds).
// Measured to decide whether the scoring pool should batch the windows that queue up together:
// the cost per window does not fall with the batch size, so it runs them one at a time.
void BM_ModelBatch(benchmark::State& state) {
    const auto& s = shared();
    const int batch = static_cast<int>(state.range(0));
    const int frames = s.model->metadata().window.max_frames;
    const auto width = static_cast<std::size_t>(s.tables->num_features());
    std::vector<float> x(static_cast<std::size_t>(batch * frames) * width, -4.0f);
    for (std::size_t i = 0; i < x.size(); ++i) {
        x[i] += static_cast<float>(std::sin(0.37 * static_cast<double>(i)));
    }
    std::vector<float> out(static_cast<std::size_t>(batch));
    for (auto _ : state) {
        auto ok = s.model->logits(x, batch, frames, out);
        benchmark::DoNotOptimize(ok);
    }
    state.counters["s_per_window"] =
            benchmark::Counter(static_cast<double>(state.iterations()) * batch,
                               benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_ModelBatch)->Arg(1)->Arg(2)->Arg(4)->Arg(8)->Arg(16)->Unit(benchmark::kMicrosecond);

// Latency of each 20 ms frame (chunk) through the whole pipeline, including the chunks that
// trigger a model window. Reports p50, p99 and max in microseconds.
void BM_FrameLatency(benchmark::State& state) {
    const auto& s = shared();
    std::vector<double> micros;
    for (auto _ : state) {
        StreamingScorer scorer(s.model, s.tables);
        micros.clear();
        for (std::size_t pos = 0; pos + kChunkSamples <= s.signal.size(); pos += kChunkSamples) {
            const auto t0 = std::chrono::steady_clock::now();
            auto ok = scorer.accept(std::span<const float>(s.signal).subspan(pos, kChunkSamples));
            const auto t1 = std::chrono::steady_clock::now();
            benchmark::DoNotOptimize(ok);
            micros.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
        }
    }
    std::sort(micros.begin(), micros.end());
    const auto at = [&](double q) {
        return micros[static_cast<std::size_t>(q * static_cast<double>(micros.size() - 1))];
    };
    state.counters["p50_us"] = at(0.50);
    state.counters["p99_us"] = at(0.99);
    state.counters["max_us"] = micros.back();
}
BENCHMARK(BM_FrameLatency)->Iterations(3)->Unit(benchmark::kMillisecond);

// As `serve` runs it: the windows go to a ScoringPool (one thread here), the streams' thread only
// extracts features and hands windows over. 64 streams of continuous speech, each starting at
// another point of the signal, fed 20 ms each in turn at 4x real time (a round every 5 ms): the
// model work of 256 real-time calls. Reports the per-20 ms-frame latency on the streams' thread
// (p50, p99, max), the windows' latency from their last frame to their logit (queue wait + model
// run; p50, p99), how often a stream had to wait for the pool, how many windows it copied out to
// score late and how many it dropped. The argument is the pool's spare windows (0: none, so a
// window still queued when its stream needs the rows is waited for or dropped; 64: `serve`).
void BM_FrameLatencyPooled(benchmark::State& state) {
    const auto& s = shared();
    constexpr int kStreams = 64;
    constexpr auto kRound = std::chrono::microseconds(5000);
    constexpr std::size_t kRounds = 500;  // 10 s of audio per stream
    std::vector<double> frame_us;
    std::vector<double> window_us;
    ScoringPoolStats stats;
    for (auto _ : state) {
        ScoringPool pool(s.model,
                         ScoringPoolOptions{.threads = 1,
                                            .spare_windows = static_cast<int>(state.range(0))});
        std::vector<std::unique_ptr<StreamingScorer>> scorers;
        for (int i = 0; i < kStreams; ++i) {
            scorers.push_back(
                    std::make_unique<StreamingScorer>(s.model, s.tables, ScorerOptions{}, &pool));
        }
        frame_us.clear();
        window_us.clear();
        const auto sink = [&](const WindowScore& w, const CallScore&) {
            window_us.push_back(w.model_seconds * 1e6);
        };
        const std::size_t chunks = s.signal.size() / kChunkSamples;
        auto round_start = std::chrono::steady_clock::now();
        for (std::size_t round = 0; round < kRounds; ++round) {
            for (int i = 0; i < kStreams; ++i) {
                const std::size_t chunk = (round + static_cast<std::size_t>(i) * 7) % chunks;
                const auto t0 = std::chrono::steady_clock::now();
                auto ok = scorers[static_cast<std::size_t>(i)]->accept(
                        std::span<const float>(s.signal).subspan(chunk * kChunkSamples,
                                                                 kChunkSamples),
                        sink);
                const auto t1 = std::chrono::steady_clock::now();
                benchmark::DoNotOptimize(ok);
                frame_us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
            }
            round_start += kRound;
            std::this_thread::sleep_until(round_start);
        }
        for (auto& scorer : scorers) {
            auto ok = scorer->drain(sink);
            benchmark::DoNotOptimize(ok);
        }
        stats = pool.stats();
    }
    const auto at = [](std::vector<double>& v, double q) {
        std::sort(v.begin(), v.end());
        return v[static_cast<std::size_t>(q * static_cast<double>(v.size() - 1))];
    };
    state.counters["p50_us"] = at(frame_us, 0.50);
    state.counters["p99_us"] = at(frame_us, 0.99);
    state.counters["max_us"] = frame_us.back();
    state.counters["win_p50_us"] = at(window_us, 0.50);
    state.counters["win_p99_us"] = at(window_us, 0.99);
    state.counters["waits"] = static_cast<double>(stats.waits);
    state.counters["copied"] = static_cast<double>(stats.copied);
    state.counters["skipped"] = static_cast<double>(stats.skipped);
}

BENCHMARK(BM_FrameLatencyPooled)
        ->Arg(0)
        ->Arg(64)
        ->Iterations(3)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();

}  // namespace
}  // namespace dvd::pipeline
