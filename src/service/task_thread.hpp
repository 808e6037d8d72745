#pragma once

#include <condition_variable>
#include <cstddef>
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

}  // namespace dvd::service
