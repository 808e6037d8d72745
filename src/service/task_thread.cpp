#include "service/task_thread.hpp"

#include <exception>
#include <utility>

#include <pthread.h>

#include "base/log.hpp"

namespace dvd::service {

TaskThread::TaskThread(std::string name, std::size_t capacity)
    : name_(std::move(name)), capacity_(capacity), thread_([this] { run(); }) {}

TaskThread::~TaskThread() { stop(); }

bool TaskThread::post(std::function<void()> task) {
    {
        std::lock_guard lock(mutex_);
        if (stopping_ || queue_.size() >= capacity_) {
            return false;
        }
        queue_.push_back(std::move(task));
    }
    cv_.notify_one();
    return true;
}

void TaskThread::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    cv_.notify_one();
    if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) {
        thread_.join();
    }
}

std::size_t TaskThread::size() const {
    std::lock_guard lock(mutex_);
    return queue_.size();
}

std::size_t TaskThread::exceptions() const {
    std::lock_guard lock(mutex_);
    return exceptions_;
}

bool TaskThread::in_this_thread() const { return std::this_thread::get_id() == thread_.get_id(); }

void TaskThread::run() {
    // Linux limits thread names to 15 characters.
    pthread_setname_np(pthread_self(), name_.substr(0, 15).c_str());
    for (;;) {
        std::function<void()> task;
        {
            std::unique_lock lock(mutex_);
            cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
            if (queue_.empty()) {
                return;  // stopping and drained
            }
            task = std::move(queue_.front());
            queue_.pop_front();
        }
        try {
            task();
        } catch (const std::exception& e) {
            DVD_LOG(Server, Error, "task on thread {} threw: {}", name_, e.what());
            std::lock_guard lock(mutex_);
            ++exceptions_;
        } catch (...) {
            DVD_LOG(Server, Error, "task on thread {} threw a non-standard exception", name_);
            std::lock_guard lock(mutex_);
            ++exceptions_;
        }
    }
}

bool InflightTasks::post(TaskThread& thread, std::function<void()> task) {
    count_.fetch_add(1);
    const bool posted = thread.post([this, task = std::move(task)] {
        struct Done {
            std::atomic<std::int64_t>& count;
            ~Done() { count.fetch_sub(1); }
        } done{count_};
        task();
    });
    if (!posted) {
        count_.fetch_sub(1);
    }
    return posted;
}

bool InflightTasks::wait_idle(std::chrono::milliseconds timeout) const {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (count_.load() > 0) {
        if (std::chrono::steady_clock::now() > deadline) {
            return false;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return true;
}

}  // namespace dvd::service
