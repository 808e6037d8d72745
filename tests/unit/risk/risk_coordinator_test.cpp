// The RiskCoordinator end to end inside one process, against the Telnyx simulator's fake Slack,
// JSON webhook and AI Inference endpoints over loopback HTTP: alert content and timing, retries
// (500, 429 + Retry-After), no retry on 400, no duplicates across duplicate triggers and
// restarts, analysis fallbacks (timeout, garbage, schema violation, HTTP errors), level-2 alerts,
// escalation requests, the per-call rate limit and the hang-up analysis.
#include "risk/risk_coordinator.hpp"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <future>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "sim/simulator.hpp"
#include "store/sqlite_store.hpp"
#include "support/eventually.hpp"

namespace dvd::risk {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr std::string_view kKey = "KEY_risk_test_0123456789";
constexpr std::int64_t kT0 = 1'800'000'000'000;

using dvd::test::eventually;

std::int64_t wall_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::system_clock::now().time_since_epoch())
            .count();
}

struct Escalation {
    std::string call_id;
    config::EscalationPolicy policy;
    std::string reason;
};

class RiskCoordinatorTest : public ::testing::Test {
protected:
    RiskCoordinatorTest() {
        std::random_device device;
        dir_ = std::filesystem::temp_directory_path()
               / ("dvd_risk_test_" + std::to_string(device()) + std::to_string(device()));
        std::filesystem::create_directories(dir_);
        db_path_ = (dir_ / "dvd.db").string();
        store_ = store::SqliteStore::open(db_path_).value();
        sim::SimulatorOptions sim_options;
        sim_options.webhook_url = "http://127.0.0.1:9/webhooks/voice";
        sim_options.api_key = std::string(kKey);
        sim_ = std::make_unique<sim::Simulator>(sim_options);
        EXPECT_TRUE(sim_->start());
    }

    ~RiskCoordinatorTest() override {
        coordinator_.reset();
        sim_->stop();
        store_.reset();
        std::error_code ignored;
        std::filesystem::remove_all(dir_, ignored);
    }

    /// A streaming, flagged inbound call with indicators, scored 0.91.
    store::Call add_call(const std::string& id, std::string attestation = "A") {
        store::Call call;
        call.id = id;
        call.call_control_id = "v3:" + id;
        call.from = "+13125550100";
        call.to = "+13125550199";
        call.state = store::CallState::Streaming;
        call.started_at_ms = wall_ms() - 30'000;
        call.created_at_ms = call.started_at_ms;
        call.updated_at_ms = call.started_at_ms;
        call.final_score = 0.91;
        call.final_llr = 2.3;
        call.verdict = "synthetic";
        call.speech_seconds = 8.0;
        call.flagged = true;
        call.stir_shaken_attestation = std::move(attestation);
        call.stir_shaken_verified = true;
        EXPECT_TRUE(store_->upsert_call(call));
        EXPECT_TRUE(store_->update_call_score(store::CallScoreUpdate{
                .call_id = id,
                .final_score = 0.91,
                .final_llr = 2.3,
                .verdict = "synthetic",
                .speech_seconds = 8.0,
                .flagged = true,
                .updated_at_ms = call.updated_at_ms,
                .indicators_json =
                        R"({"pitch_mean_hz":180.0,"pitch_range_semitones":1.2,)"
                        R"("jitter_local_percent":0.08,"hnr_db":26.0,"codec":"PCMU"})"}));
        std::vector<store::ScorePoint> points;
        for (int i = 0; i < 4; ++i) {
            points.push_back(store::ScorePoint{.call_id = id,
                                               .seq = i,
                                               .at_ms = 2000 + 500 * i,
                                               .speech_seconds = 2.0 + i,
                                               .window_score = 0.6 + 0.1 * i,
                                               .call_score = 0.91,
                                               .verdict = "synthetic"});
        }
        EXPECT_TRUE(store_->append_score_points(points));
        return call;
    }

    RiskOptions options() {
        RiskOptions o;
        o.escalation_policy = config::EscalationPolicy::Warn;
        o.public_base_url = "https://dvd.example";
        o.min_analysis_interval = 0ms;
        // The calls these tests add are flagged already: only the restart test lets the
        // recovery at start pick them up.
        o.recovery_window = 0ms;
        return o;
    }

    alerts::OutboxOptions outbox_options() {
        alerts::OutboxOptions o;
        o.slack_webhook_url = sim_->slack_webhook_url();
        o.json_webhook_url = sim_->json_webhook_url();
        o.request_timeout = 2s;
        o.base_backoff = 100ms;
        o.max_backoff = 400ms;
        return o;
    }

    inference::RiskAnalysisOptions analysis_options() {
        inference::RiskAnalysisOptions o;
        o.url = sim_->inference_url();
        o.api_key = std::string(kKey);
        o.prompt.model = "simulated-model";
        o.request_timeout = 700ms;
        o.retry.max_attempts = 2;
        o.retry.base_delay = 10ms;
        o.retry.max_delay = 20ms;
        return o;
    }

    void start(RiskOptions o) {
        coordinator_.reset();
        auto outbox = std::make_unique<alerts::AlertOutbox>(
                outbox_options(),
                alerts::OutboxDeps{.store = store::SqliteStore::open(db_path_).value(),
                                   .seed = 7});
        RiskDeps deps;
        deps.store = store::SqliteStore::open(db_path_).value();
        deps.outbox = std::move(outbox);
        deps.analysis = analysis_options();
        deps.escalate = [this](std::string call_id, config::EscalationPolicy policy,
                               std::string reason) {
            const std::lock_guard lock(mutex_);
            escalations_.push_back({std::move(call_id), policy, std::move(reason)});
        };
        deps.seed = 11;
        coordinator_ = std::make_unique<RiskCoordinator>(std::move(o), std::move(deps));
        const auto started = coordinator_->start();
        ASSERT_TRUE(started) << started.error().message;
        const auto recovered = coordinator_->recover();
        ASSERT_TRUE(recovered) << recovered.error().message;
    }

    void start() { start(options()); }

    FlaggedEvent flagged(const std::string& id) {
        return FlaggedEvent{.call_id = id,
                            .call_control_id = "v3:" + id,
                            .score = {.llr = 2.3,
                                      .probability = 0.91,
                                      .verdict = pipeline::Verdict::Synthetic,
                                      .speech_seconds = 8.0,
                                      .windows = 4},
                            .at_ms = 3'500};
    }

    std::vector<sim::FakeRequest> slack() { return sim_->fakes().requests(sim::FakeTarget::Slack); }

    std::vector<store::AnalysisRecord> analyses(const std::string& id) {
        return store_->list_analyses(id).value();
    }

    std::vector<store::Alert> alerts_of(const std::string& id) {
        return store_->list_alerts(id).value();
    }

    std::optional<store::Alert> slack_alert(const std::string& id, int level = 1) {
        for (const auto& alert : alerts_of(id)) {
            if (alert.channel == store::AlertChannel::Slack && alert.level == level) {
                return alert;
            }
        }
        return std::nullopt;
    }

    std::vector<Escalation> escalations() {
        const std::lock_guard lock(mutex_);
        return escalations_;
    }

    /// analyze() and wait for its answer.
    AnalysisResult analyze_now(const std::string& id, double probability = 0.91) {
        std::promise<AnalysisResult> promise;
        auto future = promise.get_future();
        coordinator_->analyze(AnalysisRequest{.call_id = id,
                                              .probability = probability,
                                              .llr = 2.3,
                                              .verdict = "synthetic",
                                              .speech_seconds = 8.0,
                                              .window_probabilities = {0.8, 0.9}},
                              [&promise](AnalysisResult result) {
                                  promise.set_value(std::move(result));
                              });
        EXPECT_EQ(future.wait_for(15s), std::future_status::ready);
        return future.get();
    }

    std::filesystem::path dir_;
    std::string db_path_;
    std::unique_ptr<store::SqliteStore> store_;
    std::unique_ptr<sim::Simulator> sim_;
    std::unique_ptr<RiskCoordinator> coordinator_;
    std::mutex mutex_;
    std::vector<Escalation> escalations_;
};

TEST_F(RiskCoordinatorTest, FlaggedCallIsAlertedWithinOneSecondThenAnalysed) {
    add_call("call-1");
    start();
    const std::int64_t crossed_at = wall_ms();
    coordinator_->on_flagged(flagged("call-1"));
    ASSERT_TRUE(eventually([&] { return !slack().empty(); }, 5s));
    const auto first = slack().front();
    EXPECT_LT(first.received_at_ms - crossed_at, 1000) << "the level-1 alert within 1 s";

    // Content: who, the score and verdict, the time into the call, top indicators, the
    // detector-only decision, the dashboard link.
    const json message = json::parse(first.body);
    const std::string text = message["text"];
    EXPECT_NE(text.find("+13125550100"), std::string::npos) << text;
    EXPECT_NE(text.find("0.91"), std::string::npos) << text;
    const std::string blocks = message["blocks"].dump();
    EXPECT_NE(blocks.find("+13125550199"), std::string::npos);
    EXPECT_NE(blocks.find("pitch_range_semitones"), std::string::npos) << blocks;
    EXPECT_NE(blocks.find("https://dvd.example/#/calls/call-1"), std::string::npos) << blocks;
    EXPECT_NE(blocks.find("detector_only"), std::string::npos) << blocks;
    EXPECT_NE(blocks.find("0:03"), std::string::npos) << "time into the call: " << blocks;
    ASSERT_TRUE(eventually(
            [&] { return sim_->fakes().requests(sim::FakeTarget::Json).size() == 1; }, 5s));
    const json generic =
            json::parse(sim_->fakes().requests(sim::FakeTarget::Json).front().body);
    EXPECT_EQ(generic["alert_key"], "call-1:1");
    EXPECT_EQ(generic["detection"]["score"], 0.91);

    // The analysis ran and was stored; the escalation was asked for once; recordings kept.
    ASSERT_TRUE(eventually([&] { return analyses("call-1").size() == 1; }));
    const auto record = analyses("call-1").front();
    EXPECT_EQ(record.trigger, store::AnalysisTrigger::Threshold);
    EXPECT_EQ(record.source, "detector+analysis");
    EXPECT_EQ(record.risk_level, "high");
    EXPECT_EQ(record.error, "");
    EXPECT_EQ(record.model, "simulated-model");
    EXPECT_EQ(record.http_status, 200);
    const auto inference = sim_->fakes().requests(sim::FakeTarget::Inference);
    ASSERT_EQ(inference.size(), 1U);
    EXPECT_TRUE(inference[0].authorized);
    const json request = json::parse(inference[0].body);
    EXPECT_EQ(request["model"], "simulated-model");
    EXPECT_EQ(request["enable_thinking"], false);
    EXPECT_NE(request["messages"][1]["content"].get<std::string>().find("pitch_range_semitones"),
              std::string::npos);
    const auto asked = escalations();
    ASSERT_EQ(asked.size(), 1U);
    EXPECT_EQ(asked[0].call_id, "call-1");
    EXPECT_EQ(asked[0].policy, config::EscalationPolicy::Warn);
    ASSERT_TRUE(eventually([&] {
        const auto a = alerts_of("call-1");
        return a.size() == 2 && a[0].status == store::AlertStatus::Sent
               && a[1].status == store::AlertStatus::Sent;
    }));
    EXPECT_EQ(slack().size(), 1U) << "same risk as the detector: no level 2";
    EXPECT_EQ(coordinator_->stats().alerts_enqueued, 1U);
}

TEST_F(RiskCoordinatorTest, AnalysisRaisingTheRiskSendsALevelTwoAlert) {
    add_call("call-c", "C");  // unattested caller id: the fake analysis raises high -> critical
    start();
    coordinator_->on_flagged(flagged("call-c"));
    ASSERT_TRUE(eventually([&] { return slack().size() == 2; }, 10s)) << slack().size();
    const json level2 = json::parse(slack()[1].body);
    const std::string blocks = level2["blocks"].dump();
    EXPECT_NE(blocks.find("critical"), std::string::npos) << blocks;
    EXPECT_NE(blocks.find("detector+analysis"), std::string::npos) << blocks;
    EXPECT_NE(blocks.find("Simulated analysis"), std::string::npos) << "the reasoning";
    const auto record = analyses("call-c").at(0);
    EXPECT_TRUE(record.raised_by_analysis);
    EXPECT_EQ(record.risk_level, "critical");
    EXPECT_EQ(coordinator_->stats().level2_alerts, 1U);
    ASSERT_TRUE(eventually([&] { return alerts_of("call-c").size() == 4; }));
    // Escalated once, at the crossing: the analysis does not ask again.
    EXPECT_EQ(escalations().size(), 1U);
}

TEST_F(RiskCoordinatorTest, SlackRetriesServerErrorsAndHonoursRetryAfter) {
    add_call("call-r");
    sim_->fakes().script(sim::FakeTarget::Slack,
                         {sim::FakeReply{.status = 500, .body = "rollup_error"},
                          sim::FakeReply{.status = 429, .body = "rate_limited", .retry_after_s = 1}});
    start();
    coordinator_->on_flagged(flagged("call-r"));
    ASSERT_TRUE(eventually([&] { return slack().size() == 3; }, 10s)) << slack().size();
    const auto sent = slack();
    EXPECT_EQ(sent[0].status, 500);
    EXPECT_EQ(sent[1].status, 429);
    EXPECT_EQ(sent[2].status, 200);
    EXPECT_EQ(sent[0].body, sent[2].body) << "the same alert each time";
    EXPECT_GE(sent[2].received_at_ms - sent[1].received_at_ms, 950) << "Retry-After: 1";
    ASSERT_TRUE(eventually([&] {
        const auto a = slack_alert("call-r");
        return a && a->status == store::AlertStatus::Sent;
    }));
    EXPECT_EQ(slack_alert("call-r")->attempts, 3);
}

TEST_F(RiskCoordinatorTest, SlackBadRequestIsNotRetried) {
    add_call("call-x");
    sim_->fakes().script(sim::FakeTarget::Slack,
                         {sim::FakeReply{.status = 400, .body = "invalid_payload"}});
    start();
    coordinator_->on_flagged(flagged("call-x"));
    ASSERT_TRUE(eventually([&] {
        const auto a = slack_alert("call-x");
        return a && a->status == store::AlertStatus::Failed;
    }));
    const auto alert = *slack_alert("call-x");
    EXPECT_EQ(alert.attempts, 1);
    EXPECT_NE(alert.last_error.find("invalid_payload"), std::string::npos) << alert.last_error;
    std::this_thread::sleep_for(600ms);  // longer than the backoff: nothing more is sent
    EXPECT_EQ(slack().size(), 1U);
}

TEST_F(RiskCoordinatorTest, NoDuplicateAlertForADuplicateTriggerOrAfterARestart) {
    add_call("call-d");
    auto limited = options();
    limited.min_analysis_interval = 60s;  // as in the service: a duplicate is not re-analysed
    start(limited);
    coordinator_->on_flagged(flagged("call-d"));
    coordinator_->on_flagged(flagged("call-d"));  // a duplicate hook (e.g. a replayed event)
    ASSERT_TRUE(eventually([&] {
        const auto a = alerts_of("call-d");
        return a.size() == 2 && a[0].status == store::AlertStatus::Sent;
    }));
    ASSERT_TRUE(coordinator_->wait_idle(10s));
    std::this_thread::sleep_for(300ms);
    EXPECT_EQ(slack().size(), 1U);

    // Restart: recovery finds the level-1 alert and sends nothing; a call flagged before the
    // crash without its alert gets it now, once.
    add_call("call-m");
    coordinator_.reset();
    auto recovering = options();
    recovering.recovery_window = 3'600'000ms;
    start(recovering);
    ASSERT_TRUE(eventually([&] { return slack().size() == 2; }, 5s));
    ASSERT_TRUE(coordinator_->wait_idle(10s));
    std::this_thread::sleep_for(300ms);
    EXPECT_EQ(slack().size(), 2U);
    EXPECT_NE(slack()[1].body.find("call-m"), std::string::npos);
    EXPECT_EQ(analyses("call-d").size(), 1U) << "analysed before the restart: not again";
    EXPECT_EQ(analyses("call-m").size(), 1U) << "never analysed: analysed after the restart";
    coordinator_.reset();
    start(recovering);
    ASSERT_TRUE(coordinator_->wait_idle(10s));
    std::this_thread::sleep_for(300ms);
    EXPECT_EQ(slack().size(), 2U);
    EXPECT_EQ(analyses("call-m").size(), 1U);
}

TEST_F(RiskCoordinatorTest, FailedAnalysesFallBackToTheDetectorAndSaySo) {
    struct Case {
        const char* id;
        std::vector<sim::FakeReply> replies;
        const char* code;
    };
    const std::vector<Case> cases{
            {"t-timeout",  // both attempts time out (the client retries a timeout once)
             {sim::FakeReply{.content = "{}", .delay = 1500ms},
              sim::FakeReply{.content = "{}", .delay = 1500ms}},
             "timeout"},
            {"t-garbage", {sim::FakeReply{.content = "I think it is fine."}}, "malformed_output"},
            {"t-schema",
             {sim::FakeReply{.content = R"({"risk_level":"High","escalate":true,)"
                                        R"("indicators":[],"reasoning":"x",)"
                                        R"("recommended_action":"warn"})"}},
             "schema_violation"},
            {"t-cut", {sim::FakeReply{.content = "{\"risk", .finish_reason = "length"}},
             "malformed_output"},
            {"t-http",
             {sim::FakeReply{.status = 503, .body = "{}"}, sim::FakeReply{.status = 503}},
             "http_status"},
    };
    for (const auto& c : cases) {
        add_call(c.id);
    }
    start();
    for (const auto& c : cases) {
        SCOPED_TRACE(c.id);
        sim_->fakes().script(sim::FakeTarget::Inference, c.replies);
        const auto result = analyze_now(c.id);
        ASSERT_EQ(result.status, "done") << result.message;
        ASSERT_TRUE(result.record);
        const auto& record = *result.record;
        EXPECT_EQ(record.trigger, store::AnalysisTrigger::Api);
        EXPECT_EQ(record.source, "detector_only");
        EXPECT_EQ(record.error_code, c.code) << record.error;
        EXPECT_FALSE(record.error.empty());
        EXPECT_EQ(record.reason.rfind("analysis unavailable: ", 0), 0U) << record.reason;
        EXPECT_EQ(record.risk_level, "high") << "the detector's decision stands";
        EXPECT_TRUE(record.flagged);
        EXPECT_TRUE(record.escalate);
        EXPECT_EQ(analyses(c.id).size(), 1U);
    }
    EXPECT_EQ(coordinator_->stats().analyses_fallback, cases.size());
    // The service answered each within the client's bounds (no hang): the next one works.
    const auto ok = analyze_now("t-garbage");
    EXPECT_EQ(ok.record->source, "detector+analysis");
}

TEST_F(RiskCoordinatorTest, ApiAnalysesAreRateLimitedPerCall) {
    add_call("call-l");
    auto o = options();
    o.min_analysis_interval = 60s;
    start(o);
    const auto first = analyze_now("call-l");
    EXPECT_EQ(first.status, "done");
    const auto second = analyze_now("call-l");
    EXPECT_EQ(second.status, "rate_limited");
    ASSERT_TRUE(second.record);
    EXPECT_EQ(second.record->id, first.record->id) << "the latest stored decision";
    EXPECT_EQ(sim_->fakes().requests(sim::FakeTarget::Inference).size(), 1U);
    EXPECT_EQ(analyze_now("nobody").status, "not_found");
}

TEST_F(RiskCoordinatorTest, HangupAnalysesFlaggedOrMediumCallsOnly) {
    for (const char* id : {"call-h", "call-low"}) {
        store::Call ended = add_call(id);
        ended.state = store::CallState::Ended;  // the calls thread stored the end first
        ASSERT_TRUE(store_->upsert_call(ended));
    }
    start();
    coordinator_->on_call_ended(EndedEvent{.call_id = "call-h",
                                           .flagged = true,
                                           .final_score = 0.91,
                                           .final_llr = 2.3,
                                           .verdict = "synthetic",
                                           .speech_seconds = 8.0});
    coordinator_->on_call_ended(EndedEvent{.call_id = "call-low",
                                           .flagged = false,
                                           .final_score = 0.2,
                                           .final_llr = -1.4,
                                           .verdict = "human",
                                           .speech_seconds = 8.0});
    ASSERT_TRUE(eventually([&] { return analyses("call-h").size() == 1; }));
    ASSERT_TRUE(coordinator_->wait_idle(10s));
    EXPECT_EQ(analyses("call-h")[0].trigger, store::AnalysisTrigger::Hangup);
    EXPECT_TRUE(analyses("call-low").empty());
    EXPECT_TRUE(escalations().empty()) << "the hang-up analysis does not escalate a detector flag";
}

TEST_F(RiskCoordinatorTest, WithoutAnEndpointEveryDecisionIsDetectorOnly) {
    add_call("call-n");
    coordinator_.reset();
    RiskDeps deps;
    deps.store = store::SqliteStore::open(db_path_).value();
    coordinator_ = std::make_unique<RiskCoordinator>(options(), std::move(deps));
    ASSERT_TRUE(coordinator_->start());
    const auto result = analyze_now("call-n");
    ASSERT_TRUE(result.record);
    EXPECT_EQ(result.record->source, "detector_only");
    EXPECT_NE(result.record->reason.find("analysis disabled"), std::string::npos);
    EXPECT_TRUE(sim_->fakes().requests(sim::FakeTarget::Inference).empty());
}

}  // namespace
}  // namespace dvd::risk
