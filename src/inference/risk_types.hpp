#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"

namespace dvd::inference {

/// Ordered: a higher value is a higher risk.
enum class RiskLevel { Low, Medium, High, Critical };

/// Advice for people, ordered by severity. What the service actually does to a flagged call is
/// ESCALATION_POLICY (config); this is what the analysis recommends and what alerts show.
enum class RecommendedAction { None, Monitor, VerifyIdentity, Warn, Transfer, Hangup };

/// "low", "medium", "high", "critical".
[[nodiscard]] std::string_view to_string(RiskLevel level) noexcept;
/// "none", "monitor", "verify_identity", "warn", "transfer", "hangup".
[[nodiscard]] std::string_view to_string(RecommendedAction action) noexcept;

/// Inverse of `to_string` (exact, lowercase); InvalidArgument for anything else.
[[nodiscard]] base::Result<RiskLevel> parse_risk_level(std::string_view text);
[[nodiscard]] base::Result<RecommendedAction> parse_recommended_action(std::string_view text);

/// Every value of the enums, in order (the schema's `enum` lists).
[[nodiscard]] const std::vector<std::string_view>& risk_level_names();
[[nodiscard]] const std::vector<std::string_view>& recommended_action_names();

/// One acoustic indicator (issue 4: pitch, jitter, shimmer, HNR, ...).
struct Indicator {
    std::string name{};  ///< e.g. "jitter_local"
    double value = 0.0;
    std::string unit{};  ///< e.g. "%", "Hz", "dB"; may be empty
};

/// What the call itself tells us (from `call.initiated` and Telnyx's own detector).
struct CallMetadata {
    std::string from{};                             ///< E.164
    std::string to{};                               ///< E.164
    std::string direction{};                        ///< "inbound" / "outbound"
    std::string stir_shaken_attestation{};          ///< "A", "B", "C"; empty: none
    std::optional<bool> stir_shaken_verified{};     ///< Telnyx `shaken_stir_validated`
    std::string telnyx_deepfake_result{};           ///< real, fake, silence_timeout; empty: none
    std::optional<double> telnyx_deepfake_score{};  ///< 0..1
    std::optional<double> telnyx_deepfake_consistency_pct{};  ///< 0..100
};

/// Everything the analysis is told about one call. A value type.
struct RiskInput {
    std::string call_id{};        ///< for logs only; not sent to the model
    double probability = 0.0;     ///< detector's calibrated call-level P(synthetic), 0..1
    double llr = 0.0;             ///< detector's calibrated call-level log-likelihood ratio
    std::string verdict{};        ///< pipeline verdict name (synthetic, uncertain, human, ...)
    double threshold = 0.0;       ///< DETECTION_THRESHOLD, in (0, 1)
    double speech_seconds = 0.0;  ///< speech scored so far
    /// Window probabilities in call order (the score timeline); summarised before sending.
    std::vector<double> window_probabilities{};
    std::vector<Indicator> indicators{};  ///< strongest first
    CallMetadata call{};
};

/// The model's answer, validated against the schema (risk_prompt.hpp).
struct RiskAnalysis {
    RiskLevel risk_level = RiskLevel::Low;
    bool escalate = false;
    std::vector<std::string> indicators{};  ///< short phrases naming the evidence used
    std::string reasoning{};                ///< a short paragraph for people
    RecommendedAction recommended_action = RecommendedAction::None;

    bool operator==(const RiskAnalysis&) const = default;
};

}  // namespace dvd::inference
