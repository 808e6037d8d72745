#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "store/store.hpp"
#include "store/types.hpp"

namespace dvd::store {

struct StoreWriterOptions {
    /// Ops that may wait in the queue; `try_push` drops beyond this (house style 3.8 item 6).
    std::size_t queue_capacity = 16384;
    /// N: at most this many ops per transaction.
    std::size_t max_batch_ops = 512;
    /// An op that finds the writer idle waits at most this long for companions before its
    /// transaction starts (group commit); a full batch, `flush`, `stop` or a backlog left by the
    /// previous transaction starts it at once.
    std::chrono::milliseconds max_batch_delay{100};
    /// A batch that fails as a whole (busy beyond busy_timeout, I/O, a PostgreSQL server that
    /// restarts or fails over) is tried this many times in all; then its ops are counted as
    /// failed. With the delays below the defaults ride out an outage of about 9 s, while new ops
    /// wait in the queue.
    int max_batch_attempts = 10;
    /// The wait before the second attempt of a failed batch; it doubles for each further attempt,
    /// up to `max_retry_delay`. `stop` cuts a wait short at its deadline.
    std::chrono::milliseconds retry_delay{50};
    std::chrono::milliseconds max_retry_delay{2000};
};

/// Counters since construction. Every accepted op ends up in exactly one of written, failed,
/// abandoned (or is still queued or in flight).
struct StoreWriterStats {
    std::uint64_t pushed = 0;     ///< accepted by try_push
    std::uint64_t dropped = 0;    ///< refused by try_push: queue full, or after stop
    std::uint64_t written = 0;    ///< committed
    std::uint64_t failed = 0;     ///< rejected by the store (unknown call, ...) or batch failed
    std::uint64_t abandoned = 0;  ///< still queued when stop's deadline passed
    std::uint64_t batches = 0;    ///< committed transactions
    std::uint64_t retries = 0;    ///< attempts after a whole-batch failure (database trouble)
    std::size_t queue_depth = 0;  ///< queued now, not counting the batch in flight
    std::size_t queue_capacity = 0;  ///< StoreWriterOptions::queue_capacity
    /// The database failed the latest attempt of a batch as a whole and nothing has committed
    /// since: it is unreachable, restarting, full or locked, and new ops are only queued.
    bool failing = false;
    std::string last_error;       ///< the most recent store error, empty if none
};

/// The bounded queue and the `store-writer` thread between the workers and the database
/// (house style 3.8 item 6: persistence never blocks a worker).
///
/// Threads: `try_push`, `dropped` and `stats` may be called from any thread at any time; they only
/// take the queue mutex for a few instructions and never wait for the database. The `Store` given
/// to the constructor is used only by the writer thread once `start` has been called. `start`,
/// `flush`, `stop` and the destructor are for the owning (server) thread.
///
/// The writer thread drains the queue in transactions of at most `max_batch_ops` ops, starting a
/// transaction at most `max_batch_delay` after the first op of the batch arrived. An op that the
/// store rejects (see `Store::write_batch`) is counted as failed and does not undo the others.
class StoreWriter {
public:
    StoreWriter(std::unique_ptr<Store> store, const StoreWriterOptions& options);

    /// Stops (draining for up to kDestructorStopTimeout) if still running.
    ~StoreWriter();

    StoreWriter(const StoreWriter&) = delete;
    StoreWriter& operator=(const StoreWriter&) = delete;

    static constexpr std::chrono::seconds kDestructorStopTimeout{5};

    /// Starts the `store-writer` thread. Ops pushed before are kept and written first. Once only.
    void start();

    /// Queues an op without waiting for the database. False (and the op is dropped and counted)
    /// when the queue holds `queue_capacity` ops or the writer was stopped.
    bool try_push(WriteOp op);

    /// Ops dropped by try_push so far (a metric: store_dropped_total).
    std::uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }

    StoreWriterStats stats() const;

    /// Waits until every op pushed before this call has been written, failed or abandoned. False
    /// when the deadline passed first (or the thread was never started).
    bool flush(std::chrono::steady_clock::time_point deadline);

    /// Graceful shutdown: refuses new ops, writes what is queued until `deadline`, abandons (and
    /// counts) the rest, joins the thread. A batch already being written finishes (a failed one
    /// is not retried past the deadline), so the call can return later than the deadline by one
    /// transaction. True when nothing was abandoned.
    /// Further calls return the first call's answer.
    bool stop(std::chrono::steady_clock::time_point deadline);

    /// True once stop() has begun: try_push refuses from then on.
    bool is_stopping() const;

private:
    void run();
    void write(std::vector<WriteOp>& batch);

    const StoreWriterOptions options_;
    std::unique_ptr<Store> store_;  ///< used by the writer thread only, after start()
    std::thread thread_;            ///< touched by the owning thread only

    mutable std::mutex mutex_;
    std::condition_variable work_cv_;  ///< writer waits: ops arrived, batch full, flush, stop
    std::condition_variable done_cv_;  ///< flush waits: completed_ advanced
    // ---- guarded by mutex_ ----
    std::deque<WriteOp> queue_;
    std::uint64_t enqueued_ = 0;   ///< ops ever accepted (sequence number of the last one)
    std::uint64_t completed_ = 0;  ///< ops ever finished: written + failed + abandoned
    std::uint64_t written_ = 0;
    std::uint64_t failed_ = 0;
    std::uint64_t retries_ = 0;
    std::uint64_t abandoned_ = 0;
    std::uint64_t batches_ = 0;
    bool failing_ = false;
    std::string last_error_;
    int flush_waiters_ = 0;
    bool started_ = false;
    bool stopping_ = false;
    std::chrono::steady_clock::time_point stop_deadline_{};
    // ---- end of guarded by mutex_ ----

    std::atomic<std::uint64_t> dropped_{0};  ///< lock-free so metrics never contend
};

}  // namespace dvd::store
