#include "inference/fusion.hpp"

#include <limits>
#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "inference/errc.hpp"
#include "inference/rate_limiter.hpp"

namespace dvd::inference {
namespace {

using namespace std::chrono_literals;

DetectorDecision detector(double probability) {
    return DetectorDecision{.probability = probability,
                            .llr = 0.0,
                            .verdict = "synthetic",
                            .threshold = 0.75,
                            .speech_seconds = 10.0};
}

RiskAnalysis analysis(RiskLevel level, bool escalate,
                      RecommendedAction action = RecommendedAction::None) {
    return RiskAnalysis{.risk_level = level,
                        .escalate = escalate,
                        .indicators = {"evidence"},
                        .reasoning = "narrative",
                        .recommended_action = action};
}

struct Row {
    const char* name;
    double probability;
    std::optional<RiskAnalysis> analysis;
    RiskLevel risk;
    bool flagged;
    bool escalate;
    bool raised;
    bool disagreed;
};

TEST(Fuse, FollowsThePolicyTable) {
    using enum RiskLevel;
    const Row rows[] = {
            // Detector only: the calibrated score decides.
            {"detector flagged", 0.90, std::nullopt, High, true, true, false, false},
            {"detector critical", 0.97, std::nullopt, Critical, true, true, false, false},
            {"detector medium", 0.60, std::nullopt, Medium, false, false, false, false},
            {"detector low", 0.20, std::nullopt, Low, false, false, false, false},
            {"at the threshold", 0.75, std::nullopt, High, true, true, false, false},
            // The analysis never lowers a flagged call.
            {"analysis says low on a flagged call", 0.90, analysis(Low, false), High, true, true,
             false, true},
            {"analysis agrees", 0.90, analysis(High, true), High, true, true, false, false},
            // The analysis may raise by one level.
            {"flagged raised to critical", 0.90, analysis(Critical, true), Critical, true, true,
             true, false},
            {"medium raised to high flags", 0.60, analysis(High, true), High, true, true, true,
             false},
            {"medium raised, no escalation asked", 0.60, analysis(High, false), High, true, false,
             true, false},
            {"medium asked critical, capped at high", 0.60, analysis(Critical, true), High, true,
             true, true, false},
            {"low asked critical, capped at medium", 0.20, analysis(Critical, true), Medium, false,
             false, true, false},
            {"medium, analysis low: kept", 0.60, analysis(Low, false), Medium, false, false, false,
             true},
    };
    for (const Row& row : rows) {
        const FusedDecision d = fuse(detector(row.probability), row.analysis, FusionPolicy{});
        SCOPED_TRACE(row.name);
        EXPECT_EQ(d.risk_level, row.risk) << to_string(d.risk_level);
        EXPECT_EQ(d.flagged, row.flagged);
        EXPECT_EQ(d.escalate, row.escalate);
        EXPECT_EQ(d.raised_by_analysis, row.raised);
        EXPECT_EQ(d.analysis_disagreed, row.disagreed);
        EXPECT_EQ(d.detector_flagged, row.probability >= 0.75);
        EXPECT_EQ(d.source, row.analysis ? kSourceDetectorAndAnalysis : kSourceDetectorOnly);
        EXPECT_FALSE(d.reason.empty());
    }
}

TEST(Fuse, DetectorOnlyExplainsItselfWithTheNumbers) {
    DetectorDecision d = detector(0.91);
    d.llr = 2.3;
    const FusedDecision decision = fuse(d, std::optional<RiskAnalysis>{}, FusionPolicy{});
    EXPECT_EQ(decision.reason, "no analysis");
    EXPECT_EQ(decision.reasoning,
              "Detector probability 0.91 (LLR +2.30, threshold 0.75, 10.0 s of speech): at or "
              "above the threshold.");
    EXPECT_EQ(decision.recommended_action, RecommendedAction::VerifyIdentity);
    EXPECT_TRUE(decision.indicators.empty());
}

TEST(Fuse, DisagreementIsRecordedNotHidden) {
    const FusedDecision d = fuse(
            detector(0.90), std::optional(analysis(RiskLevel::Low, false, RecommendedAction::None)),
            FusionPolicy{});
    EXPECT_TRUE(d.flagged);
    EXPECT_TRUE(d.escalate);
    EXPECT_EQ(d.analysis_risk_level, std::optional<RiskLevel>(RiskLevel::Low));
    EXPECT_NE(d.reason.find("analysis rated low below the detector's high"), std::string::npos)
            << d.reason;
    EXPECT_NE(d.reason.find("did not ask to escalate"), std::string::npos) << d.reason;
    // The detector's advice wins over a weaker one.
    EXPECT_EQ(d.recommended_action, RecommendedAction::VerifyIdentity);
    EXPECT_EQ(d.reasoning, "narrative");
}

TEST(Fuse, TheAnalysisAddsNarrativeAndAStrongerAction) {
    const FusedDecision d =
            fuse(detector(0.90),
                 std::optional(analysis(RiskLevel::High, true, RecommendedAction::Transfer)),
                 FusionPolicy{});
    EXPECT_EQ(d.recommended_action, RecommendedAction::Transfer);
    EXPECT_EQ(d.reasoning, "narrative");
    EXPECT_EQ(d.indicators, std::vector<std::string>{"evidence"});
    EXPECT_EQ(d.reason, "analysis agrees with the detector");
}

TEST(Fuse, PolicyCanForbidRaisingOrFlagging) {
    FusionPolicy no_raise;
    no_raise.max_raise_levels = 0;
    const FusedDecision kept =
            fuse(detector(0.60), std::optional(analysis(RiskLevel::Critical, true)), no_raise);
    EXPECT_EQ(kept.risk_level, RiskLevel::Medium);
    EXPECT_FALSE(kept.flagged);
    EXPECT_NE(kept.reason.find("capped at medium"), std::string::npos) << kept.reason;

    FusionPolicy no_flag;
    no_flag.analysis_may_flag = false;
    const FusedDecision raised =
            fuse(detector(0.60), std::optional(analysis(RiskLevel::High, true)), no_flag);
    EXPECT_EQ(raised.risk_level, RiskLevel::High);
    EXPECT_FALSE(raised.flagged);
    EXPECT_FALSE(raised.escalate);
}

TEST(Fuse, AnErrorGivesTheDetectorOnlyDecisionWithTheReason) {
    const base::Result<RiskAnalysis> timeout = fail(Errc::Timeout, "inference request timed out");
    const FusedDecision d = fuse(detector(0.90), timeout, FusionPolicy{});
    EXPECT_EQ(d.source, kSourceDetectorOnly);
    EXPECT_EQ(d.reason, "analysis unavailable: inference request timed out");
    EXPECT_TRUE(d.flagged);
    EXPECT_EQ(d.risk_level, RiskLevel::High);

    const base::Result<RiskAnalysis> ok = analysis(RiskLevel::Critical, true);
    EXPECT_EQ(fuse(detector(0.90), ok, FusionPolicy{}).source, kSourceDetectorAndAnalysis);
}

TEST(Fuse, NonFiniteProbabilityIsLowAndNotFlagged) {
    const FusedDecision d = fuse(detector(std::numeric_limits<double>::quiet_NaN()),
                                 std::optional<RiskAnalysis>{}, FusionPolicy{});
    EXPECT_EQ(d.risk_level, RiskLevel::Low);
    EXPECT_FALSE(d.flagged);
}

TEST(FusionPolicy, ValidateChecksTheOrdering) {
    EXPECT_TRUE(validate(FusionPolicy{}));
    FusionPolicy p;
    p.medium_probability = 0.96;
    EXPECT_FALSE(validate(p));
    p = FusionPolicy{};
    p.critical_probability = 1.0;
    EXPECT_FALSE(validate(p));
    p = FusionPolicy{};
    p.max_raise_levels = -1;
    EXPECT_FALSE(validate(p));
}

TEST(RiskTypes, NamesRoundTrip) {
    for (const auto name : risk_level_names()) {
        auto level = parse_risk_level(name);
        ASSERT_TRUE(level);
        EXPECT_EQ(to_string(*level), name);
    }
    for (const auto name : recommended_action_names()) {
        auto action = parse_recommended_action(name);
        ASSERT_TRUE(action);
        EXPECT_EQ(to_string(*action), name);
    }
    EXPECT_FALSE(parse_risk_level("HIGH"));
    EXPECT_FALSE(parse_recommended_action(""));
}

TEST(AnalysisRateLimiter, LimitsAnalysesPerCall) {
    AnalysisRateLimiter limiter(10s, 3);
    const auto t0 = std::chrono::steady_clock::time_point{};
    EXPECT_TRUE(limiter.admit("c1", t0));
    EXPECT_FALSE(limiter.admit("c1", t0 + 9s));
    EXPECT_TRUE(limiter.admit("c2", t0 + 1s));  // other calls are independent
    EXPECT_TRUE(limiter.admit("c1", t0 + 10s));
    EXPECT_TRUE(limiter.admit("c1", t0 + 20s));
    EXPECT_FALSE(limiter.admit("c1", t0 + 1h));  // at most 3 per call
    EXPECT_EQ(limiter.tracked_calls(), 2U);
    limiter.forget("c1");
    EXPECT_EQ(limiter.tracked_calls(), 1U);
    EXPECT_TRUE(limiter.admit("c1", t0 + 2h));
}

}  // namespace
}  // namespace dvd::inference
