#include "inference/risk_prompt.hpp"

#include <cmath>
#include <limits>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "inference/errc.hpp"

namespace dvd::inference {
namespace {

using nlohmann::json;

RiskInput sample_input() {
    RiskInput input;
    input.call_id = "c1";
    input.probability = 0.91;
    input.llr = 2.3137;
    input.verdict = "synthetic";
    input.threshold = 0.75;
    input.speech_seconds = 12.5;
    input.window_probabilities = {0.4, 0.8, 0.95, 0.9};
    input.indicators = {{"jitter_local", 0.21, "%"}, {"pitch_std", 3.1, "Hz"}};
    input.call.from = "+13125550100";
    input.call.to = "+18005550199";
    input.call.direction = "inbound";
    input.call.stir_shaken_attestation = "C";
    input.call.stir_shaken_verified = false;
    input.call.telnyx_deepfake_result = "fake";
    input.call.telnyx_deepfake_score = 0.88;
    return input;
}

PromptOptions sample_options() {
    PromptOptions options;
    options.model = "moonshotai/Kimi-K2.6";
    return options;
}

json request(const RiskInput& input, const PromptOptions& options) {
    auto body = build_request_body(input, options);
    EXPECT_TRUE(body) << (body ? "" : body.error().message);
    return body ? json::parse(*body) : json{};
}

json evidence_of(const json& body) {
    const std::string user = body["messages"][1]["content"];
    const auto brace = user.find('{');
    EXPECT_TRUE(user.starts_with("Evidence (JSON):\n"));
    return json::parse(user.substr(brace));
}

constexpr std::string_view kValid =
        R"({"risk_level":"high","escalate":true,"indicators":["unattested caller id","flat pitch"],)"
        R"("reasoning":"Detector above threshold; attestation C.","recommended_action":"verify_identity"})";

bool has_code(const base::Result<RiskAnalysis>& result, Errc code) {
    return !result && result.error().code == make_error_code(code);
}

TEST(RiskAnalysisSchema, RequiresExactlyTheFiveFields) {
    const json schema = json::parse(risk_analysis_schema_json());
    EXPECT_EQ(schema["type"], "object");
    EXPECT_EQ(schema["additionalProperties"], false);
    EXPECT_EQ(schema["required"],
              (json{"risk_level", "escalate", "indicators", "reasoning", "recommended_action"}));
    EXPECT_EQ(schema["properties"].size(), 5U);
    EXPECT_EQ(schema["properties"]["risk_level"]["enum"],
              (json{"low", "medium", "high", "critical"}));
    EXPECT_EQ(schema["properties"]["escalate"]["type"], "boolean");
    EXPECT_EQ(schema["properties"]["indicators"]["items"]["type"], "string");
    EXPECT_EQ(schema["properties"]["recommended_action"]["enum"],
              (json{"none", "monitor", "verify_identity", "warn", "transfer", "hangup"}));
}

TEST(BuildRequestBody, CarriesModelSettingsAndTheSchemaAsGuidedJson) {
    const json body = request(sample_input(), sample_options());
    EXPECT_EQ(body["model"], "moonshotai/Kimi-K2.6");
    EXPECT_EQ(body["enable_thinking"], false);
    EXPECT_DOUBLE_EQ(body["temperature"].get<double>(), 0.1);
    EXPECT_EQ(body["max_tokens"], 600);
    EXPECT_EQ(body["stream"], false);
    EXPECT_EQ(body["guided_json"], json::parse(risk_analysis_schema_json()));
    EXPECT_FALSE(body.contains("response_format"));
    ASSERT_EQ(body["messages"].size(), 2U);
    EXPECT_EQ(body["messages"][0]["role"], "system");
    EXPECT_EQ(body["messages"][0]["content"], system_prompt());
    EXPECT_EQ(body["messages"][1]["role"], "user");
}

TEST(BuildRequestBody, JsonSchemaModeUsesOpenAIsResponseFormat) {
    PromptOptions options = sample_options();
    options.structured_output = StructuredOutput::JsonSchema;
    const json body = request(sample_input(), options);
    EXPECT_FALSE(body.contains("guided_json"));
    EXPECT_EQ(body["response_format"]["type"], "json_schema");
    EXPECT_EQ(body["response_format"]["json_schema"]["name"], "risk_analysis");
    EXPECT_EQ(body["response_format"]["json_schema"]["strict"], true);
    EXPECT_EQ(body["response_format"]["json_schema"]["schema"],
              json::parse(risk_analysis_schema_json()));

    options.structured_output = StructuredOutput::Both;
    const json both = request(sample_input(), options);
    EXPECT_TRUE(both.contains("guided_json"));
    EXPECT_TRUE(both.contains("response_format"));
}

TEST(BuildUserPrompt, CarriesTheDetectorTimelineIndicatorsAndCallMetadata) {
    const json body = request(sample_input(), sample_options());
    const std::string user = body["messages"][1]["content"];
    EXPECT_NE(user.find("0.91"), std::string::npos);  // the score, as the model reads it
    const json evidence = evidence_of(body);
    EXPECT_DOUBLE_EQ(evidence["detector"]["probability_synthetic"].get<double>(), 0.91);
    EXPECT_DOUBLE_EQ(evidence["detector"]["llr"].get<double>(), 2.314);
    EXPECT_DOUBLE_EQ(evidence["detector"]["threshold"].get<double>(), 0.75);
    EXPECT_EQ(evidence["detector"]["above_threshold"], true);
    EXPECT_EQ(evidence["detector"]["verdict"], "synthetic");
    EXPECT_DOUBLE_EQ(evidence["detector"]["speech_seconds"].get<double>(), 12.5);
    EXPECT_EQ(evidence["timeline"]["windows"], 4);
    EXPECT_DOUBLE_EQ(evidence["timeline"]["fraction_above_threshold"].get<double>(), 0.75);
    EXPECT_EQ(evidence["timeline"]["points"], (json{0.4, 0.8, 0.95, 0.9}));
    EXPECT_EQ(evidence["indicators"][0],
              (json{{"name", "jitter_local"}, {"value", 0.21}, {"unit", "%"}}));
    EXPECT_EQ(evidence["call"]["from"], "+13125550100");
    EXPECT_EQ(evidence["call"]["direction"], "inbound");
    EXPECT_EQ(evidence["call"]["stir_shaken_attestation"], "C");
    EXPECT_EQ(evidence["call"]["stir_shaken_verified"], false);
    EXPECT_EQ(evidence["call"]["telnyx_deepfake_detector"]["result"], "fake");
    EXPECT_DOUBLE_EQ(evidence["call"]["telnyx_deepfake_detector"]["score"].get<double>(), 0.88);
    EXPECT_EQ(user.find("c1"), std::string::npos);  // our call id is not sent
}

TEST(BuildUserPrompt, MissingMetadataIsExplicit) {
    RiskInput input = sample_input();
    input.call = CallMetadata{};
    const json evidence = evidence_of(request(input, sample_options()));
    EXPECT_EQ(evidence["call"]["stir_shaken_attestation"], "none");
    EXPECT_TRUE(evidence["call"]["stir_shaken_verified"].is_null());
    EXPECT_TRUE(evidence["call"]["telnyx_deepfake_detector"].is_null());
    EXPECT_TRUE(evidence["call"]["from"].is_null());
}

TEST(BuildUserPrompt, CanRedactPhoneNumbers) {
    PromptOptions options = sample_options();
    options.share_phone_numbers = false;
    const json body = request(sample_input(), options);
    const std::string user = body["messages"][1]["content"];
    EXPECT_EQ(user.find("+1312"), std::string::npos);
    EXPECT_EQ(evidence_of(body)["call"]["from"], "redacted");
}

TEST(BuildUserPrompt, RefusesNonFiniteOrOutOfRangeNumbers) {
    RiskInput input = sample_input();
    input.probability = std::numeric_limits<double>::quiet_NaN();
    auto body = build_request_body(input, sample_options());
    ASSERT_FALSE(body);
    EXPECT_EQ(body.error().code, make_error_code(Errc::InvalidInput));
    input = sample_input();
    input.threshold = 1.0;
    EXPECT_FALSE(build_user_prompt(input, sample_options()));
    input = sample_input();
    input.llr = std::numeric_limits<double>::infinity();
    EXPECT_FALSE(build_user_prompt(input, sample_options()));
}

TEST(SummarizeTimeline, SummarisesAndDownsamplesKeepingBothEnds) {
    std::vector<double> values;
    for (int i = 0; i < 100; ++i) {
        values.push_back(i / 100.0);
    }
    values.push_back(std::numeric_limits<double>::quiet_NaN());  // skipped
    const TimelineSummary s = summarize_timeline(values, 0.5, 5);
    EXPECT_EQ(s.windows, 100U);
    EXPECT_DOUBLE_EQ(s.min, 0.0);
    EXPECT_DOUBLE_EQ(s.max, 0.99);
    EXPECT_NEAR(s.mean, 0.495, 1e-12);
    EXPECT_DOUBLE_EQ(s.last, 0.99);
    EXPECT_DOUBLE_EQ(s.fraction_above_threshold, 0.5);
    ASSERT_EQ(s.points.size(), 5U);
    EXPECT_DOUBLE_EQ(s.points.front(), 0.0);
    EXPECT_DOUBLE_EQ(s.points.back(), 0.99);

    const TimelineSummary empty = summarize_timeline({}, 0.5, 5);
    EXPECT_EQ(empty.windows, 0U);
    EXPECT_TRUE(empty.points.empty());
}

TEST(ExtractMessageContent, ReadsTheFirstChoice) {
    const std::string body =
            R"({"id":"x","object":"chat.completion","choices":[{"index":0,"message":)"
            R"({"role":"assistant","content":"hello"},"finish_reason":"stop"}]})";
    auto content = extract_message_content(body);
    ASSERT_TRUE(content) << content.error().message;
    EXPECT_EQ(*content, "hello");
}

TEST(ExtractMessageContent, JoinsTextParts) {
    const std::string body = R"({"choices":[{"message":{"content":[{"type":"text","text":"a"},)"
                             R"({"type":"image_url"},{"type":"text","text":"b"}]}}]})";
    auto content = extract_message_content(body);
    ASSERT_TRUE(content);
    EXPECT_EQ(*content, "ab");
}

TEST(ExtractMessageContent, RefusesWhatIsNotACompletion) {
    for (const std::string body :
         {"", "not json", "[]", "{}", R"({"choices":[]})", R"({"choices":[{"text":"x"}]})",
          R"({"choices":[{"message":{"content":null,"reasoning_content":"thinking"}}]})",
          R"({"choices":[{"message":{"content":"   "}}]})"}) {
        auto content = extract_message_content(body);
        ASSERT_FALSE(content) << body;
        EXPECT_EQ(content.error().code, make_error_code(Errc::BadResponse)) << body;
    }
}

TEST(ExtractMessageContent, TruncatedOutputIsMalformed) {
    auto content = extract_message_content(
            R"({"choices":[{"message":{"content":"{\"risk_level\":"},"finish_reason":"length"}]})");
    ASSERT_FALSE(content);
    EXPECT_EQ(content.error().code, make_error_code(Errc::MalformedOutput));
}

TEST(ParseRiskAnalysis, AcceptsAValidAnswer) {
    auto analysis = parse_risk_analysis(kValid);
    ASSERT_TRUE(analysis) << analysis.error().message;
    EXPECT_EQ(analysis->risk_level, RiskLevel::High);
    EXPECT_TRUE(analysis->escalate);
    EXPECT_EQ(analysis->indicators,
              (std::vector<std::string>{"unattested caller id", "flat pitch"}));
    EXPECT_EQ(analysis->reasoning, "Detector above threshold; attestation C.");
    EXPECT_EQ(analysis->recommended_action, RecommendedAction::VerifyIdentity);
}

TEST(ParseRiskAnalysis, ToleratesACodeFenceAndBlanks) {
    const std::string fenced_json = "  ```json\n" + std::string(kValid) + "\n```\n";
    const std::string fenced_plain = "```\n" + std::string(kValid) + "```";
    auto a = parse_risk_analysis(fenced_json);
    auto b = parse_risk_analysis(fenced_plain);
    ASSERT_TRUE(a) << a.error().message;
    ASSERT_TRUE(b) << b.error().message;
    EXPECT_EQ(*a, *b);
    EXPECT_TRUE(parse_risk_analysis("\n " + std::string(kValid) + " \n"));
}

TEST(ParseRiskAnalysis, RefusesGarbageAroundOrInsteadOfTheObject) {
    for (const std::string& content :
         {std::string("Sure! Here is the analysis: ") + std::string(kValid),
          std::string(kValid) + " I hope this helps.", std::string(kValid) + std::string(kValid),
          std::string("```python\n") + std::string(kValid) + "\n```",
          std::string("```json\n") + std::string(kValid), std::string("[1,2]"),
          std::string("\"high\""), std::string("not json at all"),
          std::string("{\"risk_level\":\"hi\xFF\"}")}) {
        auto analysis = parse_risk_analysis(content);
        ASSERT_FALSE(analysis) << content;
        EXPECT_EQ(analysis.error().code, make_error_code(Errc::MalformedOutput)) << content;
    }
}

TEST(ParseRiskAnalysis, RefusesSchemaViolations) {
    const auto with = [](std::string_view field, std::string_view value) {
        json j = json::parse(kValid);
        j[std::string(field)] = json::parse(value);
        return j.dump();
    };
    json missing = json::parse(kValid);
    missing.erase("escalate");
    json extra = json::parse(kValid);
    extra["confidence"] = 0.9;
    std::string long_reasoning(kMaxReasoningChars + 1, 'x');
    json too_long = json::parse(kValid);
    too_long["reasoning"] = long_reasoning;
    json many = json::parse(kValid);
    many["indicators"] = json::array();
    for (std::size_t i = 0; i <= kMaxAnalysisIndicators; ++i) {
        many["indicators"].push_back("i");
    }
    const std::vector<std::string> cases{
            missing.dump(),
            extra.dump(),
            too_long.dump(),
            many.dump(),
            with("risk_level", R"("severe")"),
            with("risk_level", R"("High")"),
            with("risk_level", "3"),
            with("escalate", R"("true")"),
            with("indicators", R"("flat pitch")"),
            with("indicators", R"([1, 2])"),
            with("indicators", R"([""])"),
            with("reasoning", R"("")"),
            with("reasoning", "null"),
            with("recommended_action", R"("call_the_police")"),
    };
    for (const auto& content : cases) {
        auto analysis = parse_risk_analysis(content);
        EXPECT_TRUE(has_code(analysis, Errc::SchemaViolation)) << content;
    }
}

}  // namespace
}  // namespace dvd::inference
