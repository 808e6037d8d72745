#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dvd::alerts {

/// Version of the generic JSON alert body (`build_json_alert`, field `schema_version`). Bump it on
/// any change that is not a pure addition of an optional field; docs/risk-analysis.md section
/// "JSON alert schema" describes every field.
inline constexpr int kJsonAlertSchemaVersion = 1;

/// At most this many indicators are shown in an alert (the first ones: callers pass them
/// strongest first).
inline constexpr std::size_t kMaxAlertIndicators = 5;

/// One acoustic indicator as shown to people: already formatted ("3.1", "Hz").
struct IndicatorLine {
    std::string name{};   ///< e.g. "pitch_std"
    std::string value{};  ///< e.g. "3.1"
    std::string unit{};   ///< e.g. "Hz"; may be empty
};

/// The AI risk analysis (or the fused decision) as text, when there is one.
struct AnalysisSummary {
    std::string risk_level{};          ///< low, medium, high, critical
    std::string reasoning{};           ///< one paragraph for people
    std::string recommended_action{};  ///< none, monitor, verify_identity, warn, transfer, hangup
    std::string source{};              ///< "detector+analysis" or "detector_only" (fusion's record)
};

/// Everything an alert says about one flagged call. A value type; no thread affinity. Text fields
/// are untrusted (caller ids, model output): the builders escape them. Empty strings and empty
/// optionals are "not known" and are left out of Slack messages (null in the JSON alert).
struct AlertContent {
    std::string call_id{};                    ///< our call id (required)
    std::string call_control_id{};            ///< Telnyx call_control_id
    int level = 1;                            ///< escalation level, 1 = first alert
    std::string caller{};                     ///< from, E.164
    std::string callee{};                     ///< to, E.164
    double score = 0.0;                       ///< call-level probability of a synthetic voice, 0..1
    double llr = 0.0;                         ///< call-level calibrated log-likelihood ratio
    std::string verdict{};                    ///< pipeline verdict (synthetic, uncertain, ...)
    std::optional<double> threshold{};        ///< DETECTION_THRESHOLD in force
    double seconds_into_call = 0.0;           ///< audio time from stream start to the detection
    std::optional<double> speech_seconds{};   ///< speech scored up to the detection
    std::int64_t detected_at_ms = 0;          ///< Unix ms UTC of the detection; 0: unknown
    std::vector<IndicatorLine> indicators{};  ///< strongest first; the first kMaxAlertIndicators
    std::optional<AnalysisSummary> analysis{};
    std::string stir_shaken_attestation{};          ///< "A", "B", "C"; empty: none received
    std::optional<bool> stir_shaken_verified{};     ///< Telnyx `shaken_stir_validated`
    std::string telnyx_deepfake_result{};           ///< Telnyx's own detector: real, fake, ...
    std::optional<double> telnyx_deepfake_score{};  ///< 0..1
    std::string recording_url{};  ///< http(s); Telnyx's links expire after 10 minutes
    /// Unix ms UTC when `recording_url` stops working (a private Telnyx link: 10 minutes after
    /// `call.recording.saved`); empty: not known (a public link).
    std::optional<std::int64_t> recording_expires_at_ms{};
    std::string dashboard_url{};  ///< http(s) link to the call in our dashboard
};

/// Escapes Slack mrkdwn control characters: `&` -> `&amp;`, `<` -> `&lt;`, `>` -> `&gt;`
/// (telnyx-protocol.md section 7.1). Nothing else is changed.
[[nodiscard]] std::string escape_mrkdwn(std::string_view text);

/// The Slack incoming-webhook body (Block Kit) for `content`, compact JSON:
///   * `text`: one line fallback for notifications ("Deepfake voice alert: +1... -> +1...,
///     score 0.91 (synthetic) at 0:42 into the call"), mrkdwn-escaped;
///   * `blocks`: a `header`, a `section` with `fields` (caller, callee, score + verdict, LLR,
///     time into the call, and when known risk, STIR/SHAKEN, Telnyx's verdict; at most 10), a
///     `section` with the top indicators, a `section` with the analysis reasoning and the
///     recommended action, a `section` with the dashboard and recording links (http(s) only; a
///     recording link that expires says when: "Recording (Telnyx link, expires 14:52 UTC)"), and
///     a `context` line (call ids, detection time, threshold).
/// Every untrusted text is escaped and cut to Slack's limits (section text 3000, field 2000
/// characters) on a UTF-8 boundary; invalid UTF-8 is replaced by U+FFFD. Never throws
/// (std::bad_alloc aside).
[[nodiscard]] std::string build_slack_message(const AlertContent& content);

/// The generic webhook body (ALERT_WEBHOOK_JSON), schema version kJsonAlertSchemaVersion:
///   {"schema_version":1, "type":"deepfake_voice_alert", "alert_key":"<call_id>:<level>",
///    "call_id", "call_control_id", "level", "detected_at" (ISO-8601 UTC ms or null),
///    "call":{"from","to","stir_shaken_attestation","stir_shaken_verified"},
///    "detection":{"score","llr","verdict","threshold","seconds_into_call","speech_seconds",
///                 "telnyx_deepfake_result","telnyx_deepfake_score"},
///    "indicators":[{"name","value","unit"}], "analysis":{...} or null,
///    "links":{"recording","dashboard"}}
/// Unknown values are null. Texts are not escaped (it is JSON, not mrkdwn). Never throws
/// (std::bad_alloc aside).
[[nodiscard]] std::string build_json_alert(const AlertContent& content);

/// "2026-01-01T10:00:42.123Z" for Unix ms (UTC).
[[nodiscard]] std::string format_iso8601_ms(std::int64_t unix_ms);

}  // namespace dvd::alerts
