#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "alerts/alert_content.hpp"
#include "alerts/delivery.hpp"
#include "base/result.hpp"
#include "config/config.hpp"
#include "http/http_client.hpp"
#include "store/store.hpp"

namespace dvd::alerts {

/// Where alerts go and how hard delivery tries.
struct OutboxOptions {
    /// ALERT_WEBHOOK (Slack incoming webhook); empty: no Slack channel. Secret: never logged.
    std::string slack_webhook_url{};
    /// ALERT_WEBHOOK_JSON (generic JSON webhook); empty: no JSON channel. Secret: never logged.
    std::string json_webhook_url{};
    /// Per HTTP attempt (DNS + connect + TLS + request + response).
    std::chrono::milliseconds request_timeout{5'000};
    /// Delivery attempts per alert, the first included; then the alert is failed for good.
    int max_attempts = 8;
    /// Backoff before retry n (n >= 1): cap = min(max_backoff, base_backoff * 2^(n-1)), wait drawn
    /// uniformly from [cap/2, cap] ("equal jitter": spread out, but never an immediate re-send).
    std::chrono::milliseconds base_backoff{1'000};
    std::chrono::milliseconds max_backoff{60'000};
    /// A server's Retry-After is honoured exactly up to this; longer requests are cut to it.
    std::chrono::milliseconds max_retry_after{15 * 60'000};
    /// The delivery thread re-reads the due alerts at least this often, even when idle.
    std::chrono::milliseconds idle_poll{30'000};
    /// Enqueued alerts waiting for the delivery thread to store them; `enqueue` refuses more.
    std::size_t queue_capacity = 256;
    /// Due alerts read per pass.
    std::int64_t batch_limit = 50;
    /// Storing an enqueued alert fails while its call row is not written yet (foreign key):
    /// it is tried again after create_retry_delay, this many times in all, then dropped.
    int max_create_attempts = 20;
    std::chrono::milliseconds create_retry_delay{250};
};

/// InvalidArgument naming the field unless the URLs are empty or http(s) URLs, durations are
/// positive (max_backoff >= base_backoff), max_attempts, queue_capacity, batch_limit and
/// max_create_attempts >= 1.
[[nodiscard]] base::Result<void> validate(const OutboxOptions& options);

/// The webhook URLs from the configuration; every other option keeps its default.
[[nodiscard]] OutboxOptions outbox_options(const config::Config& config);

/// Reads the wall clock (injected so that tests control time).
using Clock = std::function<std::chrono::system_clock::time_point()>;

/// Makes the HTTP sender of the delivery thread (called on that thread). Default: an
/// `http::HttpClient`.
using SenderFactory = std::function<std::unique_ptr<http::HttpSender>()>;

/// What the outbox needs from its owner.
struct OutboxDeps {
    /// The outbox's own connection (open_store(DATABASE_URL)); used only by the delivery thread
    /// (or by `run_pass` before `start`).
    std::unique_ptr<store::Store> store{};
    SenderFactory make_sender{};  ///< empty: http::HttpClient with default options
    Clock clock{};                ///< empty: std::chrono::system_clock::now
    std::uint64_t seed = 0;       ///< backoff jitter: fixed in tests, random_device in the service
};

enum class EnqueueStatus {
    Queued,      ///< handed to the delivery thread
    NoChannels,  ///< neither webhook is configured: nothing to do
    QueueFull,   ///< queue_capacity alerts are waiting (counted in stats().dropped)
    Invalid,     ///< empty call id or level < 1
    Stopped,     ///< after stop()
};

[[nodiscard]] std::string_view to_string(EnqueueStatus status) noexcept;

/// One delivery attempt made by a pass.
struct DeliveryRecord {
    std::int64_t alert_id = 0;
    std::string call_id{};
    int level = 0;
    store::AlertChannel channel = store::AlertChannel::Slack;
    DeliveryResult result{};
    int attempts = 0;  ///< attempts made so far, this one included
    /// The status the alert row now has (Pending after a retry was scheduled).
    store::AlertStatus status = store::AlertStatus::Pending;
    /// For a retry: how long until the next attempt.
    std::optional<std::chrono::milliseconds> retry_in{};
};

/// What one pass did.
struct PassReport {
    int created = 0;     ///< alert rows stored (new)
    int duplicates = 0;  ///< enqueued alerts whose row existed already (same call, level, channel)
    std::vector<DeliveryRecord> deliveries{};
    bool store_error = false;  ///< a store call failed (the next pass waits a little)
    /// When the next pending alert is due (Unix ms), if any is pending.
    std::optional<store::UnixMs> next_due_ms{};
};

/// Counters for metrics; any thread.
struct OutboxStats {
    std::uint64_t enqueued = 0;    ///< accepted by enqueue (per call and level, not per channel)
    std::uint64_t dropped = 0;     ///< refused by enqueue (queue full) or never stored
    std::uint64_t created = 0;     ///< alert rows created
    std::uint64_t duplicates = 0;  ///< enqueues of an existing (call, level, channel)
    std::uint64_t delivered = 0;
    std::uint64_t retried = 0;  ///< attempts that scheduled a retry
    std::uint64_t failed = 0;   ///< alerts failed for good
    /// The latest delivery attempt did not deliver (a retry was scheduled, or the alert failed)
    /// and none has been delivered since: the webhook is down, refusing, or misconfigured, and
    /// the security team is not hearing about flagged calls.
    bool failing = false;
};

/// Durable alert delivery over the store's `alerts` table (the "outbox" pattern).
///
/// `enqueue(call_id, level, content)` builds the body for every configured channel (the Slack
/// Block Kit message, the JSON alert) and hands it to the delivery thread, which stores one row
/// per (call, level, channel) with `create_alert_if_absent` — so each call and level is announced
/// exactly once per channel, whatever the number of triggers or restarts — and sends due alerts at
/// once (the thread is woken; an alert goes out within milliseconds of `enqueue`). Each attempt is
/// one HTTP POST, judged by `classify_delivery`: delivered -> `mark_alert_sent`; failed for good
/// -> `mark_alert_failed` with the reason; retry -> `mark_alert_retry` at now + Retry-After (or
/// the jittered backoff), until max_attempts, then failed. Waiting for a retry is a database
/// timestamp, not a blocked thread, so one slow webhook does not hold others back beyond one
/// request timeout. At `start` every pending alert of earlier runs is delivered (due ones at
/// once). Delivery is at-least-once: a crash between Slack's `200 ok` and the commit of
/// `mark_alert_sent` re-sends that alert after the restart.
///
/// Threads: `enqueue` and `stats` from any thread (they take one mutex, never block on I/O).
/// `start`, `stop`, `run_pass` and the destructor from the owner. The store connection and the
/// HTTP sender belong to the delivery thread ("alerts"). One outbox per database: two processes
/// delivering from the same alerts table would both send.
class AlertOutbox {
public:
    /// Precondition: validate(options) succeeded and deps.store is set (DVD_CHECK).
    AlertOutbox(OutboxOptions options, OutboxDeps deps);
    ~AlertOutbox();  ///< stop()

    AlertOutbox(const AlertOutbox&) = delete;
    AlertOutbox& operator=(const AlertOutbox&) = delete;

    /// Starts the delivery thread; it delivers pending alerts at once. Call at most once.
    void start();

    /// Stores what is still queued (without sending), lets the current attempt finish (at most
    /// request_timeout), joins the thread. Idempotent; enqueue returns Stopped afterwards.
    void stop();

    /// Queues the alert for (call_id, level) with `content` (its call_id and level are set from
    /// the arguments). Non-blocking. The call row must exist in the store by the time the
    /// delivery thread stores the alert (see max_create_attempts).
    EnqueueStatus enqueue(std::string_view call_id, int level, AlertContent content);

    /// Whether any channel is configured (else enqueue returns NoChannels).
    [[nodiscard]] bool has_channels() const noexcept;

    /// One pass on the calling thread: stores the queued alerts, then makes one attempt for every
    /// due alert (at most batch_limit). For tests and tools; only before `start` (DVD_CHECK).
    PassReport run_pass();

    [[nodiscard]] OutboxStats stats() const;

private:
    struct Request {
        std::string call_id;
        int level = 1;
        std::vector<std::pair<store::AlertChannel, std::string>> payloads;
        int create_attempts = 0;
        std::chrono::system_clock::time_point not_before{};
    };

    void run();
    PassReport pass();
    // Stores queued requests whose time has come; keeps the ones to retry.
    void store_requests(PassReport& report, bool final_flush);
    void deliver(const store::Alert& alert, PassReport& report);
    std::optional<std::string> url_for(store::AlertChannel channel) const;
    std::chrono::milliseconds backoff(int retry);
    std::chrono::system_clock::time_point now() const;
    http::HttpSender& sender();

    const OutboxOptions options_;
    std::unique_ptr<store::Store> store_;  // delivery thread only
    SenderFactory make_sender_;
    Clock clock_;
    std::unique_ptr<http::HttpSender> sender_;  // delivery thread only; made on first use
    std::mt19937_64 rng_;                       // delivery thread only
    std::deque<Request> retry_creates_;         // delivery thread only

    mutable std::mutex mutex_;
    std::condition_variable wake_;
    // ---- guarded by mutex_ ----
    std::deque<Request> queue_;
    bool stopping_ = false;
    bool started_ = false;
    // ---- end guarded ----

    std::atomic<std::uint64_t> enqueued_{0};
    std::atomic<std::uint64_t> dropped_{0};
    std::atomic<std::uint64_t> created_{0};
    std::atomic<std::uint64_t> duplicates_{0};
    std::atomic<std::uint64_t> delivered_{0};
    std::atomic<std::uint64_t> retried_{0};
    std::atomic<std::uint64_t> failed_{0};
    std::atomic<bool> failing_{false};

    std::thread thread_;
};

}  // namespace dvd::alerts
