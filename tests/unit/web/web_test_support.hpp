#pragma once

#include <cstddef>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "net/server.hpp"
#include "service/call_events.hpp"
#include "support/recording_sink.hpp"
#include "support/temp_dir.hpp"

// Fakes shared by the web tests: an event stream that records what the hub queues (with a
// settable queue limit); the recording sink and the temp directory come from tests/support.
namespace dvd::web::test {

using dvd::test::RecordingSink;

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

using dvd::test::TempDir;

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
