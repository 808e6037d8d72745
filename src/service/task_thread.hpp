#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace dvd::service {

/// One named thread that runs posted tasks in order: the home of blocking work that must never
/// run on a network worker (database reads, outbound HTTP, file I/O, re-scoring). Bounded: `post`
/// refuses (returns false) when `capacity` tasks wait, so a stuck dependency cannot grow memory.
///
/// Threads: `post`, `size` from any thread; `stop` and the destructor from the owner. A task that
/// throws is caught and counted (`exceptions()`); the thread goes on.
class TaskThread {
public:
    TaskThread(std::string name, std::size_t capacity);
    ~TaskThread();  ///< stop(): runs what is queued, then joins
    TaskThread(const TaskThread&) = delete;
    TaskThread& operator=(const TaskThread&) = delete;

    bool post(std::function<void()> task);

    /// Refuses new tasks, runs the queued ones, joins. Idempotent.
    void stop();

    [[nodiscard]] std::size_t size() const;
    [[nodiscard]] std::size_t exceptions() const;
    [[nodiscard]] bool in_this_thread() const;
    [[nodiscard]] const std::string& name() const { return name_; }

private:
    void run();

    const std::string name_;
    const std::size_t capacity_;
    mutable std::mutex mutex_;
    std::condition_variable cv_;
    // ---- guarded by mutex_ ----
    std::deque<std::function<void()>> queue_;
    bool stopping_ = false;
    std::size_t exceptions_ = 0;
    // ---- end guarded ----
    std::thread thread_;
};

/// Counts the tasks an owner posted to its TaskThreads until each has run, so the owner can wait
/// for its own work to drain (tests before they read results, owners before they stop what the
/// tasks use). The counter must outlive the tasks it counts. Thread-safe.
class InflightTasks {
public:
    /// Posts `task` to `thread`, counted until it has run (also if it throws); a post the thread
    /// refuses is not counted. Returns what `TaskThread::post` returned.
    bool post(TaskThread& thread, std::function<void()> task);

    /// Polls every millisecond until no counted task is queued or running; false on timeout.
    [[nodiscard]] bool wait_idle(std::chrono::milliseconds timeout) const;

    [[nodiscard]] std::int64_t count() const { return count_.load(); }

private:
    std::atomic<std::int64_t> count_{0};
};

}  // namespace dvd::service
