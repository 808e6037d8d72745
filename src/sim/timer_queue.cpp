#include "sim/timer_queue.hpp"

#include <pthread.h>

namespace dvd::sim {

void TimerQueue::start() {
    const std::lock_guard lock(mutex_);
    if (!thread_.joinable() && !stopping_) {
        thread_ = std::thread([this] { run(); });
    }
}

void TimerQueue::schedule(std::chrono::nanoseconds delay, std::function<void()> task) {
    const auto due =
            Clock::now() + std::chrono::duration_cast<Clock::duration>(std::max(delay, {}));
    const std::lock_guard lock(mutex_);
    if (stopping_) {
        return;
    }
    tasks_.emplace(due, std::move(task));
    wake_.notify_one();
}

void TimerQueue::stop() {
    {
        const std::lock_guard lock(mutex_);
        stopping_ = true;
        wake_.notify_one();
    }
    if (thread_.joinable()) {
        thread_.join();
    }
    const std::lock_guard lock(mutex_);
    tasks_.clear();
}

std::size_t TimerQueue::pending() const {
    const std::lock_guard lock(mutex_);
    return tasks_.size();
}

void TimerQueue::run() {
    pthread_setname_np(pthread_self(), name_.substr(0, 15).c_str());
    std::unique_lock lock(mutex_);
    while (!stopping_) {
        if (tasks_.empty()) {
            wake_.wait(lock);
            continue;
        }
        const auto first = tasks_.begin();
        if (first->first > Clock::now()) {
            wake_.wait_until(lock, first->first);
            continue;
        }
        std::function<void()> task = std::move(first->second);
        tasks_.erase(first);
        lock.unlock();
        task();
        lock.lock();
    }
}

}  // namespace dvd::sim
