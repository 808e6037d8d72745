#include "pipeline/scoring_pool.hpp"

#include <chrono>
#include <cmath>
#include <random>
#include <thread>

#include <gtest/gtest.h>

#include "base/cpu_budget.hpp"
#include "pipeline/streaming_scorer.hpp"
#include "support/test_model.hpp"
#include "support/test_paths.hpp"

namespace dvd::pipeline {
namespace {

// Tests that compare with the inline scorer never let the pool drop a window.
constexpr std::chrono::steady_clock::duration kNever = std::chrono::hours(1);

using Fixture = test::LoadedModel;
using test::load_model;

struct Scored {
    std::vector<WindowScore> windows;
    std::vector<CallScore> calls;

    /// A scorer callback that records into this.
    auto sink() {
        return [this](const WindowScore& w, const CallScore& c) {
            windows.push_back(w);
            calls.push_back(c);
        };
    }
};

Scored score_inline(const Fixture& f, std::span<const float> samples) {
    StreamingScorer scorer(f.model, f.tables);
    Scored out;
    EXPECT_TRUE(scorer.accept(samples, out.sink()));
    return out;
}

void expect_same_windows(const Scored& pooled, const Scored& inline_run, const std::string& what) {
    ASSERT_EQ(pooled.windows.size(), inline_run.windows.size()) << what;
    for (std::size_t i = 0; i < inline_run.windows.size(); ++i) {
        const auto& p = pooled.windows[i];
        const auto& q = inline_run.windows[i];
        EXPECT_EQ(p.end_speech_frame, q.end_speech_frame) << what << " window " << i;
        EXPECT_EQ(p.end_sample, q.end_sample) << what << " window " << i;
        EXPECT_EQ(p.num_frames, q.num_frames) << what << " window " << i;
        // The same model on the same rows: the same numbers.
        EXPECT_EQ(p.logit, q.logit) << what << " window " << i;
        EXPECT_EQ(pooled.calls[i].windows, static_cast<int>(i + 1)) << what;
        EXPECT_EQ(pooled.calls[i].llr, inline_run.calls[i].llr) << what;
        EXPECT_GE(p.model_seconds, 0.0);
    }
}

TEST(DetectorModelBatch, EachLogitOfABatchEqualsItsSingleRun) {
    for (const std::string& path :
         {test::test_model_path(), std::string(DVD_SOURCE_DIR) + "/models/detector.json"}) {
        const auto f = load_model(path);
        const int frames = f.model->metadata().window.max_frames;
        const auto width = static_cast<std::size_t>(f.tables->num_features());
        const std::size_t values = static_cast<std::size_t>(frames) * width;
        constexpr int kBatch = 5;
        std::vector<float> x(values * kBatch);
        std::mt19937 rng(11);
        std::normal_distribution<float> normal(-4.0f, 2.0f);
        for (auto& v : x) {
            v = normal(rng);
        }
        std::vector<float> batched(kBatch);
        ASSERT_TRUE(f.model->logits(x, kBatch, frames, batched));
        for (int b = 0; b < kBatch; ++b) {
            const auto single = f.model->logit(
                    std::span<const float>(x).subspan(static_cast<std::size_t>(b) * values, values),
                    frames);
            ASSERT_TRUE(single);
            EXPECT_NEAR(batched[static_cast<std::size_t>(b)], *single,
                        1e-4f * (1.0f + std::abs(*single)))
                    << path << " window " << b;
        }
        // The windows differ, so the logits must too (a batch that scored one window five times
        // would pass the loop above only if it also matched each single run).
        EXPECT_NE(batched[0], batched[1]);
        EXPECT_FALSE(f.model->logits(x, kBatch, frames, std::span<float>(batched).first(4)));
        EXPECT_FALSE(f.model->logits(std::span<const float>(x).first(values * 4), kBatch, frames,
                                     batched));
    }
}

TEST(ScoringPool, ManyStreamsInInterleavedChunksGetTheInlineScores) {
    const auto f = load_model();
    ScoringPool pool(f.model, ScoringPoolOptions{.threads = 2, .max_queue_wait = kNever});
    constexpr int kStreams = 6;
    std::vector<std::vector<float>> signals;
    std::vector<std::unique_ptr<StreamingScorer>> scorers;
    std::vector<Scored> pooled(kStreams);
    std::vector<std::size_t> pos(kStreams, 0);
    for (int i = 0; i < kStreams; ++i) {
        signals.push_back(test::speech_like_signal(5.0 + i, 20 + static_cast<unsigned>(i)));
        scorers.push_back(
                std::make_unique<StreamingScorer>(f.model, f.tables, ScorerOptions{}, &pool));
    }
    std::mt19937 rng(7);
    std::uniform_int_distribution<std::size_t> chunk(1, 400);
    for (bool any = true; any;) {
        any = false;
        for (int i = 0; i < kStreams; ++i) {
            const auto& signal = signals[static_cast<std::size_t>(i)];
            auto& at = pos[static_cast<std::size_t>(i)];
            if (at >= signal.size()) {
                continue;
            }
            any = true;
            const std::size_t n = std::min(chunk(rng), signal.size() - at);
            auto& out = pooled[static_cast<std::size_t>(i)];
            ASSERT_TRUE(scorers[static_cast<std::size_t>(i)]->accept(
                    std::span<const float>(signal).subspan(at, n), out.sink()));
            at += n;
        }
    }
    for (int i = 0; i < kStreams; ++i) {
        auto& out = pooled[static_cast<std::size_t>(i)];
        ASSERT_TRUE(scorers[static_cast<std::size_t>(i)]->drain(out.sink()));
        EXPECT_FALSE(scorers[static_cast<std::size_t>(i)]->window_in_flight());
        expect_same_windows(out, score_inline(f, signals[static_cast<std::size_t>(i)]),
                            "stream " + std::to_string(i));
    }
    const ScoringPoolStats stats = pool.stats();
    std::size_t windows = 0;
    for (const auto& out : pooled) {
        windows += out.windows.size();
    }
    EXPECT_EQ(stats.windows, windows);
    EXPECT_EQ(stats.failures, 0u);
    EXPECT_EQ(stats.queued, 0u);
}

TEST(ScoringPool, OneLongChunkWaitsForEachWindowAndKeepsTheBufferIntact) {
    // Nine seconds in one call: every window after the first is due while the previous one may
    // still be with the pool, and the buffer moves every 25 frames, so the scorer must wait for
    // the pool before both. The scores must be those of the inline scorer. No spare buffers:
    // with them, a window the pool thread has not started yet (a busy machine) is copied out
    // instead of waited for, and more than one window is left for drain.
    const auto f = load_model();
    ScoringPool pool(f.model, ScoringPoolOptions{
                                      .threads = 1, .max_queue_wait = kNever, .spare_windows = 0});
    const auto signal = test::speech_like_signal(9.0, 1);
    StreamingScorer scorer(f.model, f.tables, ScorerOptions{}, &pool);
    Scored out;
    const auto sink = out.sink();
    ASSERT_TRUE(scorer.accept(signal, sink));
    EXPECT_TRUE(scorer.window_in_flight()) << "the last window is reported by drain";
    const std::size_t before_drain = out.windows.size();
    ASSERT_TRUE(scorer.drain(sink));
    EXPECT_EQ(out.windows.size(), before_drain + 1);
    EXPECT_EQ(scorer.call().windows, static_cast<int>(out.windows.size()));
    expect_same_windows(out, score_inline(f, signal), "one chunk");
    ASSERT_TRUE(scorer.drain(sink));  // nothing left: no callback
    EXPECT_EQ(out.windows.size(), before_drain + 1);
}

// Each of `scored` is the inline window with the same end, in the inline order.
void expect_inline_subsequence(const Scored& scored, const Scored& reference) {
    std::size_t at = 0;
    for (std::size_t i = 0; i < scored.windows.size(); ++i) {
        const auto& w = scored.windows[i];
        while (at < reference.windows.size()
               && reference.windows[at].end_speech_frame != w.end_speech_frame) {
            ++at;
        }
        ASSERT_LT(at, reference.windows.size()) << "window " << i << " out of order or unknown";
        EXPECT_EQ(w.logit, reference.windows[at].logit) << "window " << i;
        EXPECT_EQ(w.num_frames, reference.windows[at].num_frames) << "window " << i;
        EXPECT_EQ(w.end_sample, reference.windows[at].end_sample) << "window " << i;
        EXPECT_EQ(scored.calls[i].windows, static_cast<int>(i + 1));
        ++at;
    }
}

// One stream fed 4 s in one chunk into a pool that starts nothing (paused) and calls every
// queued window stale.
struct PausedPoolRun {
    PausedPoolRun(const Fixture& f, int spare_windows)
        : pool(f.model, ScoringPoolOptions{.threads = 1,
                                           .max_queue_wait = std::chrono::nanoseconds(0),
                                           .spare_windows = spare_windows}),
          signal(test::speech_like_signal(4.0, 2)),
          scorer(f.model, f.tables, ScorerOptions{}, &pool),
          reference(score_inline(f, signal)) {
        pool.pause();
        EXPECT_TRUE(scorer.accept(signal, out.sink()));
        EXPECT_GE(reference.windows.size(), 4u);
    }

    ScoringPool pool;
    std::vector<float> signal;
    StreamingScorer scorer;
    Scored reference;
    Scored out;
};

TEST(ScoringPool, WithNoSpareAStaleWindowIsDroppedInsteadOfWaitedFor) {
    // With no spare buffer to copy a window into, the stream must never block, dropping each
    // window when it needs the slot, and report the last one once the pool runs again.
    const auto f = load_model();
    PausedPoolRun run(f, 0);
    EXPECT_TRUE(run.out.windows.empty());
    // Every window but one still in flight at the end (if the buffer did not move after it)
    // was dropped.
    const std::size_t in_flight = run.scorer.window_in_flight() ? 1 : 0;
    EXPECT_EQ(run.pool.stats().skipped + in_flight, run.reference.windows.size());
    EXPECT_EQ(run.pool.stats().copied, 0u);
    run.pool.resume();
    ASSERT_TRUE(run.scorer.drain(run.out.sink()));
    ASSERT_EQ(run.out.windows.size(), in_flight);
    EXPECT_EQ(run.scorer.call().windows, static_cast<int>(in_flight));  // scored on what ran
    EXPECT_EQ(run.pool.stats().windows, in_flight);
    if (in_flight == 1) {
        EXPECT_EQ(run.out.windows[0].end_speech_frame,
                  run.reference.windows.back().end_speech_frame);
        EXPECT_EQ(run.out.windows[0].logit, run.reference.windows.back().logit);
    }
}

TEST(ScoringPool, AQueuedWindowWhoseRowsAreNeededIsCopiedOutAndScoredLate) {
    // With spares, the stream copies its first kMaxCopied windows out of its buffer instead of
    // dropping them (then drops the stale ones while both copies still wait), and once the pool
    // runs they are all reported, in order, with the inline scores.
    const auto f = load_model();
    PausedPoolRun run(f, 4);
    EXPECT_TRUE(run.out.windows.empty()) << "nothing ran: nothing to report, and no wait";
    ScoringPoolStats stats = run.pool.stats();
    EXPECT_EQ(stats.copied, static_cast<std::uint64_t>(StreamingScorer::kMaxCopied));
    EXPECT_EQ(stats.spares_in_use, static_cast<std::size_t>(StreamingScorer::kMaxCopied));
    EXPECT_EQ(stats.waits, 0u);
    run.pool.resume();
    ASSERT_TRUE(run.scorer.drain(run.out.sink()));
    EXPECT_FALSE(run.scorer.window_in_flight());
    stats = run.pool.stats();
    const Scored& out = run.out;
    const Scored& reference = run.reference;
    EXPECT_EQ(out.windows.size() + stats.skipped, reference.windows.size());
    EXPECT_EQ(stats.windows, out.windows.size());
    EXPECT_EQ(stats.spares_in_use, 0u) << "every copy is given back once reported";
    ASSERT_GE(out.windows.size(), static_cast<std::size_t>(StreamingScorer::kMaxCopied));
    // The copies are the first two windows, scored on their own rows though the buffer moved.
    EXPECT_EQ(out.windows[0].end_speech_frame, reference.windows[0].end_speech_frame);
    EXPECT_EQ(out.windows[1].end_speech_frame, reference.windows[1].end_speech_frame);
    expect_inline_subsequence(out, reference);
}

// Streams fed in lock step, 20 ms at a time, with the pool paused from the start until every
// stream's second window has fallen due (so each first window needed its rows back while
// queued). Afterwards each chunk is drained, so only the paused stretch can cost windows.
struct Burst {
    std::vector<Scored> scored;
    std::vector<Scored> reference;
    ScoringPoolStats stats;
};

Burst run_burst(const Fixture& f, int spare_windows) {
    constexpr int kStreams = 8;
    ScoringPool pool(f.model, ScoringPoolOptions{.threads = 1,
                                                 .max_queue_wait = std::chrono::nanoseconds(0),
                                                 .spare_windows = spare_windows});
    Burst burst;
    burst.scored.resize(kStreams);
    std::vector<std::vector<float>> signals;
    std::vector<std::unique_ptr<StreamingScorer>> scorers;
    for (int i = 0; i < kStreams; ++i) {
        signals.push_back(test::speech_like_signal(4.0, 40 + static_cast<unsigned>(i)));
        scorers.push_back(
                std::make_unique<StreamingScorer>(f.model, f.tables, ScorerOptions{}, &pool));
        burst.reference.push_back(score_inline(f, signals.back()));
    }
    constexpr std::size_t kChunk = 160;  // 20 ms
    std::size_t resume_at = 0;
    for (const auto& reference : burst.reference) {
        EXPECT_GE(reference.windows.size(), 3u);
        resume_at =
                std::max(resume_at, static_cast<std::size_t>(reference.windows.at(1).end_sample));
    }
    resume_at = (resume_at / kChunk + 1) * kChunk;
    pool.pause();
    for (std::size_t at = 0; at < signals[0].size(); at += kChunk) {
        if (at == resume_at) {
            pool.resume();
        }
        for (int i = 0; i < kStreams; ++i) {
            const auto& signal = signals[static_cast<std::size_t>(i)];
            auto& out = burst.scored[static_cast<std::size_t>(i)];
            auto& scorer = *scorers[static_cast<std::size_t>(i)];
            EXPECT_TRUE(scorer.accept(std::span<const float>(signal).subspan(
                                              at, std::min(kChunk, signal.size() - at)),
                                      out.sink()));
            if (at >= resume_at) {
                EXPECT_TRUE(scorer.drain(out.sink()));
            }
        }
    }
    burst.stats = pool.stats();
    return burst;
}

TEST(ScoringPool, ABurstOfWindowsThePoolIsSlowToStartIsScoredLateNotDropped) {
    const auto f = load_model();
    const Burst with_spares = run_burst(f, 16);
    EXPECT_EQ(with_spares.stats.skipped, 0u);
    EXPECT_GE(with_spares.stats.copied, with_spares.scored.size());
    EXPECT_EQ(with_spares.stats.spares_in_use, 0u);
    for (std::size_t i = 0; i < with_spares.scored.size(); ++i) {
        expect_same_windows(with_spares.scored[i], with_spares.reference[i],
                            "stream " + std::to_string(i));
    }
    // Without spares the same burst costs every stream its first window.
    const Burst without = run_burst(f, 0);
    EXPECT_GE(without.stats.skipped, without.scored.size());
    EXPECT_EQ(without.stats.copied, 0u);
    for (std::size_t i = 0; i < without.scored.size(); ++i) {
        EXPECT_LT(without.scored[i].windows.size(), without.reference[i].windows.size());
        expect_inline_subsequence(without.scored[i], without.reference[i]);
    }
}

TEST(ScoringPool, CopyOutMovesAQueuedWindowToASpareInItsPlace) {
    const auto f = load_model();
    const int rows = f.model->metadata().window.max_frames;
    const auto values =
            static_cast<std::size_t>(rows) * static_cast<std::size_t>(f.tables->num_features());
    std::vector<float> a(values);
    std::vector<float> b(values);
    std::mt19937 rng(5);
    std::normal_distribution<float> normal(-4.0f, 2.0f);
    for (std::size_t i = 0; i < values; ++i) {
        a[i] = normal(rng);
        b[i] = normal(rng);
    }
    const auto expected_a = f.model->logit(a, rows);
    const auto expected_b = f.model->logit(b, rows);
    ASSERT_TRUE(expected_a && expected_b);

    ScoringPool pool(f.model, ScoringPoolOptions{.threads = 1, .spare_windows = 1});
    pool.pause();
    WindowJob job_a;
    WindowJob job_b;
    pool.submit(job_a, a.data(), rows);
    pool.submit(job_b, b.data(), rows);
    WindowJob* copy = pool.copy_out(job_a);
    ASSERT_NE(copy, nullptr);
    EXPECT_FALSE(job_a.in_flight()) << "the stream's job and rows are free again";
    EXPECT_TRUE(copy->in_flight());
    std::fill(a.begin(), a.end(), 0.0f);  // the stream reuses its rows at once
    EXPECT_EQ(pool.copy_out(job_b), nullptr) << "no spare left";
    EXPECT_EQ(pool.copy_out(job_a), nullptr) << "not queued";
    EXPECT_EQ(pool.stats().copied, 1u);
    EXPECT_EQ(pool.stats().spares_in_use, 1u);
    EXPECT_EQ(pool.stats().queued, 2u);
    pool.resume();
    pool.wait(job_b);
    // First in, first out: the copy kept job_a's place before job_b, so it is done too.
    EXPECT_TRUE(copy->done());
    const auto got_a = copy->take();
    const auto got_b = job_b.take();
    ASSERT_TRUE(got_a && got_b);
    EXPECT_EQ(*got_a, *expected_a) << "the copy is scored on the rows as they were handed over";
    EXPECT_EQ(*got_b, *expected_b);
    EXPECT_EQ(pool.copy_out(job_b), nullptr) << "done, not queued";
    pool.release(*copy);
    EXPECT_EQ(pool.stats().spares_in_use, 0u);
}

TEST(ScoringPool, AWithdrawnJobIsIdleWhetherItWasQueuedOrDone) {
    const auto f = load_model();
    const int rows = f.model->metadata().window.max_frames;
    std::vector<float> x(
            static_cast<std::size_t>(rows) * static_cast<std::size_t>(f.tables->num_features()),
            -4.0f);
    ScoringPool pool(f.model, ScoringPoolOptions{.threads = 1, .spare_windows = 1});
    pool.pause();
    WindowJob queued;
    WindowJob done;
    pool.submit(queued, x.data(), rows);
    pool.withdraw(queued);
    EXPECT_FALSE(queued.in_flight()) << "removed unrun";
    EXPECT_EQ(pool.stats().queued, 0u);
    pool.submit(done, x.data(), rows);
    WindowJob* copy = pool.copy_out(done);
    ASSERT_NE(copy, nullptr);
    pool.resume();
    pool.wait(*copy);
    ASSERT_TRUE(copy->done());
    pool.withdraw(*copy);
    EXPECT_FALSE(copy->in_flight()) << "its result dropped";
    pool.release(*copy);  // would fail its check were the spare job still done
    EXPECT_EQ(pool.stats().windows, 1u) << "only the copy ran";
    pool.withdraw(queued);  // idle: nothing to do
    EXPECT_FALSE(queued.in_flight());
}

TEST(ScoringPool, AWindowQueuedForLessThanTheLimitIsWaitedFor) {
    // The pool is paused for 50 ms while one long chunk goes in, with no spare to copy a window
    // into: the stream waits, drops nothing, and gets the inline scores.
    const auto f = load_model();
    ScoringPool pool(f.model, ScoringPoolOptions{
                                      .threads = 1, .max_queue_wait = kNever, .spare_windows = 0});
    pool.pause();
    std::thread resumer([&] {
        // From the first hand-over on (a slow build may take longer than 50 ms to get there).
        while (pool.stats().queued == 0) {
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        pool.resume();
    });
    const auto signal = test::speech_like_signal(4.0, 2);
    StreamingScorer scorer(f.model, f.tables, ScorerOptions{}, &pool);
    Scored out;
    const auto sink = out.sink();
    const bool accepted = static_cast<bool>(scorer.accept(signal, sink));
    resumer.join();
    ASSERT_TRUE(accepted);
    ASSERT_TRUE(scorer.drain(sink));
    expect_same_windows(out, score_inline(f, signal), "paused pool");
    EXPECT_EQ(pool.stats().skipped, 0u);
    EXPECT_GE(pool.stats().waits, 1u);
}

TEST(ScoringPool, ACheckpointAfterDrainHoldsEveryWindow) {
    const auto f = load_model();
    ScoringPool pool(f.model, ScoringPoolOptions{.threads = 1, .max_queue_wait = kNever});
    const auto signal = test::speech_like_signal(6.0, 3);
    StreamingScorer pooled(f.model, f.tables, ScorerOptions{}, &pool);
    ASSERT_TRUE(pooled.accept(signal));
    ASSERT_TRUE(pooled.drain([](const WindowScore&, const CallScore&) {}));
    StreamingScorer inline_scorer(f.model, f.tables);
    ASSERT_TRUE(inline_scorer.accept(signal));
    EXPECT_EQ(pooled.checkpoint().windows, inline_scorer.checkpoint().windows);
    EXPECT_EQ(pooled.checkpoint().speech_frames, inline_scorer.checkpoint().speech_frames);
    EXPECT_EQ(pooled.checkpoint().llr_sum, inline_scorer.checkpoint().llr_sum);
}

TEST(ScoringPool, AScorerDestroyedOrResetWithAWindowInFlightTakesItBack) {
    const auto f = load_model();
    ScoringPool pool(f.model, ScoringPoolOptions{.threads = 1});
    const auto signal = test::speech_like_signal(3.0, 4);
    for (int round = 0; round < 20; ++round) {
        auto scorer = std::make_unique<StreamingScorer>(f.model, f.tables, ScorerOptions{}, &pool);
        ASSERT_TRUE(scorer->accept(signal));
        ASSERT_TRUE(scorer->window_in_flight());
        if (round % 2 == 0) {
            scorer->reset();
            EXPECT_FALSE(scorer->window_in_flight());
            EXPECT_EQ(scorer->call().windows, 0);
        }
        scorer.reset();  // queued or running: either way the pool lets go of it
    }
    EXPECT_EQ(pool.stats().queued, 0u);
    // The pool is destroyed at the end of the test: it checks that nothing is left queued.
}

TEST(ScoringPool, AScorerDestroyedOrResetWithCopiesInFlightGivesTheSparesBack) {
    const auto f = load_model();
    ScoringPool pool(f.model, ScoringPoolOptions{.threads = 1,
                                                 .max_queue_wait = std::chrono::nanoseconds(0),
                                                 .spare_windows = 4});
    const auto signal = test::speech_like_signal(4.0, 4);
    for (int round = 0; round < 6; ++round) {
        pool.pause();  // the windows stay queued: the scorer copies two out
        auto scorer = std::make_unique<StreamingScorer>(f.model, f.tables, ScorerOptions{}, &pool);
        ASSERT_TRUE(scorer->accept(signal));
        ASSERT_EQ(pool.stats().spares_in_use,
                  static_cast<std::size_t>(StreamingScorer::kMaxCopied));
        if (round % 3 == 1) {
            pool.resume();  // some may be running or done by the time they are taken back
        }
        if (round % 2 == 0) {
            scorer->reset();
            EXPECT_FALSE(scorer->window_in_flight());
            EXPECT_EQ(scorer->call().windows, 0);
        }
        scorer.reset();
        pool.resume();
        EXPECT_EQ(pool.stats().spares_in_use, 0u);
        EXPECT_EQ(pool.stats().queued, 0u);
    }
}

TEST(ScoringPool, ZeroThreadsMeansOnePerCore) {
    const auto f = load_model();
    ScoringPool pool(f.model, ScoringPoolOptions{.threads = 0});
    EXPECT_EQ(pool.threads(), base::usable_cores());
}

TEST(ScoringPool, SilenceSubmitsNothing) {
    const auto f = load_model();
    ScoringPool pool(f.model, ScoringPoolOptions{.threads = 1});
    StreamingScorer scorer(f.model, f.tables, ScorerOptions{}, &pool);
    std::vector<float> silence(8000 * 5, 0.0f);
    ASSERT_TRUE(scorer.accept(silence));
    EXPECT_FALSE(scorer.window_in_flight());
    EXPECT_EQ(pool.stats().windows, 0u);
}

TEST(ScoringPool, ScorerStateStaysUnder100kB) {
    const auto f = load_model(std::string(DVD_SOURCE_DIR) + "/models/detector.json");
    ScoringPool pool(f.model, ScoringPoolOptions{.threads = 1});
    StreamingScorer scorer(f.model, f.tables, ScorerOptions{}, &pool);
    EXPECT_LT(scorer.state_bytes(), 100u * 1024u) << scorer.state_bytes();
}

}  // namespace
}  // namespace dvd::pipeline
