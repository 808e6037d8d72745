#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "protocol/signature.hpp"
#include "protocol/timestamp.hpp"

namespace dvd::sim {

/// What every Call Control webhook of one call leg repeats (telnyx-protocol.md section 1.1/1.4).
struct CallFacts {
    std::string call_control_id;
    std::string call_leg_id;
    std::string call_session_id;
    std::string connection_id;
    std::optional<std::string> client_state{};  ///< the latest one a command set; null before
    std::string from;
    std::string to;
    std::string direction = "incoming";  ///< incoming | outgoing
    std::string caller_id_name{};
    protocol::UtcMicros start_time{};
    std::string shaken_stir_attestation = "A";  ///< incoming only
    bool shaken_stir_validated = true;
};

/// One webhook event, ready to deliver: the envelope (data.* and meta.*) is rendered per attempt
/// because `meta.attempt` changes.
struct OutgoingWebhook {
    std::string event_type;   ///< e.g. "streaming.started"
    std::string event_id;     ///< data.id (UUID): the same on every attempt and duplicate
    std::string occurred_at;  ///< RFC 3339 with microseconds
    std::string payload_json;
    std::string url;  ///< where it is delivered (meta.delivered_to)
    std::string call_control_id;
};

/// `{"data":{"record_type":"event","event_type":..,"id":..,"occurred_at":..,"payload":{..}},
///   "meta":{"attempt":N,"delivered_to":".."}}`, exactly the section 1.1 shape.
[[nodiscard]] std::string render_envelope(const OutgoingWebhook& webhook, int attempt);

/// Payload builders, one per event the simulator sends (section 1.4 field lists). Each returns
/// a JSON object text. `client_state` is null when no command set one.
[[nodiscard]] std::string call_initiated_payload(const CallFacts& call);
/// `stream_url`/`stream_track` are added when the answer itself started a stream (docs example).
[[nodiscard]] std::string call_answered_payload(const CallFacts& call,
                                                std::string_view stream_url = {},
                                                std::string_view stream_track = {});
[[nodiscard]] std::string common_payload(const CallFacts& call);  ///< call.speak.started, ...
[[nodiscard]] std::string speak_ended_payload(const CallFacts& call, std::string_view status);
[[nodiscard]] std::string streaming_payload(const CallFacts& call, std::string_view stream_url);
[[nodiscard]] std::string streaming_failed_payload(const CallFacts& call,
                                                   std::string_view failure_reason,
                                                   std::string_view stream_id,
                                                   std::string_view stream_url,
                                                   std::string_view track);

/// `call_quality_stats` of call.hangup; Telnyx sends every value as a string.
struct QualityStats {
    std::uint64_t inbound_packets = 0;
    std::uint64_t inbound_skipped = 0;
    std::uint64_t outbound_packets = 0;
};

[[nodiscard]] std::string call_hangup_payload(const CallFacts& call, std::string_view cause,
                                              std::string_view source,
                                              const std::optional<QualityStats>& quality);

struct RecordingFacts {
    std::string recording_id;
    std::string channels;  ///< single | dual
    std::string format;    ///< the requested format (wav | mp3)
    protocol::UtcMicros started_at{};
    protocol::UtcMicros ended_at{};
    std::optional<std::string> wav_url{};  ///< what recording_urls.wav points at
    std::optional<std::string> mp3_url{};
    /// The pre-signed URL's signature (its X-Amz-Signature); the simulator serves the file only
    /// to a request that carries it, like S3.
    std::string signature{};
};

/// call.recording.saved with `call_control_id`, `recording_id` and `format` beside the spec's
/// fields (section 1.4 caveat: real handlers see them).
[[nodiscard]] std::string recording_saved_payload(const CallFacts& call,
                                                  const RecordingFacts& recording);
[[nodiscard]] std::string playback_payload(const CallFacts& call, std::string_view media,
                                           std::optional<std::string_view> status);
[[nodiscard]] std::string call_bridged_payload(const CallFacts& call, std::string_view other_to);

/// The HTTP headers of one delivery: Content-Type, User-Agent `telnyx-webhooks`,
/// `Telnyx-Signature-Ed25519` = base64(Ed25519(timestamp "|" body)) and `Telnyx-Timestamp`
/// (section 4). `forge` signs with a throw-away key instead, so verification must fail.
[[nodiscard]] std::vector<std::pair<std::string, std::string>> signed_headers(
        std::string_view body, std::int64_t unix_seconds, const protocol::Ed25519KeyPair& keys,
        bool forge = false);

}  // namespace dvd::sim
