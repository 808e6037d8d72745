#include "protocol/webhook.hpp"

#include <random>
#include <string>

#include <gtest/gtest.h>

#include "protocol/errc.hpp"

namespace dvd::protocol {
namespace {

// telnyx-protocol.md section 1.4, the example call.hangup (ids filled in).
constexpr std::string_view kHangup = R"({"data":{"record_type":"event","event_type":"call.hangup",
 "id":"0ccc7b54-4df3-4bca-a65a-3da1ecc777f0","occurred_at":"2026-01-01T10:00:42.123456Z",
 "payload":{"call_control_id":"v3:abc","call_leg_id":"leg-1","call_session_id":"session-1",
  "connection_id":"7267","client_state":"eyJwaGFzZSI6ImRldGVjdGluZyJ9","from":"+13125550100",
  "to":"+13125550199","start_time":"2026-01-01T10:00:00.000000Z","state":"hangup",
  "hangup_cause":"normal_clearing","hangup_source":"caller","sip_hangup_cause":"unspecified",
  "call_quality_stats":{"inbound":{"mos":"4.50","packet_count":"591","skip_packet_count":"9",
   "jitter_max_variance":"2.74","jitter_packet_count":"0"},
   "outbound":{"packet_count":"0","skip_packet_count":"0"}}}},
 "meta":{"attempt":1,"delivered_to":"http://127.0.0.1:5000/webhooks/voice"}})";

std::string event_json(std::string_view event_type, std::string_view payload) {
    return std::string(R"({"data":{"record_type":"event","event_type":")") + std::string(event_type)
           + R"(","id":"evt-1","occurred_at":"2025-11-23T03:30:00.076316Z","payload":)"
           + std::string(payload) + "}}";
}

TEST(Webhook, ParsesTheDocumentedHangup) {
    const auto e = parse_webhook(kHangup);
    ASSERT_TRUE(e) << e.error().message;
    EXPECT_EQ(e->type, WebhookEventType::CallHangup);
    EXPECT_EQ(e->event_type, "call.hangup");
    EXPECT_EQ(e->id, "0ccc7b54-4df3-4bca-a65a-3da1ecc777f0");
    EXPECT_EQ(e->record_type, "event");
    EXPECT_EQ(e->occurred_at, "2026-01-01T10:00:42.123456Z");
    ASSERT_TRUE(e->occurred_at_time);
    EXPECT_EQ(format_utc_timestamp(*e->occurred_at_time), "2026-01-01T10:00:42.123456Z");
    EXPECT_EQ(e->meta_attempt, 1);
    EXPECT_EQ(e->meta_delivered_to, "http://127.0.0.1:5000/webhooks/voice");
    EXPECT_EQ(e->call_control_id, "v3:abc");
    EXPECT_EQ(e->call_leg_id, "leg-1");
    EXPECT_EQ(e->call_session_id, "session-1");
    EXPECT_EQ(e->connection_id, "7267");
    EXPECT_EQ(e->from, "+13125550100");
    EXPECT_EQ(e->to, "+13125550199");
    EXPECT_EQ(e->state, "hangup");
    EXPECT_EQ(e->start_time, "2026-01-01T10:00:00.000000Z");
    EXPECT_EQ(e->hangup_cause, "normal_clearing");
    EXPECT_EQ(e->hangup_source, "caller");
    EXPECT_EQ(e->sip_hangup_cause, "unspecified");
    ASSERT_TRUE(e->call_quality_stats);
    EXPECT_EQ(e->call_quality_stats->inbound_mos, "4.50");
    EXPECT_EQ(e->call_quality_stats->inbound_packet_count, "591");
    EXPECT_EQ(e->call_quality_stats->inbound_skip_packet_count, "9");
    EXPECT_EQ(e->call_quality_stats->inbound_jitter_max_variance, "2.74");
    EXPECT_EQ(e->call_quality_stats->outbound_packet_count, "0");
    ASSERT_TRUE(e->client_state);
    const auto state = decode_client_state(*e->client_state);
    ASSERT_TRUE(state);
    EXPECT_EQ(*state, R"({"phase":"detecting"})");
    EXPECT_TRUE(e->warnings.empty());
}

TEST(Webhook, ParsesCallInitiatedWithStirShakenAndRealTrafficExtras) {
    const auto e = parse_webhook(event_json("call.initiated", R"({
        "call_control_id":"v3:MdI91X4l","call_leg_id":"l","call_session_id":"s",
        "connection_id":"1234","client_state":null,"from":"+13125550100","to":"+13125550199",
        "direction":"incoming","state":"parked","caller_id_name":"ALICE",
        "start_time":"2025-11-23T03:30:00.000000Z","calling_party_type":"pstn",
        "from_sip_uri":"+13125550100@sip","to_sip_uri":"+13125550199@sip",
        "connection_codecs":"PCMA,PCMU,VP8,H264","offered_codecs":"PCMU,G729",
        "custom_headers":[{"name":"X-Foo","value":"bar"}],
        "sip_headers":[{"name":"User-to-User","value":"abc"}],
        "shaken_stir_attestation":"A","shaken_stir_validated":true,
        "call_screening_result":"clean","tags":["vip","test"],
        "some_future_field":{"nested":[1,2,3]}})"));
    ASSERT_TRUE(e) << e.error().message;
    EXPECT_EQ(e->type, WebhookEventType::CallInitiated);
    EXPECT_EQ(e->direction, "incoming");
    EXPECT_EQ(e->state, "parked");
    EXPECT_FALSE(e->client_state);  // null
    EXPECT_EQ(e->caller_id_name, "ALICE");
    EXPECT_EQ(e->calling_party_type, "pstn");
    EXPECT_EQ(e->connection_codecs, "PCMA,PCMU,VP8,H264");
    EXPECT_EQ(e->offered_codecs, "PCMU,G729");
    EXPECT_EQ(e->from_sip_uri, "+13125550100@sip");
    EXPECT_EQ(e->shaken_stir_attestation, "A");
    EXPECT_EQ(e->shaken_stir_validated, true);
    EXPECT_EQ(e->call_screening_result, "clean");
    EXPECT_EQ(e->tags, (std::vector<std::string>{"vip", "test"}));
    ASSERT_EQ(e->custom_headers.size(), 1U);
    EXPECT_EQ(e->custom_headers[0], (NameValue{"X-Foo", "bar"}));
    ASSERT_EQ(e->sip_headers.size(), 1U);
    EXPECT_EQ(e->sip_headers[0].name, "User-to-User");
    EXPECT_TRUE(e->warnings.empty());
}

TEST(Webhook, ParsesCallAnsweredCodec) {
    const auto e = parse_webhook(event_json(
            "call.answered",
            R"({"call_control_id":"v3:x","state":"answered","codec":"PCMU","sampling_rate":8000})"));
    ASSERT_TRUE(e);
    EXPECT_EQ(e->type, WebhookEventType::CallAnswered);
    EXPECT_EQ(e->codec, "PCMU");
    EXPECT_EQ(e->sampling_rate_hz, 8000);
}

TEST(Webhook, AcceptsBothSpellingsOfStreamingEvents) {
    for (const auto& [name, type] : std::vector<std::pair<std::string, WebhookEventType>>{
                 {"streaming.started", WebhookEventType::StreamingStarted},
                 {"call.streaming.started", WebhookEventType::StreamingStarted},
                 {"streaming.stopped", WebhookEventType::StreamingStopped},
                 {"call.streaming.stopped", WebhookEventType::StreamingStopped},
                 {"streaming.failed", WebhookEventType::StreamingFailed},
                 {"call.streaming.failed", WebhookEventType::StreamingFailed}}) {
        const auto e = parse_webhook(
                event_json(name, R"({"call_control_id":"v3:x","stream_url":"wss://a/media"})"));
        ASSERT_TRUE(e) << name;
        EXPECT_EQ(e->type, type) << name;
        EXPECT_EQ(e->event_type, name);
        EXPECT_EQ(e->stream_url, "wss://a/media");
    }
    EXPECT_EQ(to_string(WebhookEventType::StreamingStarted), "streaming.started");
    EXPECT_EQ(to_string(WebhookEventType::Unknown), "");
}

TEST(Webhook, ParsesStreamingFailedStreamParams) {
    const auto e = parse_webhook(event_json("streaming.failed", R"({"call_control_id":"v3:x",
        "failure_reason":"connection_failed","stream_id":"1b0d-uuid",
        "stream_params":{"stream_url":"wss://a/media","track":"inbound_track"},
        "stream_type":"websocket"})"));
    ASSERT_TRUE(e);
    EXPECT_EQ(e->failure_reason, "connection_failed");
    EXPECT_EQ(e->stream_id, "1b0d-uuid");
    EXPECT_EQ(e->stream_url, "wss://a/media");
    EXPECT_EQ(e->stream_track, "inbound_track");
    EXPECT_EQ(e->stream_type, "websocket");
}

TEST(Webhook, ParsesSpeakPlaybackAndDtmf) {
    const auto speak = parse_webhook(
            event_json("call.speak.ended", R"({"call_control_id":"v3:x","status":"completed"})"));
    ASSERT_TRUE(speak);
    EXPECT_EQ(speak->type, WebhookEventType::CallSpeakEnded);
    EXPECT_EQ(speak->status, "completed");
    const auto started = parse_webhook(event_json("call.speak.started", R"({})"));
    ASSERT_TRUE(started);
    EXPECT_EQ(started->type, WebhookEventType::CallSpeakStarted);
    const auto playback = parse_webhook(event_json("call.playback.ended", R"({
        "media_url":"http://x/a.wav","overlay":false,"status":"file_not_found",
        "status_detail":"404"})"));
    ASSERT_TRUE(playback);
    EXPECT_EQ(playback->type, WebhookEventType::CallPlaybackEnded);
    EXPECT_EQ(playback->media_url, "http://x/a.wav");
    EXPECT_EQ(playback->overlay, false);
    EXPECT_EQ(playback->status, "file_not_found");
    const auto dtmf = parse_webhook(event_json("call.dtmf.received", R"({"digit":"#"})"));
    ASSERT_TRUE(dtmf);
    EXPECT_EQ(dtmf->type, WebhookEventType::CallDtmfReceived);
    EXPECT_EQ(dtmf->digit, "#");
}

TEST(Webhook, ParsesRecordingSavedUrls) {
    const auto e = parse_webhook(event_json("call.recording.saved", R"({
        "call_control_id":"v3:x","recording_id":"rec-1","format":"wav","channels":"dual",
        "recording_started_at":"2026-01-01T10:00:01.000000Z",
        "recording_ended_at":"2026-01-01T10:00:40.000000Z",
        "recording_urls":{"mp3":"https://s3/rec.mp3","wav":"https://s3/rec.wav"},
        "public_recording_urls":{"mp3":null,"wav":"https://pub/rec.wav"}})"));
    ASSERT_TRUE(e);
    EXPECT_EQ(e->type, WebhookEventType::CallRecordingSaved);
    EXPECT_EQ(e->recording_id, "rec-1");
    EXPECT_EQ(e->format, "wav");
    EXPECT_EQ(e->channels, "dual");
    EXPECT_EQ(e->recording_started_at, "2026-01-01T10:00:01.000000Z");
    EXPECT_EQ(e->recording_urls.mp3, "https://s3/rec.mp3");
    EXPECT_EQ(e->recording_urls.wav, "https://s3/rec.wav");
    EXPECT_FALSE(e->public_recording_urls.mp3);
    EXPECT_EQ(e->public_recording_urls.wav, "https://pub/rec.wav");
}

TEST(Webhook, ParsesTelnyxDeepfakeDetectionResultAndError) {
    const auto fake = parse_webhook(event_json("call.deepfake_detection.result",
                                               R"({"call_control_id":"v3:x","result":"fake",
                                                   "score":0.91,"consistency":87.5})"));
    ASSERT_TRUE(fake);
    EXPECT_EQ(fake->type, WebhookEventType::CallDeepfakeDetectionResult);
    EXPECT_EQ(fake->deepfake_result, "fake");
    EXPECT_EQ(fake->deepfake_score, 0.91);
    EXPECT_EQ(fake->deepfake_consistency_percent, 87.5);
    const auto silent = parse_webhook(
            event_json("call.deepfake_detection.result",
                       R"({"result":"silence_timeout","score":null,"consistency":null})"));
    ASSERT_TRUE(silent);
    EXPECT_EQ(silent->deepfake_result, "silence_timeout");
    EXPECT_FALSE(silent->deepfake_score);
    EXPECT_FALSE(silent->deepfake_consistency_percent);
    const auto error = parse_webhook(
            event_json("call.deepfake_detection.error", R"({"error_message":"rtp_timeout"})"));
    ASSERT_TRUE(error);
    EXPECT_EQ(error->type, WebhookEventType::CallDeepfakeDetectionError);
    EXPECT_EQ(error->deepfake_error_message, "rtp_timeout");
}

TEST(Webhook, UnknownEventTypeIsNotAnError) {
    const auto e =
            parse_webhook(event_json("call.machine.detection.ended", R"({"result":"human"})"));
    ASSERT_TRUE(e);
    EXPECT_EQ(e->type, WebhookEventType::Unknown);
    EXPECT_EQ(e->event_type, "call.machine.detection.ended");
    EXPECT_TRUE(e->deepfake_result.empty());  // "result" is read only for deepfake results
}

TEST(Webhook, EventWithoutPayloadParses) {
    const auto e = parse_webhook(R"({"data":{"id":"x","event_type":"call.bridged"}})");
    ASSERT_TRUE(e);
    EXPECT_EQ(e->type, WebhookEventType::CallBridged);
    EXPECT_FALSE(e->occurred_at_time);
}

TEST(Webhook, MissingRequiredEnvelopeFieldsAreErrors) {
    struct Case {
        std::string body;
        Errc code;
        std::string mention;
    };

    for (const auto& c : std::vector<Case>{
                 {"", Errc::MalformedJson, "not valid JSON"},
                 {"{\"data\":", Errc::MalformedJson, "not valid JSON"},
                 {"[1,2]", Errc::MalformedJson, "object"},
                 {"{}", Errc::MissingField, "'data'"},
                 {R"({"data":null})", Errc::MissingField, "'data'"},
                 {R"({"data":[]})", Errc::WrongType, "'data'"},
                 {R"({"data":{"event_type":"call.hangup"}})", Errc::MissingField, "'data.id'"},
                 {R"({"data":{"id":"","event_type":"call.hangup"}})", Errc::MissingField,
                  "'data.id'"},
                 {R"({"data":{"id":"x"}})", Errc::MissingField, "'data.event_type'"},
                 {R"({"data":{"id":7,"event_type":"call.hangup"}})", Errc::WrongType, "'data.id'"},
                 {R"({"data":{"id":"x","event_type":"call.hangup","payload":"oops"}})",
                  Errc::WrongType, "'data.payload'"}}) {
        const auto e = parse_webhook(c.body);
        ASSERT_FALSE(e) << c.body;
        EXPECT_EQ(e.error().code, c.code) << c.body;
        EXPECT_NE(e.error().message.find(c.mention), std::string::npos) << e.error().message;
    }
}

TEST(Webhook, WrongTypesInOptionalFieldsBecomeWarnings) {
    const auto e = parse_webhook(event_json(
            "call.hangup", R"({"call_control_id":"v3:x","connection_id":7267,"tags":"vip",
                               "shaken_stir_validated":"yes","hangup_cause":"timeout"})"));
    ASSERT_TRUE(e);
    EXPECT_EQ(e->call_control_id, "v3:x");
    EXPECT_EQ(e->hangup_cause, "timeout");
    EXPECT_TRUE(e->connection_id.empty());
    EXPECT_TRUE(e->tags.empty());
    EXPECT_FALSE(e->shaken_stir_validated);
    ASSERT_EQ(e->warnings.size(), 3U);
    EXPECT_NE(e->warnings[0].find("connection_id"), std::string::npos);
}

TEST(Webhook, BadOccurredAtIsAWarning) {
    const auto e = parse_webhook(
            R"({"data":{"id":"x","event_type":"call.hangup","occurred_at":"yesterday"}})");
    ASSERT_TRUE(e);
    EXPECT_EQ(e->occurred_at, "yesterday");
    EXPECT_FALSE(e->occurred_at_time);
    EXPECT_EQ(e->warnings.size(), 1U);
}

TEST(Webhook, ClientStateRoundTripsAndRejectsGarbage) {
    const std::string state = R"({"call":"abc","phase":2})";
    const auto encoded = encode_client_state(state);
    EXPECT_EQ(encoded, "eyJjYWxsIjoiYWJjIiwicGhhc2UiOjJ9");
    const auto decoded = decode_client_state(encoded);
    ASSERT_TRUE(decoded);
    EXPECT_EQ(*decoded, state);
    const auto bad = decode_client_state("not base64!");
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().code, Errc::BadBase64);
}

}  // namespace
}  // namespace dvd::protocol

namespace dvd::protocol {
namespace {

// Mutated and truncated bodies must come back as values: no exception, no crash (run under ASan).
TEST(Webhook, RandomMutationsNeverThrow) {
    std::mt19937 rng(1234);
    const std::string original(kHangup);
    for (int i = 0; i < 3000; ++i) {
        std::string body = original;
        const int edits = 1 + static_cast<int>(rng() % 8);
        for (int e = 0; e < edits; ++e) {
            const std::size_t at = rng() % body.size();
            body[at] = static_cast<char>(rng() % 256);
        }
        if (rng() % 4 == 0) {
            body.resize(rng() % body.size());
        }
        EXPECT_NO_THROW({ (void)parse_webhook(body); });
    }
}

}  // namespace
}  // namespace dvd::protocol
