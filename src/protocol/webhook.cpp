#include "protocol/webhook.hpp"

#include <array>
#include <utility>

#include <fmt/format.h>

#include "protocol/base64.hpp"
#include "protocol/errc.hpp"
#include "protocol/json_util.hpp"

namespace dvd::protocol {
namespace {

using detail::Json;
using detail::read_bool;
using detail::read_integer;
using detail::read_number;
using detail::read_string;

struct EventName {
    std::string_view name;
    WebhookEventType type;
};

// Canonical names first: to_string() returns the first match.
constexpr std::array kEventNames{
        EventName{"call.initiated", WebhookEventType::CallInitiated},
        EventName{"call.answered", WebhookEventType::CallAnswered},
        EventName{"call.hangup", WebhookEventType::CallHangup},
        EventName{"call.bridged", WebhookEventType::CallBridged},
        EventName{"streaming.started", WebhookEventType::StreamingStarted},
        EventName{"streaming.stopped", WebhookEventType::StreamingStopped},
        EventName{"streaming.failed", WebhookEventType::StreamingFailed},
        EventName{"call.speak.started", WebhookEventType::CallSpeakStarted},
        EventName{"call.speak.ended", WebhookEventType::CallSpeakEnded},
        EventName{"call.playback.started", WebhookEventType::CallPlaybackStarted},
        EventName{"call.playback.ended", WebhookEventType::CallPlaybackEnded},
        EventName{"call.recording.saved", WebhookEventType::CallRecordingSaved},
        EventName{"call.recording.error", WebhookEventType::CallRecordingError},
        EventName{"call.recording.transcription.saved",
                  WebhookEventType::CallRecordingTranscriptionSaved},
        EventName{"call.dtmf.received", WebhookEventType::CallDtmfReceived},
        EventName{"call.fork.started", WebhookEventType::CallForkStarted},
        EventName{"call.fork.stopped", WebhookEventType::CallForkStopped},
        EventName{"call.deepfake_detection.result", WebhookEventType::CallDeepfakeDetectionResult},
        EventName{"call.deepfake_detection.error", WebhookEventType::CallDeepfakeDetectionError},
        EventName{"siprec.started", WebhookEventType::SiprecStarted},
        EventName{"siprec.stopped", WebhookEventType::SiprecStopped},
        EventName{"siprec.failed", WebhookEventType::SiprecFailed},
        // The spelling of Telnyx's Python example (telnyx-protocol.md section 8, #2).
        EventName{"call.streaming.started", WebhookEventType::StreamingStarted},
        EventName{"call.streaming.stopped", WebhookEventType::StreamingStopped},
        EventName{"call.streaming.failed", WebhookEventType::StreamingFailed},
};

void read_name_values(const Json& object, std::string_view key, std::string_view path,
                      std::vector<NameValue>& out, std::vector<std::string>& warnings) {
    const Json* list = detail::member(object, key);
    if (list == nullptr) {
        return;
    }
    if (!list->is_array()) {
        warnings.push_back(fmt::format("{}: expected an array, got {}", path, list->type_name()));
        return;
    }
    for (const Json& item : *list) {
        NameValue entry;
        if (!item.is_object()) {
            warnings.push_back(fmt::format("{}[]: expected an object", path));
            continue;
        }
        read_string(item, "name", path, entry.name, warnings);
        read_string(item, "value", path, entry.value, warnings);
        out.push_back(std::move(entry));
    }
}

void read_string_list(const Json& object, std::string_view key, std::string_view path,
                      std::vector<std::string>& out, std::vector<std::string>& warnings) {
    const Json* list = detail::member(object, key);
    if (list == nullptr) {
        return;
    }
    if (!list->is_array()) {
        warnings.push_back(fmt::format("{}: expected an array, got {}", path, list->type_name()));
        return;
    }
    for (const Json& item : *list) {
        if (item.is_string()) {
            out.push_back(item.get<std::string>());
        } else {
            warnings.push_back(fmt::format("{}[]: expected a string", path));
        }
    }
}

const Json* read_object(const Json& object, std::string_view key, std::string_view path,
                        std::vector<std::string>& warnings) {
    const Json* value = detail::member(object, key);
    if (value != nullptr && !value->is_object()) {
        warnings.push_back(fmt::format("{}: expected an object, got {}", path, value->type_name()));
        return nullptr;
    }
    return value;
}

void read_recording_urls(const Json& payload, std::string_view key, RecordingUrls& out,
                         std::vector<std::string>& warnings) {
    if (const Json* urls = read_object(payload, key, key, warnings)) {
        read_string(*urls, "mp3", key, out.mp3, warnings);
        read_string(*urls, "wav", key, out.wav, warnings);
    }
}

void read_quality_stats(const Json& payload, WebhookEvent& event) {
    auto& w = event.warnings;
    const Json* stats = read_object(payload, "call_quality_stats", "call_quality_stats", w);
    if (stats == nullptr) {
        return;
    }
    CallQualityStats q;
    if (const Json* in = read_object(*stats, "inbound", "call_quality_stats.inbound", w)) {
        read_string(*in, "mos", "call_quality_stats.inbound.mos", q.inbound_mos, w);
        read_string(*in, "packet_count", "call_quality_stats.inbound.packet_count",
                    q.inbound_packet_count, w);
        read_string(*in, "skip_packet_count", "call_quality_stats.inbound.skip_packet_count",
                    q.inbound_skip_packet_count, w);
        read_string(*in, "jitter_max_variance", "call_quality_stats.inbound.jitter_max_variance",
                    q.inbound_jitter_max_variance, w);
        read_string(*in, "jitter_packet_count", "call_quality_stats.inbound.jitter_packet_count",
                    q.inbound_jitter_packet_count, w);
    }
    if (const Json* out = read_object(*stats, "outbound", "call_quality_stats.outbound", w)) {
        read_string(*out, "packet_count", "call_quality_stats.outbound.packet_count",
                    q.outbound_packet_count, w);
        read_string(*out, "skip_packet_count", "call_quality_stats.outbound.skip_packet_count",
                    q.outbound_skip_packet_count, w);
    }
    event.call_quality_stats = std::move(q);
}

void read_payload(const Json& p, WebhookEvent& e) {
    auto& w = e.warnings;
    read_string(p, "call_control_id", "call_control_id", e.call_control_id, w);
    read_string(p, "call_leg_id", "call_leg_id", e.call_leg_id, w);
    read_string(p, "call_session_id", "call_session_id", e.call_session_id, w);
    read_string(p, "connection_id", "connection_id", e.connection_id, w);
    read_string(p, "client_state", "client_state", e.client_state, w);
    read_string(p, "from", "from", e.from, w);
    read_string(p, "to", "to", e.to, w);
    read_string(p, "direction", "direction", e.direction, w);
    read_string(p, "state", "state", e.state, w);
    read_string(p, "caller_id_name", "caller_id_name", e.caller_id_name, w);
    read_string(p, "start_time", "start_time", e.start_time, w);
    read_string_list(p, "tags", "tags", e.tags, w);
    read_name_values(p, "custom_headers", "custom_headers", e.custom_headers, w);
    read_name_values(p, "sip_headers", "sip_headers", e.sip_headers, w);

    read_string(p, "connection_codecs", "connection_codecs", e.connection_codecs, w);
    read_string(p, "offered_codecs", "offered_codecs", e.offered_codecs, w);
    read_string(p, "calling_party_type", "calling_party_type", e.calling_party_type, w);
    read_string(p, "from_sip_uri", "from_sip_uri", e.from_sip_uri, w);
    read_string(p, "to_sip_uri", "to_sip_uri", e.to_sip_uri, w);
    read_string(p, "shaken_stir_attestation", "shaken_stir_attestation", e.shaken_stir_attestation,
                w);
    read_bool(p, "shaken_stir_validated", "shaken_stir_validated", e.shaken_stir_validated, w);
    read_string(p, "call_screening_result", "call_screening_result", e.call_screening_result, w);

    read_string(p, "codec", "codec", e.codec, w);
    read_integer(p, "sampling_rate", "sampling_rate", e.sampling_rate_hz, w);

    read_string(p, "hangup_cause", "hangup_cause", e.hangup_cause, w);
    read_string(p, "hangup_source", "hangup_source", e.hangup_source, w);
    read_string(p, "sip_hangup_cause", "sip_hangup_cause", e.sip_hangup_cause, w);
    read_quality_stats(p, e);

    read_string(p, "stream_url", "stream_url", e.stream_url, w);
    read_string(p, "stream_id", "stream_id", e.stream_id, w);
    read_string(p, "stream_track", "stream_track", e.stream_track, w);
    read_string(p, "stream_type", "stream_type", e.stream_type, w);
    read_string(p, "failure_reason", "failure_reason", e.failure_reason, w);
    if (const Json* params = read_object(p, "stream_params", "stream_params", w)) {
        read_string(*params, "stream_url", "stream_params.stream_url", e.stream_url, w);
        read_string(*params, "track", "stream_params.track", e.stream_track, w);
    }

    read_string(p, "status", "status", e.status, w);
    read_string(p, "status_detail", "status_detail", e.status_detail, w);
    read_string(p, "media_url", "media_url", e.media_url, w);
    read_string(p, "media_name", "media_name", e.media_name, w);
    read_bool(p, "overlay", "overlay", e.overlay, w);

    read_string(p, "recording_id", "recording_id", e.recording_id, w);
    read_string(p, "channels", "channels", e.channels, w);
    read_string(p, "format", "format", e.format, w);
    read_string(p, "recording_started_at", "recording_started_at", e.recording_started_at, w);
    read_string(p, "recording_ended_at", "recording_ended_at", e.recording_ended_at, w);
    read_recording_urls(p, "recording_urls", e.recording_urls, w);
    read_recording_urls(p, "public_recording_urls", e.public_recording_urls, w);

    read_string(p, "digit", "digit", e.digit, w);

    if (e.type == WebhookEventType::CallDeepfakeDetectionResult) {
        read_string(p, "result", "result", e.deepfake_result, w);
        read_number(p, "score", "score", e.deepfake_score, w);
        read_number(p, "consistency", "consistency", e.deepfake_consistency_percent, w);
    }
    read_string(p, "error_message", "error_message", e.deepfake_error_message, w);
}

}  // namespace

WebhookEventType parse_webhook_event_type(std::string_view name) noexcept {
    for (const auto& entry : kEventNames) {
        if (entry.name == name) {
            return entry.type;
        }
    }
    return WebhookEventType::Unknown;
}

std::string_view to_string(WebhookEventType type) noexcept {
    for (const auto& entry : kEventNames) {
        if (entry.type == type) {
            return entry.name;
        }
    }
    return {};
}

base::Result<WebhookEvent> parse_webhook(std::string_view body) {
    auto root = detail::parse_object(body, "webhook body");
    if (!root) {
        return root.error();
    }
    auto data = detail::required_object(*root, "data", "data");
    if (!data) {
        return data.error();
    }
    const Json& d = **data;
    WebhookEvent event;
    for (auto [key, target] :
         {std::pair{"id", &event.id}, std::pair{"event_type", &event.event_type}}) {
        auto value = detail::required_string(d, key, fmt::format("data.{}", key));
        if (!value) {
            return value.error();
        }
        if (value->empty()) {
            return fail(Errc::MissingField, fmt::format("field 'data.{}' is empty", key));
        }
        *target = std::string(*value);
    }
    event.type = parse_webhook_event_type(event.event_type);
    auto& w = event.warnings;
    read_string(d, "record_type", "data.record_type", event.record_type, w);
    read_string(d, "occurred_at", "data.occurred_at", event.occurred_at, w);
    if (!event.occurred_at.empty()) {
        if (auto time = parse_utc_timestamp(event.occurred_at)) {
            event.occurred_at_time = *time;
        } else {
            w.push_back(fmt::format("data.occurred_at: {}", time.error().message));
        }
    }
    if (const Json* meta = read_object(*root, "meta", "meta", w)) {
        read_integer(*meta, "attempt", "meta.attempt", event.meta_attempt, w);
        read_string(*meta, "delivered_to", "meta.delivered_to", event.meta_delivered_to, w);
    }
    if (const Json* payload = detail::member(d, "payload")) {
        if (!payload->is_object()) {
            return fail(Errc::WrongType,
                        fmt::format("field 'data.payload' must be an object, got {}",
                                    payload->type_name()));
        }
        read_payload(*payload, event);
    }
    return event;
}

std::string encode_client_state(std::string_view state) {
    return encode_base64(state);
}

base::Result<std::string> decode_client_state(std::string_view encoded) {
    auto bytes = decode_base64(encoded);
    if (!bytes) {
        return bytes.error();
    }
    return std::string(bytes->begin(), bytes->end());
}

}  // namespace dvd::protocol
