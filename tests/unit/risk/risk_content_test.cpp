#include "risk/risk_content.hpp"

#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "inference/errc.hpp"

namespace dvd::risk {
namespace {

using nlohmann::json;

store::Call flagged_call() {
    store::Call call;
    call.id = "call-1";
    call.call_control_id = "v3:ctl-1";
    call.from = "+13125550100";
    call.to = "+13125550199";
    call.state = store::CallState::Streaming;
    call.final_score = 0.91;
    call.final_llr = 2.3;
    call.verdict = "synthetic";
    call.speech_seconds = 12.5;
    call.flagged = true;
    call.stir_shaken_attestation = "B";
    call.stir_shaken_verified = false;
    call.telnyx_deepfake_result = "fake";
    call.telnyx_deepfake_score = 0.8;
    call.indicators_json =
            R"({"analysed_s":20.1,"pitch_mean_hz":180.0,"pitch_range_semitones":1.0,)"
            R"("jitter_local_percent":0.05,"hnr_db":15.0,"breaths":0,"codec":"PCMU",)"
            R"("packet_loss_percent":null,"future_figure":3})";
    return call;
}

inference::DetectorDecision detector() {
    return inference::DetectorDecision{.probability = 0.91,
                                       .llr = 2.3,
                                       .verdict = "synthetic",
                                       .threshold = 0.75,
                                       .speech_seconds = 12.5};
}

TEST(RiskContent, ParsesStoredIndicatorsWithUnitsInListOrder) {
    auto rows = parse_indicators(flagged_call().indicators_json);
    ASSERT_TRUE(rows) << rows.error().message;
    ASSERT_EQ(rows->size(), 9U);
    EXPECT_EQ((*rows)[0].name, "analysed_s");
    EXPECT_EQ((*rows)[0].unit, "s");
    const auto codec = std::find_if(rows->begin(), rows->end(),
                                    [](const auto& r) { return r.name == "codec"; });
    ASSERT_NE(codec, rows->end());
    EXPECT_EQ(codec->text, "PCMU");
    EXPECT_FALSE(codec->value);
    EXPECT_EQ(rows->back().name, "future_figure") << "unknown names go last";
    EXPECT_EQ(rows->back().unit, "");
    const auto jitter = std::find_if(rows->begin(), rows->end(),
                                     [](const auto& r) { return r.name == "jitter_local_percent"; });
    EXPECT_EQ(jitter->unit, "%");
    EXPECT_FALSE(jitter->description.empty());
    EXPECT_NEAR(jitter->deviation, (0.2 - 0.05) / 1.3, 1e-12);

    EXPECT_TRUE(parse_indicators("")->empty());
    EXPECT_FALSE(parse_indicators("[1,2]"));
    EXPECT_FALSE(parse_indicators("{bad"));
}

TEST(RiskContent, RankingPutsTheMostUnusualFiguresFirst) {
    auto ranked = rank_indicators(parse_indicators(flagged_call().indicators_json).value());
    std::vector<std::string> names;
    for (const auto& r : ranked) {
        names.push_back(r.name);
    }
    // pitch range 1 st is (4-1)/10 = 0.3 widths below; jitter 0.05 % is 0.115; HNR and pitch
    // mean are in range (list order); then the rows without a typical range, with values only.
    EXPECT_EQ(names, (std::vector<std::string>{"pitch_range_semitones", "jitter_local_percent",
                                               "hnr_db", "pitch_mean_hz", "analysed_s", "breaths",
                                               "future_figure"}));
}

TEST(RiskContent, FormatsValuesForPeople) {
    EXPECT_EQ(format_value(0.2149), "0.21");
    EXPECT_EQ(format_value(3.14159), "3.14");
    EXPECT_EQ(format_value(-7.45), "-7.45");
    EXPECT_EQ(format_value(24.66), "24.7");
    EXPECT_EQ(format_value(151.4), "151");
    EXPECT_EQ(format_value(std::nan("")), "n/a");
}

TEST(RiskContent, RiskInputCarriesTheEvidenceAndMetadata) {
    const auto call = flagged_call();
    const auto ranked = rank_indicators(parse_indicators(call.indicators_json).value());
    const auto input = make_risk_input(call, detector(), {0.4, 0.8, 0.95}, ranked, 3);
    EXPECT_EQ(input.call_id, "call-1");
    EXPECT_EQ(input.probability, 0.91);
    EXPECT_EQ(input.threshold, 0.75);
    EXPECT_EQ(input.window_probabilities, (std::vector<double>{0.4, 0.8, 0.95}));
    ASSERT_EQ(input.indicators.size(), 3U);
    EXPECT_EQ(input.indicators[0].name, "pitch_range_semitones");
    EXPECT_EQ(input.indicators[0].unit, "st");
    EXPECT_EQ(input.call.direction, "inbound");
    EXPECT_EQ(input.call.stir_shaken_attestation, "B");
    EXPECT_EQ(input.call.stir_shaken_verified, false);
    EXPECT_EQ(input.call.telnyx_deepfake_result, "fake");
    EXPECT_EQ(input.call.telnyx_deepfake_score, 0.8);
}

TEST(RiskContent, DetectorFromCallNeedsAScore) {
    EXPECT_FALSE(detector_from_call(store::Call{}, 0.75));
    const auto d = detector_from_call(flagged_call(), 0.75);
    ASSERT_TRUE(d);
    EXPECT_EQ(d->probability, 0.91);
    EXPECT_EQ(d->verdict, "synthetic");
}

TEST(RiskContent, RecordsSayWhyTheAnalysisFailed) {
    const inference::FusionPolicy policy;
    inference::AnalysisOutcome outcome;
    outcome.analysis = inference::fail(inference::Errc::Timeout, "timed out after 8000 ms");
    outcome.attempts = 3;
    outcome.model = "m";
    outcome.prompt_version = "risk-v1";
    outcome.elapsed = std::chrono::milliseconds(24'100);
    const auto fused = inference::fuse(detector(), outcome.analysis, policy);
    const auto record = make_record("call-1", store::AnalysisTrigger::Hangup, detector(), fused,
                                    outcome, 1234);
    EXPECT_EQ(record.source, "detector_only");
    EXPECT_EQ(record.risk_level, "high");
    EXPECT_TRUE(record.flagged);
    EXPECT_TRUE(record.escalate);
    EXPECT_EQ(record.error_code, "timeout");
    EXPECT_EQ(record.error, "timed out after 8000 ms");
    EXPECT_NE(record.reason.find("analysis unavailable"), std::string::npos) << record.reason;
    EXPECT_EQ(record.indicators_json, "[]");
    EXPECT_EQ(record.attempts, 3);
    EXPECT_FALSE(record.http_status);
    EXPECT_EQ(record.elapsed_ms, 24'100);
    EXPECT_EQ(record.trigger, store::AnalysisTrigger::Hangup);
    EXPECT_EQ(record.created_at_ms, 1234);
    EXPECT_EQ(record.analysis_risk_level, "");

    for (const auto& [code, name] :
         std::vector<std::pair<inference::Errc, std::string>>{
                 {inference::Errc::MalformedOutput, "malformed_output"},
                 {inference::Errc::SchemaViolation, "schema_violation"},
                 {inference::Errc::HttpStatus, "http_status"},
                 {inference::Errc::Transport, "transport"}}) {
        EXPECT_EQ(error_code_name(inference::fail(code, "x")), name);
    }
    EXPECT_EQ(error_code_name(base::fail(base::Errc::Runtime, "x")), "error");
    EXPECT_EQ(error_code_name(inference::RiskAnalysis{}), "");
}

TEST(RiskContent, LevelTwoOnlyWhenTheAnalysisGoesBeyondTheDetector) {
    const inference::FusionPolicy policy;
    const auto detector_only = inference::fuse(detector(), std::nullopt, policy);
    EXPECT_EQ(escalation_level(detector_only), 0);
    inference::RiskAnalysis same{.risk_level = inference::RiskLevel::High,
                                 .escalate = true,
                                 .indicators = {"x"},
                                 .reasoning = "r",
                                 .recommended_action = inference::RecommendedAction::Warn};
    EXPECT_EQ(escalation_level(inference::fuse(detector(), std::optional(same), policy)), 0);
    auto higher = same;
    higher.risk_level = inference::RiskLevel::Critical;
    const auto raised = inference::fuse(detector(), std::optional(higher), policy);
    EXPECT_TRUE(raised.raised_by_analysis);
    EXPECT_EQ(escalation_level(raised), 2);
    // A medium score that the analysis raises to high is flagged on context: beyond.
    auto medium = detector();
    medium.probability = 0.6;
    const auto context = inference::fuse(medium, std::optional(same), policy);
    EXPECT_TRUE(context.flagged);
    EXPECT_FALSE(context.detector_flagged);
    EXPECT_EQ(escalation_level(context), 2);
    auto lower = same;
    lower.risk_level = inference::RiskLevel::Low;
    EXPECT_EQ(escalation_level(inference::fuse(detector(), std::optional(lower), policy)), 0)
            << "a lower opinion never makes an alert";
}

TEST(RiskContent, AlertContentHasTheCallTheDecisionAndTheLinks) {
    const auto call = flagged_call();
    const auto ranked = rank_indicators(parse_indicators(call.indicators_json).value());
    const auto decision = inference::fuse(detector(), std::nullopt, inference::FusionPolicy{});
    AlertLinks links{.public_base_url = "https://dvd.example/"};
    links.recordings.push_back(
            store::Recording{.call_id = "call-1", .wav_url = "https://rec.example/old.wav"});
    links.recordings.push_back(store::Recording{.call_id = "call-1",
                                                .wav_url = "https://rec.example/new.wav",
                                                .public_wav_url = "ftp://not-http",
                                                .saved_at_ms = 1'000'000});
    const auto c = make_alert_content(call, 1, detector(), decision, 42'500, 99, ranked, links);
    EXPECT_EQ(c.call_id, "call-1");
    EXPECT_EQ(c.level, 1);
    EXPECT_EQ(c.caller, "+13125550100");
    EXPECT_EQ(c.callee, "+13125550199");
    EXPECT_EQ(c.score, 0.91);
    EXPECT_EQ(c.threshold, 0.75);
    EXPECT_DOUBLE_EQ(c.seconds_into_call, 42.5);
    EXPECT_EQ(c.detected_at_ms, 99);
    ASSERT_EQ(c.indicators.size(), alerts::kMaxAlertIndicators);
    EXPECT_EQ(c.indicators[0].name, "pitch_range_semitones");
    EXPECT_EQ(c.indicators[0].value, "1.00");
    EXPECT_EQ(c.indicators[0].unit, "st");
    ASSERT_TRUE(c.analysis);
    EXPECT_EQ(c.analysis->source, "detector_only");
    EXPECT_EQ(c.analysis->risk_level, "high");
    EXPECT_FALSE(c.analysis->reasoning.empty());
    EXPECT_EQ(c.stir_shaken_attestation, "B");
    EXPECT_EQ(c.telnyx_deepfake_result, "fake");
    EXPECT_EQ(c.recording_url, "https://rec.example/new.wav");
    // A private Telnyx link works for 10 minutes after call.recording.saved.
    EXPECT_EQ(c.recording_expires_at_ms, 1'000'000 + 600'000);
    EXPECT_EQ(c.dashboard_url, "https://dvd.example/#/calls/call-1");

    const json slack = json::parse(alerts::build_slack_message(c));
    EXPECT_NE(slack["text"].get<std::string>().find("+13125550100"), std::string::npos);

    // A public link (an account opt-in) is preferred and has no stated expiry.
    links.recordings.back().public_mp3_url = "https://public.example/new.mp3";
    const auto with_public =
            make_alert_content(call, 1, detector(), decision, 42'500, 99, ranked, links);
    EXPECT_EQ(with_public.recording_url, "https://public.example/new.mp3");
    EXPECT_FALSE(with_public.recording_expires_at_ms);
}

TEST(RiskContent, Links) {
    EXPECT_EQ(dashboard_url("http://127.0.0.1:5000", "c"), "http://127.0.0.1:5000/#/calls/c");
    EXPECT_EQ(dashboard_url("", "c"), "");
    EXPECT_EQ(dashboard_url("javascript:alert(1)", "c"), "");
    EXPECT_EQ(public_base_from_url("wss://dvd.example/media"), "https://dvd.example");
    EXPECT_EQ(public_base_from_url("ws://10.0.0.2:5000/media?x=1"), "http://10.0.0.2:5000");
    EXPECT_EQ(public_base_from_url("https://user:pw@dvd.example:8443/x"),
              "https://dvd.example:8443");
    EXPECT_EQ(public_base_from_url(""), "");
    EXPECT_EQ(public_base_from_url("ftp://x"), "");
}

}  // namespace
}  // namespace dvd::risk
