#pragma once

#include <cstddef>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "net/server.hpp"
#include "service/call_events.hpp"

// Fakes shared by the web tests: a sink that records what the hub forwards, an event stream that
// records what the hub queues (with a settable queue limit), and a scratch directory.
namespace dvd::web::test {

/// Records every forwarded event (thread-safe).
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
    }

    std::mutex mutex_;
    std::vector<service::StreamStarted> started;
    std::vector<service::ScoreChanged> scores;
    std::vector<service::StreamEnded> ended;
};

/// One queued server-sent event.
struct SentEvent {
    std::string event;
    std::string data;

    [[nodiscard]] nlohmann::json json() const { return nlohmann::json::parse(data); }
};

/// An EventStream that keeps what it is sent; `send` fails once `limit` events are queued
/// (a client that does not read), or after close().
class FakeEventStream final : public net::Responder::EventStream {
public:
    explicit FakeEventStream(std::size_t limit = 1000) : limit_(limit) {}

    bool send(std::string_view event, std::string_view data) override {
        std::lock_guard lock(mutex_);
        if (!open_ || events_.size() >= limit_) {
            return false;
        }
        events_.push_back({std::string(event), std::string(data)});
        return true;
    }

    [[nodiscard]] bool is_open() const override {
        std::lock_guard lock(mutex_);
        return open_;
    }

    void close() override {
        std::lock_guard lock(mutex_);
        open_ = false;
    }

    /// The client leaving: later sends fail, as with a real stream.
    void disconnect() { close(); }

    [[nodiscard]] std::vector<SentEvent> events() const {
        std::lock_guard lock(mutex_);
        return events_;
    }

private:
    mutable std::mutex mutex_;
    std::size_t limit_;
    bool open_ = true;
    std::vector<SentEvent> events_;
};

/// A fresh directory under the system temp dir, removed at destruction.
class ScratchDir {
public:
    ScratchDir() {
        std::random_device random;
        path_ = std::filesystem::temp_directory_path()
                / ("dvd-web-test-" + std::to_string(random()) + std::to_string(random()));
        std::filesystem::create_directories(path_);
    }

    ~ScratchDir() {
        std::error_code ignored;
        std::filesystem::remove_all(path_, ignored);
    }

    ScratchDir(const ScratchDir&) = delete;
    ScratchDir& operator=(const ScratchDir&) = delete;

    [[nodiscard]] const std::filesystem::path& path() const { return path_; }

    /// Writes `relative` (creating folders) with `content`.
    void write(const std::filesystem::path& relative, std::string_view content) const {
        const std::filesystem::path target = path_ / relative;
        std::filesystem::create_directories(target.parent_path());
        std::ofstream(target, std::ios::binary) << content;
    }

private:
    std::filesystem::path path_;
};

inline service::ScoreChanged score_event(std::string call_id, std::int64_t at_ms, double call_score,
                                         bool crossed = false) {
    service::ScoreChanged event;
    event.call_id = std::move(call_id);
    event.call_control_id = "v3:" + event.call_id;
    event.at_ms = at_ms;
    event.score.probability = call_score;
    event.score.llr = 1.5;
    event.score.verdict =
            call_score >= 0.75 ? pipeline::Verdict::Synthetic : pipeline::Verdict::Uncertain;
    event.score.speech_seconds = static_cast<double>(at_ms) / 1000.0;
    event.score.windows = 3;
    event.window.probability = call_score;
    event.window.llr = 1.0;
    event.crossed_threshold = crossed;
    return event;
}

inline service::StreamStarted started_event(std::string call_id, std::string stream_id) {
    service::StreamStarted event;
    event.call_id = std::move(call_id);
    event.call_control_id = "v3:" + event.call_id;
    event.stream_id = std::move(stream_id);
    event.encoding = "PCMU";
    event.sample_rate_hz = 8000;
    return event;
}

inline service::StreamEnded ended_event(std::string call_id, std::string stream_id) {
    service::StreamEnded event;
    event.call_id = std::move(call_id);
    event.call_control_id = "v3:" + event.call_id;
    event.stream_id = std::move(stream_id);
    event.reason = "stop";
    event.score.probability = 0.9;
    event.score.verdict = pipeline::Verdict::Synthetic;
    return event;
}

}  // namespace dvd::web::test
