#include "sim/webhook_events.hpp"

#include <array>
#include <map>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "protocol/errc.hpp"
#include "protocol/webhook.hpp"

namespace dvd::sim {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

CallFacts facts() {
    CallFacts c;
    c.call_control_id = "v3:abcDEF_123-xyz";
    c.call_leg_id = "5b4a9c8e-1d2f-4a3b-8c7d-6e5f4a3b2c1d";
    c.call_session_id = "6c5b4a3f-2e1d-4c0b-9a8f-7e6d5c4b3a29";
    c.connection_id = "1494404757140276705";
    c.from = "+13125550100";
    c.to = "+13125550199";
    c.caller_id_name = "Alice";
    c.start_time =
            protocol::UtcMicros{std::chrono::sys_days{std::chrono::year{2026} / std::chrono::January
                                                      / std::chrono::day{1}}
                                + 10h + 123456us};
    return c;
}

OutgoingWebhook event(std::string type, std::string payload) {
    return OutgoingWebhook{std::move(type),
                           "0ccc7b54-4df3-4bca-a65a-3da1ecc777f0",
                           "2026-01-01T10:00:42.123456Z",
                           std::move(payload),
                           "http://127.0.0.1:5000/webhooks/voice",
                           "v3:abcDEF_123-xyz"};
}

protocol::WebhookEvent parse(const OutgoingWebhook& w, int attempt = 1) {
    auto parsed = protocol::parse_webhook(render_envelope(w, attempt));
    EXPECT_TRUE(parsed.has_value()) << render_envelope(w, attempt);
    EXPECT_TRUE(parsed->warnings.empty()) << render_envelope(w, attempt);
    return parsed ? *parsed : protocol::WebhookEvent{};
}

TEST(RenderEnvelope, HasExactlyTheSection11Shape) {
    const std::string body =
            render_envelope(event("call.answered", call_answered_payload(facts())), 3);
    const json j = json::parse(body);
    ASSERT_EQ(j.size(), 2U);
    EXPECT_EQ(j["data"]["record_type"], "event");
    EXPECT_EQ(j["data"]["event_type"], "call.answered");
    EXPECT_EQ(j["data"]["id"], "0ccc7b54-4df3-4bca-a65a-3da1ecc777f0");
    EXPECT_EQ(j["data"]["occurred_at"], "2026-01-01T10:00:42.123456Z");
    EXPECT_TRUE(j["data"]["payload"].is_object());
    EXPECT_EQ(j["data"].size(), 5U);
    EXPECT_EQ(j["meta"]["attempt"], 3);
    EXPECT_EQ(j["meta"]["delivered_to"], "http://127.0.0.1:5000/webhooks/voice");

    const auto e = parse(event("call.answered", call_answered_payload(facts())), 3);
    EXPECT_EQ(e.type, protocol::WebhookEventType::CallAnswered);
    EXPECT_EQ(e.meta_attempt, 3);
    EXPECT_EQ(e.meta_delivered_to, "http://127.0.0.1:5000/webhooks/voice");
    ASSERT_TRUE(e.occurred_at_time.has_value());
}

TEST(Payloads, CallInitiatedIsIncomingParkedWithStirShaken) {
    const auto e = parse(event("call.initiated", call_initiated_payload(facts())));
    EXPECT_EQ(e.type, protocol::WebhookEventType::CallInitiated);
    EXPECT_EQ(e.call_control_id, "v3:abcDEF_123-xyz");
    EXPECT_EQ(e.call_leg_id, facts().call_leg_id);
    EXPECT_EQ(e.call_session_id, facts().call_session_id);
    EXPECT_EQ(e.connection_id, "1494404757140276705");
    EXPECT_FALSE(e.client_state.has_value());
    EXPECT_EQ(e.direction, "incoming");
    EXPECT_EQ(e.state, "parked");
    EXPECT_EQ(e.from, "+13125550100");
    EXPECT_EQ(e.to, "+13125550199");
    EXPECT_EQ(e.caller_id_name, "Alice");
    EXPECT_EQ(e.start_time, "2026-01-01T10:00:00.123456Z");
    EXPECT_EQ(e.shaken_stir_attestation, "A");
    EXPECT_EQ(e.shaken_stir_validated, true);
    EXPECT_EQ(e.calling_party_type, "pstn");
    EXPECT_FALSE(e.offered_codecs.empty());

    CallFacts outgoing = facts();
    outgoing.direction = "outgoing";
    const auto o = parse(event("call.initiated", call_initiated_payload(outgoing)));
    EXPECT_EQ(o.direction, "outgoing");
    EXPECT_EQ(o.state, "bridging");
    EXPECT_FALSE(o.shaken_stir_attestation.has_value());
}

TEST(Payloads, ClientStateIsEchoedOnceSet) {
    CallFacts c = facts();
    c.client_state = protocol::encode_client_state("phase=answered");
    const auto e = parse(event("call.speak.started", common_payload(c)));
    EXPECT_EQ(e.type, protocol::WebhookEventType::CallSpeakStarted);
    ASSERT_TRUE(e.client_state.has_value());
    EXPECT_EQ(protocol::decode_client_state(*e.client_state).value(), "phase=answered");
    EXPECT_TRUE(json::parse(common_payload(facts()))["client_state"].is_null());
}

TEST(Payloads, AnsweredSpeakAndStreamingEvents) {
    auto e = parse(event("call.answered",
                         call_answered_payload(facts(), "wss://a/media", "inbound_track")));
    EXPECT_EQ(e.state, "answered");
    EXPECT_EQ(e.codec, "PCMU");
    EXPECT_EQ(e.sampling_rate_hz, 8000);
    EXPECT_EQ(e.stream_url, "wss://a/media");
    EXPECT_EQ(e.stream_track, "inbound_track");

    e = parse(event("call.speak.ended", speak_ended_payload(facts(), "completed")));
    EXPECT_EQ(e.type, protocol::WebhookEventType::CallSpeakEnded);
    EXPECT_EQ(e.status, "completed");

    e = parse(event("streaming.started", streaming_payload(facts(), "ws://127.0.0.1:1/media")));
    EXPECT_EQ(e.type, protocol::WebhookEventType::StreamingStarted);
    EXPECT_EQ(e.event_type, "streaming.started");  // the real name, no "call." prefix
    EXPECT_EQ(e.stream_url, "ws://127.0.0.1:1/media");

    e = parse(event("streaming.failed",
                    streaming_failed_payload(facts(), "connection_failed", "stream-1",
                                             "ws://127.0.0.1:1/media", "inbound_track")));
    EXPECT_EQ(e.type, protocol::WebhookEventType::StreamingFailed);
    EXPECT_EQ(e.failure_reason, "connection_failed");
    EXPECT_EQ(e.stream_id, "stream-1");
    EXPECT_EQ(e.stream_url, "ws://127.0.0.1:1/media");
    EXPECT_EQ(e.stream_track, "inbound_track");
    EXPECT_EQ(e.stream_type, "websocket");
}

TEST(Payloads, HangupCarriesCauseSourceAndStringQualityStats) {
    const auto e =
            parse(event("call.hangup", call_hangup_payload(facts(), "normal_clearing", "caller",
                                                           QualityStats{591, 9, 0})));
    EXPECT_EQ(e.type, protocol::WebhookEventType::CallHangup);
    EXPECT_EQ(e.state, "hangup");
    EXPECT_EQ(e.hangup_cause, "normal_clearing");
    EXPECT_EQ(e.hangup_source, "caller");
    EXPECT_EQ(e.sip_hangup_cause, "unspecified");
    ASSERT_TRUE(e.call_quality_stats.has_value());
    EXPECT_EQ(e.call_quality_stats->inbound_packet_count, "591");
    EXPECT_EQ(e.call_quality_stats->inbound_skip_packet_count, "9");
    EXPECT_EQ(e.call_quality_stats->inbound_mos, "4.50");
    EXPECT_EQ(e.call_quality_stats->outbound_packet_count, "0");
    const json j =
            json::parse(call_hangup_payload(facts(), "originator_cancel", "caller", std::nullopt));
    EXPECT_TRUE(j["call_quality_stats"].is_null());
    EXPECT_FALSE(j.contains("end_time"));  // not in the spec: occurred_at is the end time
}

TEST(Payloads, RecordingSavedPointsAtTheWav) {
    RecordingFacts r;
    r.recording_id = "rec-1";
    r.channels = "single";
    r.format = "wav";
    r.started_at = facts().start_time;
    r.ended_at = facts().start_time + 42s;
    r.wav_url = "http://127.0.0.1:5050/recordings/rec-1.wav";
    const auto e = parse(event("call.recording.saved", recording_saved_payload(facts(), r)));
    EXPECT_EQ(e.type, protocol::WebhookEventType::CallRecordingSaved);
    EXPECT_EQ(e.call_control_id, "v3:abcDEF_123-xyz");
    EXPECT_EQ(e.recording_id, "rec-1");
    EXPECT_EQ(e.channels, "single");
    EXPECT_EQ(e.format, "wav");
    EXPECT_EQ(e.recording_urls.wav, "http://127.0.0.1:5050/recordings/rec-1.wav");
    EXPECT_FALSE(e.recording_urls.mp3.has_value());
    EXPECT_FALSE(e.public_recording_urls.wav.has_value());
    EXPECT_EQ(e.recording_started_at, "2026-01-01T10:00:00.123456Z");
    EXPECT_EQ(e.recording_ended_at, "2026-01-01T10:00:42.123456Z");
}

TEST(Payloads, PlaybackAndBridged) {
    auto e = parse(event("call.playback.ended",
                         playback_payload(facts(), "https://x/a.wav", "completed")));
    EXPECT_EQ(e.type, protocol::WebhookEventType::CallPlaybackEnded);
    EXPECT_EQ(e.media_url, "https://x/a.wav");
    EXPECT_EQ(e.status, "completed");
    e = parse(event("call.bridged", call_bridged_payload(facts(), "+13125550142")));
    EXPECT_EQ(e.type, protocol::WebhookEventType::CallBridged);
    EXPECT_EQ(e.to, "+13125550142");
}

class SignedHeadersTest : public ::testing::Test {
protected:
    SignedHeadersTest() {
        std::array<std::uint8_t, 32> seed{};
        seed.fill(7);
        keys_ = protocol::ed25519_keypair_from_seed(seed).value();
    }

    static std::map<std::string, std::string> as_map(
            const std::vector<std::pair<std::string, std::string>>& headers) {
        return {headers.begin(), headers.end()};
    }

    protocol::Ed25519KeyPair keys_;
    const std::chrono::sys_seconds now_{std::chrono::seconds{1767261642}};
};

TEST_F(SignedHeadersTest, VerifyWithThePublicKey) {
    const std::string body = render_envelope(event("call.hangup", common_payload(facts())), 1);
    const auto headers = as_map(signed_headers(body, now_.time_since_epoch().count(), keys_));
    EXPECT_EQ(headers.at("Content-Type"), "application/json");
    EXPECT_EQ(headers.at("User-Agent"), "telnyx-webhooks");
    EXPECT_EQ(headers.at("Telnyx-Timestamp"), "1767261642");
    const auto verifier = protocol::WebhookVerifier::create(keys_.public_key_base64()).value();
    EXPECT_TRUE(verifier.verify(headers.at("Telnyx-Signature-Ed25519"),
                                headers.at("Telnyx-Timestamp"), body, now_)
                        .has_value());
    // The signature covers the body byte for byte.
    EXPECT_FALSE(verifier.verify(headers.at("Telnyx-Signature-Ed25519"),
                                 headers.at("Telnyx-Timestamp"), body + " ", now_)
                         .has_value());
}

TEST_F(SignedHeadersTest, ForgedAndStaleSignaturesFail) {
    const std::string body = render_envelope(event("call.hangup", common_payload(facts())), 1);
    const auto verifier = protocol::WebhookVerifier::create(keys_.public_key_base64()).value();
    const auto forged = as_map(signed_headers(body, now_.time_since_epoch().count(), keys_, true));
    auto result = verifier.verify(forged.at("Telnyx-Signature-Ed25519"),
                                  forged.at("Telnyx-Timestamp"), body, now_);
    ASSERT_FALSE(result.has_value());
    EXPECT_EQ(result.error().code, protocol::Errc::BadSignature);

    const auto stale = as_map(signed_headers(body, now_.time_since_epoch().count() - 600, keys_));
    result = verifier.verify(stale.at("Telnyx-Signature-Ed25519"), stale.at("Telnyx-Timestamp"),
                             body, now_);
    ASSERT_FALSE(result.has_value());
    EXPECT_EQ(result.error().code, protocol::Errc::StaleTimestamp);
}

}  // namespace
}  // namespace dvd::sim
