#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "http/http_client.hpp"
#include "protocol/signature.hpp"
#include "sim/call_scenario.hpp"
#include "sim/webhook_events.hpp"

namespace dvd::sim {

/// How webhooks are delivered, and the faults a test can ask for.
struct DeliveryOptions {
    int threads = 2;  ///< delivery threads; one call's events always use the same thread
    /// Attempts in total, the first included. Telnyx retries 408, 429, 5xx and timeouts with
    /// exponential backoff (telnyx-protocol.md section 5); other statuses end the delivery.
    int max_attempts = 4;
    std::chrono::milliseconds first_retry_delay{1000};  ///< doubles each retry
    std::chrono::milliseconds max_retry_delay{8000};
    std::chrono::milliseconds request_timeout{2000};  ///< Telnyx waits 2000 ms for a reply
    // ---- fault injection (tests) ----
    std::chrono::seconds timestamp_offset{0};       ///< added to telnyx-timestamp: stale signatures
    bool forge_signatures = false;                  ///< sign with a key nobody knows
    std::set<std::string> duplicate_event_types{};  ///< delivered twice, same data.id
    /// Held back and delivered right after the call's next event (or after hold_back_timeout
    /// when no other event follows): out-of-order delivery.
    std::set<std::string> hold_back_event_types{};
    std::chrono::milliseconds hold_back_timeout{1000};
};

/// InvalidArgument unless threads >= 1, max_attempts >= 1, delays >= 0, timeout > 0.
[[nodiscard]] base::Result<void> validate(const DeliveryOptions& options);

/// Delivers webhooks the way Telnyx does: POST with the section 1.1 envelope, signed per
/// attempt (`meta.attempt` changes the body), retried with backoff on 408/429/5xx and transport
/// failures. Threads `sim-webhook-N` each own an HttpSender; a call's events go to one thread
/// in the order they were enqueued (unless hold-back is asked for). `on_done` runs on a
/// delivery thread (or in stop() for what was never sent), once per event, without any
/// dispatcher lock held.
class WebhookDispatcher {
public:
    using Completion = std::function<void(const std::string& call_control_id, EventRecord record)>;
    using SenderFactory = std::function<std::unique_ptr<http::HttpSender>()>;

    /// Precondition: validate(options) succeeded (checked). `make_sender` runs on each delivery
    /// thread; the default makes an http::HttpClient that ignores proxy variables.
    WebhookDispatcher(DeliveryOptions options, protocol::Ed25519KeyPair keys, Completion on_done,
                      SenderFactory make_sender = {});
    ~WebhookDispatcher();
    WebhookDispatcher(const WebhookDispatcher&) = delete;
    WebhookDispatcher& operator=(const WebhookDispatcher&) = delete;

    void start();

    /// Queues one event (never blocks on the network). False, with nothing queued and no
    /// `on_done`, once stop() has begun: the caller accounts for it (it may hold its own lock, so
    /// no callback runs from here). Thread-safe.
    [[nodiscard]] bool enqueue(OutgoingWebhook webhook);

    /// Stops the threads: an attempt in flight finishes, backoff waits end at once, and what is
    /// still queued or held is reported as not delivered ("simulator stopped"). Idempotent.
    void stop();

private:
    struct Held {
        OutgoingWebhook webhook;
        std::chrono::steady_clock::time_point deadline;
    };

    struct Lane {
        std::deque<OutgoingWebhook> queue;
        std::map<std::string, Held> held;  // call_control_id -> event held back
        std::thread thread;
    };

    void run(std::size_t lane_index);
    EventRecord deliver(http::HttpSender& sender, const OutgoingWebhook& webhook, bool held_back);
    int post(http::HttpSender& sender, const OutgoingWebhook& webhook, int attempt,
             std::string& error);
    bool wait_backoff(std::chrono::milliseconds delay);

    DeliveryOptions options_;
    protocol::Ed25519KeyPair keys_;
    Completion on_done_;
    SenderFactory make_sender_;
    std::mutex mutex_;
    std::condition_variable wake_;
    bool started_ = false;     // guarded by mutex_
    bool stopping_ = false;    // guarded by mutex_
    std::vector<Lane> lanes_;  // queues and held maps guarded by mutex_
};

}  // namespace dvd::sim
