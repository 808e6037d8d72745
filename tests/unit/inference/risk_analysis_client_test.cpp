#include "inference/risk_analysis_client.hpp"

#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "inference/errc.hpp"
#include "inference/fusion.hpp"
#include "support/fake_sleeper.hpp"
#include "support/loopback_server.hpp"

namespace dvd::inference {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using test::FakeSleeper;
using test::LoopbackServer;
using test::ScriptedResponse;

constexpr std::string_view kPath = "/v2/ai/openai/chat/completions";
constexpr std::string_view kApiKey = "KEYtest0123456789";

RiskInput sample_input() {
    RiskInput input;
    input.call_id = "c1";
    input.probability = 0.91;
    input.llr = 2.3;
    input.verdict = "synthetic";
    input.threshold = 0.75;
    input.speech_seconds = 12.5;
    input.window_probabilities = {0.8, 0.95};
    input.call.stir_shaken_attestation = "C";
    return input;
}

// An OpenAI-style completion whose assistant content is `content`.
std::string completion(std::string_view content, std::string_view finish_reason = "stop") {
    return json{{"id", "chatcmpl-1"},
                {"object", "chat.completion"},
                {"created", 1767225600},
                {"model", "moonshotai/Kimi-K2.6"},
                {"choices",
                 json::array({json{{"index", 0},
                                   {"message", {{"role", "assistant"}, {"content", content}}},
                                   {"finish_reason", finish_reason}}})},
                {"usage", {{"prompt_tokens", 500}, {"completion_tokens", 60}}}}
            .dump();
}

constexpr std::string_view kValidContent =
        R"({"risk_level":"critical","escalate":true,"indicators":["attestation C"],)"
        R"("reasoning":"High detector score and an unattested caller id.",)"
        R"("recommended_action":"transfer"})";

class RiskAnalysisClientTest : public ::testing::Test {
protected:
    RiskAnalysisOptions options() const {
        RiskAnalysisOptions o;
        o.url = server_.url(kPath);
        o.api_key = std::string(kApiKey);
        o.prompt.model = "moonshotai/Kimi-K2.6";
        o.request_timeout = 2s;
        return o;
    }

    AnalysisOutcome analyze(const RiskAnalysisOptions& o) {
        RiskAnalysisClient client(o, http_, sleeper_, 42);
        return client.analyze(sample_input());
    }

    AnalysisOutcome analyze() { return analyze(options()); }

    static http::HttpClient make_http() {
        http::HttpClientOptions o;
        o.proxy = "";
        return http::HttpClient(o);
    }

    LoopbackServer server_;
    http::HttpClient http_ = make_http();
    FakeSleeper sleeper_;
};

bool has_code(const AnalysisOutcome& outcome, Errc code) {
    return !outcome.analysis && outcome.analysis.error().code == make_error_code(code);
}

TEST_F(RiskAnalysisClientTest, SendsTheDocumentedRequest) {
    server_.push({.status = 200, .body = completion(kValidContent)});
    const AnalysisOutcome outcome = analyze();
    ASSERT_TRUE(outcome.analysis) << outcome.analysis.error().message;

    const auto requests = server_.requests();
    ASSERT_EQ(requests.size(), 1U);
    EXPECT_EQ(requests[0].method, "POST");
    EXPECT_EQ(requests[0].target, kPath);
    EXPECT_EQ(requests[0].header("Authorization"), "Bearer " + std::string(kApiKey));
    EXPECT_EQ(requests[0].header("Content-Type"), "application/json");
    const json body = json::parse(requests[0].body);
    EXPECT_EQ(body["model"], "moonshotai/Kimi-K2.6");
    EXPECT_EQ(body["enable_thinking"], false);
    EXPECT_LE(body["temperature"].get<double>(), 0.2);
    EXPECT_GT(body["max_tokens"].get<int>(), 0);
    EXPECT_TRUE(body["guided_json"].is_object());
    EXPECT_EQ(body["guided_json"]["additionalProperties"], false);
    const std::string user = body["messages"][1]["content"];
    EXPECT_NE(user.find("\"probability_synthetic\":0.91"), std::string::npos) << user;
}

TEST_F(RiskAnalysisClientTest, ParsesAValidAnswer) {
    server_.push({.status = 200, .body = completion(kValidContent)});
    const AnalysisOutcome outcome = analyze();
    ASSERT_TRUE(outcome.analysis) << outcome.analysis.error().message;
    EXPECT_EQ(outcome.analysis->risk_level, RiskLevel::Critical);
    EXPECT_TRUE(outcome.analysis->escalate);
    EXPECT_EQ(outcome.analysis->recommended_action, RecommendedAction::Transfer);
    EXPECT_EQ(outcome.attempts, 1);
    EXPECT_EQ(outcome.http_status, 200);
    EXPECT_EQ(outcome.model, "moonshotai/Kimi-K2.6");
    EXPECT_EQ(outcome.prompt_version, kPromptVersion);
    EXPECT_TRUE(sleeper_.waits.empty());
}

TEST_F(RiskAnalysisClientTest, SendsNoAuthorizationWithoutAKey) {
    server_.push({.status = 200, .body = completion(kValidContent)});
    RiskAnalysisOptions o = options();
    o.api_key.clear();
    EXPECT_TRUE(analyze(o).analysis);
    EXPECT_FALSE(server_.requests()[0].header("Authorization"));
}

TEST_F(RiskAnalysisClientTest, TimeoutIsAnError) {
    RiskAnalysisOptions o = options();
    o.request_timeout = 200ms;
    o.retry.max_attempts = 2;
    server_.push({.action = ScriptedResponse::Action::Hang});
    server_.push({.action = ScriptedResponse::Action::Hang});
    const AnalysisOutcome outcome = analyze(o);
    EXPECT_TRUE(has_code(outcome, Errc::Timeout)) << outcome.analysis.error().message;
    EXPECT_EQ(outcome.attempts, 2);
    EXPECT_EQ(outcome.http_status, 0);
}

TEST_F(RiskAnalysisClientTest, ConnectionRefusedIsATransportErrorAfterRetries) {
    RiskAnalysisOptions o = options();
    o.url = "http://127.0.0.1:" + std::to_string(LoopbackServer::closed_port()) + "/v1";
    const AnalysisOutcome outcome = analyze(o);
    EXPECT_TRUE(has_code(outcome, Errc::Transport));
    EXPECT_EQ(outcome.attempts, 3);
    EXPECT_EQ(sleeper_.waits.size(), 2U);
    EXPECT_EQ(outcome.analysis.error().message.find(kApiKey), std::string::npos);
}

TEST_F(RiskAnalysisClientTest, GarbageContentIsMalformedOutput) {
    server_.push({.status = 200, .body = completion("I think this call is probably fake.")});
    const AnalysisOutcome outcome = analyze();
    EXPECT_TRUE(has_code(outcome, Errc::MalformedOutput));
    EXPECT_EQ(outcome.attempts, 1);  // a bad answer is not retried
}

TEST_F(RiskAnalysisClientTest, SchemaViolationIsAnError) {
    server_.push({.status = 200,
                  .body = completion(R"({"risk_level":"extreme","escalate":true,)"
                                     R"("indicators":[],"reasoning":"x",)"
                                     R"("recommended_action":"none"})")});
    EXPECT_TRUE(has_code(analyze(), Errc::SchemaViolation));
}

TEST_F(RiskAnalysisClientTest, NonCompletionBodyIsABadResponse) {
    server_.push({.status = 200, .body = R"({"data":[]})"});
    EXPECT_TRUE(has_code(analyze(), Errc::BadResponse));
}

TEST_F(RiskAnalysisClientTest, RateLimitIsRetriedAfterRetryAfter) {
    server_.push({.status = 429, .headers = {{"Retry-After", "2"}}, .body = "{}"});
    server_.push({.status = 200, .body = completion(kValidContent)});
    const AnalysisOutcome outcome = analyze();
    ASSERT_TRUE(outcome.analysis) << outcome.analysis.error().message;
    EXPECT_EQ(outcome.attempts, 2);
    EXPECT_EQ(sleeper_.waits, (std::vector<std::chrono::milliseconds>{2'000ms}));
    EXPECT_EQ(server_.requests().size(), 2U);
}

TEST_F(RiskAnalysisClientTest, ServerErrorsAreRetriedAFewTimesThenReported) {
    for (int i = 0; i < 3; ++i) {
        server_.push({.status = 503, .body = R"({"errors":[{"title":"overloaded"}]})"});
    }
    const AnalysisOutcome outcome = analyze();
    EXPECT_TRUE(has_code(outcome, Errc::HttpStatus));
    EXPECT_EQ(outcome.attempts, 3);
    EXPECT_EQ(outcome.http_status, 503);
    EXPECT_NE(outcome.analysis.error().message.find("HTTP 503"), std::string::npos);
}

TEST_F(RiskAnalysisClientTest, ClientErrorsAreNotRetried) {
    server_.push({.status = 422, .body = R"({"detail":[{"loc":["body","messages"]}]})"});
    const AnalysisOutcome outcome = analyze();
    EXPECT_TRUE(has_code(outcome, Errc::HttpStatus));
    EXPECT_EQ(outcome.attempts, 1);
}

TEST_F(RiskAnalysisClientTest, CancelledWaitStopsTheRetries) {
    sleeper_.cancel = true;
    server_.push({.status = 500});
    EXPECT_TRUE(has_code(analyze(), Errc::Cancelled));
}

TEST_F(RiskAnalysisClientTest, FailuresFallBackToTheDetectorOnly) {
    server_.push({.status = 200, .body = completion("```json\n{\"risk_level\": \"low\"\n```")});
    const AnalysisOutcome outcome = analyze();
    ASSERT_FALSE(outcome.analysis);
    const DetectorDecision detector{.probability = 0.91,
                                    .llr = 2.3,
                                    .verdict = "synthetic",
                                    .threshold = 0.75,
                                    .speech_seconds = 12.5};
    const FusedDecision decision = fuse(detector, outcome.analysis, FusionPolicy{});
    EXPECT_EQ(decision.source, kSourceDetectorOnly);
    EXPECT_TRUE(decision.flagged);
    EXPECT_TRUE(decision.reason.starts_with("analysis unavailable: ")) << decision.reason;
}

TEST(RiskAnalysisOptions, ComeFromTheConfiguration) {
    config::Config config;
    config.telnyx_api_key = "KEYabc";
    config.ai_model = "zai-org/GLM-5.1-FP8";
    RiskAnalysisOptions o = risk_analysis_options(config);
    EXPECT_EQ(o.url, "https://api.telnyx.com/v2/ai/openai/chat/completions");
    EXPECT_EQ(o.api_key, "KEYabc");
    EXPECT_EQ(o.prompt.model, "zai-org/GLM-5.1-FP8");
    EXPECT_FALSE(o.prompt.enable_thinking);
    EXPECT_TRUE(validate(o));

    config.ai_inference_url = "http://127.0.0.1:8000/v1/chat/completions";
    EXPECT_EQ(risk_analysis_options(config).url, config.ai_inference_url);
}

TEST(RiskAnalysisOptions, ValidateRefusesBadValuesWithoutEchoingTheKey) {
    config::Config config;
    RiskAnalysisOptions o = risk_analysis_options(config);
    o.api_key = "KEY with spaces";
    const auto result = validate(o);
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error().message.find("KEY with"), std::string::npos);
    o = risk_analysis_options(config);
    o.url = "ftp://x";
    EXPECT_FALSE(validate(o));
    o = risk_analysis_options(config);
    o.prompt.model.clear();
    EXPECT_FALSE(validate(o));
    o = risk_analysis_options(config);
    o.prompt.temperature = 3.0;
    EXPECT_FALSE(validate(o));
}

}  // namespace
}  // namespace dvd::inference
