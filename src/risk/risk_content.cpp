#include "risk/risk_content.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <unordered_map>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "indicators/indicators.hpp"
#include "inference/errc.hpp"

namespace dvd::risk {
namespace {

using Json = nlohmann::json;

/// A typical range of human telephone speech for one figure: only used to order indicators
/// (docs/risk-analysis.md section 7); it decides nothing.
struct TypicalRange {
    std::string_view name;
    double low;
    double high;
};

constexpr std::array<TypicalRange, 13> kTypical{{
        {"pitch_range_semitones", 4.0, 14.0},
        {"pitch_stddev_semitones", 1.5, 5.0},
        {"jitter_local_percent", 0.2, 1.5},
        {"shimmer_local_percent", 2.0, 8.0},
        {"shimmer_local_db", 0.2, 0.7},
        {"hnr_db", 8.0, 22.0},
        {"pauses_per_min", 4.0, 30.0},
        {"speech_rate_syllables_per_s", 2.5, 6.5},
        {"breaths_per_min", 0.0, 20.0},
        {"spectral_flatness", 0.02, 0.5},
        {"spectral_tilt_db_per_octave", -14.0, -3.0},
        {"pitch_mean_hz", 70.0, 300.0},
        {"packet_loss_percent", 0.0, 3.0},
}};

struct Described {
    std::string unit;
    std::string description;
    std::size_t order = 0;
};

/// Units and descriptions per name, from indicators::to_list (stream rows included).
const std::unordered_map<std::string, Described>& catalogue() {
    static const auto table = [] {
        indicators::Indicators all;
        all.stream.codec = "PCMU";  // has_data(): the stream rows are listed too
        std::unordered_map<std::string, Described> out;
        std::size_t order = 0;
        for (auto& row : indicators::to_list(all)) {
            out.emplace(row.name, Described{row.unit, row.description, order++});
        }
        return out;
    }();
    return table;
}

const TypicalRange* typical_for(std::string_view name) {
    for (const auto& range : kTypical) {
        if (range.name == name) {
            return &range;
        }
    }
    return nullptr;
}

std::size_t typical_index(std::string_view name) {
    for (std::size_t i = 0; i < kTypical.size(); ++i) {
        if (kTypical[i].name == name) {
            return i;
        }
    }
    return kTypical.size();
}

double deviation_of(std::string_view name, double value) {
    const TypicalRange* range = typical_for(name);
    if (range == nullptr || !std::isfinite(value)) {
        return 0.0;
    }
    const double width = range->high - range->low;
    if (value < range->low) {
        return (range->low - value) / width;
    }
    if (value > range->high) {
        return (value - range->high) / width;
    }
    return 0.0;
}

bool is_http_base(std::string_view url) {
    return url.starts_with("https://") || url.starts_with("http://");
}

std::string origin_of(std::string_view url, std::string_view scheme_out) {
    const auto scheme_end = url.find("://");
    if (scheme_end == std::string_view::npos) {
        return {};
    }
    std::string_view rest = url.substr(scheme_end + 3);
    rest = rest.substr(0, rest.find_first_of("/?#"));
    if (const auto at = rest.rfind('@'); at != std::string_view::npos) {
        rest.remove_prefix(at + 1);
    }
    if (rest.empty()) {
        return {};
    }
    return fmt::format("{}://{}", scheme_out, rest);
}

struct RecordingLink {
    std::string_view url{};
    std::optional<std::int64_t> expires_at_ms{};  ///< a private link's end
};

// Public links first (no stated expiry), then the private ones (kRecordingUrlLifetime).
RecordingLink recording_link(const store::Recording& r) {
    for (const std::string* url : {&r.public_wav_url, &r.public_mp3_url}) {
        if (is_http_base(*url)) {
            return {.url = *url};
        }
    }
    for (const std::string* url : {&r.wav_url, &r.mp3_url}) {
        if (is_http_base(*url)) {
            RecordingLink link{.url = *url};
            if (r.saved_at_ms > 0) {
                link.expires_at_ms = r.saved_at_ms + store::kRecordingUrlLifetime.count();
            }
            return link;
        }
    }
    return {};
}

}  // namespace

base::Result<std::vector<IndicatorRow>> parse_indicators(std::string_view text) {
    std::vector<IndicatorRow> rows;
    if (text.empty()) {
        return rows;
    }
    const Json parsed = Json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (parsed.is_discarded() || !parsed.is_object()) {
        return base::fail(base::Errc::Corrupt, "stored indicators are not a JSON object");
    }
    const auto& known = catalogue();
    for (auto it = parsed.begin(); it != parsed.end(); ++it) {
        IndicatorRow row;
        row.name = it.key();
        if (it->is_number()) {
            row.value = it->get<double>();
        } else if (it->is_string()) {
            row.text = it->get<std::string>();
        }
        if (const auto found = known.find(row.name); found != known.end()) {
            row.unit = found->second.unit;
            row.description = found->second.description;
        }
        if (row.value) {
            row.deviation = deviation_of(row.name, *row.value);
        }
        rows.push_back(std::move(row));
    }
    std::stable_sort(rows.begin(), rows.end(), [&known](const auto& a, const auto& b) {
        const auto ia = known.find(a.name);
        const auto ib = known.find(b.name);
        const std::size_t oa = ia == known.end() ? known.size() : ia->second.order;
        const std::size_t ob = ib == known.end() ? known.size() : ib->second.order;
        return oa < ob;
    });
    return rows;
}

std::vector<IndicatorRow> rank_indicators(std::vector<IndicatorRow> rows) {
    std::vector<IndicatorRow> salient;
    std::vector<IndicatorRow> rest;
    for (auto& row : rows) {
        if (!row.value) {
            continue;
        }
        (typical_for(row.name) != nullptr ? salient : rest).push_back(std::move(row));
    }
    std::stable_sort(salient.begin(), salient.end(), [](const auto& a, const auto& b) {
        if (a.deviation != b.deviation) {
            return a.deviation > b.deviation;
        }
        return typical_index(a.name) < typical_index(b.name);
    });
    salient.insert(salient.end(), std::make_move_iterator(rest.begin()),
                   std::make_move_iterator(rest.end()));
    return salient;
}

std::string format_value(double value) {
    if (!std::isfinite(value)) {
        return "n/a";
    }
    const double magnitude = std::fabs(value);
    if (magnitude >= 100.0) {
        return fmt::format("{:.0f}", value);
    }
    if (magnitude >= 10.0) {
        return fmt::format("{:.1f}", value);
    }
    return fmt::format("{:.2f}", value);
}

std::optional<inference::DetectorDecision> detector_from_call(const store::Call& call,
                                                              double threshold) {
    if (!call.final_score) {
        return std::nullopt;
    }
    return inference::DetectorDecision{.probability = *call.final_score,
                                       .llr = call.final_llr.value_or(0.0),
                                       .verdict = call.verdict,
                                       .threshold = threshold,
                                       .speech_seconds = call.speech_seconds};
}

inference::RiskInput make_risk_input(const store::Call& call,
                                     const inference::DetectorDecision& detector,
                                     std::vector<double> window_probabilities,
                                     const std::vector<IndicatorRow>& ranked,
                                     std::size_t max_indicators) {
    inference::RiskInput input;
    input.call_id = call.id;
    input.probability = detector.probability;
    input.llr = detector.llr;
    input.verdict = detector.verdict;
    input.threshold = detector.threshold;
    input.speech_seconds = detector.speech_seconds;
    input.window_probabilities = std::move(window_probabilities);
    for (const auto& row : ranked) {
        if (input.indicators.size() >= max_indicators) {
            break;
        }
        if (row.value && std::isfinite(*row.value)) {
            input.indicators.push_back(
                    inference::Indicator{.name = row.name, .value = *row.value, .unit = row.unit});
        }
    }
    input.call.from = call.from;
    input.call.to = call.to;
    input.call.direction = std::string(store::to_string(call.direction));
    input.call.stir_shaken_attestation = call.stir_shaken_attestation;
    input.call.stir_shaken_verified = call.stir_shaken_verified;
    input.call.telnyx_deepfake_result = call.telnyx_deepfake_result;
    input.call.telnyx_deepfake_score = call.telnyx_deepfake_score;
    input.call.telnyx_deepfake_consistency_pct = call.telnyx_deepfake_consistency_pct;
    return input;
}

std::string error_code_name(const base::Result<inference::RiskAnalysis>& analysis) {
    if (analysis) {
        return {};
    }
    const std::error_code& code = analysis.error().code;
    if (code.category() != inference::error_category()) {
        return "error";
    }
    switch (static_cast<inference::Errc>(code.value())) {
        case inference::Errc::InvalidInput:
            return "invalid_input";
        case inference::Errc::Transport:
            return "transport";
        case inference::Errc::Timeout:
            return "timeout";
        case inference::Errc::HttpStatus:
            return "http_status";
        case inference::Errc::BadResponse:
            return "bad_response";
        case inference::Errc::MalformedOutput:
            return "malformed_output";
        case inference::Errc::SchemaViolation:
            return "schema_violation";
        case inference::Errc::Cancelled:
            return "cancelled";
    }
    return "error";
}

store::AnalysisRecord make_record(const std::string& call_id, store::AnalysisTrigger trigger,
                                  const inference::DetectorDecision& detector,
                                  const inference::FusedDecision& fused,
                                  const inference::AnalysisOutcome& outcome,
                                  std::int64_t now_ms) {
    store::AnalysisRecord r;
    r.call_id = call_id;
    r.trigger = trigger;
    r.source = fused.source;
    r.risk_level = std::string(inference::to_string(fused.risk_level));
    r.flagged = fused.flagged;
    r.escalate = fused.escalate;
    r.recommended_action = std::string(inference::to_string(fused.recommended_action));
    r.reason = fused.reason;
    r.reasoning = fused.reasoning;
    r.indicators_json = Json(fused.indicators).dump();
    r.detector_risk_level = std::string(inference::to_string(fused.detector_risk_level));
    if (fused.analysis_risk_level) {
        r.analysis_risk_level = std::string(inference::to_string(*fused.analysis_risk_level));
    }
    r.raised_by_analysis = fused.raised_by_analysis;
    r.analysis_disagreed = fused.analysis_disagreed;
    if (std::isfinite(detector.probability)) {
        r.detector_probability = detector.probability;
    }
    if (std::isfinite(detector.llr)) {
        r.detector_llr = detector.llr;
    }
    r.detector_verdict = detector.verdict;
    if (std::isfinite(detector.speech_seconds)) {
        r.speech_seconds = detector.speech_seconds;
    }
    r.error_code = error_code_name(outcome.analysis);
    if (!outcome.analysis) {
        r.error = outcome.analysis.error().message;
    }
    r.model = outcome.model;
    r.prompt_version = outcome.prompt_version;
    r.attempts = outcome.attempts;
    if (outcome.http_status != 0) {
        r.http_status = outcome.http_status;
    }
    r.elapsed_ms = outcome.elapsed.count();
    r.created_at_ms = now_ms;
    return r;
}

int escalation_level(const inference::FusedDecision& fused) {
    if (!fused.flagged) {
        return 0;
    }
    const bool raised = fused.raised_by_analysis;
    const bool beyond_detector = !fused.detector_flagged;
    return raised || beyond_detector ? 2 : 0;
}

std::string dashboard_url(std::string_view public_base_url, std::string_view call_id) {
    if (!is_http_base(public_base_url) || call_id.empty()) {
        return {};
    }
    std::string_view base = public_base_url;
    while (base.ends_with('/')) {
        base.remove_suffix(1);
    }
    return fmt::format("{}/#/calls/{}", base, call_id);
}

std::string public_base_from_url(std::string_view url) {
    if (url.starts_with("wss://") || url.starts_with("https://")) {
        return origin_of(url, "https");
    }
    if (url.starts_with("ws://") || url.starts_with("http://")) {
        return origin_of(url, "http");
    }
    return {};
}

alerts::AlertContent make_alert_content(const store::Call& call, int level,
                                        const inference::DetectorDecision& detector,
                                        const inference::FusedDecision& decision,
                                        std::int64_t at_ms, std::int64_t detected_at_ms,
                                        const std::vector<IndicatorRow>& ranked,
                                        const AlertLinks& links) {
    alerts::AlertContent c;
    c.call_id = call.id;
    c.call_control_id = call.call_control_id;
    c.level = level;
    c.caller = call.from;
    c.callee = call.to;
    c.score = detector.probability;
    c.llr = detector.llr;
    c.verdict = detector.verdict;
    c.threshold = detector.threshold;
    c.seconds_into_call = static_cast<double>(std::max<std::int64_t>(0, at_ms)) / 1000.0;
    c.speech_seconds = detector.speech_seconds;
    c.detected_at_ms = detected_at_ms;
    for (const auto& row : ranked) {
        if (c.indicators.size() >= alerts::kMaxAlertIndicators) {
            break;
        }
        if (row.value) {
            c.indicators.push_back(alerts::IndicatorLine{
                    .name = row.name, .value = format_value(*row.value), .unit = row.unit});
        }
    }
    c.analysis = alerts::AnalysisSummary{
            .risk_level = std::string(inference::to_string(decision.risk_level)),
            .reasoning = decision.reasoning,
            .recommended_action = std::string(inference::to_string(decision.recommended_action)),
            .source = decision.source};
    c.stir_shaken_attestation = call.stir_shaken_attestation;
    c.stir_shaken_verified = call.stir_shaken_verified;
    c.telnyx_deepfake_result = call.telnyx_deepfake_result;
    c.telnyx_deepfake_score = call.telnyx_deepfake_score;
    for (auto it = links.recordings.rbegin(); it != links.recordings.rend(); ++it) {
        if (const RecordingLink link = recording_link(*it); !link.url.empty()) {
            c.recording_url = std::string(link.url);
            c.recording_expires_at_ms = link.expires_at_ms;
            break;
        }
    }
    c.dashboard_url = dashboard_url(links.public_base_url, call.id);
    return c;
}

}  // namespace dvd::risk
