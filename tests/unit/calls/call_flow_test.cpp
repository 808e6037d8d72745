#include "calls/call_flow.hpp"

#include <algorithm>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "calls_test_util.hpp"

namespace dvd::calls {
namespace {

using store::CallState;
using test::json;
using test::webhook_body;

constexpr std::string_view kCcid = "v3:abc";
constexpr store::UnixMs kNow = 1'767'261'700'000;  // 2026-01-01T10:01:40Z

CallFlow default_flow() {
    return CallFlow(CallFlowOptions{});
}

FlowInputs inputs_for_new() {
    return FlowInputs{.now_ms = kNow,
                      .stream_url = "wss://dvd.example/media",
                      .new_call_id = call_id_for(kCcid),
                      .new_stream_token = "token-0123456789"};
}

CallRecord record_in(CallState state,
                     store::CallDirection direction = store::CallDirection::Inbound) {
    CallRecord r;
    r.call.id = call_id_for(kCcid);
    r.call.call_control_id = std::string(kCcid);
    r.call.call_leg_id = "leg-1";
    r.call.call_session_id = "session-1";
    r.call.direction = direction;
    r.call.state = state;
    r.call.started_at_ms = 1'767'261'600'000;  // 10:00:00
    r.call.created_at_ms = r.call.started_at_ms;
    if (state != CallState::Initiated) {
        r.call.answered_at_ms = 1'767'261'605'000;  // 10:00:05
        r.flow.answer_issued = true;
    }
    if (state == CallState::Streaming || store::is_terminal(state)) {
        r.flow.greeting_issued = true;
        r.flow.stream_starts = 1;
        r.flow.record_start_issued = true;
        r.call.stream_auth_token = "existing-token";
    }
    if (store::is_terminal(state)) {
        r.call.hangup_cause = "normal_clearing";
        r.call.ended_at_ms = 1'767'261'630'000;
    }
    return r;
}

std::vector<CommandKind> kinds(const FlowDecision& d) {
    std::vector<CommandKind> out;
    for (const auto& c : d.commands) {
        out.push_back(c.kind);
    }
    return out;
}

protocol::WebhookEvent event(std::string_view type, json payload = json::object(),
                             std::string_view occurred = "2026-01-01T10:00:00.000000Z") {
    return test::parse(webhook_body(type, "evt-1", kCcid, std::move(payload), occurred));
}

// ---- the event x state table ----

struct Row {
    const char* event_type;
    std::optional<CallState> state;  ///< nullopt: the call is unknown
    std::vector<CommandKind> commands;
    std::optional<CallState> state_after;  ///< nullopt: no call (ignored)
};

std::string row_name(const Row& row) {
    return fmt::format("{} in {}", row.event_type,
                       row.state ? std::string(store::to_string(*row.state)) : "unknown");
}

class CallFlowTable : public ::testing::TestWithParam<Row> {};

TEST_P(CallFlowTable, CommandsAndStateAfterEvent) {
    const Row& row = GetParam();
    json payload = test::inbound_payload();
    payload["failure_reason"] = "connection_failed";
    std::optional<CallRecord> current;
    if (row.state) {
        current = record_in(*row.state);
    }
    const auto d =
            default_flow().on_webhook(current, event(row.event_type, payload), inputs_for_new());
    EXPECT_EQ(kinds(d), row.commands) << row_name(row);
    if (row.state_after) {
        EXPECT_EQ(d.record.call.state, *row.state_after) << row_name(row);
    } else {
        EXPECT_TRUE(d.ignored) << row_name(row);
        EXPECT_TRUE(d.record.call.id.empty()) << row_name(row);
    }
}

using K = CommandKind;
constexpr auto I = CallState::Initiated;
constexpr auto A = CallState::Answered;
constexpr auto S = CallState::Streaming;
constexpr auto E = CallState::Ended;
const std::vector<K> kAfterAnswer{K::Speak, K::StreamingStart, K::RecordStart};

INSTANTIATE_TEST_SUITE_P(
        EveryEventInEveryState, CallFlowTable,
        ::testing::Values(
                // call.initiated: answer only a new inbound call.
                Row{"call.initiated", std::nullopt, {K::Answer}, I},
                Row{"call.initiated", I, {K::Answer}, I}, Row{"call.initiated", A, {}, A},
                Row{"call.initiated", S, {}, S}, Row{"call.initiated", E, {}, E},
                // call.answered: greeting + stream + record once.
                Row{"call.answered", std::nullopt, kAfterAnswer, A},
                Row{"call.answered", I, kAfterAnswer, A},
                Row{"call.answered", A, kAfterAnswer, A},  // answer_issued only: still to do
                Row{"call.answered", S, {}, S}, Row{"call.answered", E, {}, E},
                // streaming.*: state only.
                Row{"streaming.started", std::nullopt, {}, S}, Row{"streaming.started", I, {}, S},
                Row{"streaming.started", A, {}, S}, Row{"streaming.started", S, {}, S},
                Row{"streaming.started", E, {}, E}, Row{"call.streaming.started", A, {}, S},
                Row{"streaming.stopped", S, {}, A}, Row{"streaming.stopped", A, {}, A},
                Row{"streaming.stopped", E, {}, E}, Row{"call.streaming.stopped", S, {}, A},
                Row{"streaming.failed", S, {}, A}, Row{"streaming.failed", I, {}, I},
                // call.hangup ends whatever was going on.
                Row{"call.hangup", std::nullopt, {}, E}, Row{"call.hangup", I, {}, E},
                Row{"call.hangup", A, {}, E}, Row{"call.hangup", S, {}, E},
                Row{"call.hangup", E, {}, E},
                // Informational events.
                Row{"call.speak.started", S, {}, S}, Row{"call.speak.ended", S, {}, S},
                Row{"call.recording.saved", E, {}, E}, Row{"call.recording.error", S, {}, S},
                Row{"call.deepfake_detection.result", S, {}, S},
                Row{"call.deepfake_detection.error", S, {}, S},
                // Ignored: unknown types, and known ones we do not act on.
                Row{"call.dtmf.received", std::nullopt, {}, std::nullopt},
                Row{"call.something.new", std::nullopt, {}, std::nullopt},
                Row{"call.bridged", std::nullopt, {}, std::nullopt},
                Row{"call.playback.ended", std::nullopt, {}, std::nullopt}));

// ---- single behaviours ----

TEST(CallFlow, InitiatedCreatesTheInboundCallFromThePayload) {
    const auto d = default_flow().on_webhook(
            std::nullopt, event("call.initiated", test::inbound_payload()), inputs_for_new());
    ASSERT_TRUE(d.call_created);
    EXPECT_TRUE(d.call_changed);
    const auto& call = d.record.call;
    EXPECT_EQ(call.id, call_id_for(kCcid));
    EXPECT_EQ(call.call_control_id, kCcid);
    EXPECT_EQ(call.call_leg_id, "leg-1");
    EXPECT_EQ(call.call_session_id, "session-1");
    EXPECT_EQ(call.direction, store::CallDirection::Inbound);
    EXPECT_EQ(call.from, "+13125550100");
    EXPECT_EQ(call.to, "+13125550199");
    EXPECT_EQ(call.started_at_ms, 1'767'261'600'000);
    EXPECT_EQ(call.stir_shaken_attestation, "A");
    EXPECT_EQ(call.stir_shaken_verified, true);
    EXPECT_EQ(call.created_at_ms, kNow);
    EXPECT_EQ(call.updated_at_ms, kNow);

    ASSERT_EQ(d.commands.size(), 1U);
    const auto& answer = std::get<protocol::AnswerCommand>(d.commands[0].command);
    EXPECT_EQ(answer.command_id, command_id_for(kCcid, CommandKind::Answer, "initial"));
    EXPECT_EQ(d.commands[0].command_id, answer.command_id);
    EXPECT_FALSE(answer.deepfake_detection.has_value());
    EXPECT_FALSE(answer.stream.has_value());
    ASSERT_TRUE(answer.client_state.has_value());
    EXPECT_EQ(protocol::decode_client_state(*answer.client_state).value(),
              fmt::format(R"({{"call_id":"{}"}})", call.id));
    EXPECT_TRUE(d.record.flow.answer_issued);
}

TEST(CallFlow, AnswerAsksForTelnyxDeepfakeDetectionWhenEnabled) {
    CallFlow flow(CallFlowOptions{.telnyx_deepfake_detection = true});
    const auto d = flow.on_webhook(std::nullopt, event("call.initiated", test::inbound_payload()),
                                   inputs_for_new());
    ASSERT_EQ(d.commands.size(), 1U);
    const auto& answer = std::get<protocol::AnswerCommand>(d.commands[0].command);
    ASSERT_TRUE(answer.deepfake_detection.has_value());
    EXPECT_TRUE(answer.deepfake_detection->enabled);
}

TEST(CallFlow, OutgoingInitiatedIsNotAnswered) {
    json payload = test::inbound_payload();
    payload["direction"] = "outgoing";
    const auto d = default_flow().on_webhook(std::nullopt, event("call.initiated", payload),
                                             inputs_for_new());
    EXPECT_TRUE(d.commands.empty());
    EXPECT_EQ(d.record.call.direction, store::CallDirection::Outbound);
}

TEST(CallFlow, AnsweredPlansGreetingStreamAndRecordWithTheirBodies) {
    const auto d = default_flow().on_webhook(record_in(CallState::Initiated),
                                             event("call.answered", {}, "2026-01-01T10:00:05Z"),
                                             inputs_for_new());
    ASSERT_EQ(kinds(d), kAfterAnswer);
    EXPECT_EQ(d.record.call.answered_at_ms, 1'767'261'605'000);

    const auto& speak = std::get<protocol::SpeakCommand>(d.commands[0].command);
    EXPECT_EQ(speak.payload, CallFlowOptions{}.greeting_text);
    EXPECT_EQ(speak.voice, "female");
    EXPECT_EQ(speak.language, "en-US");
    EXPECT_EQ(speak.service_level, protocol::ServiceLevel::Basic);
    EXPECT_EQ(speak.command_id, command_id_for(kCcid, CommandKind::Speak, "greeting"));

    const auto& start = std::get<protocol::StreamingStartCommand>(d.commands[1].command);
    EXPECT_EQ(start.stream.stream_url, "wss://dvd.example/media");
    EXPECT_EQ(start.stream.track, protocol::StreamTrack::InboundTrack);
    EXPECT_EQ(start.stream_auth_token, "token-0123456789");
    EXPECT_EQ(d.record.call.stream_auth_token, "token-0123456789");
    EXPECT_EQ(d.record.flow.stream_starts, 1);
    EXPECT_EQ(d.record.flow.stream_url, "wss://dvd.example/media");
    ASSERT_TRUE(d.grant.has_value());
    EXPECT_EQ(d.grant->call_control_id, kCcid);
    EXPECT_EQ(d.grant->call_id, d.record.call.id);
    EXPECT_EQ(d.grant->stream_auth_token, "token-0123456789");

    const auto& record = std::get<protocol::RecordStartCommand>(d.commands[2].command);
    EXPECT_EQ(record.format, protocol::RecordFormat::Wav);
    EXPECT_EQ(record.channels, protocol::RecordChannels::Single);

    // Every body builds (the protocol layer validates them).
    EXPECT_TRUE(protocol::build_speak(kCcid, speak).has_value());
    EXPECT_TRUE(protocol::build_streaming_start(kCcid, start).has_value());
    EXPECT_TRUE(protocol::build_record_start(kCcid, record).has_value());
}

TEST(CallFlow, SecondAnsweredWithAnotherIdSendsNothing) {
    const auto flow = default_flow();
    const auto first = flow.on_webhook(record_in(CallState::Initiated), event("call.answered"),
                                       inputs_for_new());
    const auto second = flow.on_webhook(first.record, event("call.answered"), inputs_for_new());
    EXPECT_TRUE(second.commands.empty());
    EXPECT_FALSE(second.grant.has_value());
}

TEST(CallFlow, AnsweredKeepsAnExistingStreamToken) {
    auto current = record_in(CallState::Initiated);
    current.call.stream_auth_token = "kept";
    const auto d = default_flow().on_webhook(current, event("call.answered"), inputs_for_new());
    ASSERT_TRUE(d.grant.has_value());
    EXPECT_EQ(d.grant->stream_auth_token, "kept");
}

TEST(CallFlow, AnsweredWithoutAStreamUrlRecordsTheProblem) {
    auto inputs = inputs_for_new();
    inputs.stream_url.clear();
    const auto d = default_flow().on_webhook(record_in(CallState::Initiated),
                                             event("call.answered"), inputs);
    EXPECT_EQ(kinds(d), (std::vector<K>{K::Speak, K::RecordStart}));
    EXPECT_FALSE(d.grant.has_value());
    EXPECT_NE(d.record.call.last_error.find("MEDIA_STREAM_URL"), std::string::npos);
}

TEST(CallFlow, NoGreetingAndNoRecordingWhenSwitchedOff) {
    CallFlow flow(CallFlowOptions{.greeting_text = "", .record_calls = false});
    const auto d = flow.on_webhook(record_in(CallState::Initiated), event("call.answered"),
                                   inputs_for_new());
    EXPECT_EQ(kinds(d), (std::vector<K>{K::StreamingStart}));
}

TEST(CallFlow, HangupSetsDurationCauseAndFinalScoreAndRevokes) {
    auto current = record_in(CallState::Streaming);
    current.flow.latest_score = pipeline::CallScore{.llr = 2.0,
                                                    .probability = 0.88,
                                                    .verdict = pipeline::Verdict::Synthetic,
                                                    .speech_seconds = 12.5,
                                                    .windows = 20};
    json payload{{"hangup_cause", "normal_clearing"}, {"hangup_source", "caller"}};
    const auto d = default_flow().on_webhook(
            current, event("call.hangup", payload, "2026-01-01T10:00:35Z"), inputs_for_new());
    const auto& call = d.record.call;
    EXPECT_EQ(call.state, CallState::Ended);
    EXPECT_TRUE(d.call_ended);
    EXPECT_TRUE(d.revoke);
    EXPECT_EQ(call.ended_at_ms, 1'767'261'635'000);
    ASSERT_TRUE(call.duration_seconds.has_value());
    EXPECT_DOUBLE_EQ(*call.duration_seconds, 30.0);  // from answer (10:00:05)
    EXPECT_EQ(call.hangup_cause, "normal_clearing");
    EXPECT_EQ(call.final_score, 0.88);
    EXPECT_EQ(call.final_llr, 2.0);
    EXPECT_EQ(call.verdict, "synthetic");
    EXPECT_DOUBLE_EQ(call.speech_seconds, 12.5);
}

TEST(CallFlow, HangupOfAnUnansweredCallMeasuresFromInitiation) {
    const auto d = default_flow().on_webhook(
            record_in(CallState::Initiated),
            event("call.hangup", {{"hangup_cause", "originator_cancel"}}, "2026-01-01T10:00:10Z"),
            inputs_for_new());
    EXPECT_DOUBLE_EQ(d.record.call.duration_seconds.value_or(-1), 10.0);
    EXPECT_EQ(d.record.call.hangup_cause, "originator_cancel");
}

TEST(CallFlow, DuplicateHangupIsIgnored) {
    const auto d = default_flow().on_webhook(record_in(CallState::Ended), event("call.hangup"),
                                             inputs_for_new());
    EXPECT_TRUE(d.ignored);
    EXPECT_FALSE(d.call_ended);
    EXPECT_FALSE(d.call_changed);
}

TEST(CallFlow, HangupBeforeAnythingElseCreatesAnEndedCall) {
    const auto flow = default_flow();
    const auto hangup = flow.on_webhook(
            std::nullopt, event("call.hangup", {{"hangup_cause", "timeout"}}), inputs_for_new());
    EXPECT_TRUE(hangup.call_created);
    EXPECT_TRUE(hangup.call_ended);
    EXPECT_EQ(hangup.record.call.state, CallState::Ended);
    const auto answered = flow.on_webhook(hangup.record, event("call.answered"), inputs_for_new());
    EXPECT_TRUE(answered.commands.empty());
    EXPECT_TRUE(answered.ignored);
}

TEST(CallFlow, StreamingFailedBecomesLastError) {
    const auto d = default_flow().on_webhook(
            record_in(CallState::Streaming),
            event("streaming.failed", {{"failure_reason", "connection_failed"},
                                       {"stream_id", "s-1"},
                                       {"stream_type", "websocket"}}),
            inputs_for_new());
    EXPECT_EQ(d.record.call.last_error, "media streaming failed: connection_failed");
    EXPECT_EQ(d.record.call.state, CallState::Answered);
}

TEST(CallFlow, StreamingStoppedOfAnEarlierStreamLeavesTheLiveOneAlone) {
    CallRecord record = record_in(CallState::Streaming);
    record.flow.media_live = true;  // a stream started after a restart is open
    const auto stopped = default_flow().on_webhook(
            record, event("streaming.stopped", {{"stream_url", "wss://dvd.example/media"}}),
            inputs_for_new());
    EXPECT_EQ(stopped.record.call.state, CallState::Streaming);
    const auto failed = default_flow().on_webhook(
            record, event("streaming.failed", {{"failure_reason", "connection_failed"}}),
            inputs_for_new());
    EXPECT_EQ(failed.record.call.state, CallState::Streaming);
    EXPECT_EQ(failed.record.call.last_error, "");

    service::StreamEnded ended{.call_id = call_id_for(kCcid),
                               .call_control_id = std::string(kCcid),
                               .stream_id = "s-2",
                               .reason = "stop"};
    const auto after = default_flow().on_stream_ended(record, ended, inputs_for_new());
    EXPECT_FALSE(after.record.flow.media_live);
    EXPECT_EQ(after.record.call.state, CallState::Answered);
    service::StreamStarted started{.call_id = call_id_for(kCcid),
                                   .call_control_id = std::string(kCcid),
                                   .stream_id = "s-3"};
    EXPECT_TRUE(default_flow()
                        .on_stream_started(after.record, started, inputs_for_new())
                        .record.flow.media_live);
}

store::CommandLog logged_stream_start(const std::string& url) {
    return store::CommandLog{
            .call_id = call_id_for(kCcid),
            .command = "streaming_start",
            .command_id = "c-1",
            .request_body_json =
                    nlohmann::json{{"stream_url", url}, {"stream_track", "inbound_track"}}.dump(),
            .http_status = 200};
}

/// A stored call as recovery rebuilds it: its flow from the command log.
CallRecord with_history(CallRecord record, const std::vector<store::CommandLog>& log) {
    const FlowState test_flags = record.flow;
    record.flow = flow_from_history(record.call, log);
    record.flow.hangup_issued = record.flow.hangup_issued || test_flags.hangup_issued;
    record.flow.stream_in_dial = record.flow.stream_in_dial || test_flags.stream_in_dial;
    return record;
}

TEST(CallFlow, AfterARestartAStreamedCallGetsANewStream) {
    const std::vector<store::CommandLog> log{
            store::CommandLog{.command = "answer", .command_id = "a"},
            logged_stream_start("wss://old.example/media"),
            store::CommandLog{.command = "record_start", .command_id = "r"}};
    for (const CallState state : {CallState::Streaming, CallState::Answered}) {
        CallRecord record = record_in(CallState::Streaming);
        record.call.state = state;
        const auto d =
                default_flow().on_recovered(with_history(record, log), FlowInputs{.now_ms = kNow});
        ASSERT_EQ(d.commands.size(), 1u) << store::to_string(state);
        const auto& command = d.commands[0];
        EXPECT_EQ(command.kind, CommandKind::StreamingStart);
        EXPECT_EQ(command.command_id,
                  command_id_for(kCcid, CommandKind::StreamingStart, "resume-1"));
        const auto& start = std::get<protocol::StreamingStartCommand>(command.command);
        EXPECT_EQ(start.stream.stream_url, "wss://old.example/media") << "the URL it streamed to";
        EXPECT_EQ(start.stream.track, protocol::StreamTrack::InboundTrack);
        EXPECT_EQ(start.stream_auth_token, "existing-token");
        EXPECT_EQ(d.record.flow.stream_starts, 2);
    }

    // MEDIA_STREAM_URL wins; a second restart gets a command id of its own.
    std::vector<store::CommandLog> twice = log;
    twice.push_back(logged_stream_start("wss://old.example/media"));
    const auto d = default_flow().on_recovered(
            with_history(record_in(CallState::Streaming), twice),
            FlowInputs{.now_ms = kNow, .stream_url = "wss://configured.example/media"});
    ASSERT_EQ(d.commands.size(), 1u);
    EXPECT_EQ(d.commands[0].command_id,
              command_id_for(kCcid, CommandKind::StreamingStart, "resume-2"));
    EXPECT_EQ(std::get<protocol::StreamingStartCommand>(d.commands[0].command).stream.stream_url,
              "wss://configured.example/media");
    EXPECT_EQ(d.record.flow.stream_url, "wss://configured.example/media");
}

TEST(CallFlow, AfterARestartOnlyAnsweredStreamedCallsGetANewStream) {
    const std::vector<store::CommandLog> log{logged_stream_start("wss://old.example/media")};
    const auto none = [&](const CallRecord& record, const std::vector<store::CommandLog>& history) {
        return default_flow()
                .on_recovered(with_history(record, history), FlowInputs{.now_ms = kNow})
                .commands.empty();
    };
    EXPECT_TRUE(none(record_in(CallState::Initiated), log));
    EXPECT_TRUE(none(record_in(CallState::Ended), log));
    CallRecord hanging_up = record_in(CallState::Streaming);
    hanging_up.flow.hangup_issued = true;
    EXPECT_TRUE(none(hanging_up, log));
    CallRecord dial_stream = record_in(CallState::Streaming);
    dial_stream.flow.stream_in_dial = true;
    EXPECT_TRUE(none(dial_stream, log));
    EXPECT_TRUE(none(record_in(CallState::Answered), {}));  // never streamed
    CallRecord no_token = record_in(CallState::Streaming);
    no_token.call.stream_auth_token.clear();
    EXPECT_TRUE(none(no_token, log));
    // A call that already had kMaxStreamsPerCall streams.
    EXPECT_TRUE(none(record_in(CallState::Streaming),
                     std::vector<store::CommandLog>(kMaxStreamsPerCall, log[0])));
    EXPECT_FALSE(none(record_in(CallState::Streaming),
                      std::vector<store::CommandLog>(kMaxStreamsPerCall - 1, log[0])));
    // No URL in the log and none configured: nothing to connect to, and the log says why.
    const auto no_url = default_flow().on_recovered(
            with_history(
                    record_in(CallState::Streaming),
                    {store::CommandLog{.command = "streaming_start", .request_body_json = "{}"}}),
            FlowInputs{.now_ms = kNow});
    EXPECT_TRUE(no_url.commands.empty());
    ASSERT_EQ(no_url.notes.size(), 1u);
    EXPECT_EQ(no_url.notes[0], "media stream not started again: no stream URL");
}

TEST(CallFlow, ACallTelnyxSaysIsOverEndsWithoutItsHangup) {
    CallRecord record = record_in(CallState::Streaming);
    record.flow.latest_score = pipeline::CallScore{.llr = 2.0, .probability = 0.9, .windows = 3};
    protocol::CallStatus over;
    over.is_alive = false;
    over.call_duration_s = 25;
    over.end_time = "2026-01-01T10:00:30Z";
    const auto d = default_flow().on_call_status(record, over, FlowInputs{.now_ms = kNow});
    EXPECT_TRUE(d.call_ended);
    EXPECT_TRUE(d.revoke);
    EXPECT_EQ(d.record.call.state, CallState::Ended);
    EXPECT_EQ(d.record.call.ended_at_ms, 1'767'261'630'000);
    EXPECT_DOUBLE_EQ(d.record.call.duration_seconds.value_or(0.0), 25.0);
    EXPECT_DOUBLE_EQ(d.record.call.final_score.value_or(0.0), 0.9);
    EXPECT_EQ(d.record.call.hangup_cause, "") << "left for a late call.hangup";
    EXPECT_TRUE(d.commands.empty());

    // Unknown to Telnyx: ended now; still up, or already ended here: nothing.
    const auto unknown =
            default_flow().on_call_status(record, std::nullopt, FlowInputs{.now_ms = kNow});
    EXPECT_TRUE(unknown.call_ended);
    EXPECT_EQ(unknown.record.call.ended_at_ms, kNow);
    EXPECT_EQ(unknown.record.call.last_error,
              "the call ended without a call.hangup webhook (Telnyx no longer knows it)");
    protocol::CallStatus up;
    up.is_alive = true;
    const auto alive = default_flow().on_call_status(record, up, FlowInputs{.now_ms = kNow});
    EXPECT_FALSE(alive.call_ended);
    EXPECT_FALSE(alive.call_changed);
    const auto done = default_flow().on_call_status(record_in(CallState::Ended), over,
                                                    FlowInputs{.now_ms = kNow});
    EXPECT_TRUE(done.ignored);
    EXPECT_FALSE(done.call_ended);
}

service::StreamEnded lost_stream() {
    return service::StreamEnded{.call_id = call_id_for(kCcid),
                                .call_control_id = std::string(kCcid),
                                .stream_id = "s-1",
                                .reason = "peer closed (1006)",
                                .error = true,
                                .lost = true};
}

// A stream whose connection went away while the call goes on is started again, where the last
// one went, with the call's token and a command id of its own per restart.
TEST(CallFlow, ALostStreamIsStartedAgain) {
    CallRecord record = record_in(CallState::Streaming);
    record.flow.media_live = true;
    record.flow.stream_starts = 1;
    record.flow.stream_url = "wss://dvd.example/media";
    const auto d = default_flow().on_stream_ended(record, lost_stream(), inputs_for_new());
    ASSERT_EQ(d.commands.size(), 1u);
    EXPECT_EQ(d.commands[0].kind, CommandKind::StreamingStart);
    EXPECT_EQ(d.commands[0].command_id,
              command_id_for(kCcid, CommandKind::StreamingStart, "restart-1"));
    const auto& start = std::get<protocol::StreamingStartCommand>(d.commands[0].command);
    EXPECT_EQ(start.stream.stream_url, "wss://dvd.example/media");
    EXPECT_EQ(start.stream_auth_token, "existing-token");
    EXPECT_EQ(d.record.flow.stream_starts, 2);
    EXPECT_FALSE(d.record.flow.media_live);
    EXPECT_EQ(d.record.call.state, CallState::Answered);
    EXPECT_EQ(d.record.call.last_error, "media stream closed: peer closed (1006)");

    // The next loss gets the next step; a stream that ends with Telnyx's stop, or one we
    // refused, is not started again.
    const auto again = default_flow().on_stream_ended(d.record, lost_stream(), inputs_for_new());
    ASSERT_EQ(again.commands.size(), 1u);
    EXPECT_EQ(again.commands[0].command_id,
              command_id_for(kCcid, CommandKind::StreamingStart, "restart-2"));
    service::StreamEnded stopped = lost_stream();
    stopped.lost = false;
    stopped.error = false;
    stopped.reason = "stop";
    EXPECT_TRUE(default_flow().on_stream_ended(record, stopped, inputs_for_new()).commands.empty());
    service::StreamEnded refused = lost_stream();
    refused.lost = false;
    refused.reason = "malformed frame";
    EXPECT_TRUE(default_flow().on_stream_ended(record, refused, inputs_for_new()).commands.empty());
}

TEST(CallFlow, ALostStreamIsNotStartedAgainWhenTheCallCannotHaveOne) {
    const auto none = [](const CallRecord& record) {
        return default_flow().on_stream_ended(record, lost_stream(), inputs_for_new());
    };
    CallRecord live = record_in(CallState::Streaming);
    live.flow.stream_starts = 1;
    live.flow.stream_url = "wss://dvd.example/media";
    EXPECT_EQ(none(live).commands.size(), 1u) << "the control case";

    CallRecord ended = live;
    ended.call.state = CallState::Ended;
    EXPECT_TRUE(none(ended).commands.empty());
    CallRecord hanging_up = live;
    hanging_up.flow.hangup_issued = true;
    EXPECT_TRUE(none(hanging_up).commands.empty());
    CallRecord dial_stream = live;
    dial_stream.flow.stream_in_dial = true;
    EXPECT_TRUE(none(dial_stream).commands.empty());
    CallRecord no_token = live;
    no_token.call.stream_auth_token.clear();
    EXPECT_TRUE(none(no_token).commands.empty());
    CallRecord capped = live;
    capped.flow.stream_starts = kMaxStreamsPerCall;
    const auto at_cap = none(capped);
    EXPECT_TRUE(at_cap.commands.empty());
    EXPECT_EQ(at_cap.notes.back(), fmt::format("media stream not started again: {} streams already",
                                               kMaxStreamsPerCall));
}

// streaming.failed (Telnyx could not connect to us) marks the call for a retry; the retry is a
// new streaming_start with a step of its own, and a stream that starts clears the mark.
TEST(CallFlow, AStreamThatFailedToConnectIsAskedForAgain) {
    CallRecord record = record_in(CallState::Streaming);
    record.flow.stream_starts = 1;
    record.flow.stream_url = "wss://dvd.example/media";
    const auto failed = default_flow().on_webhook(
            record, event("streaming.failed", {{"failure_reason", "connection_failed"}}),
            inputs_for_new());
    ASSERT_TRUE(failed.record.flow.stream_failed_at_ms.has_value());
    EXPECT_EQ(*failed.record.flow.stream_failed_at_ms, inputs_for_new().now_ms);
    EXPECT_TRUE(failed.commands.empty()) << "the controller waits before asking again";

    const auto retry = default_flow().retry_failed_stream(failed.record, inputs_for_new());
    ASSERT_EQ(retry.commands.size(), 1u);
    EXPECT_EQ(retry.commands[0].command_id,
              command_id_for(kCcid, CommandKind::StreamingStart, "retry-1"));
    EXPECT_FALSE(retry.record.flow.stream_failed_at_ms.has_value());
    EXPECT_EQ(retry.record.flow.stream_starts, 2);

    service::StreamStarted started{.call_id = call_id_for(kCcid),
                                   .call_control_id = std::string(kCcid),
                                   .stream_id = "s-2"};
    EXPECT_FALSE(default_flow()
                         .on_stream_started(failed.record, started, inputs_for_new())
                         .record.flow.stream_failed_at_ms.has_value());
    // At the cap nothing is sent and the mark goes, so the call is not looked at again.
    CallRecord capped = failed.record;
    capped.flow.stream_starts = kMaxStreamsPerCall;
    const auto none = default_flow().retry_failed_stream(capped, inputs_for_new());
    EXPECT_TRUE(none.commands.empty());
    EXPECT_FALSE(none.record.flow.stream_failed_at_ms.has_value());
}

// A streaming.failed that reached the service at another address than the stream it reports
// (a restart behind a new public URL): the retry goes to the address the service has now.
TEST(CallFlow, AFailedStreamIsAskedForAgainWhereTheServiceIsReachedNow) {
    CallRecord record = record_in(CallState::Streaming);
    record.flow.stream_starts = 1;
    record.flow.stream_url = "wss://old.example/media";
    const auto retry_url = [](const FlowDecision& failed) {
        const auto retry = default_flow().retry_failed_stream(failed.record, inputs_for_new());
        EXPECT_EQ(retry.commands.size(), 1u);
        return retry.commands.empty()
                       ? std::string()
                       : std::get<protocol::StreamingStartCommand>(retry.commands[0].command)
                                 .stream.stream_url;
    };
    const auto failed = event("streaming.failed", {{"failure_reason", "connection_failed"}});
    const auto moved = default_flow().on_webhook(
            record, failed, FlowInputs{.now_ms = kNow, .stream_url = "wss://new.example/media"});
    EXPECT_EQ(moved.record.flow.stream_url, "wss://new.example/media");
    EXPECT_EQ(retry_url(moved), "wss://new.example/media");
    EXPECT_NE(std::find(moved.notes.begin(), moved.notes.end(),
                        "the retry goes to url=wss://new.example/media (was "
                        "wss://old.example/media)"),
              moved.notes.end());
    // No address known for this webhook: the stored URL.
    const auto kept = default_flow().on_webhook(record, failed, FlowInputs{.now_ms = kNow});
    EXPECT_EQ(retry_url(kept), "wss://old.example/media");
    // An earlier stream's late report while one is live changes nothing.
    CallRecord live = record;
    live.flow.media_live = true;
    EXPECT_EQ(
            default_flow()
                    .on_webhook(live, failed,
                                FlowInputs{.now_ms = kNow, .stream_url = "wss://new.example/media"})
                    .record.flow.stream_url,
            "wss://old.example/media");
}

TEST(CallFlow, FlowFromHistoryCountsTheStreamsAndKeepsTheLastUrl) {
    const auto flow =
            flow_from_history(record_in(CallState::Streaming).call,
                              {logged_stream_start("wss://a.example/media"),
                               store::CommandLog{.command = "record_start", .command_id = "r"},
                               logged_stream_start("wss://b.example/media")});
    EXPECT_EQ(flow.stream_starts, 2);
    EXPECT_EQ(flow.stream_url, "wss://b.example/media");
    EXPECT_TRUE(flow.issued(CommandKind::StreamingStart));
}

TEST(CallFlow, RecordingSavedBecomesARecording) {
    json payload{{"recording_id", "rec-1"},
                 {"channels", "single"},
                 {"format", "wav"},
                 {"recording_started_at", "2026-01-01T10:00:05Z"},
                 {"recording_ended_at", "2026-01-01T10:00:35.500Z"},
                 {"recording_urls", {{"wav", "https://rec.example/1.wav"}, {"mp3", nullptr}}},
                 {"public_recording_urls", {{"wav", nullptr}, {"mp3", nullptr}}}};
    const auto d = default_flow().on_webhook(
            record_in(CallState::Ended), event("call.recording.saved", payload), inputs_for_new());
    ASSERT_TRUE(d.recording.has_value());
    EXPECT_EQ(d.recording->call_id, call_id_for(kCcid));
    EXPECT_EQ(d.recording->recording_id, "rec-1");
    EXPECT_EQ(d.recording->wav_url, "https://rec.example/1.wav");
    EXPECT_EQ(d.recording->mp3_url, "");
    EXPECT_EQ(d.recording->format, "wav");
    EXPECT_EQ(d.recording->channels, "single");
    EXPECT_DOUBLE_EQ(d.recording->duration_seconds.value_or(0), 30.5);
    EXPECT_EQ(d.recording->saved_at_ms, 1'767'261'600'000);
}

TEST(CallFlow, TelnyxDeepfakeVerdictIsKept) {
    const auto d = default_flow().on_webhook(
            record_in(CallState::Streaming),
            event("call.deepfake_detection.result",
                  {{"result", "fake"}, {"score", 0.93}, {"consistency", 87.5}}),
            inputs_for_new());
    EXPECT_EQ(d.record.call.telnyx_deepfake_result, "fake");
    EXPECT_EQ(d.record.call.telnyx_deepfake_score, 0.93);
    EXPECT_EQ(d.record.call.telnyx_deepfake_consistency_pct, 87.5);

    const auto e = default_flow().on_webhook(
            record_in(CallState::Streaming),
            event("call.deepfake_detection.error", {{"error_message", "rtp_timeout"}}),
            inputs_for_new());
    EXPECT_EQ(e.record.call.telnyx_deepfake_error, "rtp_timeout");
}

TEST(CallFlow, EventWithoutCallControlIdForUnknownCallIsIgnored) {
    const auto body = webhook_body("call.recording.saved", "evt-9", "", {{"recording_id", "r"}});
    const auto d = default_flow().on_webhook(std::nullopt, test::parse(body), inputs_for_new());
    EXPECT_TRUE(d.ignored);
    EXPECT_FALSE(d.recording.has_value());
}

TEST(CallFlow, ScoreChangedKeepsTheLatestScoreAndFlagsOnce) {
    const auto flow = default_flow();
    service::ScoreChanged score{.call_id = call_id_for(kCcid),
                                .call_control_id = std::string(kCcid),
                                .score = {.llr = 1.5,
                                          .probability = 0.82,
                                          .verdict = pipeline::Verdict::Synthetic,
                                          .speech_seconds = 4.0,
                                          .windows = 5},
                                .at_ms = 6000,
                                .crossed_threshold = true};
    const auto first =
            flow.on_score_changed(record_in(CallState::Streaming), score, inputs_for_new());
    EXPECT_TRUE(first.flagged_now);
    EXPECT_TRUE(first.call_changed);
    EXPECT_TRUE(first.record.call.flagged);
    EXPECT_EQ(first.record.call.final_score, 0.82);
    ASSERT_TRUE(first.record.flow.latest_score.has_value());
    EXPECT_EQ(first.record.flow.latest_score->windows, 5);

    score.score.probability = 0.9;
    const auto second = flow.on_score_changed(first.record, score, inputs_for_new());
    EXPECT_FALSE(second.flagged_now);
    EXPECT_FALSE(second.call_changed);
    EXPECT_EQ(second.record.call.final_score, 0.9);
}

TEST(CallFlow, StreamEndedWithErrorSetsLastError) {
    service::StreamEnded ended{.call_id = call_id_for(kCcid),
                               .call_control_id = std::string(kCcid),
                               .stream_id = "s-1",
                               .reason = "malformed frame: bad base64",
                               .error = true};
    const auto d = default_flow().on_stream_ended(record_in(CallState::Streaming), ended,
                                                  inputs_for_new());
    EXPECT_EQ(d.record.call.last_error, "media stream closed: malformed frame: bad base64");
    EXPECT_EQ(d.record.call.state, CallState::Answered);
    EXPECT_TRUE(d.call_changed);
}

TEST(CallFlow, StreamStartedSetsStreamIdAndState) {
    service::StreamStarted started{.call_id = call_id_for(kCcid),
                                   .call_control_id = std::string(kCcid),
                                   .stream_id = "s-9",
                                   .encoding = "PCMU",
                                   .sample_rate_hz = 8000};
    const auto d = default_flow().on_stream_started(record_in(CallState::Answered), started,
                                                    inputs_for_new());
    EXPECT_EQ(d.record.call.state, CallState::Streaming);
    EXPECT_EQ(d.record.call.stream_id, "s-9");
}

TEST(CallFlow, CommandResults) {
    const auto flow = default_flow();
    const auto ok = flow.on_command_result(record_in(CallState::Answered), CommandKind::Speak, "ok",
                                           "speak: ok", inputs_for_new());
    EXPECT_FALSE(ok.call_changed);

    const auto failed =
            flow.on_command_result(record_in(CallState::Answered), CommandKind::Speak, "rejected",
                                   "speak: HTTP 401 10009", inputs_for_new());
    EXPECT_TRUE(failed.call_changed);
    EXPECT_EQ(failed.record.call.last_error, "speak: HTTP 401 10009");
    EXPECT_EQ(failed.record.call.state, CallState::Answered);

    const auto ended = flow.on_command_result(record_in(CallState::Answered),
                                              CommandKind::StreamingStart, "call_ended",
                                              "streaming_start: HTTP 422 90018", inputs_for_new());
    EXPECT_TRUE(ended.call_ended);
    EXPECT_TRUE(ended.revoke);
    EXPECT_EQ(ended.record.call.state, CallState::Ended);
    EXPECT_TRUE(ended.record.call.last_error.empty());

    const auto already = flow.on_command_result(record_in(CallState::Ended), CommandKind::Answer,
                                                "call_ended", "", inputs_for_new());
    EXPECT_FALSE(already.call_ended);
}

TEST(CallFlow, DialCarriesRecordingAndOptionallyTheStream) {
    const auto d = default_flow().plan_dial("+15551230000", "+15550001111", "conn-1", "cmd-1",
                                            inputs_for_new());
    const auto& dial = std::get<protocol::DialCommand>(d.command);
    EXPECT_EQ(dial.to, "+15551230000");
    EXPECT_EQ(dial.from, "+15550001111");
    EXPECT_EQ(dial.connection_id, "conn-1");
    EXPECT_EQ(dial.command_id, "cmd-1");
    EXPECT_FALSE(dial.stream.has_value());
    ASSERT_TRUE(dial.record.has_value());
    EXPECT_EQ(dial.record->format, protocol::RecordFormat::Wav);
    EXPECT_TRUE(protocol::build_dial(dial).has_value());

    CallFlow with_stream(
            CallFlowOptions{.telnyx_deepfake_detection = true, .dial_stream_in_body = true});
    const auto s = with_stream.plan_dial("+15551230000", "+15550001111", "conn-1", "cmd-2",
                                         inputs_for_new());
    const auto& dial2 = std::get<protocol::DialCommand>(s.command);
    ASSERT_TRUE(dial2.stream.has_value());
    EXPECT_EQ(dial2.stream->stream_url, "wss://dvd.example/media");
    EXPECT_TRUE(dial2.deepfake_detection.has_value());
}

TEST(CallFlow, DialAcceptedCreatesTheOutboundCallAndAnsweredSkipsWhatTheDialCarried) {
    const auto flow = default_flow();
    auto inputs = inputs_for_new();
    const auto accepted =
            flow.on_dial_accepted(std::nullopt,
                                  protocol::DialResult{.call_control_id = std::string(kCcid),
                                                       .call_leg_id = "leg-d",
                                                       .call_session_id = "sess-d"},
                                  "+15551230000", "+15550001111", inputs);
    EXPECT_TRUE(accepted.call_created);
    EXPECT_EQ(accepted.record.call.direction, store::CallDirection::Outbound);
    EXPECT_EQ(accepted.record.call.state, CallState::Initiated);
    EXPECT_EQ(accepted.record.call.to, "+15551230000");
    EXPECT_TRUE(accepted.record.flow.record_in_dial);
    EXPECT_FALSE(accepted.record.flow.stream_in_dial);
    EXPECT_FALSE(accepted.grant.has_value());

    json payload{{"direction", "outgoing"}};
    const auto initiated =
            flow.on_webhook(accepted.record, event("call.initiated", payload), inputs);
    EXPECT_TRUE(initiated.commands.empty());
    const auto answered = flow.on_webhook(initiated.record, event("call.answered"), inputs);
    EXPECT_EQ(kinds(answered), (std::vector<K>{K::Speak, K::StreamingStart}));
}

TEST(CallFlow, DialWithStreamInBodyGrantsWithoutTokenAndSendsNoStreamingStart) {
    CallFlow flow(CallFlowOptions{.dial_stream_in_body = true});
    const auto accepted =
            flow.on_dial_accepted(std::nullopt,
                                  protocol::DialResult{.call_control_id = std::string(kCcid),
                                                       .call_leg_id = "",
                                                       .call_session_id = ""},
                                  "+15551230000", "+15550001111", inputs_for_new());
    ASSERT_TRUE(accepted.grant.has_value());
    EXPECT_TRUE(accepted.grant->stream_auth_token.empty());
    const auto answered =
            flow.on_webhook(accepted.record, event("call.answered"), inputs_for_new());
    EXPECT_EQ(kinds(answered), (std::vector<K>{K::Speak}));
}

// ---- helpers ----

TEST(CallFlowHelpers, CommandIdsAreDeterministicUuidShapedAndDistinct) {
    const std::regex uuid("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
    const auto a = command_id_for("v3:abc", CommandKind::Answer, "initial");
    EXPECT_TRUE(std::regex_match(a, uuid)) << a;
    EXPECT_EQ(a, command_id_for("v3:abc", CommandKind::Answer, "initial"));
    std::set<std::string> ids{a,
                              command_id_for("v3:abd", CommandKind::Answer, "initial"),
                              command_id_for("v3:abc", CommandKind::Speak, "initial"),
                              command_id_for("v3:abc", CommandKind::Answer, "again"),
                              command_id_for("v3:ab", CommandKind::Answer, "cinitial"),
                              call_id_for("v3:abc")};
    EXPECT_EQ(ids.size(), 6U);
    EXPECT_TRUE(std::regex_match(call_id_for("v3:abc"), uuid));
}

TEST(CallFlowHelpers, StreamUrlFromBase) {
    EXPECT_EQ(stream_url_from_base("https://dvd.example"), "wss://dvd.example/media");
    EXPECT_EQ(stream_url_from_base("http://127.0.0.1:5000"), "ws://127.0.0.1:5000/media");
    EXPECT_EQ(stream_url_from_base("https://dvd.example/webhooks/voice?x=1"),
              "wss://dvd.example/media");
    EXPECT_EQ(stream_url_from_base("https://user:pw@dvd.example/x"), "wss://dvd.example/media");
    EXPECT_EQ(stream_url_from_base(""), "");
    EXPECT_EQ(stream_url_from_base("ftp://dvd.example"), "");
    EXPECT_EQ(stream_url_from_base("https://"), "");
    EXPECT_EQ(base_of_url("https://dvd.example:8443/webhooks/voice"), "https://dvd.example:8443");
}

TEST(CallFlowHelpers, CommandKindNamesRoundTrip) {
    for (const auto kind : {K::Answer, K::Speak, K::StreamingStart, K::RecordStart,
                            K::StreamingStop, K::Hangup, K::Dial, K::Transfer}) {
        EXPECT_EQ(parse_command_kind(to_string(kind)), kind);
    }
    EXPECT_EQ(to_string(K::Transfer), "transfer");
    EXPECT_FALSE(parse_command_kind("bridge").has_value());
}

TEST(CallFlowHelpers, FlowFromHistory) {
    store::Call call = record_in(CallState::Answered).call;
    call.final_score = 0.4;
    call.final_llr = -0.4;
    call.verdict = "uncertain";
    std::vector<store::CommandLog> log{
            {.call_id = call.id, .command = "answer"},
            {.call_id = call.id, .command = "streaming_start"},
            {.call_id = call.id, .command = "unknown_thing"},
    };
    const auto flow = flow_from_history(call, log);
    EXPECT_TRUE(flow.answer_issued);
    EXPECT_EQ(flow.stream_starts, 1);
    EXPECT_FALSE(flow.greeting_issued);
    EXPECT_FALSE(flow.record_start_issued);
    ASSERT_TRUE(flow.latest_score.has_value());
    EXPECT_EQ(flow.latest_score->verdict, pipeline::Verdict::Uncertain);
    EXPECT_EQ(flow.latest_score->probability, 0.4);

    std::vector<store::CommandLog> dial{
            {.call_id = call.id,
             .command = "dial",
             .request_body_json =
                     R"({"to":"+1","stream_url":"wss://x/media","record":"record-from-answer"})"}};
    const auto dialed = flow_from_history(call, dial);
    EXPECT_TRUE(dialed.stream_in_dial);
    EXPECT_TRUE(dialed.record_in_dial);
}

// ---- escalation of a flagged call (issue 4) ----

TEST(CallFlowEscalation, WarnSpeaksTheNoticeOnceWithADeterministicId) {
    CallFlowOptions options;
    options.escalation_warning_text = "Security notice.";
    const CallFlow flow(options);
    CallRecord record = record_in(CallState::Streaming);
    record.call.flagged = true;
    const auto d = flow.on_escalate(record, config::EscalationPolicy::Warn, "flagged",
                                    FlowInputs{.now_ms = kNow});
    EXPECT_EQ(d.escalation_status, "issued");
    ASSERT_EQ(kinds(d), std::vector<CommandKind>{CommandKind::Speak});
    const auto& speak = std::get<protocol::SpeakCommand>(d.commands[0].command);
    EXPECT_EQ(speak.payload, "Security notice.");
    EXPECT_EQ(speak.voice, "female");
    EXPECT_EQ(speak.service_level, protocol::ServiceLevel::Basic);
    EXPECT_EQ(speak.command_id, command_id_for(kCcid, CommandKind::Speak, "escalation"));
    EXPECT_NE(speak.command_id, command_id_for(kCcid, CommandKind::Speak, "greeting"));
    EXPECT_TRUE(d.call_changed);
    EXPECT_EQ(d.record.call.escalation, "warn");
    EXPECT_EQ(d.record.call.escalated_at_ms, kNow);
    EXPECT_TRUE(d.record.flow.escalation_issued);

    // Never twice: neither from memory nor from a row reloaded after a restart.
    const auto again = flow.on_escalate(d.record, config::EscalationPolicy::Warn, "again",
                                        FlowInputs{.now_ms = kNow});
    EXPECT_EQ(again.escalation_status, "already_escalated");
    EXPECT_TRUE(again.commands.empty());
    CallRecord reloaded{.call = d.record.call,
                        .flow = flow_from_history(d.record.call, {})};
    EXPECT_TRUE(reloaded.flow.escalation_issued);
    const auto after_restart = flow.on_escalate(reloaded, config::EscalationPolicy::Hangup, "x",
                                                FlowInputs{.now_ms = kNow});
    EXPECT_EQ(after_restart.escalation_status, "already_escalated");
    EXPECT_TRUE(after_restart.commands.empty());
}

TEST(CallFlowEscalation, TransferGoesToTheSecurityNumber) {
    CallFlowOptions options;
    options.security_number = "+13125550111";
    const CallFlow flow(options);
    const auto d = flow.on_escalate(record_in(CallState::Streaming),
                                    config::EscalationPolicy::Transfer, "flagged",
                                    FlowInputs{.now_ms = kNow});
    ASSERT_EQ(kinds(d), std::vector<CommandKind>{CommandKind::Transfer});
    const auto& transfer = std::get<protocol::TransferCommand>(d.commands[0].command);
    EXPECT_EQ(transfer.to, "+13125550111");
    EXPECT_EQ(transfer.command_id, command_id_for(kCcid, CommandKind::Transfer, "escalation"));
    EXPECT_EQ(d.record.call.escalation, "transfer");
    auto body = protocol::build_transfer(kCcid, transfer);
    ASSERT_TRUE(body);
    EXPECT_EQ(json::parse(body->body)["to"], "+13125550111");

    const CallFlow unconfigured{CallFlowOptions{}};
    const auto refused = unconfigured.on_escalate(record_in(CallState::Streaming),
                                                  config::EscalationPolicy::Transfer, "flagged",
                                                  FlowInputs{.now_ms = kNow});
    EXPECT_EQ(refused.escalation_status, "no_security_number");
    EXPECT_TRUE(refused.commands.empty());
    EXPECT_FALSE(refused.call_changed);
}

TEST(CallFlowEscalation, HangupEndsTheCallAndMarksTheHangup) {
    const auto d = default_flow().on_escalate(record_in(CallState::Answered),
                                              config::EscalationPolicy::Hangup, "flagged",
                                              FlowInputs{.now_ms = kNow});
    ASSERT_EQ(kinds(d), std::vector<CommandKind>{CommandKind::Hangup});
    EXPECT_EQ(std::get<protocol::HangupCommand>(d.commands[0].command).command_id,
              command_id_for(kCcid, CommandKind::Hangup, "escalation"));
    EXPECT_TRUE(d.record.flow.hangup_issued);
    EXPECT_EQ(d.record.call.escalation, "hangup");
}

TEST(CallFlowEscalation, NothingForEndedUnansweredOrPolicyNone) {
    const auto flow = default_flow();
    const FlowInputs in{.now_ms = kNow};
    EXPECT_EQ(flow.on_escalate(record_in(CallState::Ended), config::EscalationPolicy::Warn, "x",
                               in)
                      .escalation_status,
              "call_ended");
    EXPECT_EQ(flow.on_escalate(record_in(CallState::Initiated), config::EscalationPolicy::Warn,
                               "x", in)
                      .escalation_status,
              "not_answered");
    EXPECT_EQ(flow.on_escalate(record_in(CallState::Initiated), config::EscalationPolicy::Hangup,
                               "x", in)
                      .escalation_status,
              "issued");
    const auto none = flow.on_escalate(record_in(CallState::Streaming),
                                       config::EscalationPolicy::None, "x", in);
    EXPECT_EQ(none.escalation_status, "policy_none");
    EXPECT_TRUE(none.commands.empty());
}

TEST(CallFlowEscalation, RecordingOfAFlaggedCallIsKept) {
    CallRecord record = record_in(CallState::Ended);
    const auto plain = default_flow().on_webhook(
            record, event("call.recording.saved", {{"recording_id", "rec-1"}}),
            FlowInputs{.now_ms = kNow});
    ASSERT_TRUE(plain.recording);
    EXPECT_FALSE(plain.recording->kept);
    record.call.flagged = true;
    const auto flagged = default_flow().on_webhook(
            record, event("call.recording.saved", {{"recording_id", "rec-1"}}),
            FlowInputs{.now_ms = kNow});
    ASSERT_TRUE(flagged.recording);
    EXPECT_TRUE(flagged.recording->kept);
}

TEST(CallFlowHelpers, GrantFromTimeline) {
    store::Call call = record_in(CallState::Streaming).call;
    std::vector<store::ScorePoint> points;
    for (int i = 0; i < 3; ++i) {
        points.push_back(store::ScorePoint{.call_id = call.id,
                                           .seq = i,
                                           .at_ms = 1000 * (i + 1),
                                           .speech_seconds = 2.0 + i * 0.5,
                                           .window_llr = 0.5 * (i + 1)});
    }
    const auto grant = grant_from_timeline(call, points);
    EXPECT_EQ(grant.call_id, call.id);
    EXPECT_EQ(grant.stream_auth_token, "existing-token");
    EXPECT_EQ(grant.checkpoint.windows, 3);
    EXPECT_DOUBLE_EQ(grant.checkpoint.llr_sum, 3.0);
    EXPECT_EQ(grant.checkpoint.speech_frames, 300);
    EXPECT_EQ(grant.next_seq, 3);
    EXPECT_EQ(grant.audio_offset_ms, 3000);

    const auto empty = grant_from_timeline(call, {});
    EXPECT_EQ(empty.checkpoint.windows, 0);
    EXPECT_EQ(empty.next_seq, 0);
}

}  // namespace
}  // namespace dvd::calls
