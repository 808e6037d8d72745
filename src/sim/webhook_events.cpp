#include "sim/webhook_events.hpp"

#include <nlohmann/json.hpp>

namespace dvd::sim {
namespace {

using OrderedJson = nlohmann::ordered_json;

std::string dump(const OrderedJson& j) {
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

OrderedJson common(const CallFacts& call) {
    OrderedJson j{{"call_control_id", call.call_control_id},
                  {"call_leg_id", call.call_leg_id},
                  {"call_session_id", call.call_session_id},
                  {"connection_id", call.connection_id}};
    j["client_state"] = call.client_state ? OrderedJson(*call.client_state) : OrderedJson(nullptr);
    return j;
}

void put_parties(OrderedJson& j, const CallFacts& call) {
    j["from"] = call.from;
    j["to"] = call.to;
    j["start_time"] = protocol::format_utc_timestamp(call.start_time);
}

void put_header_lists(OrderedJson& j) {
    j["custom_headers"] = OrderedJson::array();
    j["sip_headers"] = OrderedJson::array();
    j["tags"] = OrderedJson::array();
}

std::string sip_uri(std::string_view number) {
    return "sip:" + std::string(number) + "@127.0.0.1";
}

}  // namespace

std::string render_envelope(const OutgoingWebhook& webhook, int attempt) {
    // The payload is spliced in as text so that it reaches the wire byte for byte as built.
    std::string out = R"({"data":{"record_type":"event","event_type":)";
    out += dump(OrderedJson(webhook.event_type));
    out += R"(,"id":)";
    out += dump(OrderedJson(webhook.event_id));
    out += R"(,"occurred_at":)";
    out += dump(OrderedJson(webhook.occurred_at));
    out += R"(,"payload":)";
    out += webhook.payload_json;
    out += R"(},"meta":{"attempt":)";
    out += std::to_string(attempt);
    out += R"(,"delivered_to":)";
    out += dump(OrderedJson(webhook.url));
    out += "}}";
    return out;
}

std::string call_initiated_payload(const CallFacts& call) {
    OrderedJson j = common(call);
    j["from"] = call.from;
    j["to"] = call.to;
    j["direction"] = call.direction;
    j["state"] = call.direction == "incoming" ? "parked" : "bridging";
    j["caller_id_name"] = call.caller_id_name;
    j["start_time"] = protocol::format_utc_timestamp(call.start_time);
    j["calling_party_type"] = "pstn";
    j["from_sip_uri"] = sip_uri(call.from);
    j["to_sip_uri"] = sip_uri(call.to);
    j["connection_codecs"] = "PCMU,PCMA,G722,OPUS";
    j["offered_codecs"] = "PCMU,PCMA";
    if (call.direction == "incoming") {
        j["shaken_stir_attestation"] = call.shaken_stir_attestation;
        j["shaken_stir_validated"] = call.shaken_stir_validated;
    }
    put_header_lists(j);
    return dump(j);
}

std::string call_answered_payload(const CallFacts& call, std::string_view stream_url,
                                  std::string_view stream_track) {
    OrderedJson j = common(call);
    put_parties(j, call);
    j["state"] = "answered";
    j["codec"] = "PCMU";
    j["sampling_rate"] = 8000;
    if (!stream_url.empty()) {
        j["stream_url"] = std::string(stream_url);
        j["stream_track"] = std::string(stream_track);
    }
    put_header_lists(j);
    return dump(j);
}

std::string common_payload(const CallFacts& call) {
    return dump(common(call));
}

std::string speak_ended_payload(const CallFacts& call, std::string_view status) {
    OrderedJson j = common(call);
    j["status"] = std::string(status);
    return dump(j);
}

std::string streaming_payload(const CallFacts& call, std::string_view stream_url) {
    OrderedJson j = common(call);
    j["stream_url"] = std::string(stream_url);
    return dump(j);
}

std::string streaming_failed_payload(const CallFacts& call, std::string_view failure_reason,
                                     std::string_view stream_id, std::string_view stream_url,
                                     std::string_view track) {
    OrderedJson j = common(call);
    j["failure_reason"] = std::string(failure_reason);
    j["stream_id"] = std::string(stream_id);
    j["stream_params"] =
            OrderedJson{{"stream_url", std::string(stream_url)}, {"track", std::string(track)}};
    j["stream_type"] = "websocket";
    return dump(j);
}

std::string call_hangup_payload(const CallFacts& call, std::string_view cause,
                                std::string_view source,
                                const std::optional<QualityStats>& quality) {
    OrderedJson j = common(call);
    put_parties(j, call);
    j["state"] = "hangup";
    j["hangup_cause"] = std::string(cause);
    j["hangup_source"] = std::string(source);
    j["sip_hangup_cause"] = "unspecified";
    if (quality) {
        j["call_quality_stats"] =
                OrderedJson{{"inbound",
                             {{"jitter_max_variance", "0.00"},
                              {"jitter_packet_count", "0"},
                              {"mos", "4.50"},
                              {"packet_count", std::to_string(quality->inbound_packets)},
                              {"skip_packet_count", std::to_string(quality->inbound_skipped)}}},
                            {"outbound",
                             {{"packet_count", std::to_string(quality->outbound_packets)},
                              {"skip_packet_count", "0"}}}};
    } else {
        j["call_quality_stats"] = nullptr;
    }
    put_header_lists(j);
    return dump(j);
}

std::string recording_saved_payload(const CallFacts& call, const RecordingFacts& recording) {
    OrderedJson j = common(call);
    j["recording_id"] = recording.recording_id;
    j["channels"] = recording.channels;
    j["format"] = recording.format;
    j["recording_started_at"] = protocol::format_utc_timestamp(recording.started_at);
    j["recording_ended_at"] = protocol::format_utc_timestamp(recording.ended_at);
    const auto url = [](const std::optional<std::string>& u) {
        return u ? OrderedJson(*u) : OrderedJson(nullptr);
    };
    j["recording_urls"] =
            OrderedJson{{"mp3", url(recording.mp3_url)}, {"wav", url(recording.wav_url)}};
    j["public_recording_urls"] = OrderedJson{{"mp3", nullptr}, {"wav", nullptr}};
    return dump(j);
}

std::string playback_payload(const CallFacts& call, std::string_view media,
                             std::optional<std::string_view> status) {
    OrderedJson j = common(call);
    if (media.starts_with("http://") || media.starts_with("https://")) {
        j["media_url"] = std::string(media);
    } else {
        j["media_name"] = std::string(media);
    }
    j["overlay"] = false;
    if (status) {
        j["status"] = std::string(*status);
    }
    return dump(j);
}

std::string call_bridged_payload(const CallFacts& call, std::string_view other_to) {
    OrderedJson j = common(call);
    j["from"] = call.from;
    j["to"] = std::string(other_to);
    j["state"] = "bridged";
    return dump(j);
}

std::vector<std::pair<std::string, std::string>> signed_headers(
        std::string_view body, std::int64_t unix_seconds, const protocol::Ed25519KeyPair& keys,
        bool forge) {
    const std::string timestamp = std::to_string(unix_seconds);
    std::string signature;
    if (forge) {
        auto other = protocol::ed25519_generate_keypair();
        signature = other ? protocol::sign_webhook(timestamp, body, *other)
                          : std::string(86, 'A') + "==";  // 64 zero bytes: never valid
    } else {
        signature = protocol::sign_webhook(timestamp, body, keys);
    }
    return {{"Content-Type", "application/json"},
            {"User-Agent", "telnyx-webhooks"},
            {"Telnyx-Signature-Ed25519", std::move(signature)},
            {"Telnyx-Timestamp", timestamp}};
}

}  // namespace dvd::sim
