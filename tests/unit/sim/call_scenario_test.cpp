#include "sim/call_scenario.hpp"

#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "protocol/webhook.hpp"

namespace dvd::sim {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

std::vector<std::string> types(const Effects& fx) {
    std::vector<std::string> out;
    for (const auto& w : fx.webhooks) {
        out.push_back(w.event_type);
    }
    return out;
}

class CallScenarioTest : public ::testing::Test {
protected:
    CallScenarioTest() : ids_(42) {
        auto audio = std::make_shared<CallAudio>();
        audio->label = "test.wav";
        audio->samples_8k.assign(16000, 0.1F);  // 2 s
        audio_ = audio;
        settings_.speed = 2.0;
        settings_.default_webhook_url = "http://127.0.0.1:5000/webhooks/voice";
        settings_.recording_base_url = "http://127.0.0.1:5050/recordings/";
    }

    CallFacts facts(std::string direction = "incoming") {
        CallFacts f;
        f.call_control_id = ids_.call_control_id();
        f.call_leg_id = ids_.uuid();
        f.call_session_id = ids_.uuid();
        f.connection_id = "1494404757140276705";
        f.from = "+13125550100";
        f.to = "+13125550199";
        f.direction = std::move(direction);
        f.start_time = now_;
        return f;
    }

    CallScenario::CommandResult send(CallScenario& call, Action action, const std::string& body) {
        const Validation v = validate_command(action, body);
        EXPECT_TRUE(v.command.has_value()) << body;
        now_ += 10ms;
        return call.on_command(*v.command, body, now_);
    }

    // Fires the first timer of `kind` in `fx`.
    Effects fire(CallScenario& call, const Effects& fx, TimerKind kind) {
        for (const TimerRequest& t : fx.timers) {
            if (t.kind == kind) {
                now_ += std::chrono::duration_cast<std::chrono::microseconds>(t.delay);
                return call.on_timer(kind, t.token, now_);
            }
        }
        ADD_FAILURE() << "no timer of that kind";
        return {};
    }

    protocol::WebhookEvent parse(const OutgoingWebhook& w) {
        return protocol::parse_webhook(render_envelope(w, 1)).value();
    }

    IdGenerator ids_;
    std::shared_ptr<const CallAudio> audio_;
    ScenarioSettings settings_;
    protocol::UtcMicros now_{std::chrono::sys_days{std::chrono::year{2026} / 1 / 1}};
};

TEST_F(CallScenarioTest, IncomingCallFollowsTheDocumentedFlow) {
    CallScenario call(facts(), audio_, settings_, ids_);
    const Effects started = call.start(now_);
    EXPECT_EQ(types(started), std::vector<std::string>{"call.initiated"});
    ASSERT_EQ(started.timers.size(), 1U);
    EXPECT_EQ(started.timers[0].kind, TimerKind::AnswerTimeout);
    EXPECT_EQ(started.webhooks[0].url, "http://127.0.0.1:5000/webhooks/voice");

    auto answered =
            send(call, Action::Answer, R"({"client_state":"c3RhdGU=","command_id":"cmd-answer"})");
    EXPECT_EQ(answered.reply.status, 200);
    EXPECT_EQ(answered.reply.body, R"({"data":{"result":"ok"}})");
    EXPECT_EQ(types(answered.effects), std::vector<std::string>{"call.answered"});
    const auto answered_event = parse(answered.effects.webhooks[0]);
    EXPECT_EQ(answered_event.client_state, "c3RhdGU=");  // echoed from the command on

    auto speak = send(call, Action::Speak,
                      R"({"payload":"This call is analysed","voice":"female",)"
                      R"("service_level":"basic","command_id":"cmd-speak"})");
    EXPECT_EQ(types(speak.effects), std::vector<std::string>{"call.speak.started"});
    const Effects spoken = fire(call, speak.effects, TimerKind::SpeakEnded);
    EXPECT_EQ(types(spoken), std::vector<std::string>{"call.speak.ended"});
    EXPECT_EQ(parse(spoken.webhooks[0]).status, "completed");

    auto stream =
            send(call, Action::StreamingStart,
                 R"({"stream_url":"ws://127.0.0.1:5000/media","stream_track":"inbound_track",)"
                 R"("stream_auth_token":"tok","command_id":"cmd-stream"})");
    EXPECT_EQ(stream.reply.status, 200);
    EXPECT_EQ(types(stream.effects), std::vector<std::string>{"streaming.started"});
    ASSERT_TRUE(stream.effects.start_stream.has_value());
    const StreamStart& start = *stream.effects.start_stream;
    EXPECT_EQ(start.url, "ws://127.0.0.1:5000/media");
    EXPECT_EQ(start.identity.auth_token, "tok");
    EXPECT_EQ(start.identity.encoding.name, "PCMU");
    EXPECT_EQ(start.identity.call_control_id, call.facts().call_control_id);
    EXPECT_EQ(start.identity.client_state, "c3RhdGU=");
    EXPECT_TRUE(start.tracks.inbound);
    EXPECT_FALSE(start.tracks.outbound);
    EXPECT_TRUE(call.stream_active());

    auto record = send(call, Action::RecordStart,
                       R"({"format":"wav","channels":"single","command_id":"cmd-record"})");
    EXPECT_EQ(record.reply.status, 200);
    EXPECT_TRUE(record.effects.webhooks.empty());

    StreamReport report;
    report.inbound_frames_sent = 100;
    now_ += 1s;
    const Effects stopped = call.on_stream_ended(report, now_);
    EXPECT_EQ(types(stopped), std::vector<std::string>{"streaming.stopped"});
    ASSERT_EQ(stopped.timers.size(), 1U);
    EXPECT_EQ(stopped.timers[0].kind, TimerKind::PartyHangup);
    EXPECT_EQ(stopped.timers[0].delay, settings_.linger_after_audio);

    const Effects hangup = fire(call, stopped, TimerKind::PartyHangup);
    EXPECT_EQ(types(hangup), (std::vector<std::string>{"call.hangup", "call.recording.saved"}));
    const auto hangup_event = parse(hangup.webhooks[0]);
    EXPECT_EQ(hangup_event.hangup_cause, "normal_clearing");
    EXPECT_EQ(hangup_event.hangup_source, "caller");
    EXPECT_EQ(hangup_event.call_quality_stats->inbound_packet_count, "100");
    ASSERT_TRUE(hangup.save_recording.has_value());
    const auto saved = parse(hangup.webhooks[1]);
    // A pre-signed link, like Telnyx's S3 URLs: the signature is the credential.
    ASSERT_FALSE(hangup.save_recording->signature.empty());
    EXPECT_EQ(saved.recording_urls.wav,
              "http://127.0.0.1:5050/recordings/" + hangup.save_recording->recording_id +
                      ".wav?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=600&X-Amz-Signature=" +
                      hangup.save_recording->signature);
    EXPECT_TRUE(call.is_ended());

    // After the end every command is refused with 90018.
    auto late = send(call, Action::Hangup, R"({"command_id":"cmd-late"})");
    EXPECT_EQ(late.reply.status, 422);
    EXPECT_EQ(first_error_code(late.reply), "90018");

    const CallSummary& s = call.summary();
    EXPECT_EQ(s.actions(), (std::vector<std::string>{"answer", "speak", "streaming_start",
                                                     "record_start", "hangup"}));
    EXPECT_TRUE(s.answered);
    EXPECT_TRUE(s.streamed);
    EXPECT_EQ(s.frames_sent, 100U);
    EXPECT_EQ(s.hangup_cause, "normal_clearing");
    EXPECT_EQ(s.recording_urls.size(), 1U);
    EXPECT_EQ(s.commands.back().error_code, "90018");
    EXPECT_EQ(call.pending_deliveries(), 8U);  // nothing delivered yet in this test
}

TEST_F(CallScenarioTest, RepeatedCommandIdIsAnsweredWithoutASecondEffect) {
    CallScenario call(facts(), audio_, settings_, ids_);
    static_cast<void>(call.start(now_));
    const auto first = send(call, Action::Answer, R"({"command_id":"same"})");
    const auto again = send(call, Action::Answer, R"({"command_id":"same"})");
    EXPECT_EQ(again.reply.status, first.reply.status);
    EXPECT_EQ(again.reply.body, first.reply.body);
    EXPECT_TRUE(again.effects.webhooks.empty());
    ASSERT_EQ(call.summary().commands.size(), 2U);
    EXPECT_TRUE(call.summary().commands[1].duplicate);

    // After the 60 s window the id is new again: a second answer is then a no-op, noted.
    now_ += 61s;
    const auto later = send(call, Action::Answer, R"({"command_id":"same"})");
    EXPECT_FALSE(call.summary().commands[2].duplicate);
    EXPECT_TRUE(later.effects.webhooks.empty());
}

TEST_F(CallScenarioTest, CommandsBeforeAnswerGet90034) {
    CallScenario call(facts(), audio_, settings_, ids_);
    static_cast<void>(call.start(now_));
    for (const auto& [action, body] : std::vector<std::pair<Action, std::string>>{
                 {Action::Speak, R"({"payload":"hi","voice":"female","command_id":"a"})"},
                 {Action::StreamingStart, R"({"stream_url":"ws://x/m","command_id":"b"})"},
                 {Action::RecordStart, R"({"format":"wav","channels":"single","command_id":"c"})"},
                 {Action::PlaybackStart, R"({"audio_url":"https://x/a.wav","command_id":"d"})"}}) {
        const auto result = send(call, action, body);
        EXPECT_EQ(result.reply.status, 422) << body;
        EXPECT_EQ(first_error_code(result.reply), "90034") << body;
        EXPECT_TRUE(result.effects.webhooks.empty());
    }
}

TEST_F(CallScenarioTest, SecondStreamWhileStreamingGets90045) {
    CallScenario call(facts(), audio_, settings_, ids_);
    static_cast<void>(call.start(now_));
    static_cast<void>(send(call, Action::Answer, R"({"command_id":"a"})"));
    const auto first =
            send(call, Action::StreamingStart, R"({"stream_url":"ws://x/m","command_id":"s1"})");
    EXPECT_EQ(first.reply.status, 200);
    const auto second =
            send(call, Action::StreamingStart, R"({"stream_url":"ws://x/m","command_id":"s2"})");
    EXPECT_EQ(second.reply.status, 422);
    EXPECT_EQ(first_error_code(second.reply), "90045");
}

// The application loses its stream (a restart) and starts another: the caller has talked on,
// so the new stream picks them up where they are, and they still hang up when done talking.
TEST_F(CallScenarioTest, AStreamStartedAgainPicksTheCallerUpWhereTheyAre) {
    CallScenario call(facts(), audio_, settings_, ids_);
    static_cast<void>(call.start(now_));
    static_cast<void>(send(call, Action::Answer, R"({"command_id":"a"})"));
    const auto first =
            send(call, Action::StreamingStart, R"({"stream_url":"ws://x/m","command_id":"s1"})");
    ASSERT_TRUE(first.effects.start_stream.has_value());
    EXPECT_EQ(first.effects.start_stream->first_frame, 0u);

    now_ += 300ms;  // at speed 2: 0.6 s of the caller's 2 s spoken
    StreamReport report;
    report.end = StreamEnd::Failed;
    report.inbound_frames_sent = 30;
    const Effects lost = call.on_stream_ended(report, now_);
    EXPECT_EQ(types(lost), std::vector<std::string>{"streaming.stopped"});

    now_ += 190ms;  // send() adds 10 ms: 0.5 s after the first stream started, 1.0 s spoken
    const auto again =
            send(call, Action::StreamingStart, R"({"stream_url":"ws://x/m","command_id":"s2"})");
    EXPECT_EQ(again.reply.status, 200);
    ASSERT_TRUE(again.effects.start_stream.has_value());
    EXPECT_EQ(again.effects.start_stream->first_frame, 50u);  // 1.0 s / 20 ms
    EXPECT_NE(again.effects.start_stream->identity.stream_id,
              first.effects.start_stream->identity.stream_id);

    // The second stream plays the rest; the caller then hangs up after the usual linger, and
    // the first stream's hang-up timer is gone.
    report.end = StreamEnd::AudioDone;
    report.inbound_frames_sent = 50;
    now_ += 500ms;
    const Effects done = call.on_stream_ended(report, now_);
    int hangup_timers = 0;
    for (const TimerRequest& t : done.timers) {
        hangup_timers += t.kind == TimerKind::PartyHangup ? 1 : 0;
    }
    EXPECT_EQ(hangup_timers, 1);
    const Effects hung_up = fire(call, done, TimerKind::PartyHangup);
    EXPECT_EQ(types(hung_up), std::vector<std::string>{"call.hangup"});
    ASSERT_EQ(lost.timers.size(), 1u);
    ASSERT_EQ(lost.timers[0].kind, TimerKind::PartyHangup);
    EXPECT_TRUE(call.on_timer(TimerKind::PartyHangup, lost.timers[0].token, now_).webhooks.empty())
            << "the first stream's timer was cancelled";
}

// A network failure cuts the stream (fault injection): streaming.stopped at once, the caller
// talks on; a new streaming_start is accepted at once (no 90045) and picks them up where they
// are, and the cut stream's late report only adds its frames.
TEST_F(CallScenarioTest, ADroppedStreamReportsStoppedAndCanBeStartedAgain) {
    CallScenario call(facts(), audio_, settings_, ids_);
    static_cast<void>(call.start(now_));
    EXPECT_FALSE(call.on_stream_dropped(now_).has_value()) << "no stream yet";
    static_cast<void>(send(call, Action::Answer, R"({"command_id":"a"})"));
    const auto first =
            send(call, Action::StreamingStart, R"({"stream_url":"ws://x/m","command_id":"s1"})");
    ASSERT_TRUE(first.effects.start_stream.has_value());

    now_ += 250ms;  // at speed 2: 0.5 s spoken
    const auto dropped = call.on_stream_dropped(now_);
    ASSERT_TRUE(dropped.has_value());
    EXPECT_TRUE(dropped->drop_stream);
    EXPECT_FALSE(dropped->stop_stream);
    EXPECT_EQ(types(*dropped), std::vector<std::string>{"streaming.stopped"});
    EXPECT_FALSE(call.stream_active());
    EXPECT_EQ(call.summary().stream_drops, 1u);
    EXPECT_EQ(call.summary().stream_end, "dropped");
    EXPECT_FALSE(call.on_stream_dropped(now_).has_value()) << "nothing live to drop";

    now_ += 240ms;  // send() adds 10 ms: 1.0 s spoken
    const auto again =
            send(call, Action::StreamingStart, R"({"stream_url":"ws://x/m","command_id":"s2"})");
    EXPECT_EQ(again.reply.status, 200);
    ASSERT_TRUE(again.effects.start_stream.has_value());
    EXPECT_EQ(again.effects.start_stream->first_frame, 50u);
    EXPECT_EQ(call.summary().streams, 2u);

    StreamReport cut;
    cut.end = StreamEnd::Dropped;
    cut.inbound_frames_sent = 25;
    const Effects late = call.on_stream_ended(cut, now_);
    EXPECT_TRUE(late.webhooks.empty());
    EXPECT_TRUE(late.timers.empty());
    EXPECT_TRUE(call.stream_active()) << "the new stream is still live";
    EXPECT_EQ(call.summary().frames_sent, 25u);

    // Had nobody restarted it, the caller would finish talking (1.5 s more: 0.75 s at speed 2)
    // and hang up.
    ASSERT_EQ(dropped->timers.size(), 1u);
    EXPECT_EQ(dropped->timers[0].kind, TimerKind::PartyHangup);
    EXPECT_EQ(dropped->timers[0].delay, 750ms + settings_.linger_after_audio);
}

TEST_F(CallScenarioTest, AnswerWithStreamUrlStartsTheStreamAndRecording) {
    CallScenario call(facts(), audio_, settings_, ids_);
    static_cast<void>(call.start(now_));
    const auto answered = send(call, Action::Answer,
                               R"({"stream_url":"ws://x/m","stream_codec":"L16",)"
                               R"("stream_track":"both_tracks","record":"record-from-answer",)"
                               R"("record_format":"wav","command_id":"a"})");
    EXPECT_EQ(types(answered.effects),
              (std::vector<std::string>{"call.answered", "streaming.started"}));
    EXPECT_EQ(parse(answered.effects.webhooks[0]).stream_url, "ws://x/m");
    ASSERT_TRUE(answered.effects.start_stream.has_value());
    EXPECT_EQ(answered.effects.start_stream->identity.encoding.name, "L16");
    EXPECT_TRUE(answered.effects.start_stream->tracks.outbound);
    const auto data = json::parse(answered.reply.body)["data"];
    EXPECT_EQ(data["result"], "ok");
    EXPECT_TRUE(data.contains("recording_id"));  // record-from-answer gives its id at once
}

TEST_F(CallScenarioTest, ServiceHangupMidStreamStopsTheStream) {
    CallScenario call(facts(), audio_, settings_, ids_);
    static_cast<void>(call.start(now_));
    static_cast<void>(send(call, Action::Answer, R"({"command_id":"a"})"));
    static_cast<void>(
            send(call, Action::StreamingStart, R"({"stream_url":"ws://x/m","command_id":"s"})"));
    static_cast<void>(send(call, Action::Speak,
                           R"({"payload":"a long notice","voice":"female","command_id":"p"})"));
    const auto hung_up = send(call, Action::Hangup, R"({"command_id":"h"})");
    EXPECT_TRUE(hung_up.effects.stop_stream);
    EXPECT_EQ(types(hung_up.effects),
              (std::vector<std::string>{"call.speak.ended", "call.hangup"}));
    EXPECT_EQ(parse(hung_up.effects.webhooks[0]).status, "call_hangup");
    EXPECT_EQ(parse(hung_up.effects.webhooks[1]).hangup_source, "callee");
    // The stream thread reports afterwards: streaming.stopped, no second hang-up.
    StreamReport report;
    report.end = StreamEnd::Stopped;
    const Effects stopped = call.on_stream_ended(report, now_);
    EXPECT_EQ(types(stopped), std::vector<std::string>{"streaming.stopped"});
    EXPECT_TRUE(stopped.timers.empty());
}

TEST_F(CallScenarioTest, UnansweredCallIsCancelledByTheCaller) {
    CallScenario call(facts(), audio_, settings_, ids_);
    const Effects started = call.start(now_);
    const Effects timeout = fire(call, started, TimerKind::AnswerTimeout);
    EXPECT_EQ(types(timeout), std::vector<std::string>{"call.hangup"});
    EXPECT_EQ(parse(timeout.webhooks[0]).hangup_cause, "originator_cancel");
    EXPECT_TRUE(call.is_ended());
    EXPECT_FALSE(call.summary().errors.empty());
}

TEST_F(CallScenarioTest, AnsweredButNeverStreamedHangsUpAfterTheWait) {
    CallScenario call(facts(), audio_, settings_, ids_);
    static_cast<void>(call.start(now_));
    const auto answered = send(call, Action::Answer, R"({"command_id":"a"})");
    const Effects waited = fire(call, answered.effects, TimerKind::StreamWait);
    EXPECT_EQ(types(waited), std::vector<std::string>{"call.hangup"});
    // A timer of the answer must not fire after the stream started: cancelled tokens are dead.
    CallScenario other(facts(), audio_, settings_, ids_);
    static_cast<void>(other.start(now_));
    const auto a2 = send(other, Action::Answer, R"({"command_id":"a"})");
    static_cast<void>(
            send(other, Action::StreamingStart, R"({"stream_url":"ws://x/m","command_id":"s"})"));
    EXPECT_TRUE(fire(other, a2.effects, TimerKind::StreamWait).webhooks.empty());
}

TEST_F(CallScenarioTest, StreamConnectFailureSendsStreamingFailed) {
    CallScenario call(facts(), audio_, settings_, ids_);
    static_cast<void>(call.start(now_));
    static_cast<void>(send(call, Action::Answer, R"({"command_id":"a"})"));
    static_cast<void>(
            send(call, Action::StreamingStart, R"({"stream_url":"ws://x/m","command_id":"s"})"));
    const Effects failed = call.on_stream_failed("connection_failed", "connect refused", now_);
    EXPECT_EQ(types(failed), std::vector<std::string>{"streaming.failed"});
    const auto e = parse(failed.webhooks[0]);
    EXPECT_EQ(e.failure_reason, "connection_failed");
    EXPECT_EQ(e.stream_url, "ws://x/m");
    ASSERT_EQ(failed.timers.size(), 1U);
    // The caller talks on unheard for the audio's length (2 s at speed 2 = 1 s), then leaves.
    EXPECT_EQ(failed.timers[0].delay, 1s + settings_.linger_after_audio);
    EXPECT_EQ(call.summary().stream_end, "connect_failed");
}

TEST_F(CallScenarioTest, OutboundDialRingsThenAnswersWithTheDialStream) {
    const Validation dial = validate_command(
            Action::Dial, R"({"to":"+13125550199","from":"+13125550100","connection_id":"1",)"
                          R"("stream_url":"ws://x/m","webhook_url":"http://127.0.0.1:6000/hooks",)"
                          R"("command_id":"d"})");
    ASSERT_TRUE(dial.command.has_value());
    CallScenario call(facts("outgoing"), audio_, settings_, ids_);
    const Effects started = call.start(now_, dial.command);
    EXPECT_EQ(types(started), std::vector<std::string>{"call.initiated"});
    EXPECT_EQ(started.webhooks[0].url, "http://127.0.0.1:6000/hooks");  // per-call override
    EXPECT_EQ(parse(started.webhooks[0]).direction, "outgoing");
    const Effects rang = fire(call, started, TimerKind::Ring);
    EXPECT_EQ(types(rang), (std::vector<std::string>{"call.answered", "streaming.started"}));
    ASSERT_TRUE(rang.start_stream.has_value());
    // A later answer command for an outbound call does nothing.
    const auto answer = send(call, Action::Answer, R"({"command_id":"a"})");
    EXPECT_TRUE(answer.effects.webhooks.empty());
    // The callee hangs up after the audio.
    const Effects stopped = call.on_stream_ended(StreamReport{}, now_);
    const Effects hangup = fire(call, stopped, TimerKind::PartyHangup);
    EXPECT_EQ(parse(hangup.webhooks[0]).hangup_source, "callee");
}

TEST_F(CallScenarioTest, DeliveriesCountDown) {
    CallScenario call(facts(), audio_, settings_, ids_);
    const Effects started = call.start(now_);
    EXPECT_EQ(call.pending_deliveries(), 1U);
    EventRecord record{"call.initiated", started.webhooks[0].event_id, 1, 200, true};
    call.on_delivery(record);
    EXPECT_EQ(call.pending_deliveries(), 0U);
    ASSERT_EQ(call.summary().events.size(), 1U);
    EXPECT_TRUE(call.summary().events[0].delivered);
}

}  // namespace
}  // namespace dvd::sim
