#include "pipeline/streaming_scorer.hpp"

#include <cmath>
#include <cstdio>
#include <random>

#include <gtest/gtest.h>

#include "support/test_model.hpp"
#include "support/test_paths.hpp"

namespace dvd::pipeline {
namespace {

using Fixture = test::LoadedModel;
using test::load_model;

struct ScoredRun {
    std::vector<WindowScore> windows;
    std::vector<CallScore> calls;
};

ScoredRun run_chunked(const Fixture& f, std::span<const float> samples, std::mt19937* rng,
                ScorerOptions options = {}) {
    StreamingScorer scorer(f.model, f.tables, options);
    ScoredRun run;
    std::uniform_int_distribution<std::size_t> size(0, 700);
    std::size_t pos = 0;
    while (pos < samples.size()) {
        const std::size_t n = rng ? std::min(size(*rng), samples.size() - pos) : samples.size();
        auto ok = scorer.accept(samples.subspan(pos, n), [&](const WindowScore& w, const CallScore& c) {
            run.windows.push_back(w);
            run.calls.push_back(c);
        });
        EXPECT_TRUE(ok);
        pos += n;
    }
    return run;
}

TEST(StreamingScorer, StreamingEqualsBatchForRandomChunkings) {
    const auto f = load_model();
    const auto signal = test::speech_like_signal(9.0, 1);
    const ScoredRun batch = run_chunked(f, signal, nullptr);
    ASSERT_GE(batch.windows.size(), 6u);
    for (unsigned seed = 1; seed <= 5; ++seed) {
        std::mt19937 rng(seed);
        const ScoredRun chunked = run_chunked(f, signal, &rng);
        ASSERT_EQ(chunked.windows.size(), batch.windows.size()) << "seed " << seed;
        for (std::size_t i = 0; i < batch.windows.size(); ++i) {
            EXPECT_EQ(chunked.windows[i].end_speech_frame, batch.windows[i].end_speech_frame);
            EXPECT_EQ(chunked.windows[i].end_sample, batch.windows[i].end_sample);
            EXPECT_EQ(chunked.windows[i].logit, batch.windows[i].logit) << "window " << i;
            EXPECT_EQ(chunked.calls[i].llr, batch.calls[i].llr);
        }
    }
}

TEST(StreamingScorer, WindowScheduleFollowsSpeechFrames) {
    const auto f = load_model();
    const auto signal = test::speech_like_signal(9.0, 2);
    const ScoredRun run = run_chunked(f, signal, nullptr);
    ASSERT_FALSE(run.windows.empty());
    for (std::size_t i = 0; i < run.windows.size(); ++i) {
        // Windows at 100, 150, 200, ... speech frames, each over the last min(seen, 200).
        EXPECT_EQ(run.windows[i].end_speech_frame, 100 + 50 * static_cast<long long>(i));
        EXPECT_EQ(run.windows[i].num_frames,
                  std::min<long long>(run.windows[i].end_speech_frame, 200));
    }
}

TEST(StreamingScorer, AWindowEndsAtTheEndOfItsLastFrame) {
    // Speech, then 2 s of silence, then speech: the windows after the pause end 2 s further
    // into the audio than their speech frames alone say.
    const auto f = load_model();
    auto signal = test::speech_like_signal(3.0, 4);
    const std::size_t first_part = signal.size();
    signal.resize(first_part + 16000, 0.0f);
    const auto more = test::speech_like_signal(3.0, 5);
    signal.insert(signal.end(), more.begin(), more.end());
    StreamingScorer scorer(f.model, f.tables);
    std::vector<WindowScore> windows;
    std::vector<long long> fed;  // samples fed when each window was reported
    std::size_t pos = 0;
    for (; pos < signal.size(); pos += 160) {
        const std::size_t n = std::min<std::size_t>(160, signal.size() - pos);
        ASSERT_TRUE(scorer.accept(std::span<const float>(signal).subspan(pos, n),
                                  [&](const WindowScore& w, const CallScore&) {
                                      windows.push_back(w);
                                      fed.push_back(static_cast<long long>(pos + n));
                                  }));
    }
    ASSERT_GE(windows.size(), 4u);
    bool after_pause = false;
    for (std::size_t i = 0; i < windows.size(); ++i) {
        const auto& w = windows[i];
        // Inside the 20 ms chunk that completed it, at a frame boundary (200 + 80 k samples).
        EXPECT_LE(w.end_sample, fed[i]);
        EXPECT_GT(w.end_sample, fed[i] - 160);
        EXPECT_EQ((w.end_sample - 200) % 80, 0);
        EXPECT_GE(w.end_sample, 200 + 80 * (w.end_speech_frame - 1));
        if (w.end_sample > static_cast<long long>(first_part) + 16000) {
            after_pause = true;
            EXPECT_GE(w.end_sample - (200 + 80 * (w.end_speech_frame - 1)), 15000)
                    << "the silent frames are in the position, not in the speech count";
        }
    }
    EXPECT_TRUE(after_pause);
}

TEST(StreamingScorer, CallScoreIsCalibratedMeanOfWindowLlrs) {
    const auto f = load_model();
    const auto& meta = f.model->metadata();
    const ScoredRun run = run_chunked(f, test::speech_like_signal(8.0, 3), nullptr);
    double sum = 0.0;
    for (std::size_t i = 0; i < run.windows.size(); ++i) {
        const auto& w = run.windows[i];
        EXPECT_NEAR(w.llr, meta.window_calibration.a * w.logit + meta.window_calibration.b, 1e-12);
        EXPECT_NEAR(w.probability, 1.0 / (1.0 + std::exp(-w.llr)), 1e-12);
        sum += w.llr;
        const double expected = meta.call_calibration.apply(sum / static_cast<double>(i + 1));
        EXPECT_NEAR(run.calls[i].llr, expected, 1e-9);
        EXPECT_EQ(run.calls[i].windows, static_cast<int>(i + 1));
    }
}

TEST(StreamingScorer, SilenceGivesNoWindowsAndInsufficientSpeech) {
    const auto f = load_model();
    StreamingScorer scorer(f.model, f.tables);
    std::vector<float> silence(8000 * 10, 0.0f);
    std::mt19937 rng(4);
    std::normal_distribution<float> noise(0.0f, 3e-4f);  // about -70 dBFS hiss
    for (auto& s : silence) {
        s = noise(rng);
    }
    int windows = 0;
    ASSERT_TRUE(scorer.accept(silence, [&](const WindowScore&, const CallScore&) { ++windows; }));
    EXPECT_EQ(windows, 0);
    EXPECT_EQ(scorer.call().verdict, Verdict::InsufficientSpeech);
    EXPECT_EQ(scorer.call().speech_seconds, 0.0);
}

TEST(StreamingScorer, MaxSpeechSecondsStopsScoring) {
    const auto f = load_model();
    ScorerOptions options;
    options.max_speech_seconds = 2.0;
    const ScoredRun run = run_chunked(f, test::speech_like_signal(9.0, 5), nullptr, options);
    ASSERT_EQ(run.windows.size(), 3u);  // at 1.0, 1.5 and 2.0 s of speech
    EXPECT_EQ(run.windows.back().end_speech_frame, 200);
}

TEST(StreamingScorer, VerdictFollowsThresholds) {
    const auto f = load_model();
    for (const double threshold : {0.01, 0.99}) {
        ScorerOptions options;
        options.threshold = threshold;
        StreamingScorer scorer(f.model, f.tables, options);
        ASSERT_TRUE(scorer.accept(test::speech_like_signal(5.0, 6)));
        const auto& call = scorer.call();
        ASSERT_GT(call.windows, 0);
        if (call.probability >= threshold) {
            EXPECT_EQ(call.verdict, Verdict::Synthetic);
        } else if (call.probability < std::min(threshold, f.model->metadata().human_threshold)) {
            EXPECT_EQ(call.verdict, Verdict::Human);
        } else {
            EXPECT_EQ(call.verdict, Verdict::Uncertain);
        }
    }
}

TEST(StreamingScorer, PerStreamStateStaysUnder100kB) {
    const auto f = load_model();
    StreamingScorer scorer(f.model, f.tables);
    const std::size_t before = scorer.state_bytes();
    EXPECT_LT(before, 100u * 1024u);
    ASSERT_TRUE(scorer.accept(test::speech_like_signal(20.0, 7)));
    EXPECT_EQ(scorer.state_bytes(), before) << "state must not grow with call length";
}

TEST(StreamingScorer, ShippedModelStateStaysUnder100kB) {
    // The shipped model's front end may be wider than the test model's (fine_bands): the budget
    // holds for what actually ships.
    auto model = model::DetectorModel::load(std::string(DVD_SOURCE_DIR) + "/models/detector.json");
    ASSERT_TRUE(model) << model.error().message;
    auto tables = dsp::FeatureTables::create((*model)->metadata().feature);
    ASSERT_TRUE(tables);
    StreamingScorer scorer(*model, *tables);
    const std::size_t before = scorer.state_bytes();
    EXPECT_LT(before, 100u * 1024u) << before;
    std::printf("[ state    ] shipped model: %zu bytes per stream (budget 102400)\n", before);
    ASSERT_TRUE(scorer.accept(test::speech_like_signal(12.0, 3)));
    EXPECT_GT(scorer.call().windows, 0);
    EXPECT_EQ(scorer.state_bytes(), before);
}

TEST(StreamingScorer, ResetStartsANewStream) {
    const auto f = load_model();
    const auto signal = test::speech_like_signal(6.0, 8);
    StreamingScorer scorer(f.model, f.tables);
    ASSERT_TRUE(scorer.accept(signal));
    const CallScore first = scorer.call();
    scorer.reset();
    EXPECT_EQ(scorer.call().windows, 0);
    ASSERT_TRUE(scorer.accept(signal));
    EXPECT_EQ(scorer.call().llr, first.llr);
    EXPECT_EQ(scorer.call().windows, first.windows);
}

TEST(Verdict, HasStableNames) {
    EXPECT_EQ(to_string(Verdict::InsufficientSpeech), "insufficient_speech");
    EXPECT_EQ(to_string(Verdict::Human), "human");
    EXPECT_EQ(to_string(Verdict::Uncertain), "uncertain");
    EXPECT_EQ(to_string(Verdict::Synthetic), "synthetic");
}

}  // namespace
}  // namespace dvd::pipeline

namespace dvd::pipeline {
namespace {

TEST(StreamingScorerResume, ContinuesTheCallScoreFromACheckpoint) {
    const auto f = load_model();
    const auto first = test::speech_like_signal(6.0, 3);
    const auto second = test::speech_like_signal(6.0, 4);

    StreamingScorer before(f.model, f.tables);
    ASSERT_TRUE(before.accept(first));
    const ScorerCheckpoint saved = before.checkpoint();
    ASSERT_GT(saved.windows, 0);
    EXPECT_EQ(saved.speech_frames, static_cast<long long>(before.call().speech_seconds * 100.0 + 0.5));

    StreamingScorer after(f.model, f.tables);
    after.resume(saved);
    EXPECT_EQ(after.call().windows, before.call().windows);
    EXPECT_DOUBLE_EQ(after.call().llr, before.call().llr);
    EXPECT_EQ(after.call().verdict, before.call().verdict);
    EXPECT_DOUBLE_EQ(after.call().speech_seconds, before.call().speech_seconds);

    // New speech adds windows on top of the old ones: the mean covers both parts.
    std::vector<double> new_llrs;
    ASSERT_TRUE(after.accept(second, [&](const WindowScore& w, const CallScore&) {
        new_llrs.push_back(w.llr);
        EXPECT_GT(w.end_speech_frame, saved.speech_frames);
    }));
    ASSERT_FALSE(new_llrs.empty());
    double sum = saved.llr_sum;
    for (const double llr : new_llrs) {
        sum += llr;
    }
    const int windows = saved.windows + static_cast<int>(new_llrs.size());
    EXPECT_EQ(after.call().windows, windows);
    EXPECT_NEAR(after.call().llr,
                f.model->metadata().call_calibration.apply(sum / windows), 1e-12);
}

TEST(StreamingScorerResume, InvalidCheckpointIsAPlainReset) {
    const auto f = load_model();
    StreamingScorer scorer(f.model, f.tables);
    scorer.resume(ScorerCheckpoint{.windows = 3, .llr_sum = std::nan(""), .speech_frames = 400});
    EXPECT_EQ(scorer.call().windows, 0);
    EXPECT_EQ(scorer.call().verdict, Verdict::InsufficientSpeech);
    scorer.resume(ScorerCheckpoint{.windows = 0, .llr_sum = 1.0, .speech_frames = 400});
    EXPECT_EQ(scorer.call().speech_seconds, 0.0);
}

}  // namespace
}  // namespace dvd::pipeline
