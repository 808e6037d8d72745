#include "inference/fusion.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace dvd::inference {
namespace {

bool is_flagged(const DetectorDecision& detector) {
    return std::isfinite(detector.probability) && detector.probability >= detector.threshold;
}

RecommendedAction detector_action(RiskLevel level) {
    switch (level) {
        case RiskLevel::Low:
            return RecommendedAction::None;
        case RiskLevel::Medium:
            return RecommendedAction::Monitor;
        case RiskLevel::High:
        case RiskLevel::Critical:
            return RecommendedAction::VerifyIdentity;
    }
    return RecommendedAction::None;
}

std::string detector_sentence(const DetectorDecision& d, bool flagged) {
    return fmt::format(
            "Detector probability {:.2f} (LLR {:+.2f}, threshold {:.2f}, {:.1f} s of "
            "speech): {} the threshold.",
            d.probability, d.llr, d.threshold, d.speech_seconds, flagged ? "at or above" : "below");
}

FusedDecision detector_only(const DetectorDecision& detector, const FusionPolicy& policy,
                            std::string reason) {
    FusedDecision decision;
    decision.detector_flagged = is_flagged(detector);
    decision.detector_risk_level = detector_risk_level(detector, policy);
    decision.risk_level = decision.detector_risk_level;
    decision.flagged = decision.detector_flagged;
    decision.escalate = decision.detector_flagged;
    decision.recommended_action = detector_action(decision.risk_level);
    decision.source = std::string(kSourceDetectorOnly);
    decision.reason = std::move(reason);
    decision.reasoning = detector_sentence(detector, decision.detector_flagged);
    return decision;
}

}  // namespace

base::Result<void> validate(const FusionPolicy& p) {
    if (!(p.medium_probability > 0.0 && p.medium_probability <= p.critical_probability
          && p.critical_probability < 1.0)) {
        return base::fail(base::Errc::InvalidArgument,
                          "fusion policy: need 0 < medium_probability <= critical_probability < 1");
    }
    if (p.max_raise_levels < 0 || p.max_raise_levels > 3) {
        return base::fail(base::Errc::InvalidArgument,
                          "fusion policy: max_raise_levels must be in 0..3");
    }
    return {};
}

RiskLevel detector_risk_level(const DetectorDecision& detector, const FusionPolicy& policy) {
    if (!std::isfinite(detector.probability)) {
        return RiskLevel::Low;
    }
    if (is_flagged(detector)) {
        return detector.probability >= policy.critical_probability ? RiskLevel::Critical
                                                                   : RiskLevel::High;
    }
    return detector.probability >= policy.medium_probability ? RiskLevel::Medium : RiskLevel::Low;
}

FusedDecision fuse(const DetectorDecision& detector, const std::optional<RiskAnalysis>& analysis,
                   const FusionPolicy& policy) {
    if (!analysis) {
        return detector_only(detector, policy, "no analysis");
    }
    FusedDecision decision = detector_only(detector, policy, "");
    decision.source = std::string(kSourceDetectorAndAnalysis);
    decision.analysis_risk_level = analysis->risk_level;
    decision.reasoning = analysis->reasoning;
    decision.indicators = analysis->indicators;

    const int base_level = static_cast<int>(decision.detector_risk_level);
    const int asked = static_cast<int>(analysis->risk_level);
    const int cap =
            std::min(base_level + policy.max_raise_levels, static_cast<int>(RiskLevel::Critical));
    std::vector<std::string> notes;
    if (asked > base_level) {
        const int raised = std::min(asked, cap);
        decision.risk_level = static_cast<RiskLevel>(raised);
        decision.raised_by_analysis = raised > base_level;
        if (decision.raised_by_analysis) {
            notes.push_back(fmt::format("analysis raised the risk from {} to {}",
                                        to_string(decision.detector_risk_level),
                                        to_string(decision.risk_level)));
        }
        if (asked > raised) {
            notes.push_back(fmt::format("analysis asked for {}, capped at {}",
                                        to_string(analysis->risk_level),
                                        to_string(decision.risk_level)));
        }
    } else if (asked < base_level) {
        decision.analysis_disagreed = true;
        notes.push_back(fmt::format(
                "analysis rated {} below the detector's {}; the detector's "
                "level is kept",
                to_string(analysis->risk_level), to_string(decision.detector_risk_level)));
    }

    const bool high = decision.risk_level >= RiskLevel::High;
    if (!decision.detector_flagged && high && policy.analysis_may_flag) {
        decision.flagged = true;
        decision.escalate = analysis->escalate;
        notes.push_back(fmt::format("flagged on the analysis (detector below threshold){}",
                                    analysis->escalate ? ", escalation requested" : ""));
    }
    if (decision.detector_flagged && !analysis->escalate) {
        decision.analysis_disagreed = true;
        notes.push_back("analysis did not ask to escalate; the detector flag is kept");
    }

    const RecommendedAction detector_advice = detector_action(decision.risk_level);
    if (analysis->recommended_action >= detector_advice) {
        decision.recommended_action = analysis->recommended_action;
    } else {
        decision.recommended_action = detector_advice;
        notes.push_back(fmt::format("analysis advised {}; {} kept",
                                    to_string(analysis->recommended_action),
                                    to_string(detector_advice)));
    }
    decision.reason = notes.empty() ? std::string("analysis agrees with the detector")
                                    : fmt::format("{}", fmt::join(notes, "; "));
    return decision;
}

FusedDecision fuse(const DetectorDecision& detector, const base::Result<RiskAnalysis>& analysis,
                   const FusionPolicy& policy) {
    if (!analysis) {
        return detector_only(detector, policy, "analysis unavailable: " + analysis.error().message);
    }
    return fuse(detector, std::optional<RiskAnalysis>(*analysis), policy);
}

}  // namespace dvd::inference
