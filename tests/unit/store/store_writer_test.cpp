#include "store/store_writer.hpp"

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "store/sqlite_store.hpp"
#include "store_test_support.hpp"
#include "support/eventually.hpp"

namespace dvd::store {
namespace {

using namespace std::chrono_literals;
using test::make_call;
using test::make_point;
using test::TempDir;

std::chrono::steady_clock::time_point in(std::chrono::milliseconds ms) {
    return std::chrono::steady_clock::now() + ms;
}

/// A Store whose write_batch records batch sizes, can be held closed by the test, and then
/// forwards to a real SqliteStore. Every other method is unused by the writer.
class GatedStore final : public Store {
public:
    struct Shared {
        std::mutex mutex;
        std::condition_variable cv;
        bool open = true;                  // guarded by mutex
        int entered = 0;                   // write_batch calls started; guarded by mutex
        int fail_next = 0;  // this many write_batch calls fail as a whole (Io); guarded by mutex
        std::vector<std::size_t> batches;  // sizes; guarded by mutex
    };

    GatedStore(std::unique_ptr<Store> inner, std::shared_ptr<Shared> shared)
        : inner_(std::move(inner)), shared_(std::move(shared)) {}

    base::Result<BatchOutcome> write_batch(std::span<const WriteOp> ops) override {
        {
            std::unique_lock lock(shared_->mutex);
            ++shared_->entered;
            shared_->cv.notify_all();
            shared_->cv.wait(lock, [&] { return shared_->open; });
            shared_->batches.push_back(ops.size());
            if (shared_->fail_next > 0) {
                --shared_->fail_next;
                return base::fail(base::Errc::Io, "store write_batch: server closed the connection");
            }
        }
        return inner_->write_batch(ops);
    }

    // clang-format off
    base::Result<void> ping() override { return unused(); }
    base::Result<void> upsert_call(const Call&) override { return unused(); }
    base::Result<void> update_call_score(const CallScoreUpdate&) override { return unused(); }
    base::Result<std::optional<Call>> get_call(std::string_view) override { return unused(); }
    base::Result<std::string> get_indicator_state(std::string_view) override { return unused(); }
    base::Result<std::optional<Call>> get_call_by_control_id(std::string_view) override { return unused(); }
    base::Result<std::vector<Call>> list_calls(const CallQuery&) override { return unused(); }
    base::Result<std::int64_t> count_calls(const CallFilter&) override { return unused(); }
    base::Result<std::vector<Call>> list_active_calls() override { return unused(); }
    base::Result<bool> record_webhook_event(const WebhookEvent&) override { return unused(); }
    base::Result<void> mark_event_processed(std::string_view, UnixMs) override { return unused(); }
    base::Result<std::optional<WebhookEvent>> get_webhook_event(std::string_view) override { return unused(); }
    base::Result<std::vector<WebhookEvent>> list_unprocessed_events(std::int64_t) override { return unused(); }
    base::Result<void> append_score_points(std::span<const ScorePoint>) override { return unused(); }
    base::Result<std::vector<ScorePoint>> list_timeline(std::string_view, std::int64_t, std::int64_t) override { return unused(); }
    base::Result<std::int64_t> add_recording(const Recording&) override { return unused(); }
    base::Result<std::vector<Recording>> list_recordings(std::string_view) override { return unused(); }
    base::Result<std::int64_t> keep_recordings(std::string_view) override { return unused(); }
    base::Result<std::vector<Recording>> list_due_recording_archives(UnixMs, std::int64_t) override { return unused(); }
    base::Result<void> update_recording_archive(std::int64_t, const RecordingArchive&) override { return unused(); }
    base::Result<std::vector<Recording>> list_expired_recording_archives(UnixMs, std::int64_t) override { return unused(); }
    base::Result<bool> mark_recording_archive_deleted(std::int64_t) override { return unused(); }
    base::Result<std::int64_t> add_analysis(const AnalysisRecord&) override { return unused(); }
    base::Result<std::vector<AnalysisRecord>> list_analyses(std::string_view) override { return unused(); }
    base::Result<AlertCreation> create_alert_if_absent(const Alert&) override { return unused(); }
    base::Result<std::vector<Alert>> list_due_alerts(UnixMs, std::int64_t) override { return unused(); }
    base::Result<std::vector<Alert>> list_alerts(std::string_view) override { return unused(); }
    base::Result<void> mark_alert_sent(std::int64_t, UnixMs) override { return unused(); }
    base::Result<void> mark_alert_failed(std::int64_t, std::string_view) override { return unused(); }
    base::Result<void> mark_alert_retry(std::int64_t, std::string_view, UnixMs) override { return unused(); }
    base::Result<std::int64_t> append_command_log(const CommandLog&) override { return unused(); }
    base::Result<std::vector<CommandLog>> list_command_log(std::string_view) override { return unused(); }

    // clang-format on

private:
    static base::Error unused() { return base::fail(base::Errc::Unsupported, "not in this fake"); }

    std::unique_ptr<Store> inner_;
    std::shared_ptr<Shared> shared_;
};

class StoreWriterTest : public ::testing::Test {
protected:
    std::string db_path() const { return dir_.file("dvd.db"); }

    std::unique_ptr<SqliteStore> open() {
        auto store = SqliteStore::open(db_path());
        EXPECT_TRUE(store) << store.error().message;
        return store ? std::move(*store) : nullptr;
    }

    /// A writer over a gated store on the test database, with call "c1" already present.
    std::unique_ptr<StoreWriter> make_writer(const StoreWriterOptions& options) {
        auto store = open();
        EXPECT_TRUE(store->upsert_call(make_call("c1", 1)));
        return std::make_unique<StoreWriter>(std::make_unique<GatedStore>(std::move(store), gate_),
                                             options);
    }

    void close_gate() {
        std::lock_guard lock(gate_->mutex);
        gate_->open = false;
    }

    void open_gate() {
        std::lock_guard lock(gate_->mutex);
        gate_->open = true;
        gate_->cv.notify_all();
    }

    /// Waits (bounded) until write_batch has been entered `n` times.
    bool wait_entered(int n) {
        std::unique_lock lock(gate_->mutex);
        return gate_->cv.wait_for(lock, 10s, [&] { return gate_->entered >= n; });
    }

    std::vector<std::size_t> batches() {
        std::lock_guard lock(gate_->mutex);
        return gate_->batches;
    }

    std::size_t timeline_size(const std::string& call_id) {
        auto store = open();
        return test::ok(store->list_timeline(call_id, -1, 100000)).size();
    }

    TempDir dir_;
    std::shared_ptr<GatedStore::Shared> gate_ = std::make_shared<GatedStore::Shared>();
};

TEST_F(StoreWriterTest, DrainsInBatchesOfAtMostN) {
    auto writer =
            make_writer({.queue_capacity = 10000, .max_batch_ops = 100, .max_batch_delay = 10s});
    for (int seq = 0; seq < 1000; ++seq) {
        ASSERT_TRUE(writer->try_push(make_point("c1", seq)));
    }
    writer->start();
    ASSERT_TRUE(writer->flush(in(30s)));
    EXPECT_EQ(batches(), std::vector<std::size_t>(10, 100));
    const auto stats = writer->stats();
    EXPECT_EQ(stats.pushed, 1000U);
    EXPECT_EQ(stats.written, 1000U);
    EXPECT_EQ(stats.batches, 10U);
    EXPECT_EQ(stats.failed, 0U);
    EXPECT_EQ(stats.dropped, 0U);
    EXPECT_EQ(stats.queue_depth, 0U);
    EXPECT_EQ(timeline_size("c1"), 1000U);
}

TEST_F(StoreWriterTest, OpsArrivingWhileABatchIsWrittenFormTheNextBatch) {
    auto writer = make_writer({.max_batch_ops = 1000, .max_batch_delay = 0ms});
    close_gate();
    writer->start();
    ASSERT_TRUE(writer->try_push(make_point("c1", 0)));
    ASSERT_TRUE(wait_entered(1));  // batch 1 = {0}, held in write_batch
    for (int seq = 1; seq <= 50; ++seq) {
        ASSERT_TRUE(writer->try_push(make_point("c1", seq)));
    }
    open_gate();
    ASSERT_TRUE(writer->flush(in(30s)));
    EXPECT_EQ(batches(), (std::vector<std::size_t>{1, 50}));
    EXPECT_EQ(timeline_size("c1"), 51U);
}

TEST_F(StoreWriterTest, BacklogIsWrittenWithoutLingering) {
    auto writer = make_writer({.max_batch_ops = 1000, .max_batch_delay = 60s});
    close_gate();
    writer->start();
    ASSERT_TRUE(writer->try_push(make_point("c1", 0)));
    bool flushed = false;
    std::thread flusher([&] { flushed = writer->flush(in(30s)); });  // cuts batch 1's linger
    ASSERT_TRUE(wait_entered(1));
    for (int seq = 1; seq <= 5; ++seq) {
        ASSERT_TRUE(writer->try_push(make_point("c1", seq)));
    }
    open_gate();
    flusher.join();
    EXPECT_TRUE(flushed);
    // The 5 ops waited behind batch 1: they go now, not 60 s later.
    EXPECT_TRUE(wait_entered(2));
    ASSERT_TRUE(writer->flush(in(30s)));
    EXPECT_EQ(batches(), (std::vector<std::size_t>{1, 5}));
}

TEST_F(StoreWriterTest, OverflowDropsAndCountsWithoutBlocking) {
    auto writer = make_writer({.queue_capacity = 10, .max_batch_ops = 4});
    for (int seq = 0; seq < 15; ++seq) {
        EXPECT_EQ(writer->try_push(make_point("c1", seq)), seq < 10) << seq;
    }
    EXPECT_EQ(writer->dropped(), 5U);
    EXPECT_EQ(writer->stats().queue_depth, 10U);
    writer->start();
    ASSERT_TRUE(writer->flush(in(30s)));
    const auto stats = writer->stats();
    EXPECT_EQ(stats.written, 10U);
    EXPECT_EQ(stats.dropped, 5U);
    EXPECT_EQ(timeline_size("c1"), 10U);
    // Room again once drained.
    EXPECT_TRUE(writer->try_push(make_point("c1", 100)));
}

TEST_F(StoreWriterTest, FullQueueWhileTheDatabaseIsSlowDrops) {
    auto writer = make_writer({.queue_capacity = 8, .max_batch_ops = 2, .max_batch_delay = 0ms});
    close_gate();
    writer->start();
    ASSERT_TRUE(writer->try_push(make_point("c1", 0)));
    ASSERT_TRUE(wait_entered(1));  // the writer is stuck in the database
    int accepted = 0;
    for (int seq = 1; seq <= 20; ++seq) {
        accepted += writer->try_push(make_point("c1", seq)) ? 1 : 0;
    }
    EXPECT_EQ(accepted, 8);
    EXPECT_EQ(writer->dropped(), 12U);
    open_gate();
    ASSERT_TRUE(writer->flush(in(30s)));
    EXPECT_EQ(writer->stats().written, 9U);
}

TEST_F(StoreWriterTest, StopFlushesWhatIsQueued) {
    // A long linger: stop must not wait for it.
    auto writer = make_writer({.max_batch_ops = 1000, .max_batch_delay = 60s});
    writer->start();
    for (int seq = 0; seq < 300; ++seq) {
        ASSERT_TRUE(writer->try_push(make_point("c1", seq)));
    }
    const auto before = std::chrono::steady_clock::now();
    EXPECT_TRUE(writer->stop(in(30s)));
    EXPECT_LT(std::chrono::steady_clock::now() - before, 20s);
    EXPECT_FALSE(writer->try_push(make_point("c1", 999)));  // refused after stop
    const auto stats = writer->stats();
    EXPECT_EQ(stats.written, 300U);
    EXPECT_EQ(stats.abandoned, 0U);
    EXPECT_EQ(stats.dropped, 1U);
    writer.reset();
    EXPECT_EQ(timeline_size("c1"), 300U);  // durable: a new connection sees it
}

TEST_F(StoreWriterTest, FlushDoesNotWaitForTheLinger) {
    auto writer = make_writer({.max_batch_ops = 1000, .max_batch_delay = 60s});
    writer->start();
    ASSERT_TRUE(writer->try_push(make_point("c1", 0)));
    EXPECT_TRUE(writer->flush(in(20s)));
    EXPECT_EQ(timeline_size("c1"), 1U);
}

TEST_F(StoreWriterTest, StopPastItsDeadlineAbandonsTheRest) {
    auto writer = make_writer({.queue_capacity = 10000, .max_batch_ops = 10});
    for (int seq = 0; seq < 100; ++seq) {
        ASSERT_TRUE(writer->try_push(make_point("c1", seq)));
    }
    close_gate();
    writer->start();
    ASSERT_TRUE(wait_entered(1));  // batch 1 is in the database
    bool stopped_clean = true;
    std::thread stopper([&] { stopped_clean = writer->stop(in(0ms)); });
    // try_push refuses once stop() has begun; only then let batch 1 finish. A refusal because
    // the queue is full (the stopper thread not scheduled yet on a busy machine) does not count.
    int extra = 0;
    while (!writer->is_stopping()) {
        if (writer->try_push(make_point("c1", 1000 + extra))) {
            ++extra;
        } else {
            std::this_thread::yield();
        }
    }
    open_gate();
    stopper.join();
    EXPECT_FALSE(stopped_clean);
    const auto stats = writer->stats();
    EXPECT_EQ(stats.written, 10U);
    EXPECT_EQ(stats.abandoned, static_cast<std::uint64_t>(90 + extra));
    EXPECT_EQ(stats.written + stats.abandoned, stats.pushed);
    EXPECT_EQ(timeline_size("c1"), 10U);
}

TEST_F(StoreWriterTest, RejectedOpsAreCountedAndDoNotBlockOthers) {
    auto writer = make_writer({.max_batch_ops = 100});
    writer->start();
    ASSERT_TRUE(writer->try_push(make_point("c1", 0)));
    ASSERT_TRUE(writer->try_push(make_point("no-such-call", 0)));
    ASSERT_TRUE(writer->try_push(
            CallScoreUpdate{.call_id = "c1", .final_score = 0.9, .flagged = true}));
    ASSERT_TRUE(writer->try_push(EventProcessed{.event_id = "unknown", .processed_at_ms = 1}));
    ASSERT_TRUE(writer->flush(in(30s)));
    const auto stats = writer->stats();
    EXPECT_EQ(stats.written, 2U);
    EXPECT_EQ(stats.failed, 2U);
    EXPECT_FALSE(stats.last_error.empty());
    auto store = open();
    EXPECT_TRUE(test::ok(store->get_call("c1")).value().flagged);
}

TEST_F(StoreWriterTest, WholeBatchFailureIsRetriedThenCounted) {
    // A store that is read-only underneath: every transaction fails as a whole.
    {
        auto created = open();
        ASSERT_TRUE(created->upsert_call(make_call("c1", 1)));
    }
    auto reader = SqliteStore::open(db_path(), StoreOptions{.read_only = true});
    ASSERT_TRUE(reader) << reader.error().message;
    StoreWriter writer(std::make_unique<GatedStore>(std::move(*reader), gate_),
                       {.max_batch_ops = 10, .max_batch_delay = 0ms, .max_batch_attempts = 3});
    writer.start();
    ASSERT_TRUE(writer.try_push(make_point("c1", 0)));
    ASSERT_TRUE(writer.flush(in(30s)));
    const auto stats = writer.stats();
    EXPECT_EQ(stats.failed, 1U);
    EXPECT_EQ(stats.written, 0U);
    EXPECT_EQ(batches().size(), 3U);  // three attempts
    EXPECT_NE(stats.last_error.find("write_batch"), std::string::npos) << stats.last_error;
}

// A database that is away for a while (a PostgreSQL restart): the batch is tried again after a
// growing wait and written once the database is back; nothing is lost.
TEST_F(StoreWriterTest, ABatchOutlivesADatabaseOutage) {
    auto writer = make_writer({.max_batch_delay = 0ms, .retry_delay = 1ms, .max_retry_delay = 4ms});
    {
        std::lock_guard lock(gate_->mutex);
        gate_->fail_next = 6;
    }
    writer->start();
    ASSERT_TRUE(writer->try_push(make_point("c1", 0)));
    ASSERT_TRUE(writer->flush(in(30s)));
    const auto stats = writer->stats();
    EXPECT_EQ(stats.written, 1U);
    EXPECT_EQ(stats.failed, 0U);
    EXPECT_EQ(batches().size(), 7U);  // six failed attempts, then the one that committed
    EXPECT_EQ(stats.retries, 6U);
    EXPECT_EQ(open()->list_timeline("c1", -1, 10)->size(), 1U);
}

// `failing` (the readiness probe's store-writer check) is set while the database fails batches as
// a whole and cleared by the next commit.
TEST_F(StoreWriterTest, FailingLastsFromAWholeBatchFailureToTheNextCommit) {
    auto writer = make_writer({.max_batch_delay = 0ms, .max_batch_attempts = 100'000,
                               .retry_delay = 10ms, .max_retry_delay = 10ms});
    EXPECT_FALSE(writer->stats().failing);
    {
        std::lock_guard lock(gate_->mutex);
        gate_->fail_next = 1000;
    }
    writer->start();
    ASSERT_TRUE(writer->try_push(make_point("c1", 0)));
    ASSERT_TRUE(dvd::test::eventually([&] { return writer->stats().failing; }, 30s));
    {
        std::lock_guard lock(gate_->mutex);
        gate_->fail_next = 0;
    }
    ASSERT_TRUE(writer->flush(in(30s)));
    const auto stats = writer->stats();
    EXPECT_FALSE(stats.failing);
    EXPECT_EQ(stats.written, 1U);
    EXPECT_GE(stats.retries, 1U);
    EXPECT_EQ(stats.queue_capacity, StoreWriterOptions{}.queue_capacity);
}

// A stop whose deadline passes during a long back-off does not wait it out.
TEST_F(StoreWriterTest, StopEndsARetryWait) {
    auto writer = make_writer(
            {.max_batch_delay = 0ms, .max_batch_attempts = 5, .retry_delay = 60s,
             .max_retry_delay = 60s});
    {
        std::lock_guard lock(gate_->mutex);
        gate_->fail_next = 100;
    }
    writer->start();
    ASSERT_TRUE(writer->try_push(make_point("c1", 0)));
    ASSERT_TRUE(dvd::test::eventually([&] { return !batches().empty(); }, 30s));
    const auto started = std::chrono::steady_clock::now();
    writer->stop(in(100ms));
    EXPECT_LT(std::chrono::steady_clock::now() - started, 30s);  // not the 60 s back-off
    EXPECT_EQ(writer->stats().failed, 1U);
}

TEST_F(StoreWriterTest, ManyProducersNeverLoseAnAcceptedOp) {
    constexpr int kThreads = 4;
    constexpr int kPerThread = 2000;
    auto store = open();
    for (int t = 0; t < kThreads; ++t) {
        ASSERT_TRUE(store->upsert_call(make_call("t" + std::to_string(t), t)));
    }
    store.reset();
    auto writer =
            make_writer({.queue_capacity = 1500, .max_batch_ops = 256, .max_batch_delay = 5ms});
    writer->start();
    std::vector<std::thread> producers;
    std::vector<int> accepted(kThreads, 0);
    for (int t = 0; t < kThreads; ++t) {
        producers.emplace_back([&writer, &accepted, t] {
            for (int seq = 0; seq < kPerThread; ++seq) {
                if (writer->try_push(make_point("t" + std::to_string(t), seq))) {
                    ++accepted[static_cast<std::size_t>(t)];
                }
            }
        });
    }
    for (auto& producer : producers) {
        producer.join();
    }
    EXPECT_TRUE(writer->stop(in(60s)));
    const auto stats = writer->stats();
    EXPECT_EQ(stats.pushed + stats.dropped, static_cast<std::uint64_t>(kThreads * kPerThread));
    EXPECT_EQ(stats.written, stats.pushed);
    EXPECT_EQ(stats.failed, 0U);
    for (int t = 0; t < kThreads; ++t) {
        EXPECT_EQ(timeline_size("t" + std::to_string(t)),
                  static_cast<std::size_t>(accepted[static_cast<std::size_t>(t)]));
    }
}

TEST_F(StoreWriterTest, FlushBeforeStartTimesOutAndStopAbandons) {
    auto writer = make_writer({});
    ASSERT_TRUE(writer->try_push(make_point("c1", 0)));
    EXPECT_FALSE(writer->flush(in(0ms)));
    EXPECT_FALSE(writer->stop(in(1s)));
    EXPECT_EQ(writer->stats().abandoned, 1U);
    EXPECT_EQ(timeline_size("c1"), 0U);
}

}  // namespace
}  // namespace dvd::store
