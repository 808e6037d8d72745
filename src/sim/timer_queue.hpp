#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

namespace dvd::sim {

/// One named thread that runs tasks at (or after) their due time, in due-time order (ties in
/// submission order). For the simulator's call timers and for work that must leave a network
/// worker (starting stream threads). Tasks must not block for long. Thread-safe.
class TimerQueue {
public:
    using Clock = std::chrono::steady_clock;

    explicit TimerQueue(std::string thread_name) : name_(std::move(thread_name)) {}

    ~TimerQueue() { stop(); }

    TimerQueue(const TimerQueue&) = delete;
    TimerQueue& operator=(const TimerQueue&) = delete;

    void start();

    /// Runs `task` on the timer thread after `delay` (0: as soon as possible). Dropped after stop.
    void schedule(std::chrono::nanoseconds delay, std::function<void()> task);

    /// Stops the thread; tasks not yet run are dropped. Idempotent. Not from a task.
    void stop();

    /// Tasks waiting to run.
    [[nodiscard]] std::size_t pending() const;

private:
    void run();

    std::string name_;
    mutable std::mutex mutex_;
    std::condition_variable wake_;
    std::multimap<Clock::time_point, std::function<void()>> tasks_;  // guarded by mutex_
    bool stopping_ = false;                                          // guarded by mutex_
    std::thread thread_;
};

}  // namespace dvd::sim
