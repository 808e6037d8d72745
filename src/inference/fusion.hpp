#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "inference/risk_types.hpp"

namespace dvd::inference {

/// The detector's call-level decision (pipeline::CallScore + the configured threshold).
struct DetectorDecision {
    double probability = 0.0;  ///< calibrated P(synthetic), 0..1
    double llr = 0.0;          ///< calibrated log-likelihood ratio
    std::string verdict{};     ///< pipeline verdict name
    double threshold = 0.0;    ///< DETECTION_THRESHOLD, in (0, 1)
    double speech_seconds = 0.0;
};

/// The documented fusion policy (docs/risk-analysis.md, "Fusion policy").
struct FusionPolicy {
    /// Detector-only risk: >= critical_probability (and flagged) critical; flagged high;
    /// >= medium_probability medium; else low. 0 < medium_probability <= critical_probability < 1.
    double medium_probability = 0.5;
    double critical_probability = 0.95;
    /// The analysis may raise the detector-only risk by at most this many levels (0: never).
    int max_raise_levels = 1;
    /// A raise to high or critical also flags a call that the detector alone did not flag.
    bool analysis_may_flag = true;
};

/// InvalidArgument unless the probabilities are ordered as documented and max_raise_levels is
/// in 0..3.
[[nodiscard]] base::Result<void> validate(const FusionPolicy& policy);

inline constexpr std::string_view kSourceDetectorOnly = "detector_only";
inline constexpr std::string_view kSourceDetectorAndAnalysis = "detector+analysis";

/// What the service acts on and records.
struct FusedDecision {
    RiskLevel risk_level = RiskLevel::Low;
    bool flagged = false;   ///< alert-worthy
    bool escalate = false;  ///< apply ESCALATION_POLICY now
    RecommendedAction recommended_action = RecommendedAction::None;
    /// kSourceDetectorOnly or kSourceDetectorAndAnalysis.
    std::string source{};
    /// Why the decision is what it is: the fallback reason ("analysis unavailable: timed out"),
    /// or what the analysis changed or was overruled on. Never empty.
    std::string reason{};
    /// The narrative for people: the analysis reasoning, or a sentence built from the numbers.
    std::string reasoning{};
    std::vector<std::string> indicators{};  ///< the analysis's evidence phrases (may be empty)
    bool detector_flagged = false;          ///< probability >= threshold
    bool raised_by_analysis = false;        ///< the risk level is above the detector-only level
    bool analysis_disagreed = false;        ///< the analysis rated lower and was overruled
    RiskLevel detector_risk_level = RiskLevel::Low;
    std::optional<RiskLevel> analysis_risk_level{};
};

/// The risk level from the detector alone (see FusionPolicy). A non-finite probability is low.
[[nodiscard]] RiskLevel detector_risk_level(const DetectorDecision& detector,
                                            const FusionPolicy& policy);

/// Fuses the detector's decision with the analysis, when there is one:
///   * the detector is primary: detector_flagged = probability >= threshold, and a flagged call
///     stays flagged and escalated whatever the analysis says (a lower analysis rating is kept
///     in `reason` and `analysis_disagreed`, never silently dropped);
///   * the analysis may raise the risk level by at most policy.max_raise_levels; a raise to high
///     or above flags the call when policy.analysis_may_flag (escalated only if the analysis
///     asked to escalate);
///   * the recommended action is the analysis's unless the detector-only advice is more severe;
///   * no analysis: the detector-only decision, source "detector_only".
[[nodiscard]] FusedDecision fuse(const DetectorDecision& detector,
                                 const std::optional<RiskAnalysis>& analysis,
                                 const FusionPolicy& policy);

/// Same, from the client's result: an error (timeout, garbage, schema violation, HTTP error)
/// gives the detector-only decision with reason "analysis unavailable: <message>".
[[nodiscard]] FusedDecision fuse(const DetectorDecision& detector,
                                 const base::Result<RiskAnalysis>& analysis,
                                 const FusionPolicy& policy);

}  // namespace dvd::inference
