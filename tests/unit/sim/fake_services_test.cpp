// The simulator's fake Slack, JSON webhook and AI Inference endpoints: default answers, scripts
// (errors, Retry-After, garbage, delays), recording, and the /_sim control API, over loopback HTTP.
#include "sim/fake_services.hpp"

#include <chrono>
#include <string>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "http/http_client.hpp"
#include "sim/simulator.hpp"

namespace dvd::sim {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr std::string_view kKey = "KEY_fake_0123456789";

std::string evidence_request(double p, std::string_view attestation) {
    const json evidence{{"detector", {{"probability_synthetic", p}, {"threshold", 0.75}}},
                        {"call", {{"stir_shaken_attestation", attestation}}}};
    return json{{"model", "m"},
                {"messages",
                 json::array({json{{"role", "system"}, {"content", "rules"}},
                              json{{"role", "user"},
                                   {"content", "Evidence (JSON): " + evidence.dump()}}})}}
            .dump();
}

TEST(FakeServices, DefaultInferenceAnswerFollowsTheEvidence) {
    const json high = json::parse(FakeServices::default_completion(evidence_request(0.9, "A")));
    EXPECT_EQ(high["risk_level"], "high");
    EXPECT_EQ(high["escalate"], true);
    EXPECT_EQ(high["recommended_action"], "verify_identity");
    EXPECT_EQ(high.size(), 5U);
    EXPECT_TRUE(high["indicators"].is_array());

    const json raised = json::parse(FakeServices::default_completion(evidence_request(0.9, "C")));
    EXPECT_EQ(raised["risk_level"], "critical") << "attestation C adds one level";
    const json low = json::parse(FakeServices::default_completion(evidence_request(0.1, "A")));
    EXPECT_EQ(low["risk_level"], "low");
    EXPECT_EQ(low["escalate"], false);
    const json medium = json::parse(FakeServices::default_completion(evidence_request(0.6, "A")));
    EXPECT_EQ(medium["risk_level"], "medium");
}

TEST(FakeServices, ScriptsAreParsedAndValidated) {
    auto script = FakeServices::parse_script(
            R"([{"status":500,"body":"rollup_error"},{"status":429,"retry_after":2},)"
            R"({"content":{"risk_level":"High"},"delay_ms":50},{"content":"not json"}])");
    ASSERT_TRUE(script) << script.error().message;
    ASSERT_EQ(script->size(), 4U);
    EXPECT_EQ((*script)[0].status, 500);
    EXPECT_EQ((*script)[0].body, "rollup_error");
    EXPECT_EQ((*script)[1].retry_after_s, 2);
    EXPECT_EQ((*script)[2].content, R"({"risk_level":"High"})");
    EXPECT_EQ((*script)[2].delay, 50ms);
    EXPECT_EQ((*script)[3].content, "not json");
    EXPECT_FALSE(FakeServices::parse_script("{}"));
    EXPECT_FALSE(FakeServices::parse_script(R"([{"status":42}])"));
    EXPECT_FALSE(FakeServices::parse_script(R"([{"delay_ms":-1}])"));
}

TEST(FakeServices, ResponsesCarryContentTypeRetryAfterAndCompletions) {
    const auto slack = FakeServices::to_response(
            FakeTarget::Slack, FakeReply{.status = 429, .body = "rate_limited", .retry_after_s = 3});
    EXPECT_EQ(slack.status, 429);
    EXPECT_EQ(slack.body, "rate_limited");
    ASSERT_EQ(slack.headers.size(), 1U);
    EXPECT_EQ(slack.headers[0].first, "Retry-After");
    EXPECT_EQ(slack.headers[0].second, "3");
    const auto completion = FakeServices::to_response(
            FakeTarget::Inference, FakeReply{.content = "garbage", .finish_reason = "length"});
    const json body = json::parse(completion.body);
    EXPECT_EQ(body["choices"][0]["message"]["content"], "garbage");
    EXPECT_EQ(body["choices"][0]["finish_reason"], "length");
    EXPECT_EQ(body["object"], "chat.completion");
}

class FakeEndpointsTest : public ::testing::Test {
protected:
    void SetUp() override {
        SimulatorOptions options;
        options.webhook_url = "http://127.0.0.1:9/webhooks/voice";  // no calls in these tests
        options.api_key = std::string(kKey);
        sim_ = std::make_unique<Simulator>(options);
        ASSERT_TRUE(sim_->start());
    }

    void TearDown() override { sim_->stop(); }

    base::Result<http::HttpResponse> post(const std::string& url, std::string body,
                                          bool auth = true,
                                          std::chrono::milliseconds timeout = 5s) {
        http::HttpRequest request{.method = "POST", .url = url, .body = std::move(body)};
        request.headers.set("Content-Type", "application/json");
        if (auth) {
            request.headers.set("Authorization", fmt::format("Bearer {}", kKey));
        }
        request.timeout = timeout;
        return client_.send(request);
    }

    base::Result<http::HttpResponse> get(const std::string& path) {
        http::HttpRequest request{.method = "GET",
                                  .url = fmt::format("http://127.0.0.1:{}{}", sim_->port(), path)};
        request.timeout = 5s;
        return client_.send(request);
    }

    std::unique_ptr<Simulator> sim_;
    http::HttpClient client_;
};

TEST_F(FakeEndpointsTest, SlackAnswersOkAndChecksThePayload) {
    auto ok = post(sim_->slack_webhook_url(), R"({"text":"hello","blocks":[]})", false);
    ASSERT_TRUE(ok) << ok.error().message;
    EXPECT_EQ(ok->status, 200);
    EXPECT_EQ(ok->body, "ok");
    auto garbage = post(sim_->slack_webhook_url(), "not json", false);
    ASSERT_TRUE(garbage);
    EXPECT_EQ(garbage->status, 400);
    EXPECT_EQ(garbage->body, "invalid_payload");
    auto empty = post(sim_->slack_webhook_url(), "{}", false);
    ASSERT_TRUE(empty);
    EXPECT_EQ(empty->body, "no_text");

    const auto recorded = sim_->fakes().requests(FakeTarget::Slack);
    ASSERT_EQ(recorded.size(), 3U);
    EXPECT_EQ(recorded[0].body, R"({"text":"hello","blocks":[]})");
    EXPECT_EQ(recorded[0].path, "/services/TSIM/BSIM/simulated");
    EXPECT_EQ(recorded[1].status, 400);
    EXPECT_GT(recorded[0].received_at_ms, 0);

    auto listed = get("/_sim/requests/slack");
    ASSERT_TRUE(listed);
    const json list = json::parse(listed->body);
    ASSERT_EQ(list.size(), 3U);
    EXPECT_EQ(list[0]["body"]["text"], "hello");
    EXPECT_EQ(list[1]["body"], "not json");
}

TEST_F(FakeEndpointsTest, ScriptsOverHttpAreConsumedInOrderThenTheDefault) {
    http::HttpRequest script{.method = "POST",
                             .url = fmt::format("http://127.0.0.1:{}/_sim/script/slack",
                                                sim_->port()),
                             .body = R"([{"status":500,"body":"rollup_error"},)"
                                     R"({"status":429,"body":"rate_limited","retry_after":1},)"
                                     R"({"status":400,"body":"invalid_payload"}])"};
    script.timeout = 5s;
    auto scripted = client_.send(script);
    ASSERT_TRUE(scripted);
    EXPECT_EQ(scripted->body, R"({"scripted":3})");
    const std::string body = R"({"text":"x"})";
    EXPECT_EQ(post(sim_->slack_webhook_url(), body, false)->status, 500);
    auto limited = post(sim_->slack_webhook_url(), body, false);
    EXPECT_EQ(limited->status, 429);
    EXPECT_EQ(limited->headers.find("Retry-After").value_or(""), "1");
    EXPECT_EQ(post(sim_->slack_webhook_url(), body, false)->status, 400);
    EXPECT_EQ(post(sim_->slack_webhook_url(), body, false)->status, 200);

    http::HttpRequest reset{.method = "POST",
                            .url = fmt::format("http://127.0.0.1:{}/_sim/reset", sim_->port())};
    reset.timeout = 5s;
    ASSERT_TRUE(client_.send(reset));
    EXPECT_TRUE(sim_->fakes().requests(FakeTarget::Slack).empty());
}

TEST_F(FakeEndpointsTest, InferenceChecksTheKeyAndAnswersACompletion) {
    auto unauthorized = post(sim_->inference_url(), evidence_request(0.9, "A"), false);
    ASSERT_TRUE(unauthorized);
    EXPECT_EQ(unauthorized->status, 401);
    auto answered = post(sim_->inference_url(), evidence_request(0.9, "A"));
    ASSERT_TRUE(answered);
    ASSERT_EQ(answered->status, 200) << answered->body;
    const json completion = json::parse(answered->body);
    const json analysis =
            json::parse(completion["choices"][0]["message"]["content"].get<std::string>());
    EXPECT_EQ(analysis["risk_level"], "high");
    auto invalid = post(sim_->inference_url(), R"({"model":"m"})");
    EXPECT_EQ(invalid->status, 422);
    EXPECT_NE(invalid->body.find("\"detail\""), std::string::npos);
    EXPECT_EQ(sim_->fakes().requests(FakeTarget::Inference).size(), 3U);
    EXPECT_FALSE(sim_->fakes().requests(FakeTarget::Inference)[0].authorized);
}

TEST_F(FakeEndpointsTest, DelayedAnswersDoNotHoldTheWorker) {
    sim_->fakes().script(FakeTarget::Inference,
                         {FakeReply{.content = "late", .delay = std::chrono::milliseconds(1500)}});
    const auto t0 = std::chrono::steady_clock::now();
    auto timed_out = post(sim_->inference_url(), evidence_request(0.9, "A"), true, 300ms);
    EXPECT_FALSE(timed_out) << "the client gives up before the scripted delay";
    // Meanwhile the simulator still answers at once.
    auto quick = post(sim_->slack_webhook_url(), R"({"text":"x"})", false);
    ASSERT_TRUE(quick);
    EXPECT_EQ(quick->status, 200);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 1400ms);
}

}  // namespace
}  // namespace dvd::sim
