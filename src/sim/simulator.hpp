#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "sim/call_audio.hpp"
#include "sim/call_scenario.hpp"
#include "sim/fake_services.hpp"
#include "sim/webhook_dispatcher.hpp"

namespace dvd::sim {

/// Everything a Simulator is built from. Times are real time unless marked otherwise.
struct SimulatorOptions {
    /// The service's webhook endpoint, e.g. "http://127.0.0.1:5000/webhooks/voice".
    std::string webhook_url{};
    std::string bind_address = "127.0.0.1";
    std::uint16_t api_port = 0;  ///< 0: ephemeral (see Simulator::port)
    /// RFC 8032 secret key (32-byte seed) for webhook signatures; nullopt: a fresh random key.
    std::optional<std::array<std::uint8_t, 32>> signing_seed{};
    /// Audio, speech and playback run this much faster than real time (> 0).
    double speed = 1.0;
    /// The API key the service must send as `Authorization: Bearer`; "" accepts any non-empty one.
    std::string api_key{};
    std::string connection_id = "1494404757140276705";  ///< of incoming calls
    std::uint64_t id_seed = 0;  ///< seeds ids (event, call, stream); 0: random
    std::chrono::milliseconds answer_timeout{30'000};
    std::chrono::milliseconds stream_start_timeout{10'000};
    std::chrono::milliseconds linger_after_audio{500};
    std::chrono::milliseconds ring_time{300};
    std::chrono::milliseconds ws_connect_timeout{5'000};
    DeliveryOptions delivery{};
    /// What a dialled number says once it answers (POST /v2/calls); nullptr: 3 s of silence.
    std::shared_ptr<const CallAudio> outbound_audio{};
    std::size_t max_recordings = 64;  ///< WAVs kept for GET /recordings/<id>.wav (oldest dropped)
    /// How long a recording URL works after call.recording.saved (Telnyx: 10 minutes); later
    /// requests get S3's 403 "Request has expired". Wall time, whatever `speed`.
    std::chrono::milliseconds recording_url_lifetime{600'000};
    /// Fault injection: the first N media stream connections fail before connecting, as when
    /// the application's endpoint refuses them (`streaming.failed`, `connection_failed`).
    int fail_stream_connects = 0;
};

/// InvalidArgument naming the field: webhook_url not http(s), speed not in (0, 10000], bad
/// delivery options, non-positive timeouts.
[[nodiscard]] base::Result<void> validate(const SimulatorOptions& options);

/// `max_recordings` for `concurrent_calls` calls at once: every call in flight may end, and save
/// its recording, before the service has fetched any of them, so the store holds that many on
/// top of the default 64 (recordings of calls that ended just before). With only 64, 200 calls
/// ending together had 105 recordings dropped before the service asked (404 after 8 tries).
[[nodiscard]] std::size_t recordings_to_keep(int concurrent_calls);

/// One incoming call to place.
struct CallSpec {
    std::shared_ptr<const CallAudio> audio{};  ///< what the caller says; required
    std::string from = "+13125550100";
    std::string to = "+13125550199";
    std::string caller_id_name = "Simulated Caller";
    std::string shaken_stir_attestation = "A";
    bool shaken_stir_validated = true;
};

/// A placed call: its id and a future that is ready once the call has ended, its stream has
/// finished and every webhook has been delivered or given up (or the simulator stopped).
struct CallHandle {
    std::string call_control_id;
    std::shared_future<CallSummary> done;

    /// The summary once complete; nullopt if `timeout` passed first.
    [[nodiscard]] std::optional<CallSummary> wait_for(std::chrono::milliseconds timeout) const;
};

/// Plays Telnyx for tests, demos and new users, in-process and with no global state:
///   * a Call Control API on its own loopback port (`POST /v2/calls/{id}/actions/{action}`,
///     `POST /v2/calls`, `GET /v2/calls/{id}`): bearer check (401 10009), bodies validated
///     against the documented fields (422 with `errors[].source.pointer`), unknown call 404,
///     ended call 422 90018, Telnyx-shaped replies; every command recorded; a repeated
///     `command_id` within 60 s answered without a second effect;
///   * webhooks signed with its own Ed25519 key, delivered with retries (WebhookDispatcher);
///   * media streams to `stream_url` (net::WsClient) from the call's WAV, 20 ms frames paced at
///     real time / speed; then the caller hangs up;
///   * the recordings it announces in call.recording.saved at `GET /recordings/<id>.wav`, as
///     pre-signed links like Telnyx's S3 URLs: only with their `X-Amz-Signature` (else 403
///     SignatureDoesNotMatch) and only for `recording_url_lifetime` (else 403 AccessDenied,
///     "Request has expired");
///   * fake third parties (FakeServices): a Slack incoming webhook at
///     `POST /services/{team}/{bot}/{secret}`, a generic JSON webhook at `POST /alerts/json`,
///     and Telnyx AI Inference at `POST /v2/ai/openai/chat/completions` (also the deprecated
///     `/v2/ai/chat/completions`; bearer checked like the commands), each recording every
///     request and answering from a script or with its default; scripted delays are answered
///     from the timer thread, never by holding the network worker;
///   * a control API for tests and out-of-process runs: `GET /_sim/requests/{slack|json|
///     inference}` (the recorded requests, JSON), `POST /_sim/script/{target}` (a JSON array of
///     replies, FakeServices::parse_script), `POST /_sim/reset`, and
///     `GET /_sim/commands/{call_control_id}` (the Call Control commands a call received, with
///     their bodies), and `POST /_sim/drop-stream/{call_control_id}` (drop_stream).
/// Threads: the net server's worker (API handlers, never blocking), `sim-timers` (call timers,
/// starting streams), `sim-webhook-N` (deliveries), one `sim-stream` thread per live stream.
/// One mutex guards the calls. Public methods are thread-safe.
class Simulator {
public:
    /// Precondition: validate(options) succeeded (checked in start()).
    explicit Simulator(SimulatorOptions options);
    ~Simulator();  ///< stop()
    Simulator(const Simulator&) = delete;
    Simulator& operator=(const Simulator&) = delete;

    /// Binds the API port and starts the threads. Errors: invalid options, a bad signing seed,
    /// the port cannot be bound.
    [[nodiscard]] base::Result<void> start();

    /// Stops everything: the API, timers, streams (each sends `stop`), deliveries. Calls not yet
    /// complete resolve with `completed == false`. Idempotent.
    void stop();

    [[nodiscard]] std::uint16_t port() const;
    /// "http://127.0.0.1:<port>/v2": what the service needs as TELNYX_API_BASE.
    [[nodiscard]] std::string api_base() const;
    /// The fake Slack incoming webhook: "http://127.0.0.1:<port>/services/TSIM/BSIM/simulated".
    [[nodiscard]] std::string slack_webhook_url() const;
    /// The fake generic JSON webhook: "http://127.0.0.1:<port>/alerts/json".
    [[nodiscard]] std::string json_webhook_url() const;
    /// The fake AI Inference: api_base() + "/ai/openai/chat/completions".
    [[nodiscard]] std::string inference_url() const;
    /// Scripts and recorded requests of the fake endpoints.
    [[nodiscard]] FakeServices& fakes();

    /// The webhook signing key in the form the Telnyx portal shows (TELNYX_PUBLIC_KEY).
    [[nodiscard]] std::string public_key_base64() const;

    /// Starts an incoming call: call.initiated (incoming, parked, STIR/SHAKEN) is sent at once.
    /// Errors: not started, no audio.
    [[nodiscard]] base::Result<CallHandle> place_inbound_call(CallSpec spec);

    /// The handle of any call (incoming, or created by a dial); nullopt for an unknown id.
    [[nodiscard]] std::optional<CallHandle> handle(std::string_view call_control_id) const;

    /// Commands received for a call, in order (empty for an unknown id).
    [[nodiscard]] std::vector<CommandRecord> commands(std::string_view call_control_id) const;
    [[nodiscard]] std::optional<CallSummary> summary(std::string_view call_control_id) const;
    [[nodiscard]] std::vector<CallSummary> summaries() const;
    /// Commands that matched no call (unknown id, bad credentials, unknown action).
    [[nodiscard]] std::vector<CommandRecord> unmatched_commands() const;

    /// Makes the next `times` requests for `action` ("answer", ..., "dial") fail with `status`
    /// (429 or 5xx with a Telnyx errors body) before any validation: for retry tests.
    void inject_command_failure(std::string action, int status, int times);

    /// Fault injection: cuts the call's live media stream as a network failure would (no `stop`
    /// frame, no close frame; `streaming.stopped` is sent), the caller talking on. Also
    /// `POST /_sim/drop-stream/{call_control_id}` (200, 404 unknown call, 409 no live stream).
    /// Errors: NotFound (unknown call), InvalidArgument (no live stream).
    [[nodiscard]] base::Result<void> drop_stream(std::string_view call_control_id);

private:
    class Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace dvd::sim
