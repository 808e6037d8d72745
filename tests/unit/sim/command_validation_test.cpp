#include "sim/command_validation.hpp"

#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "protocol/call_control.hpp"
#include "protocol/webhook.hpp"

namespace dvd::sim {
namespace {

using nlohmann::json;

constexpr std::string_view kCall = "v3:MdI91X4lWFEs7IgbBEOT9M4AigoY08M0WWZFISt1Yw2axZ_IiE4pqg";

// The error at `pointer`, or a failure naming what was there.
const TelnyxError* error_at(const Validation& v, std::string_view pointer) {
    for (const TelnyxError& e : v.errors) {
        if (e.pointer == pointer) {
            return &e;
        }
    }
    return nullptr;
}

void expect_error(const Validation& v, std::string_view pointer, std::string_view code) {
    ASSERT_FALSE(v.command.has_value());
    EXPECT_EQ(v.status, 422);
    const TelnyxError* e = error_at(v, pointer);
    ASSERT_NE(e, nullptr) << "no error at " << pointer << "; got " << render_errors(v.errors);
    EXPECT_EQ(e->code, code) << e->detail;
    EXPECT_FALSE(e->title.empty());
    EXPECT_FALSE(e->detail.empty());
}

TEST(ParseAction, KnowsEveryCallActionAndNothingElse) {
    for (const char* name : {"answer", "speak", "streaming_start", "streaming_stop", "record_start",
                             "record_stop", "hangup", "transfer", "playback_start"}) {
        const auto action = parse_action(name);
        ASSERT_TRUE(action.has_value()) << name;
        EXPECT_EQ(to_string(*action), name);
    }
    EXPECT_FALSE(parse_action("dial").has_value());
    EXPECT_FALSE(parse_action("fork_start").has_value());
    EXPECT_FALSE(parse_action("Answer").has_value());
}

// telnyx-protocol.md section 2.5's example body (the "…" placeholders replaced by real values).
TEST(ValidateCommand, AcceptsTheDocsStreamingStartExample) {
    const std::string body =
            R"({"stream_url":"wss://app.example/media","stream_track":"inbound_track",)"
            R"("stream_codec":"PCMU","stream_auth_token":"per-call-secret",)"
            R"("custom_parameters":[{"name":"call_ref","value":"abc"}],)"
            R"("client_state":"eyJwaGFzZSI6ImRldGVjdGluZyJ9","command_id":"5e1c4b2a"})";
    const Validation v = validate_command(Action::StreamingStart, body);
    ASSERT_TRUE(v.command.has_value()) << render_errors(v.errors);
    const ValidatedCommand& c = *v.command;
    ASSERT_TRUE(c.stream.has_value());
    EXPECT_EQ(c.stream->url, "wss://app.example/media");
    EXPECT_EQ(c.stream->track, "inbound_track");
    EXPECT_EQ(c.stream->codec, "PCMU");
    EXPECT_EQ(c.stream->auth_token, "per-call-secret");
    ASSERT_EQ(c.stream->custom_parameters.size(), 1U);
    EXPECT_EQ(c.stream->custom_parameters[0].name, "call_ref");
    EXPECT_EQ(c.command_id, "5e1c4b2a");
    EXPECT_EQ(c.client_state, "eyJwaGFzZSI6ImRldGVjdGluZyJ9");
    EXPECT_TRUE(c.ignored_fields.empty());
}

TEST(ValidateCommand, AcceptsDocumentedBodiesOfEveryAction) {
    struct Case {
        Action action;
        const char* body;
    };

    const Case cases[] = {
            {Action::Answer, R"({"command_id":"a1"})"},
            {Action::Answer,
             R"({"stream_url":"ws://127.0.0.1:5000/media","stream_track":"both_tracks",)"
             R"("stream_codec":"L16","deepfake_detection":{"enabled":true,"timeout":15},)"
             R"("record":"record-from-answer","record_channels":"single","record_format":"wav",)"
             R"("webhook_url":"https://app.example/hooks","webhook_url_method":"POST",)"
             R"("send_silence_when_idle":true,"command_id":"a2"})"},
            {Action::Speak,
             R"({"payload":"Hello","voice":"female","service_level":"basic","language":"en-US",)"
             R"("payload_type":"text","loop":"infinity","command_id":"s1"})"},
            {Action::Speak, R"({"payload":"<speak>Hi</speak>","voice":"Telnyx.KokoroTTS.af",)"
                            R"("payload_type":"ssml","loop":2})"},
            {Action::StreamingStop, R"({"stream_id":"7b6e1c1e-2f5a-4a4b-9d55-0f7b1f1c0d11"})"},
            {Action::RecordStart, R"({"format":"wav","channels":"single","play_beep":false,)"
                                  R"("max_length":0,"recording_track":"inbound"})"},
            {Action::RecordStop, R"({})"},
            {Action::Hangup, ""},
            {Action::Hangup, R"({"command_id":"h1","custom_headers":[{"name":"X","value":"1"}]})"},
            {Action::Transfer, R"({"to":"+13125550142","timeout_secs":30})"},
            {Action::Transfer, R"({"to":"sip:security@pbx.example.com"})"},
            {Action::PlaybackStart,
             R"({"audio_url":"https://app.example/a.wav","audio_type":"wav"})"},
            {Action::PlaybackStart, R"({"playback_content":"UklGRg=="})"},
            {Action::Dial,
             R"({"to":"+13125550199","from":"+13125550100","connection_id":"1494404757140276705",)"
             R"("stream_url":"wss://app.example/media","stream_track":"inbound_track",)"
             R"("record":"record-from-answer","timeout_secs":30,"command_id":"d1"})"},
    };
    for (const Case& c : cases) {
        const Validation v = validate_command(c.action, c.body);
        EXPECT_TRUE(v.command.has_value())
                << to_string(c.action) << " " << c.body << ": " << render_errors(v.errors);
    }
}

// Whatever the service's own builders produce must pass: they are the bodies it will send.
TEST(ValidateCommand, AcceptsEveryBodyTheProtocolBuildersMake) {
    protocol::StreamOptions stream;
    stream.stream_url = "wss://svc.example/media";
    stream.track = protocol::StreamTrack::InboundTrack;
    stream.codec = protocol::StreamCodec::Pcmu;

    protocol::AnswerCommand answer;
    answer.command_id = "c-answer";
    answer.client_state = protocol::encode_client_state(R"({"call":"1"})");
    answer.stream = stream;
    answer.deepfake_detection = protocol::DeepfakeDetectionOptions{};
    answer.record = protocol::RecordFromAnswer{};
    protocol::SpeakCommand speak;
    speak.command_id = "c-speak";
    speak.payload = "This call is analysed.";
    speak.voice = "female";
    speak.service_level = protocol::ServiceLevel::Basic;
    protocol::StreamingStartCommand start;
    start.command_id = "c-stream";
    start.stream = stream;
    start.stream_auth_token = "tok_abcdefABCDEF0123456789-_";
    start.custom_parameters = {{"call_id", "42"}};
    protocol::StreamingStopCommand stop;
    stop.command_id = "c-stop";
    protocol::RecordStartCommand record;
    record.command_id = "c-record";
    protocol::RecordStopCommand record_stop;
    record_stop.command_id = "c-record-stop";
    protocol::HangupCommand hangup;
    hangup.command_id = "c-hangup";
    protocol::TransferCommand transfer;
    transfer.command_id = "c-transfer";
    transfer.to = "+13125550142";
    protocol::PlaybackStartCommand playback;
    playback.command_id = "c-playback";
    playback.audio_url = "https://svc.example/notice.wav";
    protocol::DialCommand dial;
    dial.command_id = "c-dial";
    dial.to = "+13125550199";
    dial.from = "+13125550100";
    dial.connection_id = "1494404757140276705";
    dial.stream = stream;
    dial.record = protocol::RecordFromAnswer{};

    struct Built {
        Action action;
        base::Result<protocol::CommandRequest> request;
    };

    const Built built[] = {
            {Action::Answer, protocol::build_answer(kCall, answer)},
            {Action::Speak, protocol::build_speak(kCall, speak)},
            {Action::StreamingStart, protocol::build_streaming_start(kCall, start)},
            {Action::StreamingStop, protocol::build_streaming_stop(kCall, stop)},
            {Action::RecordStart, protocol::build_record_start(kCall, record)},
            {Action::RecordStop, protocol::build_record_stop(kCall, record_stop)},
            {Action::Hangup, protocol::build_hangup(kCall, hangup)},
            {Action::Transfer, protocol::build_transfer(kCall, transfer)},
            {Action::PlaybackStart, protocol::build_playback_start(kCall, playback)},
            {Action::Dial, protocol::build_dial(dial)},
    };
    for (const Built& b : built) {
        ASSERT_TRUE(b.request.has_value()) << to_string(b.action);
        const Validation v = validate_command(b.action, b.request->body);
        ASSERT_TRUE(v.command.has_value())
                << to_string(b.action) << " " << b.request->body << ": " << render_errors(v.errors);
        EXPECT_TRUE(v.command->ignored_fields.empty()) << b.request->body;
        EXPECT_FALSE(v.command->command_id.empty());
    }
}

TEST(ValidateCommand, ExtractsRecordingRequests) {
    auto v = validate_command(Action::RecordStart, R"({"format":"wav","channels":"single"})");
    ASSERT_TRUE(v.command && v.command->record);
    EXPECT_EQ(v.command->record->format, "wav");
    EXPECT_EQ(v.command->record->channels, "single");
    // record-from-answer uses the answer defaults (mp3, dual) unless given.
    v = validate_command(Action::Answer, R"({"record":"record-from-answer"})");
    ASSERT_TRUE(v.command && v.command->record);
    EXPECT_EQ(v.command->record->format, "mp3");
    EXPECT_EQ(v.command->record->channels, "dual");
    v = validate_command(Action::Answer, R"({})");
    ASSERT_TRUE(v.command);
    EXPECT_FALSE(v.command->record.has_value());
    EXPECT_FALSE(v.command->stream.has_value());
}

TEST(ValidateCommand, MissingRequiredFieldsGive10004WithPointers) {
    expect_error(validate_command(Action::Speak, R"({"voice":"female"})"), "/payload", "10004");
    expect_error(validate_command(Action::Speak, R"({"payload":"hi"})"), "/voice", "10004");
    expect_error(validate_command(Action::Speak, R"({"payload":"","voice":"female"})"), "/payload",
                 "10004");
    expect_error(validate_command(Action::RecordStart, R"({"format":"wav"})"), "/channels",
                 "10004");
    expect_error(validate_command(Action::Transfer, R"({})"), "/to", "10004");
    expect_error(validate_command(Action::StreamingStart, R"({"stream_track":"inbound_track"})"),
                 "/stream_url", "10004");
    expect_error(validate_command(Action::Dial, R"({"to":"+13125550199","from":"+13125550100"})"),
                 "/connection_id", "10004");
    expect_error(validate_command(Action::PlaybackStart, R"({"loop":1})"), "/audio_url", "10004");
}

TEST(ValidateCommand, WrongTypesGive10015) {
    expect_error(validate_command(Action::RecordStart, R"({"format":5,"channels":"single"})"),
                 "/format", "10015");
    expect_error(validate_command(Action::Answer, R"({"stream_url":["wss://x/y"]})"), "/stream_url",
                 "10015");
    expect_error(validate_command(Action::Answer, R"({"send_silence_when_idle":"yes"})"),
                 "/send_silence_when_idle", "10015");
    expect_error(validate_command(Action::Answer, R"({"record_max_length":"60"})"),
                 "/record_max_length", "10015");
    expect_error(validate_command(Action::Hangup, R"({"command_id":42})"), "/command_id", "10015");
    expect_error(validate_command(Action::Answer, R"({"deepfake_detection":{"timeout":15}})"),
                 "/deepfake_detection/enabled", "10004");
    expect_error(validate_command(Action::Answer, R"({"deepfake_detection":{"enabled":"on"}})"),
                 "/deepfake_detection/enabled", "10015");
    expect_error(
            validate_command(
                    Action::StreamingStart,
                    R"({"stream_url":"wss://x/m","custom_parameters":[{"name":1,"value":"v"}]})"),
            "/custom_parameters/0/name", "10015");
    expect_error(validate_command(Action::StreamingStart,
                                  R"({"stream_url":"wss://x/m","custom_parameters":{"a":"b"}})"),
                 "/custom_parameters", "10015");
}

TEST(ValidateCommand, BadValuesGiveTheirCodes) {
    expect_error(validate_command(Action::Answer, R"({"stream_track":"inbound"})"), "/stream_track",
                 "10032");
    expect_error(validate_command(Action::Answer, R"({"stream_codec":"pcmu"})"), "/stream_codec",
                 "10032");
    expect_error(validate_command(Action::RecordStart, R"({"format":"ogg","channels":"single"})"),
                 "/format", "10032");
    expect_error(validate_command(Action::Answer, R"({"record_max_length":50000})"),
                 "/record_max_length", "10033");
    expect_error(
            validate_command(
                    Action::StreamingStart,
                    R"({"stream_url":"wss://x/m","stream_bidirectional_sampling_rate":12345})"),
            "/stream_bidirectional_sampling_rate", "10033");
    expect_error(validate_command(Action::StreamingStart,
                                  R"({"stream_url":"wss://x/m","stream_auth_token":")"
                                          + std::string(4001, 'a') + "\"}"),
                 "/stream_auth_token", "10033");
    expect_error(validate_command(Action::Speak, R"({"payload":"hi","voice":"female","loop":0})"),
                 "/loop", "10033");
    expect_error(validate_command(Action::StreamingStart, R"({"stream_url":"http://x/m"})"),
                 "/stream_url", "10003");
    expect_error(validate_command(Action::PlaybackStart, R"({"audio_url":"ftp://x/a.wav"})"),
                 "/audio_url", "10003");
    expect_error(
            validate_command(Action::Dial,
                             R"({"to":"3125550199","from":"+13125550100","connection_id":"1"})"),
            "/to", "10016");
    expect_error(validate_command(Action::Hangup, R"({"client_state":"not base64!"})"),
                 "/client_state", "10015");
    expect_error(validate_command(Action::Hangup, R"({"client_state":""})"), "/client_state",
                 "10015");
    expect_error(validate_command(Action::PlaybackStart,
                                  R"({"audio_url":"https://x/a.wav","media_name":"a"})"),
                 "/audio_url", "10015");
}

TEST(ValidateCommand, ReportsEveryProblemAtOnce) {
    const Validation v = validate_command(
            Action::Speak, R"({"voice":3,"payload_type":"html","service_level":"gold"})");
    ASSERT_FALSE(v.command.has_value());
    EXPECT_EQ(v.status, 422);
    EXPECT_NE(error_at(v, "/payload"), nullptr);
    EXPECT_NE(error_at(v, "/voice"), nullptr);
    EXPECT_NE(error_at(v, "/payload_type"), nullptr);
    EXPECT_NE(error_at(v, "/service_level"), nullptr);
    EXPECT_EQ(v.errors.size(), 4U);
}

TEST(ValidateCommand, NonJsonBodyIs400BadRequest) {
    for (const char* body : {"{", "not json", "[1,2]", "\"text\""}) {
        const Validation v = validate_command(Action::Hangup, body);
        ASSERT_FALSE(v.command.has_value()) << body;
        EXPECT_EQ(v.status, 400) << body;
        ASSERT_EQ(v.errors.size(), 1U);
        EXPECT_EQ(v.errors[0].code, "10015");
        EXPECT_EQ(v.errors[0].pointer, "/");
    }
}

TEST(ValidateCommand, UnknownFieldsAreIgnoredAndListed) {
    const Validation v = validate_command(Action::Hangup, R"({"command_id":"x","reason":"bye"})");
    ASSERT_TRUE(v.command.has_value());
    ASSERT_EQ(v.command->ignored_fields.size(), 1U);
    EXPECT_EQ(v.command->ignored_fields[0], "reason");
}

TEST(ValidateCommand, NullCountsAsAbsent) {
    EXPECT_TRUE(validate_command(Action::Answer, R"({"client_state":null,"stream_url":null})")
                        .command.has_value());
    expect_error(validate_command(Action::Speak, R"({"payload":null,"voice":"female"})"),
                 "/payload", "10004");
}

TEST(RenderErrors, ParsesAsATelnyxErrorResponse) {
    const std::string body = render_errors({errors::call_ended()});
    auto parsed = protocol::parse_error_response(body);
    ASSERT_TRUE(parsed.has_value()) << body;
    EXPECT_TRUE(parsed->call_already_ended());
    EXPECT_EQ(protocol::classify_command_response(422, body), protocol::CommandOutcome::CallEnded);

    const Validation v = validate_command(Action::Speak, R"({"voice":"female"})");
    const std::string refused = render_errors(v.errors);
    parsed = protocol::parse_error_response(refused);
    ASSERT_TRUE(parsed.has_value()) << refused;
    EXPECT_EQ(parsed->errors[0].code, "10004");
    EXPECT_EQ(parsed->errors[0].source_pointer, "/payload");
    EXPECT_EQ(protocol::classify_command_response(422, refused), protocol::CommandOutcome::Fail);

    const std::string unauthorized = render_errors({errors::authentication_failed()});
    const json j = json::parse(unauthorized);
    EXPECT_EQ(j["errors"][0]["code"], "10009");
    EXPECT_EQ(j["errors"][0]["meta"]["url"],
              "https://developers.telnyx.com/docs/overview/errors/10009");
}

TEST(OkReply, IsTheDocumentedSuccessBody) {
    EXPECT_EQ(ok_reply().body, R"({"data":{"result":"ok"}})");
    EXPECT_EQ(ok_reply("rec-1").body, R"({"data":{"result":"ok","recording_id":"rec-1"}})");
    const auto parsed = protocol::parse_command_result(ok_reply("rec-1").body);
    ASSERT_TRUE(parsed.has_value());
    EXPECT_EQ(parsed->result, "ok");
    EXPECT_EQ(parsed->recording_id, "rec-1");
    EXPECT_EQ(first_error_code(ok_reply()), "");
    EXPECT_EQ(first_error_code(error_reply(422, {errors::call_ended()})), "90018");
}

}  // namespace
}  // namespace dvd::sim
