#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "alerts/alert_content.hpp"
#include "base/result.hpp"
#include "inference/fusion.hpp"
#include "inference/risk_analysis_client.hpp"
#include "inference/risk_types.hpp"
#include "store/types.hpp"

namespace dvd::risk {

// Pure helpers of the risk coordinator: reading the stored indicators, ranking them, and turning
// a call row + a decision into the analysis input, the stored record and the alert content. No
// I/O, no threads; every function is a table test (tests/unit/risk).

/// One stored acoustic indicator (the compact JSON of media::indicators_json) with its unit and
/// description from `indicators::to_list`.
struct IndicatorRow {
    std::string name{};
    std::optional<double> value{};  ///< nullopt: not available (JSON null) or a text row
    std::string text{};             ///< text rows (the codec)
    std::string unit{};
    std::string description{};
    /// How far outside the typical range of human telephone speech the value lies, in range
    /// widths (0 inside the range or for figures without one). Only for ordering.
    double deviation = 0.0;
};

/// Parses `{"name": number|null|string, ...}`; rows keep to_list's order; unknown names keep
/// an empty unit and description. An empty text is no rows; anything that is not a JSON object
/// is Corrupt.
[[nodiscard]] base::Result<std::vector<IndicatorRow>> parse_indicators(std::string_view json);

/// The rows worth showing first, strongest first: rows with a value and a typical range
/// (pitch range and variability, jitter, shimmer, HNR, pauses, speech rate, spectral shape,
/// packet loss; docs/risk-analysis.md section 7), ordered by deviation (largest first, ties in
/// that list's order), then every other row with a value in to_list order.
[[nodiscard]] std::vector<IndicatorRow> rank_indicators(std::vector<IndicatorRow> rows);

/// "0.21", "3.1", "151", "-7.4": 2 decimals under 10, 1 under 100, none above.
[[nodiscard]] std::string format_value(double value);

/// The detector's call-level decision from a call row (final_score/llr/verdict/speech) and the
/// threshold; nullopt when the row has no score yet.
[[nodiscard]] std::optional<inference::DetectorDecision> detector_from_call(const store::Call& call,
                                                                            double threshold);

/// The analysis input: the detector's numbers, the window probabilities (call order), the
/// ranked indicators (at most `max_indicators`, with values) and the call metadata.
[[nodiscard]] inference::RiskInput make_risk_input(const store::Call& call,
                                                   const inference::DetectorDecision& detector,
                                                   std::vector<double> window_probabilities,
                                                   const std::vector<IndicatorRow>& ranked,
                                                   std::size_t max_indicators = 20);

/// "timeout", "schema_violation", "malformed_output", ... for inference::Errc codes; "error" for
/// any other error; "" for a success.
[[nodiscard]] std::string error_code_name(const base::Result<inference::RiskAnalysis>& analysis);

/// The stored record of one decision.
[[nodiscard]] store::AnalysisRecord make_record(const std::string& call_id,
                                                store::AnalysisTrigger trigger,
                                                const inference::DetectorDecision& detector,
                                                const inference::FusedDecision& fused,
                                                const inference::AnalysisOutcome& outcome,
                                                std::int64_t now_ms);

/// Which alert a decision asks for beyond level 1 (the detector's flag): level 2 when the fused
/// decision is flagged and goes beyond the detector alone, i.e. the analysis raised the risk
/// level, or flagged/escalated a call the detector did not flag. 0 otherwise.
[[nodiscard]] int escalation_level(const inference::FusedDecision& fused);

/// Where the alert links point.
struct AlertLinks {
    std::string public_base_url{};  ///< "https://host[:port]": dashboard link <base>/#/calls/<id>
    std::vector<store::Recording> recordings{};  ///< the newest with a URL is linked
};

/// The alert for one call at `level`: caller, callee, the detector's numbers, the time into the
/// call (`at_ms`, audio position), the top kMaxAlertIndicators indicators, the decision as the
/// analysis summary (risk level, reasoning, recommended action, source), STIR/SHAKEN, Telnyx's
/// own verdict, the recording link (public URLs first) and the dashboard link.
[[nodiscard]] alerts::AlertContent make_alert_content(const store::Call& call, int level,
                                                      const inference::DetectorDecision& detector,
                                                      const inference::FusedDecision& decision,
                                                      std::int64_t at_ms,
                                                      std::int64_t detected_at_ms,
                                                      const std::vector<IndicatorRow>& ranked,
                                                      const AlertLinks& links);

/// The dashboard link of a call: "<base>/#/calls/<id>" for an http(s) base (a trailing '/' is
/// dropped); empty otherwise.
[[nodiscard]] std::string dashboard_url(std::string_view public_base_url, std::string_view call_id);

/// "https://host[:port]" for a media stream URL ("wss://host/media" -> "https://host"), or an
/// http(s) URL's origin; empty when it is neither.
[[nodiscard]] std::string public_base_from_url(std::string_view url);

}  // namespace dvd::risk
