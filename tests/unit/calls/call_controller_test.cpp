#include "calls/call_controller.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <future>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "calls_test_util.hpp"
#include "store/sqlite_store.hpp"
#include "support/eventually.hpp"

namespace dvd::calls {
namespace {

using namespace std::chrono_literals;
using store::CallState;
using test::FakeSender;
using test::FakeTelnyx;
using test::json;
using test::webhook_body;

constexpr std::string_view kCcid = "v3:inbound-1";
constexpr std::string_view kBase = "https://dvd.example";

struct Reply {
    int status = 0;
    std::string body;
    std::vector<net::Field> headers;
};

class CallControllerTest : public ::testing::Test {
protected:
    CallControllerTest() {
        std::random_device device;
        dir_ = std::filesystem::temp_directory_path()
               / ("dvd_calls_test_" + std::to_string(device()) + std::to_string(device()));
        std::filesystem::create_directories(dir_);
        db_path_ = (dir_ / "calls.db").string();
        reader_ = store::SqliteStore::open(db_path_).value();
    }

    ~CallControllerTest() override {
        controller_.reset();
        reader_.reset();
        std::error_code ignored;
        std::filesystem::remove_all(dir_, ignored);
    }

    CallControllerOptions options() {
        CallControllerOptions o;
        o.api_base = "http://telnyx.test/v2";
        o.api_key = "KEYtest0123";
        o.main_number = "+15550001111";
        o.connection_id = "conn-1";
        o.retry.max_attempts = 3;
        o.retry.base_delay = 1ms;
        o.retry.max_delay = 2ms;
        o.on_flagged = [this](const FlaggedCall& call) {
            flagged_.push_back(call);
        };
        return o;
    }

    /// Starts the controller as the service does; `listening`: and then, as the service does
    /// once its server listens, lets it restart the media streams of recovered calls.
    CallController& start(CallControllerOptions o, bool listening = true) {
        controller_.reset();
        CallControllerDeps deps{
                .store = store::SqliteStore::open(db_path_).value(),
                .directory = directory_,
                .metrics = metrics_,
                .make_sender = [this] { return std::make_unique<FakeSender>(telnyx_); },
                .sleeper = sleeper_,
                .now_ms = [this] { return now_ms_.load(); },
                .seed = 42};
        controller_ = std::make_unique<CallController>(std::move(o), std::move(deps));
        const auto started = controller_->start();
        EXPECT_TRUE(started.has_value()) << started.error().message;
        if (listening) {
            controller_->resume_media_streams();
        }
        return *controller_;
    }

    CallController& start() { return start(options()); }

    /// An answered call whose stream Telnyx could not connect, reported through `failure_base`;
    /// the controller retries 5 s later (sweeping every 5 ms).
    void answer_then_fail_the_stream(const std::string& failure_base) {
        CallControllerOptions o = options();
        o.stream_retry_after = 5s;
        o.sweep_interval = 5ms;
        start(o);
        submit(initiated());
        submit(answered());
        submit(webhook_body("streaming.failed", "evt-failed", kCcid,
                            {{"failure_reason", "connection_failed"}}, "2026-01-01T10:00:06Z"),
               failure_base);
    }

    /// Submits a webhook, waits for its reply and for every task it caused.
    Reply submit(const std::string& body, std::string base = std::string(kBase)) {
        std::promise<net::Response> replied;
        auto future = replied.get_future();
        controller_->submit_webhook(
                test::parse(body), body, std::move(base),
                std::function<void(net::Response)>(
                        [&replied](net::Response response) { replied.set_value(response); }));
        EXPECT_EQ(future.wait_for(5s), std::future_status::ready);
        const auto response = future.get();
        EXPECT_TRUE(controller_->wait_idle(5s));
        return Reply{response.status, response.body, response.headers};
    }

    void idle() { ASSERT_TRUE(controller_->wait_idle(5s)); }

    store::Call call(std::string_view ccid = kCcid) {
        auto row = reader_->get_call_by_control_id(ccid).value();
        EXPECT_TRUE(row.has_value()) << ccid;
        return row.value_or(store::Call{});
    }

    std::string initiated(std::string_view id = "evt-init", std::string_view ccid = kCcid) {
        return webhook_body("call.initiated", id, ccid, test::inbound_payload(),
                            "2026-01-01T10:00:00Z");
    }

    std::string answered(std::string_view id = "evt-ans", std::string_view ccid = kCcid) {
        return webhook_body("call.answered", id, ccid, {{"state", "answered"}},
                            "2026-01-01T10:00:05Z");
    }

    std::string hangup(std::string_view id = "evt-hang", std::string_view ccid = kCcid) {
        return webhook_body("call.hangup", id, ccid,
                            {{"hangup_cause", "normal_clearing"}, {"hangup_source", "caller"}},
                            "2026-01-01T10:00:35Z");
    }

    std::filesystem::path dir_;
    std::string db_path_;
    std::unique_ptr<store::SqliteStore> reader_;
    FakeTelnyx telnyx_;
    test::RecordingSleeper sleeper_;
    service::CallDirectory directory_;
    service::Metrics metrics_;
    std::atomic<std::int64_t> now_ms_{1'767'261'700'000};
    std::vector<FlaggedCall> flagged_;  // written on the calls thread, read after wait_idle
    std::unique_ptr<CallController> controller_;
};

TEST_F(CallControllerTest, InboundCallHappyPath) {
    start();
    const auto reply = submit(initiated());
    EXPECT_EQ(reply.status, 200);
    EXPECT_EQ(reply.body, R"({"status":"ok"})");

    auto answers = telnyx_.sent("answer");
    ASSERT_EQ(answers.size(), 1U);
    EXPECT_EQ(answers[0].url, "http://telnyx.test/v2/calls/v3:inbound-1/actions/answer");
    EXPECT_EQ(answers[0].authorization, "Bearer KEYtest0123");
    EXPECT_EQ(answers[0].body["command_id"], command_id_for(kCcid, CommandKind::Answer, "initial"));
    EXPECT_EQ(call().state, CallState::Initiated);
    EXPECT_EQ(call().id, call_id_for(kCcid));
    EXPECT_EQ(metrics_.calls_started.value(), 1U);

    submit(answered());
    EXPECT_EQ(telnyx_.actions(),
              (std::vector<std::string>{"answer", "speak", "streaming_start", "record_start"}));
    const auto speak = telnyx_.sent("speak").at(0).body;
    EXPECT_EQ(speak["voice"], "female");
    EXPECT_EQ(speak["service_level"], "basic");
    EXPECT_EQ(speak["language"], "en-US");
    const auto stream = telnyx_.sent("streaming_start").at(0).body;
    EXPECT_EQ(stream["stream_url"], "wss://dvd.example/media");
    EXPECT_EQ(stream["stream_track"], "inbound_track");
    const auto grant = directory_.find(kCcid);
    ASSERT_TRUE(grant.has_value());
    EXPECT_EQ(stream["stream_auth_token"], grant->stream_auth_token);
    EXPECT_EQ(grant->stream_auth_token.size(), 43U);
    EXPECT_EQ(grant->call_id, call_id_for(kCcid));
    const auto record = telnyx_.sent("record_start").at(0).body;
    EXPECT_EQ(record["format"], "wav");
    EXPECT_EQ(record["channels"], "single");
    EXPECT_EQ(call().state, CallState::Answered);
    EXPECT_EQ(call().stream_auth_token, grant->stream_auth_token);

    submit(webhook_body("streaming.started", "evt-ss", kCcid,
                        {{"stream_url", "wss://dvd.example/media"}}));
    EXPECT_EQ(call().state, CallState::Streaming);

    controller_->on_stream_started(service::StreamStarted{.call_id = call_id_for(kCcid),
                                                          .call_control_id = std::string(kCcid),
                                                          .stream_id = "stream-1",
                                                          .encoding = "PCMU",
                                                          .sample_rate_hz = 8000});
    const pipeline::CallScore score{.llr = 2.2,
                                    .probability = 0.9,
                                    .verdict = pipeline::Verdict::Synthetic,
                                    .speech_seconds = 6.0,
                                    .windows = 9};
    for (int i = 0; i < 3; ++i) {
        controller_->on_score_changed(service::ScoreChanged{.call_id = call_id_for(kCcid),
                                                            .call_control_id = std::string(kCcid),
                                                            .score = score,
                                                            .at_ms = 7000 + i,
                                                            .crossed_threshold = i == 1});
    }
    idle();
    EXPECT_EQ(call().stream_id, "stream-1");
    EXPECT_TRUE(call().flagged);
    EXPECT_EQ(metrics_.calls_flagged.value(), 1U);
    ASSERT_EQ(flagged_.size(), 1U);
    EXPECT_EQ(flagged_[0].call_id, call_id_for(kCcid));
    EXPECT_EQ(flagged_[0].at_ms, 7001);
    EXPECT_EQ(flagged_[0].from, "+13125550100");

    submit(hangup());
    const auto ended = call();
    EXPECT_EQ(ended.state, CallState::Ended);
    EXPECT_EQ(ended.hangup_cause, "normal_clearing");
    EXPECT_DOUBLE_EQ(ended.duration_seconds.value_or(0), 30.0);
    EXPECT_EQ(ended.final_score, 0.9);
    EXPECT_EQ(ended.verdict, "synthetic");
    EXPECT_FALSE(directory_.find(kCcid).has_value());
    EXPECT_EQ(metrics_.calls_ended.value(), 1U);
    EXPECT_EQ(metrics_.call_scores.total(), 1U);
    EXPECT_EQ(metrics_.commands_ok.value(), 4U);
    EXPECT_EQ(metrics_.webhooks_accepted.value(), 4U);
    EXPECT_EQ(controller_->tracked_calls(), 0U);

    const auto log = reader_->list_command_log(call_id_for(kCcid)).value();
    ASSERT_EQ(log.size(), 4U);
    EXPECT_EQ(log[0].command, "answer");
    EXPECT_EQ(log[0].http_status, 200);
    EXPECT_EQ(log[0].command_id, command_id_for(kCcid, CommandKind::Answer, "initial"));
    EXPECT_NE(log[0].request_body_json.find("command_id"), std::string::npos);
    EXPECT_TRUE(reader_->list_unprocessed_events(100).value().empty());

    submit(webhook_body("call.recording.saved", "evt-rec", kCcid,
                        {{"recording_id", "rec-1"},
                         {"channels", "single"},
                         {"recording_urls", {{"wav", "https://rec.example/1.wav"}}}}));
    const auto recordings = reader_->list_recordings(call_id_for(kCcid)).value();
    ASSERT_EQ(recordings.size(), 1U);
    EXPECT_EQ(recordings[0].wav_url, "https://rec.example/1.wav");
}

TEST_F(CallControllerTest, DuplicateWebhookIsAcknowledgedWithoutASecondCommand) {
    start();
    EXPECT_EQ(submit(initiated()).body, R"({"status":"ok"})");
    const auto again = submit(initiated());
    EXPECT_EQ(again.status, 200);
    EXPECT_EQ(again.body, R"({"status":"duplicate"})");
    EXPECT_EQ(telnyx_.sent("answer").size(), 1U);
    EXPECT_EQ(metrics_.webhooks_duplicate.value(), 1U);
}

TEST_F(CallControllerTest, SameStepUnderAnotherEventIdSendsNothingNew) {
    start();
    submit(initiated("evt-a"));
    submit(initiated("evt-b"));
    submit(answered("evt-c"));
    submit(answered("evt-d"));
    EXPECT_EQ(telnyx_.actions(),
              (std::vector<std::string>{"answer", "speak", "streaming_start", "record_start"}));
}

TEST_F(CallControllerTest, AnsweredBeforeInitiated) {
    start();
    submit(answered());
    EXPECT_EQ(call().state, CallState::Answered);
    submit(initiated());
    EXPECT_EQ(telnyx_.actions(),
              (std::vector<std::string>{"speak", "streaming_start", "record_start"}));
    EXPECT_EQ(call().from, "+13125550100");
    EXPECT_EQ(call().state, CallState::Answered);
}

TEST_F(CallControllerTest, HangupBeforeAnsweredCreatesAnEndedCallAndLaterEventsSendNothing) {
    start();
    submit(hangup());
    EXPECT_EQ(call().state, CallState::Ended);
    submit(answered());
    submit(initiated());
    EXPECT_TRUE(telnyx_.sent().empty());
    EXPECT_EQ(metrics_.calls_started.value(), 1U);
    EXPECT_EQ(metrics_.calls_ended.value(), 1U);
}

TEST_F(CallControllerTest, CallAlreadyEndedIsANormalEnd) {
    telnyx_.script("answer", 422, test::kCallEndedBody);
    start();
    submit(initiated());
    const auto row = call();
    EXPECT_EQ(row.state, CallState::Ended);
    EXPECT_TRUE(row.last_error.empty()) << row.last_error;
    EXPECT_EQ(metrics_.commands_call_ended.value(), 1U);
    EXPECT_EQ(metrics_.commands_failed.value(), 0U);
    EXPECT_TRUE(reader_->list_unprocessed_events(100).value().empty());
    const auto log = reader_->list_command_log(row.id).value();
    ASSERT_EQ(log.size(), 1U);
    EXPECT_EQ(log[0].http_status, 422);
    EXPECT_TRUE(log[0].error.empty());
}

TEST_F(CallControllerTest, ServerErrorIsRetriedWithTheSameCommandId) {
    telnyx_.script("answer", 500, R"({"errors":[{"code":"10000","title":"Internal"}]})");
    start();
    submit(initiated());
    const auto answers = telnyx_.sent("answer");
    ASSERT_EQ(answers.size(), 2U);
    EXPECT_EQ(answers[0].body["command_id"], answers[1].body["command_id"]);
    EXPECT_EQ(sleeper_.waits().size(), 1U);
    EXPECT_EQ(metrics_.commands_ok.value(), 1U);
    EXPECT_TRUE(call().last_error.empty());
}

TEST_F(CallControllerTest, UnauthorizedIsRecordedAsAFailure) {
    telnyx_.script("answer", 401, test::kUnauthorizedBody);
    start();
    submit(initiated());
    EXPECT_EQ(telnyx_.sent("answer").size(), 1U);  // 4xx is not retried
    const auto row = call();
    EXPECT_NE(row.last_error.find("HTTP 401"), std::string::npos) << row.last_error;
    EXPECT_NE(row.last_error.find("10009"), std::string::npos) << row.last_error;
    EXPECT_EQ(row.last_error.find("KEYtest"), std::string::npos);
    EXPECT_EQ(metrics_.commands_failed.value(), 1U);
    const auto log = reader_->list_command_log(row.id).value();
    ASSERT_EQ(log.size(), 1U);
    EXPECT_EQ(log[0].http_status, 401);
    EXPECT_FALSE(log[0].error.empty());
}

TEST_F(CallControllerTest, StreamEndedWithAnErrorIsNotedOnTheCall) {
    start();
    submit(initiated());
    submit(answered());
    controller_->on_stream_ended(service::StreamEnded{.call_id = call_id_for(kCcid),
                                                      .call_control_id = std::string(kCcid),
                                                      .stream_id = "s",
                                                      .reason = "malformed frame: bad base64",
                                                      .error = true});
    idle();
    EXPECT_EQ(call().last_error, "media stream closed: malformed frame: bad base64");
}

TEST_F(CallControllerTest, ALostStreamIsStartedAgainWhereTheFirstWent) {
    start();
    submit(initiated());
    submit(answered());
    idle();
    const auto first = telnyx_.sent("streaming_start");
    ASSERT_EQ(first.size(), 1U);
    controller_->on_stream_started(service::StreamStarted{.call_id = call_id_for(kCcid),
                                                          .call_control_id = std::string(kCcid),
                                                          .stream_id = "s-1"});
    controller_->on_stream_ended(service::StreamEnded{.call_id = call_id_for(kCcid),
                                                      .call_control_id = std::string(kCcid),
                                                      .stream_id = "s-1",
                                                      .reason = "peer closed (1006)",
                                                      .error = true,
                                                      .lost = true});
    idle();
    const auto streams = telnyx_.sent("streaming_start");
    ASSERT_EQ(streams.size(), 2U);
    EXPECT_EQ(streams[1].url, first[0].url);
    EXPECT_EQ(streams[1].body["stream_url"], first[0].body["stream_url"]);
    EXPECT_EQ(streams[1].body["stream_auth_token"], first[0].body["stream_auth_token"]);
    EXPECT_EQ(streams[1].body["command_id"],
              command_id_for(kCcid, CommandKind::StreamingStart, "restart-1"));
    // The grant stays: the new stream is accepted and goes on from the checkpoint.
    EXPECT_TRUE(directory_.find(kCcid).has_value());
    EXPECT_EQ(metrics_.media_streams_restarted.value(), 1U);
}

TEST_F(CallControllerTest, MediaStreamUrlOptionWinsOverTheRequestHost) {
    auto o = options();
    o.media_stream_url = "wss://media.example/stream";
    start(o);
    submit(initiated());
    submit(answered());
    EXPECT_EQ(telnyx_.sent("streaming_start").at(0).body["stream_url"],
              "wss://media.example/stream");
}

TEST_F(CallControllerTest, StreamUrlFallsBackToDeliveredTo) {
    start();
    submit(initiated(), "");
    submit(answered(), "");
    EXPECT_EQ(telnyx_.sent("streaming_start").at(0).body["stream_url"], "wss://dvd.example/media");
}

TEST_F(CallControllerTest, OutboundDial) {
    start();
    std::promise<base::Result<DialResult>> dialed;
    auto future = dialed.get_future();
    controller_->dial("+15551230000", std::string(kBase),
                      [&dialed](base::Result<DialResult> r) { dialed.set_value(std::move(r)); });
    ASSERT_EQ(future.wait_for(5s), std::future_status::ready);
    const auto result = future.get();
    ASSERT_TRUE(result.has_value()) << result.error().message;
    EXPECT_EQ(result->call_id, call_id_for("v3:dialed"));
    EXPECT_EQ(result->call_control_id, "v3:dialed");
    EXPECT_EQ(result->status, "initiated");
    EXPECT_EQ(result->from, "+15550001111");
    EXPECT_EQ(result->to, "+15551230000");
    idle();

    const auto dial = telnyx_.sent("dial").at(0);
    EXPECT_EQ(dial.url, "http://telnyx.test/v2/calls");
    EXPECT_EQ(dial.body["to"], "+15551230000");
    EXPECT_EQ(dial.body["from"], "+15550001111");
    EXPECT_EQ(dial.body["connection_id"], "conn-1");
    EXPECT_EQ(dial.body["record"], "record-from-answer");
    EXPECT_FALSE(dial.body.contains("stream_url"));
    const auto row = call("v3:dialed");
    EXPECT_EQ(row.direction, store::CallDirection::Outbound);
    EXPECT_EQ(row.state, CallState::Initiated);
    EXPECT_EQ(reader_->list_command_log(row.id).value().size(), 1U);

    submit(webhook_body(
            "call.initiated", "evt-o1", "v3:dialed",
            {{"direction", "outgoing"}, {"from", "+15550001111"}, {"to", "+15551230000"}}));
    submit(webhook_body("call.answered", "evt-o2", "v3:dialed"));
    EXPECT_EQ(telnyx_.actions(), (std::vector<std::string>{"dial", "speak", "streaming_start"}));
    EXPECT_TRUE(directory_.find("v3:dialed").has_value());
    EXPECT_EQ(metrics_.calls_started.value(), 1U);
}

TEST_F(CallControllerTest, DialRefusals) {
    auto o = options();
    o.main_number.clear();
    start(o);
    std::vector<base::Result<DialResult>> results;
    controller_->dial("+15551230000", "",
                      [&](base::Result<DialResult> r) { results.push_back(std::move(r)); });
    auto& second = start();
    second.dial("12345", "", [&](base::Result<DialResult> r) { results.push_back(std::move(r)); });
    ASSERT_EQ(results.size(), 2U);
    for (const auto& r : results) {
        ASSERT_FALSE(r.has_value());
        EXPECT_EQ(r.error().code, base::make_error_code(base::Errc::InvalidArgument));
    }

    telnyx_.script("dial", 422, R"({"errors":[{"code":"10004","title":"Missing parameter"}]})");
    std::promise<base::Result<DialResult>> refused;
    auto future = refused.get_future();
    second.dial("+15551230000", "",
                [&refused](base::Result<DialResult> r) { refused.set_value(std::move(r)); });
    ASSERT_EQ(future.wait_for(5s), std::future_status::ready);
    const auto r = future.get();
    ASSERT_FALSE(r.has_value());
    EXPECT_NE(r.error().message.find("10004"), std::string::npos);
}

TEST_F(CallControllerTest, RefusesWebhooksWhenSaturatedOrStopped) {
    auto o = options();
    o.webhook_queue_limit = 0;
    start(o);
    std::vector<net::Response> replies;
    auto keep = [&replies](net::Response r) {
        replies.push_back(std::move(r));
    };
    controller_->submit_webhook(test::parse(initiated()), initiated(), "",
                                std::function<void(net::Response)>(keep));
    start();
    controller_->stop(std::chrono::steady_clock::now() + 1s);
    controller_->submit_webhook(test::parse(initiated()), initiated(), "",
                                std::function<void(net::Response)>(keep));
    ASSERT_EQ(replies.size(), 2U);
    for (const auto& r : replies) {
        EXPECT_EQ(r.status, 503);
        ASSERT_EQ(r.headers.size(), 1U);
        EXPECT_EQ(r.headers[0].first, "Retry-After");
    }
    EXPECT_TRUE(telnyx_.sent().empty());
}

TEST_F(CallControllerTest, RestartRegrantsActiveCallsAndRerunsUnprocessedEventsOnce) {
    start();
    submit(initiated());
    submit(answered());
    const auto token = directory_.find(kCcid).value().stream_auth_token;
    const auto id = call_id_for(kCcid);
    // The media side had stored three windows of the call's timeline.
    std::vector<store::ScorePoint> points;
    for (int i = 0; i < 3; ++i) {
        points.push_back(store::ScorePoint{.call_id = id,
                                           .seq = i,
                                           .at_ms = 2000 * (i + 1),
                                           .speech_seconds = 1.5 * (i + 1),
                                           .window_llr = 0.25 * (i + 1),
                                           .verdict = "uncertain"});
    }
    ASSERT_TRUE(reader_->append_score_points(points).has_value());
    // ... and the acoustic indicators' call sums.
    ASSERT_TRUE(reader_->update_call_score(
                               store::CallScoreUpdate{.call_id = id, .indicator_state = "c3Vtcw=="})
                        .has_value());
    controller_->stop(std::chrono::steady_clock::now() + 1s);

    // A crash right after the de-dup commit of a second call's call.initiated: recorded, not
    // processed. The process restarts with an empty directory.
    const std::string pending = initiated("evt-pending", "v3:inbound-2");
    ASSERT_TRUE(reader_->record_webhook_event(store::WebhookEvent{.event_id = "evt-pending",
                                                                  .event_type = "call.initiated",
                                                                  .call_control_id = "v3:inbound-2",
                                                                  .received_at_ms = now_ms_.load(),
                                                                  .body_json = pending})
                        .value());
    directory_.revoke(kCcid);
    const auto resumed_before = metrics_.calls_resumed.value();

    start(options(), /*listening=*/false);
    idle();
    EXPECT_EQ(telnyx_.sent("streaming_start").size(), 1U)
            << "no new stream before the service listens: Telnyx would connect at once";
    controller_->resume_media_streams();
    idle();
    const auto grant = directory_.find(kCcid);
    ASSERT_TRUE(grant.has_value());
    EXPECT_EQ(grant->stream_auth_token, token);
    EXPECT_EQ(grant->call_id, id);
    EXPECT_EQ(grant->checkpoint.windows, 3);
    EXPECT_DOUBLE_EQ(grant->checkpoint.llr_sum, 1.5);
    EXPECT_EQ(grant->checkpoint.speech_frames, 450);
    EXPECT_EQ(grant->next_seq, 3);
    EXPECT_EQ(grant->audio_offset_ms, 6000);
    EXPECT_EQ(grant->indicator_state, "c3Vtcw==");
    EXPECT_EQ(metrics_.calls_resumed.value(), resumed_before + 1);

    auto answers = telnyx_.sent("answer");
    ASSERT_EQ(answers.size(), 2U);
    EXPECT_EQ(answers[1].url, "http://telnyx.test/v2/calls/v3:inbound-2/actions/answer");
    EXPECT_EQ(answers[1].body["command_id"],
              command_id_for("v3:inbound-2", CommandKind::Answer, "initial"));
    EXPECT_TRUE(reader_->list_unprocessed_events(100).value().empty());
    EXPECT_EQ(call("v3:inbound-2").state, CallState::Initiated);

    // Telnyx retries the same delivery: a duplicate. Another restart re-runs nothing.
    EXPECT_EQ(submit(pending).body, R"({"status":"duplicate"})");
    // A new call.answered for the resumed call sends nothing: its commands are in the log.
    submit(answered("evt-ans-again"));
    start();
    idle();
    EXPECT_EQ(telnyx_.sent("answer").size(), 2U);
    // The resumed call's stream died with each process: each restart starts a new one, with a
    // command id of its own, the call's token and the URL it streamed to.
    const auto streams = telnyx_.sent("streaming_start");
    ASSERT_EQ(streams.size(), 3U);
    EXPECT_EQ(streams[1].body["command_id"],
              command_id_for(kCcid, CommandKind::StreamingStart, "resume-1"));
    EXPECT_EQ(streams[2].body["command_id"],
              command_id_for(kCcid, CommandKind::StreamingStart, "resume-2"));
    for (const auto& restart : streams) {
        EXPECT_EQ(restart.body["stream_auth_token"], token);
        EXPECT_EQ(restart.body["stream_url"], streams[0].body["stream_url"]);
    }
    // Each start asked Telnyx whether the recovered calls are still up (two calls, then one).
    EXPECT_EQ(telnyx_.sent("call_status").size(), 3U);
    EXPECT_EQ(telnyx_.sent().size(), 10U);
}

// A call whose call.hangup Telnyx gave up on while the service was down: at the next start
// Telnyx says it is over (not alive, or unknown once its data is gone), and it ends here, its
// grant revoked and no new stream asked for; a call still up is left alone.
TEST_F(CallControllerTest, RecoveredCallsThatEndedWhileDownAreClosed) {
    start();
    submit(initiated());
    submit(answered());
    submit(initiated("evt-init-2", "v3:inbound-2"));
    submit(answered("evt-ans-2", "v3:inbound-2"));
    submit(initiated("evt-init-3", "v3:inbound-3"));
    submit(answered("evt-ans-3", "v3:inbound-3"));
    controller_.reset();
    ASSERT_EQ(telnyx_.sent("streaming_start").size(), 3U);

    telnyx_.script("call_status:v3:inbound-1", 200,
                   R"({"data":{"call_control_id":"v3:inbound-1","is_alive":false,)"
                   R"("call_duration":25,"end_time":"2026-01-01T10:00:30Z"}})");
    telnyx_.script("call_status:v3:inbound-2", 404,
                   R"({"errors":[{"code":"10005","title":"Resource not found"}]})");
    start();
    idle();
    EXPECT_EQ(telnyx_.sent("call_status").size(), 3U);
    const store::Call gone = call(kCcid);
    EXPECT_EQ(gone.state, CallState::Ended);
    EXPECT_EQ(gone.ended_at_ms, 1'767'261'630'000);  // Telnyx's end_time
    EXPECT_DOUBLE_EQ(gone.duration_seconds.value_or(0.0), 25.0);
    EXPECT_EQ(gone.last_error, "the call ended without a call.hangup webhook (Telnyx: not alive)");
    EXPECT_FALSE(directory_.find(kCcid).has_value());
    const store::Call unknown = call("v3:inbound-2");
    EXPECT_EQ(unknown.state, CallState::Ended);
    EXPECT_EQ(unknown.last_error,
              "the call ended without a call.hangup webhook (Telnyx no longer knows it)");
    EXPECT_EQ(call("v3:inbound-3").state, CallState::Answered);
    EXPECT_TRUE(directory_.find("v3:inbound-3").has_value());
    // Only the call still up got a new stream.
    const auto streams = telnyx_.sent("streaming_start");
    ASSERT_EQ(streams.size(), 4U);
    EXPECT_NE(streams[3].url.find("v3:inbound-3"), std::string::npos);
    // A late call.hangup still fills in the cause.
    submit(hangup("evt-hang-late"));
    EXPECT_EQ(call(kCcid).hangup_cause, "normal_clearing");
}

// A call.hangup lost while the service runs (Telnyx gave the webhook up): a call with no open
// stream that stays quiet is checked with Telnyx and closed once Telnyx says it is over; a call
// with an open stream, or one checked recently, is not asked about.
TEST_F(CallControllerTest, QuietCallsAreCheckedWithTelnyx) {
    CallControllerOptions o = options();
    o.quiet_call_check = 60s;
    o.sweep_interval = 5ms;
    start(o);
    submit(initiated());
    submit(answered());
    submit(initiated("evt-init-2", "v3:inbound-2"));
    submit(answered("evt-ans-2", "v3:inbound-2"));
    controller_->on_stream_started(service::StreamStarted{.call_id = call_id_for("v3:inbound-2"),
                                                          .call_control_id = "v3:inbound-2",
                                                          .stream_id = "s-2"});
    std::this_thread::sleep_for(50ms);
    idle();
    EXPECT_TRUE(telnyx_.sent("call_status").empty()) << "not quiet for long yet";

    telnyx_.script("call_status:v3:inbound-1", 200, R"({"data":{"is_alive":true}})");
    now_ms_ += 61'000;
    ASSERT_TRUE(
            dvd::test::eventually([&] { return telnyx_.sent("call_status").size() == 1U; }, 5s));
    std::this_thread::sleep_for(50ms);
    idle();
    EXPECT_EQ(telnyx_.sent("call_status").size(), 1U) << "alive: not asked again at once";
    EXPECT_NE(telnyx_.sent("call_status")[0].url.find("v3:inbound-1"), std::string::npos)
            << "the streamed call is not asked about";
    EXPECT_EQ(call().state, CallState::Answered);

    telnyx_.script("call_status:v3:inbound-1", 200, R"({"data":{"is_alive":false}})");
    now_ms_ += 61'000;
    ASSERT_TRUE(dvd::test::eventually([&] { return call().state == CallState::Ended; }, 5s));
    EXPECT_EQ(call().last_error,
              "the call ended without a call.hangup webhook (Telnyx: not alive)");
    EXPECT_FALSE(directory_.find(kCcid).has_value());
    EXPECT_EQ(call("v3:inbound-2").state, CallState::Streaming);
}

// Telnyx could not connect the stream (our endpoint refused it): a few seconds later the
// stream is asked for again, once.
TEST_F(CallControllerTest, AStreamThatFailedToConnectIsAskedForAgainAfterADelay) {
    answer_then_fail_the_stream(std::string(kBase));
    std::this_thread::sleep_for(50ms);
    idle();
    ASSERT_EQ(telnyx_.sent("streaming_start").size(), 1U) << "not before the delay";
    now_ms_ += 6'000;
    ASSERT_TRUE(dvd::test::eventually([&] { return telnyx_.sent("streaming_start").size() == 2U; },
                                      5s));
    std::this_thread::sleep_for(50ms);
    idle();
    const auto streams = telnyx_.sent("streaming_start");
    ASSERT_EQ(streams.size(), 2U) << "asked for again once";
    EXPECT_EQ(streams[1].body["command_id"],
              command_id_for(kCcid, CommandKind::StreamingStart, "retry-1"));
    EXPECT_EQ(streams[1].body["stream_url"], streams[0].body["stream_url"]);
    EXPECT_EQ(metrics_.media_streams_restarted.value(), 1U);
}

// The stream's failure is reported to the service at another public address than the one the
// call was answered through (it was restarted behind a new URL): the retry goes there.
TEST_F(CallControllerTest, AFailedStreamIsAskedForAgainAtTheAddressItsFailureCameTo) {
    answer_then_fail_the_stream("https://moved.example");
    now_ms_ += 6'000;
    ASSERT_TRUE(dvd::test::eventually([&] { return telnyx_.sent("streaming_start").size() == 2U; },
                                      5s));
    const auto streams = telnyx_.sent("streaming_start");
    EXPECT_EQ(streams[0].body["stream_url"], "wss://dvd.example/media");
    EXPECT_EQ(streams[1].body["stream_url"], "wss://moved.example/media");
}

TEST_F(CallControllerTest, WritesNeverClearScoresTheMediaSideStored) {
    start();
    submit(initiated());
    submit(answered());
    // The StoreWriter flagged the call, but this thread never saw the ScoreChanged.
    ASSERT_TRUE(reader_->update_call_score(store::CallScoreUpdate{.call_id = call_id_for(kCcid),
                                                                  .final_score = 0.95,
                                                                  .final_llr = 3.0,
                                                                  .verdict = "synthetic",
                                                                  .speech_seconds = 8.0,
                                                                  .flagged = true,
                                                                  .updated_at_ms = 1})
                        .has_value());
    submit(hangup());
    const auto row = call();
    EXPECT_EQ(row.state, CallState::Ended);
    EXPECT_TRUE(row.flagged);
    EXPECT_EQ(row.final_score, 0.95);
    EXPECT_EQ(row.verdict, "synthetic");
}

/// escalate() and waits for its status.
std::string escalate_and_wait(CallController& controller, std::string call_id,
                              config::EscalationPolicy policy) {
    std::promise<std::string> status;
    auto future = status.get_future();
    controller.escalate(std::move(call_id), policy, "test",
                        [&status](std::string_view s) { status.set_value(std::string(s)); });
    EXPECT_EQ(future.wait_for(5s), std::future_status::ready);
    return future.get();
}

TEST_F(CallControllerTest, EscalationWarnSpeaksOnceAcrossRequestsAndRestarts) {
    auto o = options();
    o.flow.escalation_warning_text = "Security notice.";
    start(o);
    submit(initiated());
    submit(answered());
    const auto id = call_id_for(kCcid);
    EXPECT_EQ(escalate_and_wait(*controller_, id, config::EscalationPolicy::Warn), "issued");
    idle();
    auto speaks = telnyx_.sent("speak");
    ASSERT_EQ(speaks.size(), 2U) << "greeting + notice";
    EXPECT_EQ(speaks[1].body["payload"], "Security notice.");
    EXPECT_EQ(speaks[1].body["command_id"],
              command_id_for(kCcid, CommandKind::Speak, "escalation"));
    EXPECT_EQ(call().escalation, "warn");
    EXPECT_EQ(call().escalated_at_ms, now_ms_.load());

    EXPECT_EQ(escalate_and_wait(*controller_, id, config::EscalationPolicy::Warn),
              "already_escalated");
    // A restart (memory lost) and a duplicate webhook do not repeat it either.
    start(o);
    submit(answered("evt-ans-dup"));
    EXPECT_EQ(escalate_and_wait(*controller_, id, config::EscalationPolicy::Hangup),
              "already_escalated");
    idle();
    EXPECT_EQ(telnyx_.sent("speak").size(), 2U);
    EXPECT_TRUE(telnyx_.sent("hangup").empty());
    const auto log = reader_->list_command_log(id).value();
    const auto notice = std::find_if(log.rbegin(), log.rend(),
                                     [](const auto& entry) { return entry.command == "speak"; });
    ASSERT_NE(notice, log.rend());
    EXPECT_EQ(notice->command_id, command_id_for(kCcid, CommandKind::Speak, "escalation"));
    EXPECT_EQ(notice->http_status, 200);
}

TEST_F(CallControllerTest, EscalationTransferAndHangupBodies) {
    auto o = options();
    o.flow.security_number = "+13125550111";
    start(o);
    submit(initiated());
    submit(answered());
    EXPECT_EQ(escalate_and_wait(*controller_, call_id_for(kCcid),
                                config::EscalationPolicy::Transfer),
              "issued");
    idle();
    const auto transfers = telnyx_.sent("transfer");
    ASSERT_EQ(transfers.size(), 1U);
    EXPECT_EQ(transfers[0].url, "http://telnyx.test/v2/calls/v3:inbound-1/actions/transfer");
    EXPECT_EQ(transfers[0].body["to"], "+13125550111");
    EXPECT_EQ(transfers[0].body["command_id"],
              command_id_for(kCcid, CommandKind::Transfer, "escalation"));

    const std::string other = "v3:inbound-2";
    submit(initiated("evt-i2", other));
    submit(answered("evt-a2", other));
    EXPECT_EQ(escalate_and_wait(*controller_, call_id_for(other), config::EscalationPolicy::Hangup),
              "issued");
    idle();
    const auto hangups = telnyx_.sent("hangup");
    ASSERT_EQ(hangups.size(), 1U);
    EXPECT_EQ(hangups[0].url, "http://telnyx.test/v2/calls/v3:inbound-2/actions/hangup");
    EXPECT_EQ(hangups[0].body["command_id"],
              command_id_for(other, CommandKind::Hangup, "escalation"));
    EXPECT_EQ(escalate_and_wait(*controller_, "no-such-call", config::EscalationPolicy::Hangup),
              "unknown_call");
    submit(hangup("evt-h2", other));
    EXPECT_EQ(escalate_and_wait(*controller_, call_id_for(other), config::EscalationPolicy::Warn),
              "already_escalated");
}

TEST_F(CallControllerTest, RecordingHookFiresOnceTheRowIsStored) {
    std::atomic<int> saved{0};
    std::size_t rows_at_hook = 0;
    auto o = options();
    o.on_recording_saved = [&] {
        rows_at_hook = reader_->list_recordings(call_id_for(kCcid)).value().size();
        ++saved;
    };
    start(o);
    submit(initiated());
    submit(answered());
    idle();
    EXPECT_EQ(saved.load(), 0);
    submit(webhook_body("call.recording.saved", "evt-rec", kCcid,
                        {{"recording_id", "rec-1"},
                         {"recording_urls", {{"wav", "https://rec.example/1.wav"}}}}));
    idle();
    EXPECT_EQ(saved.load(), 1);
    EXPECT_EQ(rows_at_hook, 1U);
}

TEST_F(CallControllerTest, EndedHookReportsTheFinalScore) {
    std::vector<EndedCall> ended;
    auto o = options();
    o.on_call_ended = [&ended](const EndedCall& call) { ended.push_back(call); };
    start(o);
    submit(initiated());
    submit(answered());
    controller_->on_score_changed(service::ScoreChanged{
            .call_id = call_id_for(kCcid),
            .call_control_id = std::string(kCcid),
            .score = {.llr = 2.0, .probability = 0.88, .verdict = pipeline::Verdict::Synthetic,
                      .speech_seconds = 5.0, .windows = 4},
            .at_ms = 5000,
            .crossed_threshold = true});
    idle();
    ASSERT_EQ(flagged_.size(), 1U);
    EXPECT_EQ(flagged_[0].public_base_url, kBase);
    submit(hangup());
    submit(hangup("evt-hang-dup"));
    ASSERT_EQ(ended.size(), 1U);
    EXPECT_EQ(ended[0].call_id, call_id_for(kCcid));
    EXPECT_TRUE(ended[0].flagged);
    EXPECT_EQ(ended[0].final_score, 0.88);
    EXPECT_EQ(ended[0].verdict, "synthetic");
    EXPECT_EQ(ended[0].hangup_cause, "normal_clearing");
}

TEST_F(CallControllerTest, StopSkipsQueuedCommandsAndTheirEventRerunsAtTheNextStart) {
    std::promise<void> answer_reached;
    std::promise<void> release;
    auto released = release.get_future().share();
    std::atomic<bool> first = true;
    telnyx_.before_reply = [&](const std::string& action) {
        if (action == "answer" && first.exchange(false)) {
            answer_reached.set_value();
            released.wait();  // holds the commands thread inside the answer
        }
    };
    auto o = options();
    o.command_threads = 1;
    auto& controller = start(o);
    std::vector<net::Response> replies;
    auto keep = [&replies](net::Response r) {
        replies.push_back(std::move(r));
    };
    controller.submit_webhook(test::parse(initiated()), initiated(), std::string(kBase),
                              std::function<void(net::Response)>(keep));
    answer_reached.get_future().wait();
    // Queued behind the blocked answer on the only commands thread.
    controller.submit_webhook(test::parse(answered()), answered(), std::string(kBase),
                              std::function<void(net::Response)>(keep));
    std::thread stopper([&controller] { controller.stop(std::chrono::steady_clock::now() + 5s); });
    // Once stop() has begun, new webhooks are refused; then let the answer finish.
    for (int probe = 0;; ++probe) {
        const auto body =
                webhook_body("call.something.new", fmt::format("probe-{}", probe), "v3:other");
        std::promise<int> status;
        controller.submit_webhook(test::parse(body), body, "",
                                  std::function<void(net::Response)>([&status](net::Response r) {
                                      status.set_value(r.status);
                                  }));
        if (status.get_future().get() == 503) {
            break;
        }
        std::this_thread::yield();
    }
    release.set_value();
    stopper.join();
    telnyx_.before_reply = nullptr;

    EXPECT_EQ(telnyx_.actions(), (std::vector<std::string>{"answer"}));
    EXPECT_TRUE(reader_->get_webhook_event("evt-init").value().value().processed);
    EXPECT_FALSE(reader_->get_webhook_event("evt-ans").value().value().processed);

    start();
    idle();
    EXPECT_EQ(telnyx_.actions(), (std::vector<std::string>{"answer", "call_status", "speak",
                                                           "streaming_start", "record_start"}));
    EXPECT_EQ(telnyx_.sent("speak").at(0).body["command_id"],
              command_id_for(kCcid, CommandKind::Speak, "greeting"));
    EXPECT_TRUE(reader_->list_unprocessed_events(100).value().empty());
}

}  // namespace
}  // namespace dvd::calls
