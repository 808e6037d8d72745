#include "protocol/media_message.hpp"

#include <random>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "protocol/base64.hpp"
#include "protocol/errc.hpp"

namespace dvd::protocol {
namespace {

using nlohmann::json;

template <class T>
const T& as(const base::Result<InboundMessage>& r) {
    EXPECT_TRUE(r) << r.error().message;
    EXPECT_TRUE(std::holds_alternative<T>(*r));
    return std::get<T>(*r);
}

Errc error_of(const base::Result<InboundMessage>& r) {
    EXPECT_FALSE(r);
    return r ? Errc{} : static_cast<Errc>(r.error().code.value());
}

// Frames as telnyx-protocol.md section 3.2 shows them.
TEST(InboundMessage, ParsesConnected) {
    const auto r = parse_inbound_message(R"({"event":"connected","version":"1.0.0"})");
    const auto& m = as<ConnectedMessage>(r);
    EXPECT_EQ(m.version, "1.0.0");
    EXPECT_FALSE(m.auth_token);
    const auto nested = parse_inbound_message(
            R"({"event":"connected","version":"1.0.0","connected":{"x-telnyx-streaming-auth-token":"tok"}})");
    EXPECT_EQ(as<ConnectedMessage>(nested).auth_token, "tok");
    const auto flat = parse_inbound_message(
            R"({"event":"connected","version":"1.0.0","x-telnyx-streaming-auth-token":"tok2"})");
    EXPECT_EQ(as<ConnectedMessage>(flat).auth_token, "tok2");
}

TEST(InboundMessage, ParsesStart) {
    const auto r = parse_inbound_message(R"({"event":"start","sequence_number":"1",
        "stream_id":"32de0dea-uuid","start":{"user_id":"u-1","call_control_id":"v3:abc",
        "call_session_id":"s-1","from":"+13125550100","to":"+13125550199","tags":["t1"],
        "client_state":"eyJhIjoxfQ==","custom_parameters":{"call_ref":"abc","b":"2"},
        "media_format":{"encoding":"PCMU","sample_rate":8000,"channels":1}}})");
    const auto& m = as<StartMessage>(r);
    EXPECT_EQ(m.sequence_number, 1U);
    EXPECT_EQ(m.stream_id, "32de0dea-uuid");
    EXPECT_EQ(m.user_id, "u-1");
    EXPECT_EQ(m.call_control_id, "v3:abc");
    EXPECT_EQ(m.call_session_id, "s-1");
    EXPECT_EQ(m.from, "+13125550100");
    EXPECT_EQ(m.to, "+13125550199");
    EXPECT_EQ(m.tags, std::vector<std::string>{"t1"});
    EXPECT_EQ(m.client_state, "eyJhIjoxfQ==");
    ASSERT_EQ(m.custom_parameters.size(), 2U);
    EXPECT_EQ(m.media_format.encoding, "PCMU");
    EXPECT_EQ(m.media_format.sample_rate_hz, 8000);
    EXPECT_EQ(m.media_format.channels, 1);
}

TEST(InboundMessage, StartNeedsAMediaFormat) {
    EXPECT_EQ(error_of(parse_inbound_message(
                      R"({"event":"start","stream_id":"s","start":{"call_control_id":"v3:x"}})")),
              Errc::MissingField);
    EXPECT_EQ(error_of(parse_inbound_message(R"({"event":"start","stream_id":"s","start":{
                  "media_format":{"encoding":"PCMU","sample_rate":"8000"}}})")),
              Errc::WrongType);
    EXPECT_EQ(error_of(parse_inbound_message(R"({"event":"start","stream_id":"s","start":{
                  "media_format":{"encoding":"PCMU","sample_rate":0}}})")),
              Errc::BadValue);
    EXPECT_EQ(error_of(parse_inbound_message(R"({"event":"start","stream_id":"s","start":{
                  "media_format":{"encoding":"","sample_rate":8000}}})")),
              Errc::BadValue);
    EXPECT_EQ(
            error_of(parse_inbound_message(
                    R"({"event":"start","start":{"media_format":{"encoding":"PCMU","sample_rate":8000}}})")),
            Errc::MissingField);  // stream_id
    EXPECT_EQ(error_of(parse_inbound_message(R"({"event":"start","stream_id":"s","start":{
                  "custom_parameters":[{"name":"a","value":"b"}],
                  "media_format":{"encoding":"PCMU","sample_rate":8000}}})")),
              Errc::WrongType);  // an array is the command's shape, not the frame's
}

TEST(InboundMessage, ParsesMediaWithStringCounters) {
    const std::vector<uint8_t> audio = {0xFF, 0x7F, 0x00, 0x80, 0x12};
    const std::string text = R"({"event":"media","sequence_number":"4","stream_id":"sid",
        "media":{"track":"inbound","chunk":"2","timestamp":"5","payload":")"
                             + encode_base64(audio) + R"("}})";
    const auto r = parse_inbound_message(text);
    const auto& m = as<MediaMessage>(r);
    EXPECT_EQ(m.sequence_number, 4U);
    EXPECT_EQ(m.stream_id, "sid");
    EXPECT_EQ(m.track, MediaTrack::Inbound);
    EXPECT_EQ(m.chunk, 2U);
    EXPECT_EQ(m.timestamp, 5U);
    EXPECT_EQ(m.payload, audio);
    const auto outbound = parse_inbound_message(
            R"({"event":"media","sequence_number":"9","media":{"track":"outbound","payload":"AAAA"}})");
    EXPECT_EQ(as<MediaMessage>(outbound).track, MediaTrack::Outbound);
    EXPECT_FALSE(as<MediaMessage>(outbound).chunk);
}

TEST(InboundMessage, MediaFieldErrorsCarryTheirReason) {
    struct Case {
        const char* text;
        Errc code;
        const char* mention;
    };

    for (const auto& c : std::vector<Case>{
                 {R"({"event":"media","sequence_number":4,"media":{"payload":"AAAA"}})",
                  Errc::WrongType, "sequence_number"},
                 {R"({"event":"media","media":{"payload":"AAAA"}})", Errc::MissingField,
                  "sequence_number"},
                 {R"({"event":"media","sequence_number":"-1","media":{"payload":"AAAA"}})",
                  Errc::BadValue, "sequence_number"},
                 {R"({"event":"media","sequence_number":"99999999999999999999999","media":{"payload":"AAAA"}})",
                  Errc::BadValue, "sequence_number"},
                 {R"({"event":"media","sequence_number":"1"})", Errc::MissingField, "media"},
                 {R"({"event":"media","sequence_number":"1","media":"AAAA"})", Errc::WrongType,
                  "media"},
                 {R"({"event":"media","sequence_number":"1","media":{}})", Errc::MissingField,
                  "media.payload"},
                 {R"({"event":"media","sequence_number":"1","media":{"payload":123}})",
                  Errc::WrongType, "media.payload"},
                 {R"({"event":"media","sequence_number":"1","media":{"payload":"AA AA"}})",
                  Errc::BadBase64, "media.payload"},
                 {R"({"event":"media","sequence_number":"1","media":{"payload":"@@@@"}})",
                  Errc::BadBase64, "media.payload"},
                 {R"({"event":"media","sequence_number":"1","media":{"chunk":2,"payload":"AAAA"}})",
                  Errc::WrongType, "media.chunk"},
                 {R"({"event":"media","sequence_number":"1","media":{"timestamp":"5ms","payload":"AAAA"}})",
                  Errc::BadValue, "media.timestamp"},
                 {R"({"event":"media","sequence_number":"1","media":{"track":"inbound_track","payload":"AAAA"}})",
                  Errc::BadValue, "media.track"},
                 {R"({"sequence_number":"1"})", Errc::MissingField, "event"},
                 {R"({"event":5})", Errc::WrongType, "event"},
                 {R"({"event":"media",)", Errc::MalformedJson, "JSON"},
                 {R"("media")", Errc::MalformedJson, "object"},
                 {"", Errc::MalformedJson, "JSON"}}) {
        const auto r = parse_inbound_message(c.text);
        ASSERT_FALSE(r) << c.text;
        EXPECT_EQ(r.error().code, c.code) << c.text << " -> " << r.error().message;
        EXPECT_NE(r.error().message.find(c.mention), std::string::npos) << r.error().message;
    }
}

TEST(InboundMessage, EnforcesSizeLimits) {
    MediaParseLimits limits;
    limits.max_payload_bytes = 160;
    const std::string ok = R"({"event":"media","sequence_number":"1","media":{"payload":")"
                           + encode_base64(std::vector<uint8_t>(160, 0xFF)) + R"("}})";
    EXPECT_TRUE(parse_inbound_message(ok, limits));
    const std::string big = R"({"event":"media","sequence_number":"1","media":{"payload":")"
                            + encode_base64(std::vector<uint8_t>(161, 0xFF)) + R"("}})";
    EXPECT_EQ(error_of(parse_inbound_message(big, limits)), Errc::TooLarge);
    limits.max_message_bytes = 100;
    EXPECT_EQ(error_of(parse_inbound_message(ok, limits)), Errc::TooLarge);
}

TEST(InboundMessage, ParsesStopDtmfMarkAndError) {
    const auto stop = parse_inbound_message(R"({"event":"stop","sequence_number":"5",
        "stream_id":"sid","stop":{"user_id":"u","call_control_id":"v3:abc"}})");
    EXPECT_EQ(as<StopMessage>(stop).call_control_id, "v3:abc");
    EXPECT_EQ(as<StopMessage>(stop).sequence_number, 5U);
    const auto dtmf = parse_inbound_message(R"({"event":"dtmf","stream_id":"sid",
        "occurred_at":"2025-06-05T08:54:19.698408Z","sequence_number":"5","dtmf":{"digit":"1"}})");
    EXPECT_EQ(as<DtmfMessage>(dtmf).digit, "1");
    EXPECT_EQ(as<DtmfMessage>(dtmf).occurred_at, "2025-06-05T08:54:19.698408Z");
    const auto mark = parse_inbound_message(
            R"({"event":"mark","stream_id":"sid","sequence_number":"5","mark":{"name":"greeting"}})");
    EXPECT_EQ(as<MarkMessage>(mark).name, "greeting");
    const auto error = parse_inbound_message(R"({"event":"error","payload":{"code":100003,
        "title":"malformed_frame","detail":"bad"},"stream_id":"sid"})");
    EXPECT_EQ(as<ErrorMessage>(error).code, 100003);
    EXPECT_EQ(as<ErrorMessage>(error).title, "malformed_frame");
    EXPECT_EQ(as<ErrorMessage>(error).detail, "bad");
    EXPECT_EQ(error_of(parse_inbound_message(R"({"event":"dtmf","dtmf":{}})")), Errc::MissingField);
    EXPECT_EQ(error_of(parse_inbound_message(R"({"event":"error","payload":{"code":"100003"}})")),
              Errc::WrongType);
}

TEST(InboundMessage, UnknownEventHasItsOwnCode) {
    const auto r = parse_inbound_message(R"({"event":"transcription","text":"hi"})");
    EXPECT_EQ(error_of(r), Errc::UnknownEvent);
    EXPECT_NE(r.error().message.find("transcription"), std::string::npos);
}

TEST(InboundMessage, ParsesARelayedBatchOrASingleFrame) {
    const std::string media =
            R"({"event":"media","sequence_number":"2","media":{"track":"inbound","payload":"AAAA"}})";
    const auto batch = parse_inbound_batch(
            "[" + media + R"(,{"event":"stop","sequence_number":"3","stop":{}}])");
    ASSERT_TRUE(batch) << batch.error().message;
    ASSERT_EQ(batch->size(), 2U);
    EXPECT_TRUE(std::holds_alternative<MediaMessage>((*batch)[0]));
    EXPECT_TRUE(std::holds_alternative<StopMessage>((*batch)[1]));
    const auto single = parse_inbound_batch(media);
    ASSERT_TRUE(single);
    EXPECT_EQ(single->size(), 1U);
    const auto bad =
            parse_inbound_batch("[" + media + R"(,{"event":"media","sequence_number":3}])");
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().code, Errc::WrongType);
    EXPECT_NE(bad.error().message.find("message [1]"), std::string::npos);
    EXPECT_EQ(parse_inbound_batch("[1]").error().code, Errc::MalformedJson);
    EXPECT_EQ(parse_inbound_batch("7").error().code, Errc::MalformedJson);
    EXPECT_EQ(parse_inbound_batch("[" + media + "," + media + "]", {}, 1).error().code,
              Errc::TooLarge);
    EXPECT_TRUE(parse_inbound_batch("[]"));
}

TEST(InboundMessage, SerializesTheDocumentedShapesAndRoundTrips) {
    MediaMessage media{4, "sid", MediaTrack::Inbound, 2, 5, {1, 2, 3}};
    EXPECT_EQ(
            serialize_inbound_message(media),
            R"({"event":"media","sequence_number":"4","stream_id":"sid","media":{"track":"inbound","chunk":"2","timestamp":"5","payload":"AQID"}})");
    StartMessage start;
    start.sequence_number = 1;
    start.stream_id = "sid";
    start.call_control_id = "v3:abc";
    start.custom_parameters = {{"call_ref", "abc"}};
    start.media_format = {"L16", 16000, 1};
    std::vector<InboundMessage> all = {ConnectedMessage{"1.0.0", "tok"},
                                       start,
                                       media,
                                       StopMessage{5, "sid", "u", "v3:abc"},
                                       DtmfMessage{6, "sid", "2025-06-05T08:54:19.698408Z", "9"},
                                       MarkMessage{7, "sid", "m1"},
                                       ErrorMessage{"sid", 100004, "invalid_media", "not base64"}};
    for (const auto& message : all) {
        const std::string text = serialize_inbound_message(message);
        const auto parsed = parse_inbound_message(text);
        ASSERT_TRUE(parsed) << text;
        EXPECT_EQ(serialize_inbound_message(*parsed), text);
        EXPECT_EQ(parsed->index(), message.index());
    }
    const auto s = json::parse(serialize_inbound_message(start));
    EXPECT_EQ(s["start"]["media_format"],
              json::parse(R"({"encoding":"L16","sample_rate":16000,"channels":1})"));
    EXPECT_EQ(s["start"]["custom_parameters"], json::parse(R"({"call_ref":"abc"})"));
}

TEST(OutboundMessage, SerializesMediaMarkAndClearExactly) {
    EXPECT_EQ(serialize_outbound_media(std::vector<uint8_t>{0xFF, 0xFE}),
              R"({"event":"media","media":{"payload":"//4="}})");
    EXPECT_EQ(serialize_mark("greeting-done"),
              R"({"event":"mark","mark":{"name":"greeting-done"}})");
    EXPECT_EQ(serialize_clear(), R"({"event":"clear"})");
    EXPECT_EQ(serialize_mark("quote\"and\\"), R"({"event":"mark","mark":{"name":"quote\"and\\"}})");
}

TEST(OutboundMessage, ParsesWhatTheApplicationSends) {
    const auto media = parse_outbound_message(serialize_outbound_media(std::vector<uint8_t>{7}));
    ASSERT_TRUE(media);
    EXPECT_EQ(std::get<OutboundMedia>(*media).payload, std::vector<uint8_t>{7});
    const auto mark = parse_outbound_message(serialize_mark("m"));
    ASSERT_TRUE(mark);
    EXPECT_EQ(std::get<OutboundMark>(*mark).name, "m");
    const auto clear = parse_outbound_message(serialize_clear());
    ASSERT_TRUE(clear);
    EXPECT_TRUE(std::holds_alternative<OutboundClear>(*clear));
    const auto bad = parse_outbound_message(R"({"event":"media","media":{"payload":"!"}})");
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().code, Errc::BadBase64);
    const auto unknown = parse_outbound_message(R"({"event":"start"})");
    ASSERT_FALSE(unknown);
    EXPECT_EQ(unknown.error().code, Errc::UnknownEvent);
}

}  // namespace
}  // namespace dvd::protocol

namespace dvd::protocol {
namespace {

// Mutated and truncated frames must come back as values: no exception, no crash (run under ASan).
TEST(InboundMessage, RandomMutationsNeverThrow) {
    std::mt19937 rng(99);
    const std::vector<std::string> originals = {
            R"({"event":"media","sequence_number":"4","stream_id":"sid","media":{"track":"inbound","chunk":"2","timestamp":"5","payload":"/38AgBI="}})",
            R"({"event":"start","sequence_number":"1","stream_id":"s","start":{"call_control_id":"v3:a","tags":["x"],"custom_parameters":{"a":"b"},"media_format":{"encoding":"PCMU","sample_rate":8000,"channels":1}}})",
            R"({"event":"error","payload":{"code":100003,"title":"malformed_frame","detail":"x"}})"};
    for (int i = 0; i < 3000; ++i) {
        std::string text = originals[static_cast<std::size_t>(i) % originals.size()];
        const int edits = 1 + static_cast<int>(rng() % 6);
        for (int e = 0; e < edits; ++e) {
            text[rng() % text.size()] = static_cast<char>(rng() % 256);
        }
        if (rng() % 4 == 0) {
            text.resize(rng() % text.size());
        }
        EXPECT_NO_THROW({ (void)parse_inbound_message(text); });
        EXPECT_NO_THROW({ (void)parse_outbound_message(text); });
        EXPECT_NO_THROW({ (void)parse_inbound_batch(text); });
    }
}

}  // namespace
}  // namespace dvd::protocol
