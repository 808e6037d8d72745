#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "config/config.hpp"
#include "pipeline/streaming_scorer.hpp"
#include "protocol/call_control.hpp"
#include "protocol/webhook.hpp"
#include "service/call_directory.hpp"
#include "service/call_events.hpp"
#include "store/types.hpp"

namespace dvd::calls {

/// At most this many media streams per call (the first, and each started again after a restart
/// or a lost connection): a stream that keeps failing is not started again forever.
inline constexpr int kMaxStreamsPerCall = 10;

/// The Call Control commands the call logic sends (names as in the command log and the URL).
enum class CommandKind {
    Answer,
    Speak,
    StreamingStart,
    RecordStart,
    StreamingStop,
    Hangup,
    Dial,
    Transfer,
};

[[nodiscard]] std::string_view to_string(CommandKind kind) noexcept;
/// Inverse of to_string; nullopt for any other name.
[[nodiscard]] std::optional<CommandKind> parse_command_kind(std::string_view name) noexcept;

/// Which commands were already issued for one call: the memory that keeps duplicated or
/// re-ordered webhooks (two `call.answered` with different ids) from sending a second answer or
/// streaming_start. Rebuilt from the command log after a restart (`flow_from_history`).
struct FlowState {
    bool answer_issued = false;
    bool greeting_issued = false;
    bool record_start_issued = false;
    bool hangup_issued = false;
    /// The escalation of a flagged call (ESCALATION_POLICY) was issued: never again for this
    /// call. Rebuilt from the call row's `escalation` column.
    bool escalation_issued = false;
    /// Outbound call whose dial body already carried the stream (then no streaming_start).
    bool stream_in_dial = false;
    /// Outbound call whose dial body already carried record-from-answer (then no record_start).
    bool record_in_dial = false;
    /// A media stream of this call is open in this process (StreamStarted, until StreamEnded):
    /// a `streaming.stopped` / `streaming.failed` webhook then belongs to an earlier stream (one
    /// the process lost in a restart, reported late) and leaves the state alone.
    bool media_live = false;
    /// streaming_start commands issued for the call (the first, and each resume or restart;
    /// `issued(StreamingStart)` once there is one), and the URL of the latest: a lost stream is
    /// started again there. Rebuilt from the command log. A `streaming.failed` that reached the
    /// service at another address (FlowInputs::stream_url) moves it there for the retry.
    int stream_starts = 0;
    std::string stream_url{};
    /// When Telnyx reported `streaming.failed` for the call's stream (it never connected: our
    /// endpoint refused it or was unreachable); cleared when a stream starts or a new one is
    /// asked for. The controller asks again after a delay (`retry_failed_stream`).
    std::optional<store::UnixMs> stream_failed_at_ms{};
    /// The latest call-level score reported by the media session (ScoreChanged / StreamEnded).
    std::optional<pipeline::CallScore> latest_score{};

    [[nodiscard]] bool issued(CommandKind kind) const noexcept;
    /// Records one more command of `kind` (streaming_start is counted: `stream_starts`).
    void mark_issued(CommandKind kind) noexcept;

    bool operator==(const FlowState&) const = default;
};

/// One call as the `calls` thread keeps it: the stored row plus its flow state.
struct CallRecord {
    store::Call call{};
    FlowState flow{};
};

/// The call logic's settings (a part of `CallControllerOptions`).
struct CallFlowOptions {
    /// Spoken once the call is answered (`speak`, text, ServiceLevel::Basic). Empty: no greeting.
    std::string greeting_text = "This call is being analysed for your security. Please go ahead.";
    std::string greeting_voice = "female";  ///< with service_level basic (doc section 2.4)
    std::string greeting_language = "en-US";
    bool record_calls = true;  ///< record_start (wav, single) on answer
    /// Ask Telnyx for its own deepfake detection (`deepfake_detection` on answer and dial).
    bool telnyx_deepfake_detection = false;
    /// Dial with `stream_url` in the body (the stream then starts on answer without a
    /// `stream_auth_token`, which the dial body cannot carry) instead of a streaming_start with a
    /// per-call token after `call.answered` (default, safer).
    bool dial_stream_in_body = false;
    /// Dial with record-from-answer in the body instead of a record_start after answer.
    bool dial_record_in_body = true;
    /// ESCALATION_POLICY=warn: spoken to the caller (`speak`, the greeting's voice and language,
    /// service_level basic) once the call is flagged.
    std::string escalation_warning_text =
            "Warning: our security system suspects that this call uses an artificial or cloned "
            "voice. Do not share passwords, codes or payment details.";
    /// ESCALATION_POLICY=transfer: SECURITY_NUMBER, the number that receives flagged calls.
    std::string security_number{};
};

/// Values the pure flow cannot make itself (clock, randomness, derived URLs): the controller
/// computes them before each step.
struct FlowInputs {
    store::UnixMs now_ms = 0;
    /// wss:// URL for streaming_start: MEDIA_STREAM_URL, or derived from the public base URL.
    /// Empty: no stream can be started (the call gets last_error).
    std::string stream_url{};
    /// Our id for a call this step creates (see `call_id_for`).
    std::string new_call_id{};
    /// The stream secret for a streaming_start this step plans (`service::new_secret_token`).
    std::string new_stream_token{};
};

/// One Call Control command to send. `command` holds the protocol body (command_id already set).
struct PlannedCommand {
    CommandKind kind = CommandKind::Answer;
    std::string call_id{};
    std::string call_control_id{};
    std::string command_id{};
    std::variant<protocol::AnswerCommand, protocol::SpeakCommand, protocol::StreamingStartCommand,
                 protocol::RecordStartCommand, protocol::StreamingStopCommand,
                 protocol::HangupCommand, protocol::DialCommand, protocol::TransferCommand>
            command{};
};

/// What one step decided. The controller applies it in this order: `grant` (into the
/// CallDirectory, so it exists before streaming_start is sent), upsert `record.call` when
/// `call_changed`, `recording`, `revoke`, then sends `commands` in order on one commands thread.
struct FlowDecision {
    CallRecord record{};
    bool call_created = false;  ///< the step created the call (metrics calls_started)
    bool call_changed = false;  ///< the row must be written
    bool call_ended = false;    ///< the step moved the call to a terminal state (calls_ended)
    bool ignored = false;       ///< nothing to do (unknown event type, event for an ended call)
    bool flagged_now = false;   ///< crossed the detection threshold in this step
    /// For `on_escalate`: "issued", or why nothing was sent ("already_escalated", "call_ended",
    /// "not_answered", "no_security_number", "policy_none").
    std::string escalation_status{};
    std::vector<PlannedCommand> commands{};
    std::optional<service::StreamGrant> grant{};
    bool revoke = false;  ///< remove the call's grant (the call is over)
    std::optional<store::Recording> recording{};
    std::vector<std::string> notes{};  ///< human-readable lines for the log (no secrets)
};

/// The pure call state machine. No I/O, no clock, no randomness: every input is an argument, so
/// every event x state pair is a table test. Thread: any (it has no state).
///
/// Inbound: call.initiated (incoming) -> answer (+ deepfake_detection when enabled);
/// call.answered -> speak greeting, grant + streaming_start (inbound_track, per-call token),
/// record_start (wav, single). Outbound: dial is planned by `plan_dial`; call.initiated
/// (outgoing) answers nothing; call.answered starts the same greeting/stream/record, except what
/// the dial body already carried. streaming.started/stopped/failed -> state and last_error;
/// call.recording.saved -> a Recording; call.hangup -> Ended, duration, hangup cause, final score
/// from the latest ScoreChanged, revoke; call.deepfake_detection.* -> Telnyx's verdict fields.
/// An event for an unknown call creates the call from what it carries; an event for an ended
/// call never sends a command. Unknown event types are ignored.
class CallFlow {
public:
    explicit CallFlow(CallFlowOptions options) : options_(std::move(options)) {}

    /// `current`: the call the event belongs to, or nullopt when none is known (then the event
    /// creates it, with `inputs.new_call_id`, unless the event type does not describe a call).
    [[nodiscard]] FlowDecision on_webhook(const std::optional<CallRecord>& current,
                                          const protocol::WebhookEvent& event,
                                          const FlowInputs& inputs) const;

    /// A media stream's start frame was accepted: stream_id, state Streaming.
    [[nodiscard]] FlowDecision on_stream_started(const CallRecord& current,
                                                 const service::StreamStarted& event,
                                                 const FlowInputs& inputs) const;

    /// The latest score; `crossed_threshold` flags the call (once).
    [[nodiscard]] FlowDecision on_score_changed(const CallRecord& current,
                                                const service::ScoreChanged& event,
                                                const FlowInputs& inputs) const;

    /// After a service restart, for an active call (`current.flow` rebuilt by
    /// `flow_from_history` from its row and command log): its media stream ended with the old
    /// process (Telnyx ends a stream whose WebSocket closes and does not connect it again), so a
    /// call that was being streamed gets a new `streaming_start` (same per-call token and track;
    /// the URL from `inputs.stream_url`, else the one the last `streaming_start` used; a command
    /// id of its own per restart: `resume-N`), and the rest of the call is scored, its scorer
    /// and indicators going on from the checkpoint. Nothing for a call not yet answered, hanging
    /// up, streamed from its dial body (no token to present) or never streamed, or one that
    /// already had kMaxStreamsPerCall streams.
    [[nodiscard]] FlowDecision on_recovered(const CallRecord& current,
                                            const FlowInputs& inputs) const;

    /// A stream Telnyx could not connect (`flow.stream_failed_at_ms`), after the controller's
    /// delay: a new `streaming_start` like a lost stream's (step `retry-N`), unless the call
    /// cannot have one (as for on_stream_ended; then a note says why). Clears the failure.
    [[nodiscard]] FlowDecision retry_failed_stream(const CallRecord& current,
                                                   const FlowInputs& inputs) const;

    /// The media stream ended; with `error` the reason becomes last_error. A stream `lost` while
    /// the call goes on (the connection went away without Telnyx's `stop`: a network failure,
    /// or nothing heard for the idle timeout) is started again: a new `streaming_start` to the
    /// URL the last one used, same token and track, a command id of its own (`restart-N`), at
    /// most kMaxStreamsPerCall streams per call; Telnyx picks the caller up where they are and
    /// the scorer goes on from the call directory's checkpoint. Nothing for a call not
    /// answered, ended or hanging up, or streamed from its dial body.
    [[nodiscard]] FlowDecision on_stream_ended(const CallRecord& current,
                                               const service::StreamEnded& event,
                                               const FlowInputs& inputs) const;

    /// How a command of this call ended (`status` as in telnyx::CommandStatus names: "ok",
    /// "call_ended", "rejected", ...). A failure sets last_error; call_ended (Telnyx 90018) ends
    /// the call normally (state Ended, grant revoked) unless it already ended.
    [[nodiscard]] FlowDecision on_command_result(const CallRecord& current, CommandKind kind,
                                                 std::string_view status, std::string_view message,
                                                 const FlowInputs& inputs) const;

    /// Telnyx's answer to "Retrieve a call status" for a call recovered after a restart, or one
    /// that has been quiet for long (its `call.hangup` may have been given up by Telnyx while
    /// the service was down or refused it): `status` nullopt when
    /// Telnyx no longer knows the call (404: its data is kept 10 minutes after the end). A call
    /// not alive (or unknown) ends here: state Ended, ended_at from `end_time` (else now),
    /// duration, the final score, grant revoked, last_error saying so; hangup_cause stays empty
    /// for a late `call.hangup` to fill. Nothing for a live call or one that already ended.
    [[nodiscard]] FlowDecision on_call_status(const CallRecord& current,
                                              const std::optional<protocol::CallStatus>& status,
                                              const FlowInputs& inputs) const;

    /// Escalates a flagged call under `policy` (ESCALATION_POLICY), at most once per call: warn
    /// -> `speak` of escalation_warning_text; transfer -> `transfer` to security_number; hangup
    /// -> `hangup`. Command ids are deterministic (step "escalation"), and the call row records
    /// `escalation` + `escalated_at_ms` (persisted before the command is sent), so a restart, a
    /// duplicate webhook or a second request never repeats it. Nothing is sent for an ended call,
    /// a call not answered yet (except hangup), policy none, or transfer without a number;
    /// `escalation_status` says which.
    [[nodiscard]] FlowDecision on_escalate(const CallRecord& current,
                                           config::EscalationPolicy policy,
                                           std::string_view reason,
                                           const FlowInputs& inputs) const;

    /// The dial command for `POST /calls` to `to` (from/connection_id from the arguments), with
    /// record/stream/deepfake options per CallFlowOptions. `command_id` is the caller's.
    [[nodiscard]] PlannedCommand plan_dial(std::string_view to, std::string_view from,
                                           std::string_view connection_id,
                                           std::string_view command_id,
                                           const FlowInputs& inputs) const;

    /// The call row for a dial that Telnyx accepted (direction Outbound, state Initiated), merged
    /// into `current` when a webhook of that call already created it.
    [[nodiscard]] FlowDecision on_dial_accepted(const std::optional<CallRecord>& current,
                                                const protocol::DialResult& result,
                                                std::string_view to, std::string_view from,
                                                const FlowInputs& inputs) const;

    [[nodiscard]] const CallFlowOptions& options() const noexcept { return options_; }

private:
    CallFlowOptions options_;
};

/// Rebuilds the flow state of a stored call from its command log (after a restart): every
/// logged command counts as issued; stream_starts and stream_url from the logged
/// streaming_starts; a logged dial sets stream_in_dial/record_in_dial from its
/// request body; escalation_issued from the row's `escalation`. `latest_score` comes from the
/// call's stored final_score/llr/verdict.
[[nodiscard]] FlowState flow_from_history(const store::Call& call,
                                          const std::vector<store::CommandLog>& log);

/// Where a stream resumes after a restart, from the call's stored score timeline (all points, in
/// seq order): windows = number of points, llr_sum = sum of window_llr, speech frames from the
/// last point's speech_seconds (10 ms frames), next_seq = last seq + 1, audio offset = last at_ms.
[[nodiscard]] service::StreamGrant grant_from_timeline(
        const store::Call& call, const std::vector<store::ScorePoint>& points);

/// Deterministic UUID-shaped id (libsodium BLAKE2b of the parts, version nibble 4 and RFC 9562
/// variant bits set): the same (call_control_id, action, step) always gives the same
/// command_id, so a command re-sent after a restart is de-duplicated by Telnyx.
[[nodiscard]] std::string command_id_for(std::string_view call_control_id, CommandKind kind,
                                         std::string_view step);

/// Our call id for a Telnyx call: a UUID-shaped hash of its call_control_id (so an event that
/// arrives before its call exists, or after a restart, maps to the same id).
[[nodiscard]] std::string call_id_for(std::string_view call_control_id);

/// The media WebSocket URL under a public base URL: "https://h" -> "wss://h/media",
/// "http://h:5000" -> "ws://h:5000/media". Empty for an empty or non-http(s) base.
[[nodiscard]] std::string stream_url_from_base(std::string_view public_base_url);

/// The scheme://host[:port] part of an absolute http(s) URL (e.g. a webhook's
/// `meta.delivered_to`); empty when it is not one.
[[nodiscard]] std::string base_of_url(std::string_view url);

}  // namespace dvd::calls
