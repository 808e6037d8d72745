#include "alerts/alert_content.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace dvd::alerts {
namespace {

using json = nlohmann::ordered_json;

// Slack Block Kit limits (telnyx-protocol.md section 7.1 [SL-BK]), in characters. We count bytes,
// which is never fewer than characters, so a cut text always fits.
constexpr std::size_t kMaxSectionTextChars = 3000;
constexpr std::size_t kMaxFieldChars = 2000;
constexpr std::size_t kMaxFields = 10;
constexpr std::size_t kMaxContextChars = 2000;
constexpr std::size_t kMaxFallbackChars = 2000;
// Single names, numbers and ids in fields are cut shorter: they are never legitimately long.
constexpr std::size_t kMaxShortValueChars = 200;
constexpr std::string_view kEllipsis = "\xE2\x80\xA6";  // U+2026

bool is_continuation_byte(char c) {
    return (static_cast<unsigned char>(c) & 0xC0U) == 0x80U;
}

// Cuts `text` to at most `max_bytes` (ellipsis included) on a UTF-8 character boundary and never
// inside an HTML entity that escape_mrkdwn produced.
std::string cut(std::string text, std::size_t max_bytes) {
    if (text.size() <= max_bytes) {
        return text;
    }
    std::size_t end = max_bytes > kEllipsis.size() ? max_bytes - kEllipsis.size() : 0;
    while (end > 0 && is_continuation_byte(text[end])) {
        --end;
    }
    const auto amp = text.rfind('&', end == 0 ? 0 : end - 1);
    if (amp != std::string::npos && end - amp < 5 && text.find(';', amp) >= end) {
        end = amp;  // "&amp;" etc. are at most 5 bytes: do not leave half of one
    }
    text.resize(end);
    text += kEllipsis;
    return text;
}

// Code spans cannot contain a backtick; ids never legitimately do.
std::string code_span(std::string_view text) {
    std::string clean(text);
    std::replace(clean.begin(), clean.end(), '`', '\'');
    return "`" + escape_mrkdwn(cut(std::move(clean), kMaxShortValueChars)) + "`";
}

std::string short_text(std::string_view text) {
    return escape_mrkdwn(cut(std::string(text), kMaxShortValueChars));
}

std::string number(double value, int decimals) {
    if (!std::isfinite(value)) {
        return "n/a";
    }
    return fmt::format("{:.{}f}", value, decimals);
}

std::string signed_number(double value) {
    if (!std::isfinite(value)) {
        return "n/a";
    }
    return fmt::format("{:+.2f}", value);
}

// 42.7 -> "0:42", 3723 -> "1:02:03".
std::string clock_time(double seconds) {
    if (!std::isfinite(seconds) || seconds < 0.0) {
        return "n/a";
    }
    const auto total = static_cast<long long>(std::min(seconds, 1.0e9));
    const long long hours = total / 3600;
    const long long minutes = (total / 60) % 60;
    const long long secs = total % 60;
    if (hours > 0) {
        return fmt::format("{}:{:02}:{:02}", hours, minutes, secs);
    }
    return fmt::format("{}:{:02}", minutes, secs);
}

bool is_http_url(std::string_view url) {
    return url.starts_with("https://") || url.starts_with("http://");
}

// A Slack link `<url|label>`: the URL may not contain '|' or '>' (nor blanks or controls); those
// are percent-encoded, and & < > are entity-escaped as Slack asks.
std::string slack_link(std::string_view url, std::string_view label) {
    std::string safe;
    safe.reserve(url.size());
    for (const char c : url) {
        const auto u = static_cast<unsigned char>(c);
        if (c == '|' || c == ' ' || u < 0x20U || u == 0x7FU) {
            safe += fmt::format("%{:02X}", static_cast<unsigned>(u));
        } else {
            safe += c;
        }
    }
    return "<" + escape_mrkdwn(safe) + "|" + escape_mrkdwn(label) + ">";
}

json mrkdwn(std::string text) {
    return json{{"type", "mrkdwn"}, {"text", std::move(text)}};
}

json field(std::string_view label, std::string value) {
    return mrkdwn(cut(fmt::format("*{}:*\n{}", label, value), kMaxFieldChars));
}

json section(std::string text) {
    return json{{"type", "section"}, {"text", mrkdwn(cut(std::move(text), kMaxSectionTextChars))}};
}

std::string score_text(const AlertContent& c) {
    std::string text = number(c.score, 2);
    if (!c.verdict.empty()) {
        text += " (" + short_text(c.verdict) + ")";
    }
    return text;
}

std::string stir_shaken_text(const AlertContent& c) {
    std::string text = c.stir_shaken_attestation.empty() ? std::string("none")
                                                         : short_text(c.stir_shaken_attestation);
    if (c.stir_shaken_verified) {
        text += *c.stir_shaken_verified ? " (verified)" : " (not verified)";
    }
    return text;
}

std::string or_unknown(std::string_view text) {
    return text.empty() ? std::string("unknown") : short_text(text);
}

json fields_block(const AlertContent& c) {
    json fields = json::array();
    fields.push_back(field("Caller", or_unknown(c.caller)));
    fields.push_back(field("Callee", or_unknown(c.callee)));
    fields.push_back(field("Score", score_text(c)));
    fields.push_back(field("LLR", signed_number(c.llr)));
    fields.push_back(field("Time into call", clock_time(c.seconds_into_call)));
    if (c.analysis && !c.analysis->risk_level.empty()) {
        fields.push_back(field("Risk", short_text(c.analysis->risk_level)));
    }
    if (!c.stir_shaken_attestation.empty() || c.stir_shaken_verified) {
        fields.push_back(field("STIR/SHAKEN", stir_shaken_text(c)));
    }
    if (!c.telnyx_deepfake_result.empty()) {
        std::string telnyx = short_text(c.telnyx_deepfake_result);
        if (c.telnyx_deepfake_score) {
            telnyx += " (" + number(*c.telnyx_deepfake_score, 2) + ")";
        }
        fields.push_back(field("Telnyx detector", std::move(telnyx)));
    }
    if (fields.size() > kMaxFields) {
        fields.erase(fields.begin() + static_cast<std::ptrdiff_t>(kMaxFields), fields.end());
    }
    return json{{"type", "section"}, {"fields", std::move(fields)}};
}

std::string indicator_text(const IndicatorLine& line) {
    std::string text = short_text(line.name) + ": " + short_text(line.value);
    if (!line.unit.empty()) {
        text += " " + short_text(line.unit);
    }
    return text;
}

std::string fallback_text(const AlertContent& c) {
    std::string text = c.level > 1 ? fmt::format("Deepfake voice alert (level {})", c.level)
                                   : std::string("Deepfake voice alert");
    text += ": " + or_unknown(c.caller) + " -> " + or_unknown(c.callee);
    text += ", score " + score_text(c);
    text += " at " + clock_time(c.seconds_into_call) + " into the call";
    if (c.analysis && !c.analysis->risk_level.empty()) {
        text += ", risk " + short_text(c.analysis->risk_level);
    }
    return cut(std::move(text), kMaxFallbackChars);
}

std::string context_text(const AlertContent& c) {
    std::string text = "call " + code_span(c.call_id);
    if (!c.call_control_id.empty()) {
        text += " \xC2\xB7 call_control_id " + code_span(c.call_control_id);
    }
    if (c.detected_at_ms != 0) {
        text += " \xC2\xB7 " + format_iso8601_ms(c.detected_at_ms);
    }
    if (c.threshold) {
        text += " \xC2\xB7 threshold " + number(*c.threshold, 2);
    }
    return cut(std::move(text), kMaxContextChars);
}

json optional_text(std::string_view text) {
    return text.empty() ? json(nullptr) : json(std::string(text));
}

template <class T>
json optional_value(const std::optional<T>& value) {
    return value ? json(*value) : json(nullptr);
}

std::string dump(const json& value) {
    // Invalid UTF-8 in untrusted text becomes U+FFFD instead of an exception.
    return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace

std::string escape_mrkdwn(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (const char c : text) {
        switch (c) {
            case '&':
                out += "&amp;";
                break;
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            default:
                out += c;
        }
    }
    return out;
}

std::string format_iso8601_ms(std::int64_t unix_ms) {
    using namespace std::chrono;
    const sys_time<milliseconds> time{milliseconds{unix_ms}};
    const auto day = floor<days>(time);
    const year_month_day date{day};
    const hh_mm_ss<milliseconds> clock{time - day};
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", static_cast<int>(date.year()),
                       static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()),
                       clock.hours().count(), clock.minutes().count(), clock.seconds().count(),
                       clock.subseconds().count());
}

std::string build_slack_message(const AlertContent& c) {
    json blocks = json::array();
    const std::string title =
            c.level > 1 ? fmt::format(":rotating_light: Deepfake voice alert, level {}", c.level)
                        : std::string(":rotating_light: Deepfake voice detected");
    blocks.push_back(json{{"type", "header"},
                          {"text", {{"type", "plain_text"}, {"text", title}, {"emoji", true}}}});
    blocks.push_back(fields_block(c));

    const std::size_t shown = std::min(c.indicators.size(), kMaxAlertIndicators);
    if (shown > 0) {
        std::string text = "*Top indicators:*";
        for (std::size_t i = 0; i < shown; ++i) {
            text += "\n\xE2\x80\xA2 " + indicator_text(c.indicators[i]);  // U+2022 bullet
        }
        blocks.push_back(section(std::move(text)));
    }
    if (c.analysis && (!c.analysis->reasoning.empty() || !c.analysis->recommended_action.empty())) {
        // The long, untrusted reasoning goes last: if the section is cut, only its end is lost.
        std::vector<std::string> lines;
        if (!c.analysis->recommended_action.empty()) {
            lines.push_back("*Recommended action:* " + short_text(c.analysis->recommended_action));
        }
        if (!c.analysis->source.empty()) {
            lines.push_back("_source: " + short_text(c.analysis->source) + "_");
        }
        if (!c.analysis->reasoning.empty()) {
            // Cut the raw text first (escaping may grow it fivefold), then the section.
            lines.push_back("*Analysis:* "
                            + escape_mrkdwn(cut(c.analysis->reasoning, kMaxSectionTextChars)));
        }
        std::string text = fmt::format("{}", fmt::join(lines, "\n"));
        blocks.push_back(section(std::move(text)));
    }
    std::vector<std::string> links;
    if (is_http_url(c.dashboard_url)) {
        links.push_back(slack_link(c.dashboard_url, "Open call in dashboard"));
    }
    if (is_http_url(c.recording_url)) {
        // A Slack message outlives Telnyx's private link; say when it stops working (the
        // service's own copy stays on the dashboard).
        const std::string label =
                c.recording_expires_at_ms
                        ? fmt::format("Recording (Telnyx link, expires {} UTC)",
                                      format_iso8601_ms(*c.recording_expires_at_ms).substr(11, 5))
                        : std::string("Recording");
        links.push_back(slack_link(c.recording_url, label));
    }
    if (!links.empty()) {
        blocks.push_back(section(fmt::format("{}", fmt::join(links, " \xC2\xB7 "))));
    }
    blocks.push_back(
            json{{"type", "context"}, {"elements", json::array({mrkdwn(context_text(c))})}});

    const json message{{"text", fallback_text(c)}, {"blocks", std::move(blocks)}};
    return dump(message);
}

std::string build_json_alert(const AlertContent& c) {
    json indicators = json::array();
    for (const auto& line : c.indicators) {
        indicators.push_back(json{{"name", line.name}, {"value", line.value}, {"unit", line.unit}});
    }
    json analysis = nullptr;
    if (c.analysis) {
        analysis = json{{"risk_level", optional_text(c.analysis->risk_level)},
                        {"reasoning", optional_text(c.analysis->reasoning)},
                        {"recommended_action", optional_text(c.analysis->recommended_action)},
                        {"source", optional_text(c.analysis->source)}};
    }
    const json alert{
            {"schema_version", kJsonAlertSchemaVersion},
            {"type", "deepfake_voice_alert"},
            {"alert_key", fmt::format("{}:{}", c.call_id, c.level)},
            {"call_id", c.call_id},
            {"call_control_id", optional_text(c.call_control_id)},
            {"level", c.level},
            {"detected_at",
             c.detected_at_ms != 0 ? json(format_iso8601_ms(c.detected_at_ms)) : json(nullptr)},
            {"call",
             {{"from", optional_text(c.caller)},
              {"to", optional_text(c.callee)},
              {"stir_shaken_attestation", optional_text(c.stir_shaken_attestation)},
              {"stir_shaken_verified", optional_value(c.stir_shaken_verified)}}},
            {"detection",
             {{"score", c.score},
              {"llr", c.llr},
              {"verdict", optional_text(c.verdict)},
              {"threshold", optional_value(c.threshold)},
              {"seconds_into_call", c.seconds_into_call},
              {"speech_seconds", optional_value(c.speech_seconds)},
              {"telnyx_deepfake_result", optional_text(c.telnyx_deepfake_result)},
              {"telnyx_deepfake_score", optional_value(c.telnyx_deepfake_score)}}},
            {"indicators", std::move(indicators)},
            {"analysis", std::move(analysis)},
            {"links",
             {{"recording", is_http_url(c.recording_url) ? json(c.recording_url) : json(nullptr)},
              {"recording_expires_at",
               is_http_url(c.recording_url) && c.recording_expires_at_ms
                       ? json(format_iso8601_ms(*c.recording_expires_at_ms))
                       : json(nullptr)},
              {"dashboard",
               is_http_url(c.dashboard_url) ? json(c.dashboard_url) : json(nullptr)}}}};
    return dump(alert);
}

}  // namespace dvd::alerts
