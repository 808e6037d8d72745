#include "protocol/call_control.hpp"

#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "protocol/errc.hpp"

namespace dvd::protocol {
namespace {

using nlohmann::json;

constexpr std::string_view kCallId = "v3:MdI91X4lWFEs7IgbBEOT9M4AigoY08M0WWZFISt1Yw2axZ_IiE4pqg";

void expect_body(const base::Result<CommandRequest>& r, std::string_view path,
                 std::string_view body) {
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->method, "POST");
    EXPECT_EQ(r->path, path);
    EXPECT_EQ(r->body, body);
    EXPECT_TRUE(json::accept(r->body));
}

void expect_invalid(const base::Result<CommandRequest>& r, std::string_view mention) {
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, Errc::InvalidCommand);
    EXPECT_NE(r.error().message.find(mention), std::string::npos) << r.error().message;
}

TEST(CallControl, ActionPathKeepsTheColonAndEncodesTheRest) {
    EXPECT_EQ(call_action_path("v3:abc_-.~", "answer"), "/calls/v3:abc_-.~/actions/answer");
    EXPECT_EQ(call_action_path("v3:a/b c+d", "hangup"), "/calls/v3:a%2Fb%20c%2Bd/actions/hangup");
}

// telnyx-protocol.md section 2.5: the example streaming_start body, field for field.
TEST(CallControl, StreamingStartMatchesTheDocumentedExample) {
    StreamingStartCommand c;
    c.stream = {.stream_url = "wss://app.example/media",
                .track = StreamTrack::InboundTrack,
                .codec = StreamCodec::Pcmu};
    c.stream_auth_token = "per-call-secret";
    c.custom_parameters = {{"call_ref", "abc"}};
    c.client_state = "eyJhIjoxfQ==";
    c.command_id = "5e1c0d7a-streaming";
    expect_body(build_streaming_start(kCallId, c),
                std::string("/calls/") + std::string(kCallId) + "/actions/streaming_start",
                R"({"stream_url":"wss://app.example/media","stream_track":"inbound_track",)"
                R"("stream_codec":"PCMU","stream_auth_token":"per-call-secret",)"
                R"("custom_parameters":[{"name":"call_ref","value":"abc"}],)"
                R"("client_state":"eyJhIjoxfQ==","command_id":"5e1c0d7a-streaming"})");
}

TEST(CallControl, StreamingStartBidirectionalRtp) {
    StreamingStartCommand c;
    c.stream = {.stream_url = "wss://a/media",
                .track = StreamTrack::BothTracks,
                .codec = StreamCodec::L16,
                .bidirectional_mode = BidirectionalMode::Rtp,
                .bidirectional_codec = BidirectionalCodec::L16,
                .bidirectional_target_legs = TargetLegs::Opposite};
    c.bidirectional_sampling_rate_hz = 16000;
    c.command_id = "c1";
    expect_body(
            build_streaming_start("v3:x", c), "/calls/v3:x/actions/streaming_start",
            R"({"stream_url":"wss://a/media","stream_track":"both_tracks","stream_codec":"L16",)"
            R"("stream_bidirectional_mode":"rtp","stream_bidirectional_codec":"L16",)"
            R"("stream_bidirectional_target_legs":"opposite",)"
            R"("stream_bidirectional_sampling_rate":16000,"command_id":"c1"})");
    c.bidirectional_sampling_rate_hz = 44100;
    expect_invalid(build_streaming_start("v3:x", c), "stream_bidirectional_sampling_rate");
    c.bidirectional_sampling_rate_hz.reset();
    c.stream_auth_token = std::string(4001, 'x');
    expect_invalid(build_streaming_start("v3:x", c), "stream_auth_token");
    c.stream_auth_token.reset();
    c.stream.stream_url = "https://a/media";
    expect_invalid(build_streaming_start("v3:x", c), "stream_url");
}

TEST(CallControl, AnswerWithStreamAndTelnyxDeepfakeDetection) {
    AnswerCommand c;
    c.command_id = "answer-1";
    c.client_state = "eyJwaGFzZSI6ImFuc3dlcmVkIn0=";
    c.stream = StreamOptions{.stream_url = "wss://a/media", .track = StreamTrack::InboundTrack};
    c.deepfake_detection =
            DeepfakeDetectionOptions{.enabled = true, .rtp_timeout_s = 30, .timeout_s = 15};
    expect_body(build_answer("v3:x", c), "/calls/v3:x/actions/answer",
                R"({"stream_url":"wss://a/media","stream_track":"inbound_track",)"
                R"("deepfake_detection":{"enabled":true,"rtp_timeout":30,"timeout":15},)"
                R"("client_state":"eyJwaGFzZSI6ImFuc3dlcmVkIn0=","command_id":"answer-1"})");
}

TEST(CallControl, MinimalAnswerHangupAndStops) {
    expect_body(build_answer("v3:x", AnswerCommand{.command_id = "a"}),
                "/calls/v3:x/actions/answer", R"({"command_id":"a"})");
    expect_body(build_hangup("v3:x", HangupCommand{.command_id = "h"}),
                "/calls/v3:x/actions/hangup", R"({"command_id":"h"})");
    expect_body(build_streaming_stop("v3:x",
                                     StreamingStopCommand{.command_id = "s", .stream_id = "sid"}),
                "/calls/v3:x/actions/streaming_stop", R"({"stream_id":"sid","command_id":"s"})");
    expect_body(build_record_stop("v3:x", RecordStopCommand{.command_id = "r"}),
                "/calls/v3:x/actions/record_stop", R"({"command_id":"r"})");
}

TEST(CallControl, AnswerRecordingFromAnswer) {
    AnswerCommand c;
    c.command_id = "a";
    c.record = RecordFromAnswer{.channels = RecordChannels::Dual,
                                .format = RecordFormat::Wav,
                                .max_length_s = 600,
                                .trim_silence = true};
    c.send_silence_when_idle = true;
    c.webhook_url = "https://app/webhooks/voice";
    c.webhook_url_method = WebhookMethod::Post;
    expect_body(build_answer("v3:x", c), "/calls/v3:x/actions/answer",
                R"({"record":"record-from-answer","record_channels":"dual","record_format":"wav",)"
                R"("record_max_length":600,"record_trim":"trim-silence",)"
                R"("send_silence_when_idle":true,"webhook_url":"https://app/webhooks/voice",)"
                R"("webhook_url_method":"POST","command_id":"a"})");
    c.record->max_length_s = 43201;
    expect_invalid(build_answer("v3:x", c), "record_max_length");
}

TEST(CallControl, SpeakWithAFullVoiceName) {
    SpeakCommand c;
    c.command_id = "speak-1";
    c.payload = "This call may be analysed for synthetic voices.";
    c.voice = "Telnyx.KokoroTTS.af";
    c.language = "en-US";
    c.payload_type = SpeakPayloadType::Text;
    expect_body(build_speak("v3:x", c), "/calls/v3:x/actions/speak",
                R"({"payload":"This call may be analysed for synthetic voices.",)"
                R"("voice":"Telnyx.KokoroTTS.af","language":"en-US","payload_type":"text",)"
                R"("command_id":"speak-1"})");
}

TEST(CallControl, SpeakRefusesWhatTelnyxWould) {
    SpeakCommand c;
    c.command_id = "s";
    c.payload = "hi";
    c.voice = "female";  // Telnyx's Python example mistake (section 8, #7)
    expect_invalid(build_speak("v3:x", c), "service_level");
    c.service_level = ServiceLevel::Basic;
    const auto ok = build_speak("v3:x", c);
    ASSERT_TRUE(ok);
    EXPECT_EQ(json::parse(ok->body)["service_level"], "basic");
    c.payload = std::string(3001, 'a');
    expect_invalid(build_speak("v3:x", c), "payload");
    c.payload = "";
    expect_invalid(build_speak("v3:x", c), "payload");
    c.payload = "hi";
    c.voice = "";
    expect_invalid(build_speak("v3:x", c), "voice");
}

TEST(CallControl, RecordStartHasRequiredFormatAndChannels) {
    RecordStartCommand c;
    c.command_id = "rec";
    c.format = RecordFormat::Mp3;
    c.channels = RecordChannels::Dual;
    c.play_beep = false;
    c.recording_track = RecordTrack::Inbound;
    c.trim_silence = true;
    expect_body(build_record_start("v3:x", c), "/calls/v3:x/actions/record_start",
                R"({"format":"mp3","channels":"dual","play_beep":false,)"
                R"("recording_track":"inbound","trim":"trim-silence","command_id":"rec"})");
    c.max_length_s = 14401;
    expect_invalid(build_record_start("v3:x", c), "max_length");
}

TEST(CallControl, Transfer) {
    TransferCommand c;
    c.command_id = "t";
    c.to = "+13125550123";
    c.from = "+13125550199";
    c.timeout_s = 30;
    expect_body(
            build_transfer("v3:x", c), "/calls/v3:x/actions/transfer",
            R"({"to":"+13125550123","from":"+13125550199","timeout_secs":30,"command_id":"t"})");
    c.to.clear();
    expect_invalid(build_transfer("v3:x", c), "'to'");
    c.to = "sip:agent@example.com";
    c.from_display_name = std::string(129, 'n');
    expect_invalid(build_transfer("v3:x", c), "from_display_name");
}

TEST(CallControl, PlaybackStartNeedsExactlyOneSource) {
    PlaybackStartCommand c;
    c.command_id = "p";
    c.audio_url = "https://app/beep.wav";
    c.audio_type = AudioType::Wav;
    c.loop_count = 2;
    c.overlay = true;
    expect_body(build_playback_start("v3:x", c), "/calls/v3:x/actions/playback_start",
                R"({"audio_url":"https://app/beep.wav","audio_type":"wav","loop":2,)"
                R"("overlay":true,"command_id":"p"})");
    c.media_name = "beep";
    expect_invalid(build_playback_start("v3:x", c), "exactly one");
    c.audio_url.reset();
    c.media_name.reset();
    expect_invalid(build_playback_start("v3:x", c), "exactly one");
    c.playback_content = "not base64!";
    expect_invalid(build_playback_start("v3:x", c), "playback_content");
}

TEST(CallControl, DialWithStreamingRecordingAndDeepfakeDetection) {
    DialCommand c;
    c.command_id = "dial-1";
    c.to = "+13125550123";
    c.from = "+13125550199";
    c.connection_id = "1494404757140276705";
    c.timeout_s = 60;
    c.stream = StreamOptions{.stream_url = "wss://app/media", .track = StreamTrack::InboundTrack};
    c.deepfake_detection = DeepfakeDetectionOptions{};
    c.record = RecordFromAnswer{.format = RecordFormat::Wav};
    c.client_state = "eyJhIjoxfQ==";
    expect_body(build_dial(c), "/calls",
                R"({"to":"+13125550123","from":"+13125550199",)"
                R"("connection_id":"1494404757140276705","timeout_secs":60,)"
                R"("stream_url":"wss://app/media","stream_track":"inbound_track",)"
                R"("deepfake_detection":{"enabled":true},"record":"record-from-answer",)"
                R"("record_format":"wav","client_state":"eyJhIjoxfQ==","command_id":"dial-1"})");
    c.timeout_s = 4;
    expect_invalid(build_dial(c), "timeout_secs");
    c.timeout_s.reset();
    c.connection_id.clear();
    expect_invalid(build_dial(c), "connection_id");
}

TEST(CallControl, EveryCommandNeedsACommandIdAndACallId) {
    expect_invalid(build_hangup("v3:x", HangupCommand{}), "command_id");
    expect_invalid(build_hangup("", HangupCommand{.command_id = "h"}), "call_control_id");
    expect_invalid(build_dial(DialCommand{.to = "+1", .from = "+2", .connection_id = "3"}),
                   "command_id");
    expect_invalid(build_hangup("v3:x", HangupCommand{.command_id = "h", .client_state = "{}"}),
                   "client_state");
}

// telnyx-protocol.md section 2.2.
TEST(CallControl, ParsesErrorResponsesAndRecognisesCallEnded) {
    const auto ended = parse_error_response(
            R"({"errors":[{"code":"90018","title":"Call has already ended",)"
            R"("detail":"This call is no longer active and can't receive commands."}]})");
    ASSERT_TRUE(ended);
    ASSERT_EQ(ended->errors.size(), 1U);
    EXPECT_EQ(ended->errors[0].code, "90018");
    EXPECT_EQ(ended->errors[0].title, "Call has already ended");
    EXPECT_TRUE(ended->call_already_ended());
    // The 2025 spec typed code as an integer.
    const auto numeric = parse_error_response(
            R"({"errors":[{"code":90015,"title":"Invalid Call Control ID",)"
            R"("source":{"pointer":"/call_control_id"},"meta":{"url":"x"}}]})");
    ASSERT_TRUE(numeric);
    EXPECT_EQ(numeric->errors[0].code, "90015");
    EXPECT_EQ(numeric->errors[0].source_pointer, "/call_control_id");
    EXPECT_FALSE(numeric->call_already_ended());
    EXPECT_TRUE(numeric->has_code("90015"));
    for (const char* bad : {"", "{}", R"({"errors":[]})", R"({"errors":{}})",
                            R"({"errors":[{"title":"no code"}]})", R"({"errors":[{"code":1.5}]})",
                            R"({"detail":[{"loc":["body"],"msg":"m","type":"t"}]})"}) {
        EXPECT_FALSE(parse_error_response(bad)) << bad;
    }
}

TEST(CallControl, ClassifiesReplies) {
    const std::string ended = R"({"errors":[{"code":"90018","title":"Call has already ended"}]})";
    const std::string other = R"({"errors":[{"code":"90034","title":"Call not answered yet"}]})";
    EXPECT_EQ(classify_command_response(200, R"({"data":{"result":"ok"}})"), CommandOutcome::Ok);
    EXPECT_EQ(classify_command_response(422, ended), CommandOutcome::CallEnded);
    EXPECT_EQ(classify_command_response(422, other), CommandOutcome::Fail);
    EXPECT_EQ(classify_command_response(422, "garbage"), CommandOutcome::Fail);
    EXPECT_EQ(classify_command_response(429, ""), CommandOutcome::Retry);
    EXPECT_EQ(classify_command_response(408, ""), CommandOutcome::Retry);
    EXPECT_EQ(classify_command_response(503, ""), CommandOutcome::Retry);
    EXPECT_EQ(classify_command_response(401, ""), CommandOutcome::Fail);
    EXPECT_EQ(classify_command_response(404, ""), CommandOutcome::Fail);
}

TEST(CallControl, ParsesSuccessBodies) {
    const auto ok = parse_command_result(R"({"data":{"result":"ok"}})");
    ASSERT_TRUE(ok);
    EXPECT_EQ(ok->result, "ok");
    const auto recording = parse_command_result(R"({"data":{"result":"ok","recording_id":"r1"}})");
    ASSERT_TRUE(recording);
    EXPECT_EQ(recording->recording_id, "r1");
    EXPECT_FALSE(parse_command_result(R"({"data":{}})"));
    const auto dial = parse_dial_result(
            R"({"data":{"call_control_id":"v3:new","call_leg_id":"l","call_session_id":"s",)"
            R"("is_alive":false,"record_type":"call"}})");
    ASSERT_TRUE(dial);
    EXPECT_EQ(dial->call_control_id, "v3:new");
    EXPECT_EQ(dial->call_leg_id, "l");
    EXPECT_FALSE(parse_dial_result(R"({"data":{"call_leg_id":"l"}})"));
}

// "Retrieve a call status": the documented example body, and what is refused.
TEST(CallControl, CallStatusRequestAndReply) {
    const auto request = build_call_status("v3:a/b c");
    ASSERT_TRUE(request);
    EXPECT_EQ(request->method, "GET");
    EXPECT_EQ(request->path, "/calls/v3:a%2Fb%20c");
    EXPECT_TRUE(request->body.empty());
    EXPECT_FALSE(build_call_status(""));

    const auto ended = parse_call_status(
            R"({"data":{"call_control_id":"v3:MdI91X4lWFEs7IgbBEOT9M4AigoY08M0WWZFISt1Yw2axZ_IiE4pqg",)"
            R"("call_leg_id":"2dc6fc34-f9e0-11ea-b68e-02420a0f7768","client_state":"aGF2ZQ==",)"
            R"("is_alive":false,"call_duration":50,"start_time":"2019-01-23T18:10:02.574Z",)"
            R"("end_time":"2019-01-23T18:11:52.574Z","record_type":"call"}})");
    ASSERT_TRUE(ended) << ended.error().message;
    EXPECT_FALSE(ended->is_alive);
    EXPECT_EQ(ended->call_duration_s, 50);
    EXPECT_EQ(ended->start_time, "2019-01-23T18:10:02.574Z");
    EXPECT_EQ(ended->end_time, "2019-01-23T18:11:52.574Z");
    const auto alive = parse_call_status(R"({"data":{"is_alive":true}})");
    ASSERT_TRUE(alive);
    EXPECT_TRUE(alive->is_alive);
    EXPECT_FALSE(alive->call_duration_s.has_value());

    const auto missing = parse_call_status(R"({"data":{"call_control_id":"v3:x"}})");
    ASSERT_FALSE(missing);
    EXPECT_NE(missing.error().message.find("data.is_alive"), std::string::npos);
    EXPECT_FALSE(parse_call_status(R"({"data":{"is_alive":"yes"}})"));
    EXPECT_FALSE(parse_call_status(R"({"data":{"is_alive":true,"call_duration":"50"}})"));
    EXPECT_FALSE(parse_call_status("not json"));
}

}  // namespace
}  // namespace dvd::protocol
