#pragma once

#include <chrono>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/result.hpp"

namespace dvd::store {

/// Every timestamp in the store is an int64 count of milliseconds since the Unix epoch, UTC
/// (`*_at_ms`). Integers sort and compare exactly in SQL and in C++, cost 8 bytes, and convert to
/// ISO-8601 at the edge (the JSON API) only. Durations are seconds as double (`*_seconds`).
using UnixMs = std::int64_t;

/// "Due at the end of time": asking for the rows due by then finds the earliest one.
inline constexpr UnixMs kEndOfTime = std::numeric_limits<UnixMs>::max();

/// A wall-clock time point as Unix ms.
[[nodiscard]] inline UnixMs to_unix_ms(std::chrono::system_clock::time_point time) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count();
}

/// Text fields: an empty string means "not known" and is stored as SQL NULL.
/// Every field has a default member initializer, so designated initializers may name only some
/// (`Recording{.call_id = id, .wav_url = url}`) without GCC's -Wmissing-field-initializers.

enum class CallDirection { Inbound, Outbound };

/// Life of a call. `Ended` and `Failed` are terminal; every other state is "active".
enum class CallState { Initiated, Answered, Streaming, Ended, Failed };

enum class AlertChannel { Slack, Json };

/// `Pending` alerts are (re)tried at `next_attempt_at_ms`; `Sent` and `Failed` are terminal.
enum class AlertStatus { Pending, Sent, Failed };

/// Where the service's own copy of a recording stands (table `recordings`, schema version 4).
enum class ArchiveStatus {
    Pending,  ///< to be downloaded (or waiting for a retry)
    Stored,   ///< the file is under RECORDINGS_DIR
    Failed,   ///< given up: the URLs expired, the body was refused, retries ran out
    Deleted,  ///< stored, then removed by the retention policy (size, hash and time are kept)
};

/// The lowercase names used in the database and the JSON API ("inbound", "streaming", "slack").
std::string_view to_string(CallDirection direction);
std::string_view to_string(CallState state);
std::string_view to_string(AlertChannel channel);
std::string_view to_string(AlertStatus status);

/// Inverse of `to_string`; InvalidArgument for any other text.
[[nodiscard]] base::Result<CallDirection> parse_call_direction(std::string_view text);
[[nodiscard]] base::Result<CallState> parse_call_state(std::string_view text);
[[nodiscard]] base::Result<AlertChannel> parse_alert_channel(std::string_view text);
[[nodiscard]] base::Result<AlertStatus> parse_alert_status(std::string_view text);
std::string_view to_string(ArchiveStatus status);
[[nodiscard]] base::Result<ArchiveStatus> parse_archive_status(std::string_view text);

/// True for `Ended` and `Failed`.
bool is_terminal(CallState state);

/// One phone call, inbound or outbound (table `calls`).
struct Call {
    std::string id{};               ///< our call id (primary key), never empty
    std::string call_control_id{};  ///< Telnyx `call_control_id`; unique when set
    std::string call_leg_id{};      ///< Telnyx `call_leg_id`
    std::string call_session_id{};  ///< Telnyx `call_session_id`
    CallDirection direction = CallDirection::Inbound;
    std::string from{};  ///< caller, E.164 as Telnyx sent it
    std::string to{};    ///< callee, E.164
    CallState state = CallState::Initiated;
    UnixMs started_at_ms = 0;  ///< when the call was initiated (sort key "time", filter "since")
    std::optional<UnixMs> answered_at_ms{};
    std::optional<UnixMs> ended_at_ms{};
    std::optional<double> duration_seconds{};
    std::string hangup_cause{};           ///< Telnyx `hangup_cause` (normal_clearing, ...)
    std::optional<double> final_score{};  ///< our call-level probability of a synthetic voice, 0..1
    std::optional<double> final_llr{};    ///< our call-level log-likelihood ratio
    std::string verdict{};            ///< pipeline verdict name (human, uncertain, synthetic, ...)
    double speech_seconds = 0.0;      ///< speech scored so far
    bool flagged = false;             ///< an alert-worthy synthetic verdict was reached
    std::string stream_id{};          ///< Telnyx media `stream_id`
    std::string stream_auth_token{};  ///< per-call secret the media stream must present
    std::string telnyx_deepfake_result{};  ///< Telnyx's own detector: real, fake, silence_timeout
    std::optional<double> telnyx_deepfake_score{};            ///< 0..1, null on silence_timeout
    std::optional<double> telnyx_deepfake_consistency_pct{};  ///< 0..100
    std::string telnyx_deepfake_error{};         ///< call.deepfake_detection.error `error_message`
    std::string stir_shaken_attestation{};       ///< "A", "B", "C"
    std::optional<bool> stir_shaken_verified{};  ///< Telnyx `shaken_stir_validated`
    std::string last_error{};                    ///< last command or stream failure on this call
    UnixMs created_at_ms = 0;  ///< set by the caller on first insert; kept by later upserts
    UnixMs updated_at_ms = 0;  ///< set by the caller on every write
    /// What was done to the flagged call under ESCALATION_POLICY: "warn", "transfer", "hangup";
    /// empty: nothing yet. Written once by the calls thread, so a restart or a duplicate webhook
    /// never repeats it.
    std::string escalation{};
    std::optional<UnixMs> escalated_at_ms{};
    /// The call-level acoustic indicators, compact JSON `{"name": value, ...}` (see
    /// docs/indicators.md). READ-ONLY here: written by `update_call_score` (the media side),
    /// never by `upsert_call`, so the calls thread cannot overwrite them.
    std::string indicators_json{};

    bool operator==(const Call&) const = default;
};

/// A partial update from the streaming scorer, so that it never overwrites call fields that the
/// webhook handler owns. `flagged` is sticky: once true it stays true.
struct CallScoreUpdate {
    std::string call_id{};
    std::optional<double> final_score{};
    std::optional<double> final_llr{};
    std::string verdict{};
    double speech_seconds = 0.0;
    bool flagged = false;
    UnixMs updated_at_ms = 0;
    /// The call-level acoustic indicators (compact JSON object); empty keeps the stored ones.
    std::string indicators_json{};
    /// The indicators' call-level sums (base64 of `IndicatorTracker::save_call_state`) for a
    /// stream that resumes after a restart; empty keeps the stored ones. Kept only while the call
    /// lasts: an update of an ended call does not store it, and the call's end clears it.
    std::string indicator_state{};
};

/// One received Telnyx webhook (table `webhook_events`), kept for de-duplication and audit.
struct WebhookEvent {
    std::string event_id{};    ///< Telnyx `data.id`; unique
    std::string event_type{};  ///< `data.event_type` (call.initiated, ...)
    std::string call_control_id{};
    UnixMs received_at_ms = 0;
    std::string body_json{};  ///< the raw request body, as received
    bool processed = false;
    std::optional<UnixMs> processed_at_ms{};

    bool operator==(const WebhookEvent&) const = default;
};

/// Marks a webhook event as handled (a `WriteOp`).
struct EventProcessed {
    std::string event_id{};
    UnixMs processed_at_ms = 0;
};

/// One point of a call's score timeline (table `score_points`, key (call_id, seq)).
struct ScorePoint {
    std::string call_id{};
    std::int64_t seq = 0;         ///< 0, 1, 2, ... per call
    std::int64_t at_ms = 0;       ///< position in the call's audio, ms from stream start
    double speech_seconds = 0.0;  ///< speech accumulated up to this point
    double window_score = 0.0;    ///< probability of synthetic for this window, 0..1
    double window_llr = 0.0;
    double call_score = 0.0;  ///< accumulated call-level probability
    double call_llr = 0.0;
    std::string verdict{};
    /// Acoustic indicators of the audio since the previous point (a compact JSON object of a
    /// few key figures, docs/api.md); empty: none.
    std::string indicators_json{};

    bool operator==(const ScorePoint&) const = default;
};

/// The service's own copy of a recording: Telnyx's URLs expire 10 minutes after
/// call.recording.saved, so the `recordings` worker downloads each one while they are valid.
struct RecordingArchive {
    ArchiveStatus status = ArchiveStatus::Pending;
    int attempts = 0;               ///< download attempts made
    UnixMs next_attempt_at_ms = 0;  ///< when a pending download is due (0: at once)
    std::string last_error{};       ///< why the last attempt failed; empty after success
    /// The file's path relative to RECORDINGS_DIR, e.g. "v3-abc/7.wav"; set when Stored.
    std::string file{};
    std::optional<std::int64_t> bytes{};  ///< the file's size; set when Stored
    std::string sha256{};                 ///< hex SHA-256 of the file; set when Stored
    std::optional<UnixMs> stored_at_ms{};

    bool operator==(const RecordingArchive&) const = default;
};

/// How long Telnyx's private `recording_urls` work after `call.recording.saved`
/// (telnyx-protocol.md, `call.recording.saved`); `public_recording_urls` have no stated limit.
inline constexpr std::chrono::milliseconds kRecordingUrlLifetime{10 * 60'000};

/// A saved call recording (table `recordings`). URLs from Telnyx are valid for
/// kRecordingUrlLifetime.
struct Recording {
    std::int64_t id = 0;  ///< assigned by the store
    std::string call_id{};
    std::string recording_id{};  ///< Telnyx `recording_id`; unique per call when set
    std::string wav_url{};
    std::string mp3_url{};
    std::string public_wav_url{};
    std::string public_mp3_url{};
    std::string format{};    ///< wav, mp3
    std::string channels{};  ///< single, dual
    std::optional<double> duration_seconds{};
    UnixMs saved_at_ms = 0;
    /// Kept on purpose: the recording of a flagged call (evidence). Sticky: once true it stays
    /// true. The retention policy (recordings layer) never deletes the copy of a kept recording.
    bool kept = false;
    /// The downloaded copy. `add_recording` stores it for a new row only; an existing row's copy
    /// changes through `update_recording_archive` alone.
    RecordingArchive archive{};

    bool operator==(const Recording&) const = default;
};

/// One alert for one call at one escalation level on one channel (table `alerts`). The triple
/// (call_id, level, channel) is unique: each level of each call is announced once per channel.
struct Alert {
    std::int64_t id = 0;  ///< assigned by the store
    std::string call_id{};
    int level = 1;  ///< escalation level, 1 = first alert
    AlertChannel channel = AlertChannel::Slack;
    AlertStatus status = AlertStatus::Pending;
    int attempts = 0;               ///< delivery attempts made
    UnixMs next_attempt_at_ms = 0;  ///< when a pending alert is due
    std::string last_error{};
    std::string payload_json{};  ///< the body to deliver
    UnixMs created_at_ms = 0;
    std::optional<UnixMs> sent_at_ms{};

    bool operator==(const Alert&) const = default;
};

/// The alert stored under (call_id, level, channel), and whether this call created it.
struct AlertCreation {
    Alert alert{};
    bool created = false;
};

/// One Call Control command sent to Telnyx (table `command_log`).
struct CommandLog {
    std::int64_t id = 0;  ///< assigned by the store
    std::string call_id{};
    std::string command{};     ///< answer, speak, streaming_start, ...
    std::string command_id{};  ///< the idempotency key we sent
    std::string request_body_json{};
    std::optional<int> http_status{};  ///< none when no response came back
    std::string error{};
    UnixMs at_ms = 0;

    bool operator==(const CommandLog&) const = default;
};

/// What made the service run a risk analysis (table `analyses`).
enum class AnalysisTrigger { Threshold, Hangup, Api };

/// "threshold", "hangup", "api".
std::string_view to_string(AnalysisTrigger trigger);
[[nodiscard]] base::Result<AnalysisTrigger> parse_analysis_trigger(std::string_view text);

/// One risk decision for a call (table `analyses`): the fused decision (detector + AI analysis,
/// docs/risk-analysis.md section 5) and how the analysis went. Text fields are the names used by
/// the inference layer ("high", "verify_identity", "detector_only", ...).
struct AnalysisRecord {
    std::int64_t id = 0;  ///< assigned by the store
    std::string call_id{};
    AnalysisTrigger trigger = AnalysisTrigger::Threshold;
    std::string source{};  ///< "detector_only" or "detector+analysis"
    std::string risk_level{};  ///< fused: low, medium, high, critical
    bool flagged = false;
    bool escalate = false;
    std::string recommended_action{};
    std::string reason{};     ///< why the decision is what it is (fallback reason, overrides)
    std::string reasoning{};  ///< the narrative for people
    std::string indicators_json{};  ///< the analysis's evidence phrases, a JSON array of strings
    std::string detector_risk_level{};
    std::string analysis_risk_level{};  ///< empty: no analysis answer
    bool raised_by_analysis = false;
    bool analysis_disagreed = false;
    std::optional<double> detector_probability{};
    std::optional<double> detector_llr{};
    std::string detector_verdict{};
    std::optional<double> speech_seconds{};
    std::string error_code{};  ///< why the analysis failed ("timeout", "schema_violation", ...)
    std::string error{};       ///< its message; empty when the analysis answered
    std::string model{};
    std::string prompt_version{};
    int attempts = 0;  ///< HTTP attempts made
    std::optional<int> http_status{};
    std::int64_t elapsed_ms = 0;
    UnixMs created_at_ms = 0;

    bool operator==(const AnalysisRecord&) const = default;
};

enum class CallSortKey { Time, Score };
enum class SortOrder { Ascending, Descending };

/// Filters for listing and counting calls; unset fields do not filter.
struct CallFilter {
    std::optional<CallState> state{};
    std::optional<bool> flagged{};
    std::optional<UnixMs> since_ms{};  ///< started_at_ms >= since_ms
};

/// One page of `list_calls`. Time sorts by started_at_ms, score by final_score with calls that
/// have no score last in both orders; ties are broken by id so pages never overlap.
struct CallQuery {
    CallFilter filter{};
    CallSortKey sort = CallSortKey::Time;
    SortOrder order = SortOrder::Descending;
    std::int64_t limit = 50;  ///< 1..kMaxPageSize
    std::int64_t offset = 0;  ///< >= 0
};

inline constexpr std::int64_t kMaxPageSize = 1000;

/// A write that the `StoreWriter` queues and `Store::write_batch` applies:
/// Call = upsert, CallScoreUpdate = update_call_score, EventProcessed = mark_event_processed,
/// ScorePoint = append one point, Recording = add_recording, CommandLog = append_command_log.
using WriteOp =
        std::variant<Call, CallScoreUpdate, EventProcessed, ScorePoint, Recording, CommandLog>;

/// What `write_batch` did. Ops that failed on their own (unknown call, constraint) are skipped
/// without undoing the others; `first_error` describes the first of them.
struct BatchOutcome {
    std::size_t applied = 0;
    std::size_t failed = 0;
    std::string first_error{};
};

}  // namespace dvd::store
