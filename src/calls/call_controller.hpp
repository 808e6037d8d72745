#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "base/result.hpp"
#include "calls/call_flow.hpp"
#include "config/config.hpp"
#include "http/http_client.hpp"
#include "http/retry.hpp"
#include "net/http_types.hpp"
#include "net/server.hpp"
#include "protocol/webhook.hpp"
#include "service/call_directory.hpp"
#include "service/call_events.hpp"
#include "service/metrics.hpp"
#include "store/store.hpp"

namespace dvd::calls {

/// A call that crossed the detection threshold (the hook for alerts and escalation, issue 4).
struct FlaggedCall {
    std::string call_id{};
    std::string call_control_id{};
    std::string from{};
    std::string to{};
    pipeline::CallScore score{};
    std::int64_t at_ms = 0;  ///< position in the call's inbound audio
    /// "http(s)://host[:port]" under which the service was last reached (webhooks, API); empty
    /// when not known yet. For links in alerts (the dashboard).
    std::string public_base_url{};
};

/// A call that ended (hang-up, or Telnyx 90018): the hook for the final risk analysis.
struct EndedCall {
    std::string call_id{};
    std::string call_control_id{};
    bool flagged = false;
    std::optional<double> final_score{};
    std::optional<double> final_llr{};
    std::string verdict{};
    double speech_seconds = 0.0;
    std::string hangup_cause{};
    std::string public_base_url{};
};

/// What `CallController::escalate` did (FlowDecision::escalation_status, plus "unknown_call"
/// and "unavailable" when the controller is stopped or saturated).
using EscalationReply = std::function<void(std::string_view status)>;

/// Settings of the call logic, built by the server from config::Config (`options_from_config`).
struct CallControllerOptions {
    std::string api_base = std::string(config::kDefaultTelnyxApiBase);  ///< TELNYX_API_BASE
    std::string api_key{};  ///< TELNYX_API_KEY (never logged)
    /// MEDIA_STREAM_URL; empty: derived per webhook from the public base URL (Host /
    /// X-Forwarded-Proto / X-Forwarded-Host, else the webhook's `meta.delivered_to`).
    std::string media_stream_url{};
    CallFlowOptions flow{};       ///< greeting, recording, Telnyx deepfake detection, dial body
    std::string main_number{};    ///< MAIN_NUMBER: caller id of dials
    std::string connection_id{};  ///< CONNECTION_ID: the Call Control application of dials
    double detection_threshold = config::kDefaultDetectionThreshold;
    int command_threads = 2;  ///< commands-0..N-1; a call's commands always go to the same one
    std::size_t queue_capacity = 8192;  ///< tasks waiting on the calls thread (and per commands)
    /// Webhooks are refused with 503 (Telnyx retries) once this many tasks wait on the calls
    /// thread, leaving room for command results and media events.
    std::size_t webhook_queue_limit = 4096;
    std::chrono::milliseconds request_timeout{10'000};  ///< per Call Control attempt
    http::RetryOptions retry{};                         ///< Call Control retries (5xx/429)
    /// A call with no open media stream whose row has not changed for this long is checked
    /// with Telnyx (`GET /calls/{id}`): its `call.hangup` may have been lost (Telnyx gives a
    /// webhook up after its retries), and a call Telnyx says is over ends here. 0: never.
    std::chrono::milliseconds quiet_call_check{600'000};
    /// A stream Telnyx could not connect (`streaming.failed`: our endpoint refused it, e.g. at
    /// the session cap, or was unreachable) is asked for again this long after the failure
    /// (`CallFlow::retry_failed_stream`, at most kMaxStreamsPerCall streams per call).
    std::chrono::milliseconds stream_retry_after{5'000};
    std::chrono::milliseconds sweep_interval{5'000};  ///< how often calls are looked at
    /// Called on the calls thread, once per call, when a call crosses the threshold (alerts and
    /// escalation hook up here in issue 4). Must not block for long.
    std::function<void(const FlaggedCall&)> on_flagged{};
    /// Called on the calls thread, once per call, when the call ends (after its row is stored).
    /// Must not block for long.
    std::function<void(const EndedCall&)> on_call_ended{};
    /// Called on the calls thread after a call.recording.saved row is stored (the recordings
    /// worker downloads it before Telnyx's URLs expire). Must not block.
    std::function<void()> on_recording_saved{};
};

/// The CallControllerOptions that `config` implies.
[[nodiscard]] CallControllerOptions options_from_config(const config::Config& config);

/// What the controller borrows or takes over.
struct CallControllerDeps {
    /// Its own connection, used only on the calls thread (synchronous decisions: de-dup, rows).
    std::unique_ptr<store::Store> store;
    service::CallDirectory& directory;
    service::Metrics& metrics;
    /// One sender per commands thread (libcurl HttpClient in production, fakes in tests); called
    /// on the thread that calls start().
    std::function<std::unique_ptr<http::HttpSender>()> make_sender;
    /// Waits between Call Control retries (SystemSleeper in production). Shared by the commands
    /// threads: must be thread-safe (both SystemSleeper and test fakes guarded by a mutex are).
    http::Sleeper& sleeper;
    /// Wall clock, ms since the Unix epoch (injectable for tests).
    std::function<std::int64_t()> now_ms;
    /// Seeds the Call Control clients' backoff jitter; 0: std::random_device.
    std::uint64_t seed = 0;
};

/// The answer to `POST /calls` (dial): what the API returns.
struct DialResult {
    std::string call_id{};
    std::string call_control_id{};
    std::string status = "initiated";
    std::string from{};
    std::string to{};
};

/// What happened to a submitted webhook, for the reply callback's caller and for tests.
enum class WebhookReply { Accepted, Duplicate, Busy, Failed };

/// The only owner of call state. Runs on its own `calls` thread (service::TaskThread): webhook
/// events, media events and command results are posted to it and handled in order; it decides
/// with the pure `CallFlow`, persists through its own Store connection, puts stream grants into
/// the CallDirectory, and hands Call Control commands to `commands-0..N-1` threads (each with
/// its own HttpSender + telnyx::CallControlClient), whose outcomes are posted back.
///
/// Guarantees: a webhook is answered 200 only after its de-duplication row committed, so an
/// acknowledged event is never lost; the event is marked processed once its commands finished
/// (a crash before that re-runs it at start, with the same deterministic command ids). A
/// duplicate (`data.id` seen before) is answered `{"status":"duplicate"}` and does nothing.
///
/// Threads: every public method may be called from any thread and returns at once (posts);
/// start/stop from the owner.
class CallController final : public service::CallEventSink {
public:
    CallController(CallControllerOptions options, CallControllerDeps deps);
    ~CallController() override;  ///< stop() with a 5 s deadline if still running
    CallController(const CallController&) = delete;
    CallController& operator=(const CallController&) = delete;

    /// Starts the calls and commands threads, then (on the calls thread, before any webhook)
    /// recovers: re-grants every active call that had a stream token (checkpoint from its stored
    /// timeline), asks Telnyx whether each active call is still up (`GET /calls/{id}`; one that
    /// ended while the service was down, its `call.hangup` given up, ends here:
    /// `CallFlow::on_call_status`) and re-runs the unprocessed webhook events. Fails when the
    /// options are invalid (api key/base) or the store cannot list what to recover.
    [[nodiscard]] base::Result<void> start();

    /// Sends the `streaming_start` of each recovered call that was being streamed
    /// (`CallFlow::on_recovered`), which `start` planned and held back: Telnyx connects to the
    /// media endpoint at once, so the service calls this once it listens. A call's goes out once
    /// Telnyx also said it is still up (or could not say); none for one that ended. Later calls
    /// do nothing.
    void resume_media_streams();

    /// Refuses new work, lets commands in flight finish (queued ones that have not started are
    /// skipped: their events stay unprocessed and re-run at the next start; retry waits are cut
    /// short), drains the calls thread and joins everything. Idempotent. Threads cannot be
    /// interrupted inside one HTTP attempt, so stop may overrun `deadline` by up to one request
    /// timeout.
    void stop(std::chrono::steady_clock::time_point deadline);

    /// From the webhook endpoint (worker thread): the verified, parsed event, its raw body
    /// (stored for audit and replay) and the public base URL of this request. `responder` is
    /// answered on the calls thread after the de-dup commit: 200 {"status":"ok"} or
    /// {"status":"duplicate"}; 500 on a store failure; 503 + Retry-After: 1 at once when the
    /// calls thread is saturated or stopped.
    void submit_webhook(protocol::WebhookEvent event, std::string raw_body,
                        std::string public_base_url, net::Responder responder);

    /// Same, with the reply as a callback (tests, and any transport other than net).
    void submit_webhook(protocol::WebhookEvent event, std::string raw_body,
                        std::string public_base_url, std::function<void(net::Response)> reply);

    /// POST /calls: dials `to` from MAIN_NUMBER over CONNECTION_ID. `done` is called exactly
    /// once: the new call (on the calls thread, after its row is stored), or InvalidArgument (not
    /// configured for dials, bad number: called before dial returns), Unsupported
    /// (stopped/saturated), Runtime (Telnyx refused or failed: its one-line message).
    void dial(std::string to, std::string public_base_url,
              std::function<void(base::Result<DialResult>)> done);

    /// Applies ESCALATION_POLICY `policy` to a flagged call (`CallFlow::on_escalate`): speak a
    /// warning, transfer to SECURITY_NUMBER or hang up, with deterministic command ids, at most
    /// once per call (the row's `escalation` is stored before the command is sent, so neither a
    /// restart nor a second request repeats it). `call_id` is ours. `done` (optional) is called
    /// once, on the calls thread (or at once when refused), with the status: "issued",
    /// "already_escalated", "call_ended", "not_answered", "no_security_number", "policy_none",
    /// "unknown_call" or "unavailable".
    void escalate(std::string call_id, config::EscalationPolicy policy, std::string reason,
                  EscalationReply done = {});

    // service::CallEventSink: thread-safe, posts to the calls thread (dropped and counted when
    // the calls thread is saturated).
    void on_stream_started(service::StreamStarted event) override;
    void on_score_changed(service::ScoreChanged event) override;
    void on_stream_ended(service::StreamEnded event) override;

    /// Events/results dropped because the calls thread was saturated.
    [[nodiscard]] std::uint64_t dropped() const noexcept {
        return dropped_.load(std::memory_order_relaxed);
    }

    /// Calls the calls thread currently keeps in memory (active ones, mostly).
    [[nodiscard]] std::size_t tracked_calls() const noexcept {
        return tracked_.load(std::memory_order_relaxed);
    }

    /// Blocks until every task queued so far on the calls and commands threads ran (tests).
    /// Returns false when it did not drain before `timeout`.
    bool wait_idle(std::chrono::milliseconds timeout);

private:
    class Impl;
    std::unique_ptr<Impl> impl_;
    std::atomic<std::uint64_t> dropped_{0};
    std::atomic<std::size_t> tracked_{0};
};

}  // namespace dvd::calls
