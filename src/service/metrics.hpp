#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace dvd::service {

/// A monotonically increasing count. Relaxed atomics: exact totals, no ordering promises.
class Counter {
public:
    void add(std::uint64_t n = 1) noexcept { value_.fetch_add(n, std::memory_order_relaxed); }
    [[nodiscard]] std::uint64_t value() const noexcept {
        return value_.load(std::memory_order_relaxed);
    }

private:
    std::atomic<std::uint64_t> value_{0};
};

/// A value that goes up and down (active streams).
class Gauge {
public:
    void add(std::int64_t n) noexcept { value_.fetch_add(n, std::memory_order_relaxed); }
    void set(std::int64_t n) noexcept { value_.store(n, std::memory_order_relaxed); }
    [[nodiscard]] std::int64_t value() const noexcept {
        return value_.load(std::memory_order_relaxed);
    }

private:
    std::atomic<std::int64_t> value_{0};
};

/// A Prometheus histogram with fixed upper bounds (cumulative buckets are computed when
/// rendered). `observe` is lock-free.
class Histogram {
public:
    static constexpr std::size_t kMaxBuckets = 16;
    explicit Histogram(std::span<const double> upper_bounds);
    void observe(double value) noexcept;

    [[nodiscard]] std::span<const double> upper_bounds() const {
        return {bounds_.data(), count_};
    }
    /// Non-cumulative count of bucket i (i == upper_bounds().size() is +Inf).
    [[nodiscard]] std::uint64_t bucket(std::size_t i) const noexcept;
    [[nodiscard]] std::uint64_t total() const noexcept;
    [[nodiscard]] double sum() const noexcept;

private:
    std::array<double, kMaxBuckets> bounds_{};
    std::size_t count_ = 0;
    std::array<std::atomic<std::uint64_t>, kMaxBuckets + 1> buckets_{};
    std::atomic<std::uint64_t> total_{0};
    std::atomic<std::uint64_t> sum_micro_{0};  ///< sum in millionths, so it stays an integer
};

/// Every counter the service exports on `GET /metrics` (Prometheus text format 0.0.4). One
/// instance per service, shared by reference; every member is thread-safe. Add a metric here,
/// in `render_prometheus` and in docs/api.md together.
struct Metrics {
    // Calls (the `calls` thread).
    Counter calls_started;     ///< dvd_calls_started_total: calls created (inbound + outbound)
    Counter calls_ended;       ///< dvd_calls_ended_total
    Counter calls_flagged;     ///< dvd_calls_flagged_total: calls that crossed the threshold
    Counter calls_resumed;     ///< dvd_calls_resumed_total: active calls reloaded at start-up
    // Webhooks.
    Counter webhooks_accepted;       ///< dvd_webhooks_total{result="accepted"}
    Counter webhooks_duplicate;      ///< dvd_webhooks_total{result="duplicate"}
    Counter webhooks_bad_signature;  ///< dvd_webhooks_total{result="bad_signature"}
    Counter webhooks_malformed;      ///< dvd_webhooks_total{result="malformed"}
    Counter webhooks_failed;         ///< dvd_webhooks_total{result="error"}: store failure, 500
    // Call Control commands.
    Counter commands_ok;        ///< dvd_commands_total{status="ok"}
    Counter commands_call_ended;  ///< dvd_commands_total{status="call_ended"} (90018)
    Counter commands_failed;    ///< dvd_commands_total{status="failed"}
    Histogram command_seconds;  ///< dvd_command_duration_seconds
    // Media streams.
    Gauge media_streams_active;       ///< dvd_media_streams_active
    Counter media_streams_opened;     ///< dvd_media_streams_total
    Counter media_streams_rejected;   ///< dvd_media_streams_rejected_total: auth/unknown call
    Counter media_streams_errored;    ///< dvd_media_stream_errors_total: closed for bad frames
    /// dvd_media_streams_restarted_total: streams lost mid-call (no `stop`) or never connected
    /// (`streaming.failed`) that the call logic asked Telnyx to start again.
    Counter media_streams_restarted;
    Counter media_frames;             ///< dvd_media_frames_total: media frames received
    Counter media_frames_outbound;    ///< dvd_media_frames_outbound_total: ignored outbound track
    Counter media_bytes;              ///< dvd_media_payload_bytes_total: decoded payload bytes
    Counter media_decode_errors;      ///< dvd_media_decode_errors_total
    Counter media_frames_late;        ///< dvd_media_frames_late_total: dropped by the jitter buffer
    Counter media_frames_lost;        ///< dvd_media_frames_lost_total: gaps (concealed)
    Counter audio_seconds_micro;      ///< dvd_audio_seconds_total (stored in microseconds)
    // Scoring.
    Counter windows_scored;     ///< dvd_windows_scored_total
    Histogram window_seconds;   ///< dvd_window_scoring_duration_seconds (queue wait + model)
    Histogram call_scores;      ///< dvd_call_score: final call-level probability at hang-up
    // Store.
    Counter store_errors;  ///< dvd_store_errors_total: synchronous store calls that failed

    Metrics();
};

/// One extra sample rendered with the metrics (values owned by other layers: uptime, server
/// and store-writer counters).
struct ExtraSample {
    std::string name;  ///< e.g. "dvd_uptime_seconds"
    std::string type;  ///< "gauge" or "counter"
    std::string help;
    double value = 0.0;
};

/// The Prometheus text exposition of `metrics` plus `extra`.
[[nodiscard]] std::string render_prometheus(const Metrics& metrics,
                                            std::span<const ExtraSample> extra);

}  // namespace dvd::service
