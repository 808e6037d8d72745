#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "net/server.hpp"
#include "service/call_events.hpp"

namespace dvd::web {

/// Limits of the live hub. Every queue and table it keeps is bounded by one of these.
struct LiveHubOptions {
    /// DETECTION_THRESHOLD, sent to dashboards in the `snapshot` event (the chart's red line).
    double detection_threshold = 0.75;
    /// Latest score points kept per live call for the `snapshot` of a dashboard that connects
    /// mid-call (0.5 s of speech per point: 240 points = 2 minutes of speech).
    std::size_t max_points_per_call = 240;
    /// Live calls tracked at once; beyond, a new stream is still forwarded and published but not
    /// kept for snapshots.
    std::size_t max_live_calls = 2000;
    /// Dashboards connected at once; beyond, `GET /events` answers 503.
    std::size_t max_subscribers = 64;
    /// Wall clock, ms since the Unix epoch (stream start times); empty: std::chrono::system_clock.
    std::function<std::int64_t()> now_ms{};
};

/// Counters since construction (a snapshot).
struct LiveHubStats {
    std::uint64_t subscribers = 0;          ///< dashboards connected now
    std::uint64_t subscribed_total = 0;     ///< dashboards that ever connected
    std::uint64_t events_published = 0;     ///< events fanned out (each once, whatever the fan-out)
    std::uint64_t subscribers_dropped = 0;  ///< closed because their queue was full (slow client)
    std::uint64_t live_calls = 0;           ///< calls with an open media stream now
};

/// The dashboard's live feed. A `service::CallEventSink` tee: every media event is forwarded,
/// unchanged and first, to `next` (the calls controller), then turned into one server-sent event
/// and queued to every subscribed dashboard:
///
///   `snapshot`       once, to a new subscriber: threshold + live calls with their recent points
///   `stream_started` {call_id, call_control_id, stream_id, encoding, sample_rate_hz,
///   started_at_ms} `score`          {call_id, call_control_id, at_ms, call_score, call_llr,
///   window_score,
///                     window_llr, verdict, speech_seconds, windows, flagged, crossed_threshold}
///   `stream_ended`   {call_id, call_control_id, stream_id, reason, error, call_score, call_llr,
///                     verdict, speech_seconds, flagged, ended_at_ms}
///
/// Data are one-line JSON objects; scores are probabilities of a synthetic voice (0..1), times in
/// ms (`at_ms`: position in the call's inbound audio; `*_at_ms`: Unix time).
///
/// Threads: the sink methods run on network workers (media sessions) and never block: one mutex,
/// held to update a map entry and to queue a preformatted string on each subscriber's bounded
/// queue (`net::Responder::EventStream`, which posts to that client's worker). A subscriber whose
/// queue is full is closed and dropped (its EventSource reconnects and gets a fresh snapshot),
/// so a slow dashboard never holds memory or slows the media path. Every method is thread-safe.
class LiveHub final : public service::CallEventSink {
public:
    /// `next` must outlive the hub.
    LiveHub(service::CallEventSink& next, LiveHubOptions options);
    ~LiveHub() override;  ///< close_all()
    LiveHub(const LiveHub&) = delete;
    LiveHub& operator=(const LiveHub&) = delete;

    void on_stream_started(service::StreamStarted event) override;
    void on_score_changed(service::ScoreChanged event) override;
    void on_stream_ended(service::StreamEnded event) override;

    /// True while a new subscriber would be accepted (fewer than max_subscribers).
    [[nodiscard]] bool has_room() const;

    /// Sends the `snapshot` event to `stream` and adds it to the fan-out, atomically with respect
    /// to the sink methods (no event is missed or sent twice). False, and the stream is closed,
    /// when max_subscribers are connected or the snapshot cannot be queued.
    bool subscribe(std::shared_ptr<net::Responder::EventStream> stream);

    /// Closes every subscriber's stream (shutdown). Later subscriptions are refused.
    void close_all();

    /// The `snapshot` event's data.
    [[nodiscard]] std::string snapshot_json() const;

    [[nodiscard]] LiveHubStats stats() const;

    [[nodiscard]] const LiveHubOptions& options() const { return options_; }

private:
    struct Point {
        std::int64_t at_ms = 0;
        double call_score = 0.0;
        double window_score = 0.0;
        double speech_seconds = 0.0;
    };

    struct LiveCall {
        std::string call_id{};
        std::string call_control_id{};
        std::string stream_id{};
        std::string encoding{};
        int sample_rate_hz = 0;
        std::int64_t started_at_ms = 0;
        bool has_score = false;
        service::ScoreChanged latest{};
        bool flagged = false;
        std::vector<Point> points{};  ///< ring of max_points_per_call, oldest at `next_point`
        std::size_t next_point = 0;
    };

    /// Queues one event to every subscriber; drops the closed and the full ones. mutex_ held.
    void publish_locked(std::string_view event, const std::string& data);
    [[nodiscard]] std::string snapshot_json_locked() const;
    [[nodiscard]] std::int64_t now_ms() const;

    service::CallEventSink& next_;
    const LiveHubOptions options_;

    mutable std::mutex mutex_;
    std::vector<std::shared_ptr<net::Responder::EventStream>> subscribers_;  ///< guarded by mutex_
    std::unordered_map<std::string, LiveCall> live_;  ///< by call_id; guarded by mutex_
    bool closed_ = false;                             ///< guarded by mutex_
    std::uint64_t subscribed_total_ = 0;              ///< guarded by mutex_
    std::uint64_t events_published_ = 0;              ///< guarded by mutex_
    std::uint64_t subscribers_dropped_ = 0;           ///< guarded by mutex_
};

}  // namespace dvd::web
