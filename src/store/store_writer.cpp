#include "store/store_writer.hpp"

#include <algorithm>
#include <iterator>
#include <utility>

#include <pthread.h>

#include "base/check.hpp"

namespace dvd::store {

StoreWriter::StoreWriter(std::unique_ptr<Store> store, const StoreWriterOptions& options)
    : options_(options), store_(std::move(store)) {
    DVD_CHECK(store_ != nullptr, "StoreWriter needs a store");
    DVD_CHECK(options_.queue_capacity > 0 && options_.max_batch_ops > 0
                      && options_.max_batch_attempts > 0 && options_.retry_delay.count() >= 0
                      && options_.max_retry_delay >= options_.retry_delay,
              "StoreWriterOptions: capacity, batch size and attempts must be positive");
}

StoreWriter::~StoreWriter() {
    stop(std::chrono::steady_clock::now() + kDestructorStopTimeout);
}

void StoreWriter::start() {
    {
        std::lock_guard lock(mutex_);
        DVD_CHECK(!started_ && !stopping_, "StoreWriter::start called twice or after stop");
        started_ = true;
    }
    thread_ = std::thread([this] { run(); });
}

bool StoreWriter::is_stopping() const {
    std::lock_guard lock(mutex_);
    return stopping_;
}

bool StoreWriter::try_push(WriteOp op) {
    bool wake = false;
    {
        std::lock_guard lock(mutex_);
        if (stopping_ || queue_.size() >= options_.queue_capacity) {
            dropped_.fetch_add(1, std::memory_order_relaxed);
            return false;
        }
        queue_.push_back(std::move(op));
        ++enqueued_;
        // Wake the writer only when it has something new to decide: the first op of a batch
        // (it is idle) or a full batch (it is lingering). Saves a futex call per push otherwise.
        wake = queue_.size() == 1 || queue_.size() == options_.max_batch_ops;
    }
    if (wake) {
        work_cv_.notify_one();
    }
    return true;
}

StoreWriterStats StoreWriter::stats() const {
    std::lock_guard lock(mutex_);
    StoreWriterStats stats;
    stats.pushed = enqueued_;
    stats.dropped = dropped_.load(std::memory_order_relaxed);
    stats.written = written_;
    stats.failed = failed_;
    stats.retries = retries_;
    stats.abandoned = abandoned_;
    stats.batches = batches_;
    stats.queue_depth = queue_.size();
    stats.queue_capacity = options_.queue_capacity;
    stats.failing = failing_;
    stats.last_error = last_error_;
    return stats;
}

bool StoreWriter::flush(std::chrono::steady_clock::time_point deadline) {
    std::unique_lock lock(mutex_);
    const std::uint64_t target = enqueued_;
    ++flush_waiters_;
    work_cv_.notify_one();
    const bool done = done_cv_.wait_until(lock, deadline, [&] { return completed_ >= target; });
    --flush_waiters_;
    return done;
}

bool StoreWriter::stop(std::chrono::steady_clock::time_point deadline) {
    bool join = false;
    {
        std::lock_guard lock(mutex_);
        if (stopping_) {
            return abandoned_ == 0;
        }
        stopping_ = true;
        stop_deadline_ = deadline;
        join = started_;
        if (!started_) {
            // Never started: nobody will write what was queued.
            abandoned_ += queue_.size();
            completed_ += queue_.size();
            queue_.clear();
        }
    }
    if (join) {
        work_cv_.notify_one();
        thread_.join();
    }
    std::lock_guard lock(mutex_);
    done_cv_.notify_all();
    return abandoned_ == 0;
}

void StoreWriter::run() {
    pthread_setname_np(pthread_self(), "store-writer");
    std::vector<WriteOp> batch;
    batch.reserve(options_.max_batch_ops);
    bool backlog = false;  // ops arrived while the previous batch was written
    std::unique_lock lock(mutex_);
    for (;;) {
        work_cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) {
            break;  // stopping and drained
        }
        // Group commit: give a new batch up to max_batch_delay to fill, unless someone waits. A
        // backlog has already waited for the previous transaction, so it goes at once.
        if (!backlog) {
            const auto linger_until = std::chrono::steady_clock::now() + options_.max_batch_delay;
            work_cv_.wait_until(lock, linger_until, [&] {
                return stopping_ || flush_waiters_ > 0 || queue_.size() >= options_.max_batch_ops;
            });
        }
        const auto take = std::min(queue_.size(), options_.max_batch_ops);
        batch.assign(std::make_move_iterator(queue_.begin()),
                     std::make_move_iterator(queue_.begin() + static_cast<std::ptrdiff_t>(take)));
        queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(take));

        lock.unlock();
        write(batch);
        lock.lock();

        if (stopping_ && !queue_.empty() && std::chrono::steady_clock::now() >= stop_deadline_) {
            abandoned_ += queue_.size();
            completed_ += queue_.size();
            queue_.clear();
        }
        backlog = !queue_.empty();
        done_cv_.notify_all();
    }
    done_cv_.notify_all();
}

void StoreWriter::write(std::vector<WriteOp>& batch) {
    std::uint64_t written = 0;
    std::uint64_t failed = 0;
    std::string error;
    bool committed = false;
    std::uint64_t retries = 0;
    auto delay = options_.retry_delay;
    for (int attempt = 1;; ++attempt) {
        auto outcome = store_->write_batch(batch);
        if (outcome) {
            committed = true;
            written = outcome->applied;
            failed = outcome->failed;
            error = std::move(outcome->first_error);
            break;
        }
        error = outcome.error().message;
        bool give_up = attempt >= options_.max_batch_attempts;
        {
            std::lock_guard lock(mutex_);
            failing_ = true;
            give_up = give_up || (stopping_ && std::chrono::steady_clock::now() >= stop_deadline_);
        }
        if (give_up) {
            failed = batch.size();
            break;
        }
        // Back off before the next attempt. stop() wakes this wait (pushes do too), and from then
        // on it ends at the stop deadline at the latest; the check above then gives up.
        const auto until = std::chrono::steady_clock::now() + delay;
        std::unique_lock lock(mutex_);
        for (;;) {
            const auto limit = stopping_ ? std::min(until, stop_deadline_) : until;
            if (std::chrono::steady_clock::now() >= limit) {
                break;
            }
            work_cv_.wait_until(lock, limit);
        }
        delay = std::min(delay * 2, options_.max_retry_delay);
        ++retries;
    }
    std::lock_guard lock(mutex_);
    written_ += written;
    failed_ += failed;
    retries_ += retries;
    completed_ += batch.size();
    if (committed) {
        ++batches_;
        failing_ = false;
    }
    if (!error.empty()) {
        last_error_ = std::move(error);
    }
    batch.clear();
}

}  // namespace dvd::store
