#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <utility>
#include <vector>

#include "service/call_events.hpp"

// A service::CallEventSink that records every event it is given (media and web tests).
// Single-threaded tests read the vectors directly; tests with a real server wait with
// `wait_ended`, which also orders the reads after the worker's writes. Test-only code.
namespace dvd::test {

class RecordingSink final : public service::CallEventSink {
public:
    void on_stream_started(service::StreamStarted event) override {
        std::lock_guard lock(mutex_);
        started.push_back(std::move(event));
    }

    void on_score_changed(service::ScoreChanged event) override {
        std::lock_guard lock(mutex_);
        scores.push_back(std::move(event));
    }

    void on_stream_ended(service::StreamEnded event) override {
        std::lock_guard lock(mutex_);
        ended.push_back(std::move(event));
        cv_.notify_all();
    }

    /// Waits (up to 30 s) until `count` streams have ended.
    bool wait_ended(std::size_t count) {
        std::unique_lock lock(mutex_);
        return cv_.wait_for(lock, std::chrono::seconds(30), [&] { return ended.size() >= count; });
    }

    std::vector<service::StreamStarted> started;
    std::vector<service::ScoreChanged> scores;
    std::vector<service::StreamEnded> ended;

private:
    std::mutex mutex_;
    std::condition_variable cv_;
};

}  // namespace dvd::test
