#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "protocol/name_value.hpp"
#include "protocol/timestamp.hpp"

namespace dvd::protocol {

/// Call Control webhook event types (telnyx-protocol.md section 1.3). The streaming and siprec
/// events have no `call.` prefix on the wire; the `call.streaming.*` spelling used by Telnyx's
/// Python example is accepted too and maps to the same enumerators.
enum class WebhookEventType {
    Unknown,  ///< any other name; `WebhookEvent::event_type` keeps it
    CallInitiated,
    CallAnswered,
    CallHangup,
    CallBridged,
    StreamingStarted,
    StreamingStopped,
    StreamingFailed,
    CallSpeakStarted,
    CallSpeakEnded,
    CallPlaybackStarted,
    CallPlaybackEnded,
    CallRecordingSaved,
    CallRecordingError,
    CallRecordingTranscriptionSaved,
    CallDtmfReceived,
    CallForkStarted,
    CallForkStopped,
    CallDeepfakeDetectionResult,
    CallDeepfakeDetectionError,
    SiprecStarted,
    SiprecStopped,
    SiprecFailed,
};

/// Maps an `event_type` string to the enum (exact, case-sensitive); Unknown if not listed.
[[nodiscard]] WebhookEventType parse_webhook_event_type(std::string_view name) noexcept;

/// The canonical wire name (`streaming.started`, not `call.streaming.started`); "" for Unknown.
[[nodiscard]] std::string_view to_string(WebhookEventType type) noexcept;

/// `recording_urls` / `public_recording_urls`: each link may be absent or null.
struct RecordingUrls {
    std::optional<std::string> mp3;
    std::optional<std::string> wav;
};

/// `call.hangup` `call_quality_stats`; Telnyx sends every value as a string ("4.50").
struct CallQualityStats {
    std::optional<std::string> inbound_mos;
    std::optional<std::string> inbound_packet_count;
    std::optional<std::string> inbound_skip_packet_count;
    std::optional<std::string> inbound_jitter_max_variance;
    std::optional<std::string> inbound_jitter_packet_count;
    std::optional<std::string> outbound_packet_count;
    std::optional<std::string> outbound_skip_packet_count;
};

/// One Telnyx Call Control webhook, typed. Fields that an event does not carry stay empty
/// (strings) or nullopt. Unknown fields are ignored. A known optional field with the wrong JSON
/// type is left empty and reported in `warnings` instead of failing the whole event: the
/// webhook still gets its 2xx and the caller can log the oddity.
struct WebhookEvent {
    // Envelope (data.*, meta.*).
    WebhookEventType type = WebhookEventType::Unknown;
    std::string event_type;  ///< raw `data.event_type`, e.g. "call.streaming.started"
    std::string id;          ///< `data.id`: unique per event, the de-duplication key
    std::string record_type;
    std::string occurred_at;                    ///< raw `data.occurred_at`
    std::optional<UtcMicros> occurred_at_time;  ///< parsed; nullopt (+ warning) if unparsable
    std::optional<int64_t> meta_attempt;        ///< `meta.attempt`, 1 on first delivery
    std::string meta_delivered_to;

    // Common call fields.
    std::string call_control_id;
    std::string call_leg_id;
    std::string call_session_id;
    std::string connection_id;
    std::optional<std::string> client_state;  ///< raw base64 as sent; see decode_client_state
    std::string from;
    std::string to;
    std::string direction;  ///< `incoming` | `outgoing`
    std::string state;      ///< `parked` | `bridging` | `answered` | `hangup` ...
    std::string caller_id_name;
    std::string start_time;
    std::vector<std::string> tags;
    std::vector<NameValue> custom_headers;
    std::vector<NameValue> sip_headers;

    // call.initiated extras (real traffic) and STIR/SHAKEN.
    std::string connection_codecs;
    std::string offered_codecs;
    std::string calling_party_type;
    std::string from_sip_uri;
    std::string to_sip_uri;
    std::optional<std::string> shaken_stir_attestation;  ///< "A" | "B" | "C"
    std::optional<bool> shaken_stir_validated;
    std::optional<std::string> call_screening_result;

    // call.answered extras (real traffic).
    std::string codec;                        ///< e.g. "PCMU"
    std::optional<int64_t> sampling_rate_hz;  ///< `sampling_rate`

    // call.hangup.
    std::string hangup_cause;
    std::string hangup_source;
    std::string sip_hangup_cause;
    std::optional<CallQualityStats> call_quality_stats;

    // streaming.* (`stream_params.stream_url`/`track` on streaming.failed fill the same fields).
    std::string stream_url;
    std::string stream_id;
    std::string stream_track;  ///< `inbound_track` | `outbound_track` | `both_tracks`
    std::string stream_type;   ///< `websocket` | `dialogflow`
    std::string failure_reason;

    // call.speak.ended / call.playback.* (`status`, `status_detail`, media).
    std::string status;
    std::string status_detail;
    std::string media_url;
    std::string media_name;
    std::optional<bool> overlay;

    // call.recording.*.
    std::string recording_id;
    std::string channels;  ///< `single` | `dual`
    std::string format;    ///< `wav` | `mp3` (not in the spec, seen in real traffic)
    std::string recording_started_at;
    std::string recording_ended_at;
    RecordingUrls recording_urls;         ///< valid for 10 minutes
    RecordingUrls public_recording_urls;  ///< per-account opt-in

    // call.dtmf.received.
    std::string digit;

    // call.deepfake_detection.result / .error (Telnyx's own detector).
    std::string deepfake_result;           ///< `real` | `fake` | `silence_timeout`
    std::optional<double> deepfake_score;  ///< probability of an AI voice, 0..1; null on timeout
    std::optional<double> deepfake_consistency_percent;  ///< 0..100
    std::string deepfake_error_message;  ///< `detection_timeout` | `rtp_timeout` | ...

    std::vector<std::string> warnings;  ///< known fields ignored because of a wrong JSON type
};

/// Parses a webhook body (the raw HTTP POST body). Fails only when the envelope is unusable:
/// Errc::MalformedJson (not a JSON object), Errc::MissingField (`data`, `data.id` or
/// `data.event_type` absent or empty), Errc::WrongType (those three, or `data.payload`, of the
/// wrong type). An unknown event type is not an error: `type == Unknown`, raw name kept.
[[nodiscard]] base::Result<WebhookEvent> parse_webhook(std::string_view body);

/// client_state travels as base64 (Telnyx requires it); these wrap and unwrap the caller's bytes.
[[nodiscard]] std::string encode_client_state(std::string_view state);

/// Errc::BadBase64 when `encoded` is not padded standard base64.
[[nodiscard]] base::Result<std::string> decode_client_state(std::string_view encoded);

}  // namespace dvd::protocol
