#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <string_view>

#include "base/result.hpp"
#include "http/http_client.hpp"
#include "http/retry.hpp"
#include "protocol/call_control.hpp"

namespace dvd::telnyx {

/// Where and how Call Control commands are sent.
struct CallControlOptions {
    /// TELNYX_API_BASE: "https://api.telnyx.com/v2", or a simulator's "http://127.0.0.1:PORT/v2".
    /// A trailing '/' is ignored.
    std::string api_base = std::string(protocol::kTelnyxApiBase);
    /// TELNYX_API_KEY, sent as `Authorization: Bearer <key>`. Never logged or put in messages.
    std::string api_key{};
    /// Per attempt: DNS + connect + TLS + request + response.
    std::chrono::milliseconds request_timeout{10'000};
    /// Retries of 408/429/5xx and of transient transport errors. Safe because every attempt of
    /// one command carries the same `command_id`, which Telnyx de-duplicates for 60 s.
    http::RetryOptions retry{};
};

/// InvalidArgument, naming the field, unless api_base is an http(s) URL, api_key is non-empty
/// printable ASCII without spaces, request_timeout > 0 and the retry options are valid.
[[nodiscard]] base::Result<void> validate(const CallControlOptions& options);

/// How one logical command ended.
enum class CommandStatus {
    Ok,         ///< 2xx: Telnyx accepted the command
    CallEnded,  ///< 422 with code 90018: the call is already over; a normal end, not a failure
    Rejected,   ///< a final error reply (401, 403, 404, other 422, ...); not retried
    RetriesExhausted,  ///< 408/429/5xx on every attempt, or the server asked to wait too long
    TransportError,    ///< no HTTP reply (DNS, connect, TLS, timeout) after the allowed attempts
    InvalidCommand,    ///< the protocol layer refused to build the command; nothing was sent
    BadReply,          ///< 2xx whose body lacks what we need (dial without call_control_id)
    Cancelled,         ///< the Sleeper refused to wait for a retry (shutdown)
};

[[nodiscard]] std::string_view to_string(CommandStatus status) noexcept;

/// Everything the service records on the call about one command.
struct CommandOutcome {
    CommandStatus status = CommandStatus::Ok;
    std::string action{};      ///< "answer", "speak", ..., "dial"
    std::string command_id{};  ///< the id sent with every attempt
    int http_status = 0;       ///< of the last reply; 0 when there was none
    int attempts = 0;          ///< HTTP attempts made (0 for InvalidCommand)
    /// From the first entry of a Telnyx `errors` array, when the reply had one.
    std::string error_code{};  ///< e.g. "90018", "10009"
    std::string error_title{};
    std::string error_detail{};
    /// One line for logs and the call record, e.g. "hangup: HTTP 401 10009 Authentication failed
    /// after 1 attempt". Never holds the API key.
    std::string message{};
    /// `data.recording_id` of an answer with record-from-answer, when Telnyx sent one.
    std::string recording_id{};
    /// The wait Telnyx asked for in its last reply (Retry-After / x-ratelimit-reset), if any.
    std::optional<std::chrono::milliseconds> server_delay{};

    /// Ok or CallEnded: nothing to record as a failure.
    [[nodiscard]] bool is_normal() const noexcept {
        return status == CommandStatus::Ok || status == CommandStatus::CallEnded;
    }
};

/// `POST /calls`: the outcome and, when Ok, the new call's ids.
struct DialOutcome {
    CommandOutcome outcome{};
    protocol::DialResult call{};
};

/// `GET /calls/{call_control_id}`: the outcome and, when Ok, the call's status. A call Telnyx no
/// longer knows (its data is kept 10 minutes after the end) is Rejected with http_status 404.
struct CallStatusOutcome {
    CommandOutcome outcome{};
    protocol::CallStatus call{};
};

/// Sends Call Control commands (telnyx-protocol.md section 2) built by `protocol::build_*` to
/// `{api_base}/calls/{call_control_id}/actions/{action}` (and `POST {api_base}/calls` for dial),
/// with `Authorization: Bearer`, `Content-Type: application/json`, and retries through
/// `http::send_with_retries`, classified by `protocol::classify_command_response`.
///
/// A command whose `command_id` is empty gets a fresh UUIDv4; the same id goes with every retry of
/// that command (a caller that persists commands may set its own id to keep de-duplication across
/// restarts). Outcomes are values; nothing throws.
///
/// Threads: blocking (up to attempts x timeout + waits). Owned by one thread, like the
/// `HttpSender` and `Sleeper` it borrows, which must outlive it. Never use it on a network worker.
class CallControlClient {
public:
    /// Precondition: validate(options) succeeded (DVD_CHECK). `seed` drives both the command ids
    /// and the backoff jitter: fixed in tests, from std::random_device in the service.
    CallControlClient(CallControlOptions options, http::HttpSender& sender, http::Sleeper& sleeper,
                      std::uint64_t seed);

    [[nodiscard]] CommandOutcome answer(std::string_view call_control_id,
                                        protocol::AnswerCommand command);
    [[nodiscard]] CommandOutcome speak(std::string_view call_control_id,
                                       protocol::SpeakCommand command);
    [[nodiscard]] CommandOutcome streaming_start(std::string_view call_control_id,
                                                 protocol::StreamingStartCommand command);
    [[nodiscard]] CommandOutcome streaming_stop(std::string_view call_control_id,
                                                protocol::StreamingStopCommand command);
    [[nodiscard]] CommandOutcome record_start(std::string_view call_control_id,
                                              protocol::RecordStartCommand command);
    [[nodiscard]] CommandOutcome record_stop(std::string_view call_control_id,
                                             protocol::RecordStopCommand command);
    [[nodiscard]] CommandOutcome hangup(std::string_view call_control_id,
                                        protocol::HangupCommand command);
    [[nodiscard]] CommandOutcome transfer(std::string_view call_control_id,
                                          protocol::TransferCommand command);
    [[nodiscard]] CommandOutcome playback_start(std::string_view call_control_id,
                                                protocol::PlaybackStartCommand command);
    [[nodiscard]] DialOutcome dial(protocol::DialCommand command);
    /// Retrieve a call status (a GET, retried like a command; no command id).
    [[nodiscard]] CallStatusOutcome call_status(std::string_view call_control_id);

    /// A fresh random UUIDv4 (RFC 9562 section 5.4), e.g. for a command the caller persists.
    [[nodiscard]] std::string next_command_id();

private:
    /// Reads what the caller needs from a 2xx body (dial: the new call's ids; call_status: the
    /// status); an error makes the outcome BadReply. Empty: a command's optional result.
    using ReplyReader = std::function<base::Result<void>(std::string_view body)>;

    // Fills in the command id, builds the request and sends it.
    template <class Command, class Build>
    CommandOutcome run(std::string_view action, Command& command, Build&& build,
                       const ReplyReader& read_ok = {});

    CommandOutcome execute(std::string_view action, std::string command_id,
                           const protocol::CommandRequest& request, const ReplyReader& read_ok);

    CallControlOptions options_;
    http::HttpSender& sender_;
    http::Sleeper& sleeper_;
    http::RetryPolicy retry_;
    std::mt19937_64 ids_;
};

}  // namespace dvd::telnyx
