#include "api/handlers.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cmath>
#include <limits>
#include <map>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/log.hpp"
#include "base/parse.hpp"
#include "indicators/indicators.hpp"
#include "service/secrets.hpp"

namespace dvd::api {
namespace {

using Json = nlohmann::ordered_json;

/// A dial request body is a few dozen bytes; anything much larger is not one.
constexpr std::size_t kMaxDialBodyBytes = 4096;
/// Re-scoring feeds 20 ms at a time so that each window knows its position in the audio.
constexpr std::size_t kAnalysisChunkSamples = 160;
constexpr double kSampleRateHz = 8000.0;
/// Speech frames per second (10 ms hop).
constexpr double kFramesPerSecond = 100.0;

Json text_or_null(const std::string& text) {
    return text.empty() ? Json(nullptr) : Json(text);
}

template <class T>
Json optional_or_null(const std::optional<T>& value) {
    return value ? Json(*value) : Json(nullptr);
}

Json time_or_null(const std::optional<std::int64_t>& unix_ms) {
    return unix_ms ? Json(format_time_ms(*unix_ms)) : Json(nullptr);
}

/// Non-finite numbers have no JSON form; show them as null.
Json number(double value) {
    return std::isfinite(value) ? Json(value) : Json(nullptr);
}

Json call_object(const store::Call& call) {
    Json j;
    j["id"] = call.id;
    j["call_control_id"] = text_or_null(call.call_control_id);
    j["call_leg_id"] = text_or_null(call.call_leg_id);
    j["call_session_id"] = text_or_null(call.call_session_id);
    j["direction"] = store::to_string(call.direction);
    j["from"] = text_or_null(call.from);
    j["to"] = text_or_null(call.to);
    j["status"] = store::to_string(call.state);
    j["started_at"] = format_time_ms(call.started_at_ms);
    j["answered_at"] = time_or_null(call.answered_at_ms);
    j["ended_at"] = time_or_null(call.ended_at_ms);
    j["duration_seconds"] = optional_or_null(call.duration_seconds);
    j["hangup_cause"] = text_or_null(call.hangup_cause);
    j["score"] = optional_or_null(call.final_score);
    j["llr"] = optional_or_null(call.final_llr);
    j["verdict"] = text_or_null(call.verdict);
    j["speech_seconds"] = number(call.speech_seconds);
    j["flagged"] = call.flagged;
    j["stream_id"] = text_or_null(call.stream_id);
    j["telnyx_deepfake"] = Json{
            {"result", text_or_null(call.telnyx_deepfake_result)},
            {"score", optional_or_null(call.telnyx_deepfake_score)},
            {"consistency_pct", optional_or_null(call.telnyx_deepfake_consistency_pct)},
            {"error", text_or_null(call.telnyx_deepfake_error)},
    };
    j["stir_shaken"] = Json{
            {"attestation", text_or_null(call.stir_shaken_attestation)},
            {"verified", optional_or_null(call.stir_shaken_verified)},
    };
    j["last_error"] = text_or_null(call.last_error);
    j["created_at"] = format_time_ms(call.created_at_ms);
    j["updated_at"] = format_time_ms(call.updated_at_ms);
    return j;
}

/// Stored JSON text as a value; null when empty or unparsable (never fails a response).
Json stored_json(std::string_view text) {
    if (text.empty()) {
        return Json(nullptr);
    }
    Json parsed = Json::parse(text, nullptr, /*allow_exceptions=*/false);
    return parsed.is_discarded() ? Json(nullptr) : parsed;
}

Json point_object(const store::ScorePoint& p) {
    return Json{
            {"seq", p.seq},
            {"at_ms", p.at_ms},
            {"speech_seconds", number(p.speech_seconds)},
            {"window_score", number(p.window_score)},
            {"window_llr", number(p.window_llr)},
            {"call_score", number(p.call_score)},
            {"call_llr", number(p.call_llr)},
            {"verdict", text_or_null(p.verdict)},
            {"indicators", stored_json(p.indicators_json)},
    };
}

struct IndicatorInfo {
    std::string unit;
    std::string description;
    std::size_t order = 0;
};

/// Units and descriptions of every indicator name (indicators::to_list, stream rows included).
const std::map<std::string, IndicatorInfo, std::less<>>& indicator_catalogue() {
    static const auto table = [] {
        indicators::Indicators all;
        all.stream.codec = "PCMU";
        std::map<std::string, IndicatorInfo, std::less<>> out;
        std::size_t order = 0;
        for (auto& row : indicators::to_list(all)) {
            out.emplace(row.name, IndicatorInfo{row.unit, row.description, order++});
        }
        return out;
    }();
    return table;
}

Json indicators_list(std::string_view stored) {
    Json list = Json::array();
    const Json parsed = stored_json(stored);
    if (!parsed.is_object()) {
        return list;
    }
    const auto& catalogue = indicator_catalogue();
    std::vector<std::pair<std::size_t, Json>> rows;
    for (auto it = parsed.begin(); it != parsed.end(); ++it) {
        const auto info = catalogue.find(it.key());
        Json value = it->is_number() || it->is_string() ? *it : Json(nullptr);
        rows.emplace_back(info == catalogue.end() ? catalogue.size() : info->second.order,
                          Json{{"name", it.key()},
                               {"value", std::move(value)},
                               {"unit", info == catalogue.end() ? "" : info->second.unit},
                               {"description",
                                info == catalogue.end() ? "" : info->second.description}});
    }
    std::stable_sort(rows.begin(), rows.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    for (auto& row : rows) {
        list.push_back(std::move(row.second));
    }
    return list;
}

Json analysis_object(const store::AnalysisRecord& r) {
    Json indicators = stored_json(r.indicators_json);
    if (!indicators.is_array()) {
        indicators = Json::array();
    }
    return Json{
            {"id", r.id},
            {"trigger", store::to_string(r.trigger)},
            {"at", format_time_ms(r.created_at_ms)},
            {"source", r.source},
            {"risk_level", r.risk_level},
            {"flagged", r.flagged},
            {"escalate", r.escalate},
            {"recommended_action", r.recommended_action},
            {"reason", r.reason},
            {"reasoning", r.reasoning},
            {"indicators", std::move(indicators)},
            {"detector",
             Json{{"probability", optional_or_null(r.detector_probability)},
                  {"llr", optional_or_null(r.detector_llr)},
                  {"verdict", text_or_null(r.detector_verdict)},
                  {"risk_level", r.detector_risk_level},
                  {"speech_seconds", optional_or_null(r.speech_seconds)}}},
            {"analysis_risk_level", text_or_null(r.analysis_risk_level)},
            {"raised_by_analysis", r.raised_by_analysis},
            {"analysis_disagreed", r.analysis_disagreed},
            {"error", r.error.empty() ? Json(nullptr)
                                      : Json{{"code", text_or_null(r.error_code)},
                                             {"message", r.error}}},
            {"model", text_or_null(r.model)},
            {"prompt_version", text_or_null(r.prompt_version)},
            {"attempts", r.attempts},
            {"http_status", optional_or_null(r.http_status)},
            {"elapsed_ms", r.elapsed_ms},
    };
}

Json alert_object(const store::Alert& a) {
    return Json{
            {"id", a.id},
            {"level", a.level},
            {"channel", store::to_string(a.channel)},
            {"status", store::to_string(a.status)},
            {"attempts", a.attempts},
            {"created_at", format_time_ms(a.created_at_ms)},
            {"sent_at", time_or_null(a.sent_at_ms)},
            {"last_error", text_or_null(a.last_error)},
    };
}

// The service's own copy (docs/api.md): its status, and where to fetch it once stored.
Json archive_object(const store::Recording& r, bool recording_download) {
    const store::RecordingArchive& a = r.archive;
    const bool stored = a.status == store::ArchiveStatus::Stored;
    const bool off = !recording_download && a.status == store::ArchiveStatus::Pending;
    return Json{
            {"status", off ? std::string("off") : std::string(store::to_string(a.status))},
            {"attempts", a.attempts},
            {"last_error", text_or_null(a.last_error)},
            {"bytes", optional_or_null(a.bytes)},
            {"sha256", text_or_null(a.sha256)},
            {"stored_at", time_or_null(a.stored_at_ms)},
            {"audio_url", stored ? Json(fmt::format("/calls/{}/recordings/{}/audio", r.call_id,
                                                    r.id))
                                 : Json(nullptr)},
    };
}

Json recording_object(const store::Recording& r, bool recording_download) {
    return Json{
            {"id", r.id},
            {"recording_id", text_or_null(r.recording_id)},
            {"format", text_or_null(r.format)},
            {"channels", text_or_null(r.channels)},
            {"duration_seconds", optional_or_null(r.duration_seconds)},
            {"saved_at", format_time_ms(r.saved_at_ms)},
            {"kept", r.kept},
            {"urls", Json{{"wav", text_or_null(r.wav_url)}, {"mp3", text_or_null(r.mp3_url)}}},
            {"public_urls", Json{{"wav", text_or_null(r.public_wav_url)},
                                 {"mp3", text_or_null(r.public_mp3_url)}}},
            {"archive", archive_object(r, recording_download)},
    };
}

// The request body is left out on purpose: a streaming_start body holds the stream token.
Json command_object(const store::CommandLog& c) {
    return Json{
            {"id", c.id},
            {"command", c.command},
            {"command_id", text_or_null(c.command_id)},
            {"http_status", optional_or_null(c.http_status)},
            {"error", text_or_null(c.error)},
            {"at", format_time_ms(c.at_ms)},
    };
}

std::optional<std::int64_t> parse_int(std::string_view text) {
    std::int64_t value = 0;
    const auto* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, value);
    if (ec != std::errc{} || ptr != end || text.empty()) {
        return std::nullopt;
    }
    return value;
}

base::Error bad_parameter(std::string_view name, std::string_view why) {
    return base::fail(base::Errc::InvalidArgument, fmt::format("{}: {}", name, why));
}

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x))
                      == std::tolower(static_cast<unsigned char>(y));
           });
}

bool is_host_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.'
           || c == '-' || c == ':' || c == '[' || c == ']' || c == '_';
}

std::string_view trim(std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) {
        text.remove_prefix(1);
    }
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) {
        text.remove_suffix(1);
    }
    return text;
}

}  // namespace

std::string format_time_ms(std::int64_t unix_ms) {
    using namespace std::chrono;
    const sys_time<milliseconds> time{milliseconds{unix_ms}};
    const auto day = floor<days>(time);
    const year_month_day ymd{day};
    const hh_mm_ss hms{time - day};
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", static_cast<int>(ymd.year()),
                       static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                       hms.hours().count(), hms.minutes().count(), hms.seconds().count(),
                       hms.subseconds().count());
}

std::optional<std::int64_t> parse_time_ms(std::string_view text) {
    if (!text.empty()
        && std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        return parse_int(text);
    }
    // YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)
    int year = 0;
    int month = 0;
    int day = 0;
    int hour = 0;
    int minute = 0;
    int second = 0;
    if (text.size() < 20 || !base::parse_fixed_digits(text, 0, 4, year) || text[4] != '-'
        || !base::parse_fixed_digits(text, 5, 2, month) || text[7] != '-'
        || !base::parse_fixed_digits(text, 8, 2, day) || (text[10] != 'T' && text[10] != 't')
        || !base::parse_fixed_digits(text, 11, 2, hour) || text[13] != ':'
        || !base::parse_fixed_digits(text, 14, 2, minute) || text[16] != ':'
        || !base::parse_fixed_digits(text, 17, 2, second) || hour > 23 || minute > 59
        || second > 59) {
        return std::nullopt;
    }
    std::size_t pos = 19;
    std::int64_t millis = 0;
    if (text[pos] == '.') {
        ++pos;
        int digits = 0;
        while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
            if (digits < 3) {
                millis = millis * 10 + (text[pos] - '0');
            }
            ++digits;
            ++pos;
        }
        if (digits == 0) {
            return std::nullopt;
        }
        for (int i = digits; i < 3; ++i) {
            millis *= 10;
        }
    }
    std::int64_t offset_minutes = 0;
    const std::string_view zone = text.substr(pos);
    if (zone == "Z" || zone == "z") {
        offset_minutes = 0;
    } else if (zone.size() == 6 && (zone[0] == '+' || zone[0] == '-') && zone[3] == ':') {
        int oh = 0;
        int om = 0;
        if (!base::parse_fixed_digits(zone, 1, 2, oh) || !base::parse_fixed_digits(zone, 4, 2, om)
            || oh > 23 || om > 59) {
            return std::nullopt;
        }
        offset_minutes = (zone[0] == '+' ? 1 : -1) * (oh * 60 + om);
    } else {
        return std::nullopt;
    }
    using namespace std::chrono;
    const year_month_day ymd{std::chrono::year{year},
                             std::chrono::month{static_cast<unsigned>(month)},
                             std::chrono::day{static_cast<unsigned>(day)}};
    if (!ymd.ok()) {
        return std::nullopt;
    }
    const auto days_since_epoch = sys_days{ymd}.time_since_epoch().count();
    return ((static_cast<std::int64_t>(days_since_epoch) * 24 + hour) * 60 + minute
            - offset_minutes)
                   * 60'000
           + static_cast<std::int64_t>(second) * 1000 + millis;
}

std::optional<net::Response> check_bearer(const net::Request& request, std::string_view api_token) {
    if (api_token.empty()) {
        return std::nullopt;
    }
    const auto header = request.header("authorization");
    constexpr std::string_view kScheme = "bearer ";
    if (header && header->size() > kScheme.size()
        && iequals(header->substr(0, kScheme.size()), kScheme)
        && service::secrets_equal(trim(header->substr(kScheme.size())), api_token)) {
        return std::nullopt;
    }
    net::Response response = net::Response::json_error(
            401, "unauthorized",
            header ? "invalid bearer token" : "this API needs an Authorization: Bearer token");
    response.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"deepfake-voice-detector\"");
    return response;
}

base::Result<store::CallQuery> parse_call_query(const net::Request& request) {
    store::CallQuery query;
    if (auto limit = request.query_param("limit")) {
        const auto value = parse_int(*limit);
        if (!value || *value < 1 || *value > store::kMaxPageSize) {
            return bad_parameter(
                    "limit", fmt::format("must be an integer from 1 to {}", store::kMaxPageSize));
        }
        query.limit = *value;
    }
    if (auto offset = request.query_param("offset")) {
        const auto value = parse_int(*offset);
        if (!value || *value < 0) {
            return bad_parameter("offset", "must be an integer >= 0");
        }
        query.offset = *value;
    }
    if (auto status = request.query_param("status")) {
        auto state = store::parse_call_state(*status);
        if (!state) {
            return bad_parameter("status",
                                 "must be one of initiated, answered, streaming, ended, failed");
        }
        query.filter.state = *state;
    }
    if (auto flagged = request.query_param("flagged")) {
        if (*flagged == "true" || *flagged == "1") {
            query.filter.flagged = true;
        } else if (*flagged == "false" || *flagged == "0") {
            query.filter.flagged = false;
        } else {
            return bad_parameter("flagged", "must be true or false");
        }
    }
    if (auto since = request.query_param("since")) {
        const auto value = parse_time_ms(*since);
        if (!value) {
            return bad_parameter("since",
                                 "must be an ISO-8601 UTC time (2026-11-26T14:35:13Z) or Unix ms");
        }
        query.filter.since_ms = *value;
    }
    if (auto sort = request.query_param("sort")) {
        if (*sort == "time") {
            query.sort = store::CallSortKey::Time;
        } else if (*sort == "score") {
            query.sort = store::CallSortKey::Score;
        } else {
            return bad_parameter("sort", "must be time or score");
        }
    }
    if (auto order = request.query_param("order")) {
        if (*order == "asc") {
            query.order = store::SortOrder::Ascending;
        } else if (*order == "desc") {
            query.order = store::SortOrder::Descending;
        } else {
            return bad_parameter("order", "must be asc or desc");
        }
    }
    return query;
}

net::Response internal_error(const base::Error& error, std::string_view operation) {
    DVD_LOG(Api, Error, "{} failed: {}", operation, error.message);
    return net::Response::json_error(500, "internal_error",
                                     fmt::format("{} failed; see the service log", operation));
}

net::Response list_calls(const net::Request& request, store::Store& store) {
    auto query = parse_call_query(request);
    if (!query) {
        return net::Response::json_error(400, "invalid_parameter", query.error().message);
    }
    auto calls = store.list_calls(*query);
    if (!calls) {
        return internal_error(calls.error(), "listing calls");
    }
    auto total = store.count_calls(query->filter);
    if (!total) {
        return internal_error(total.error(), "counting calls");
    }
    Json list = Json::array();
    for (const auto& call : *calls) {
        list.push_back(call_object(call));
    }
    return net::Response::json(200, Json{{"calls", std::move(list)},
                                         {"total", *total},
                                         {"limit", query->limit},
                                         {"offset", query->offset}}
                                            .dump());
}

base::Result<std::optional<store::Call>> find_call(store::Store& store, std::string_view id) {
    auto call = store.get_call(id);
    if (!call || *call) {
        return call;
    }
    return store.get_call_by_control_id(id);
}

net::Response get_call(const net::Request& request, store::Store& store,
                       std::size_t max_timeline_points, bool recording_download) {
    const std::string_view id = request.path_param("id");
    auto found = find_call(store, id);
    if (!found) {
        return internal_error(found.error(), "reading the call");
    }
    if (!*found) {
        return net::Response::json_error(404, "not_found", fmt::format("no call '{}'", id));
    }
    const store::Call& call = **found;
    const auto limit = static_cast<std::int64_t>(max_timeline_points);
    auto timeline = store.list_timeline(call.id, -1, limit + 1);
    if (!timeline) {
        return internal_error(timeline.error(), "reading the timeline");
    }
    auto alerts = store.list_alerts(call.id);
    if (!alerts) {
        return internal_error(alerts.error(), "reading alerts");
    }
    auto recordings = store.list_recordings(call.id);
    if (!recordings) {
        return internal_error(recordings.error(), "reading recordings");
    }
    auto commands = store.list_command_log(call.id);
    if (!commands) {
        return internal_error(commands.error(), "reading the command log");
    }
    auto analyses = store.list_analyses(call.id);
    if (!analyses) {
        return internal_error(analyses.error(), "reading the risk analyses");
    }
    Json j = call_object(call);
    j["escalation"] = call.escalation.empty()
                              ? Json(nullptr)
                              : Json{{"action", call.escalation},
                                     {"at", time_or_null(call.escalated_at_ms)}};
    j["indicators"] = indicators_list(call.indicators_json);
    j["analysis"] = analyses->empty() ? Json(nullptr) : analysis_object(analyses->back());
    Json decisions = Json::array();
    for (const auto& record : *analyses) {
        decisions.push_back(analysis_object(record));
    }
    j["analyses"] = std::move(decisions);
    const bool truncated = timeline->size() > max_timeline_points;
    Json points = Json::array();
    for (std::size_t i = 0; i < std::min(timeline->size(), max_timeline_points); ++i) {
        points.push_back(point_object((*timeline)[i]));
    }
    j["timeline"] = std::move(points);
    j["timeline_truncated"] = truncated;
    Json list = Json::array();
    for (const auto& a : *alerts) {
        list.push_back(alert_object(a));
    }
    j["alerts"] = std::move(list);
    list = Json::array();
    for (const auto& r : *recordings) {
        list.push_back(recording_object(r, recording_download));
    }
    j["recordings"] = std::move(list);
    list = Json::array();
    for (const auto& c : *commands) {
        list.push_back(command_object(c));
    }
    j["commands"] = std::move(list);
    return net::Response::json(200, j.dump());
}

net::Response recording_audio(const net::Request& request, store::Store& store,
                              const std::filesystem::path& recordings_dir) {
    const std::string_view id = request.path_param("id");
    const std::string_view wanted = request.path_param("recording");
    auto found = find_call(store, id);
    if (!found) {
        return internal_error(found.error(), "reading the call");
    }
    if (!*found) {
        return net::Response::json_error(404, "not_found", fmt::format("no call '{}'", id));
    }
    auto recordings = store.list_recordings((*found)->id);
    if (!recordings) {
        return internal_error(recordings.error(), "reading recordings");
    }
    const auto number = parse_int(wanted);
    const auto it = std::find_if(recordings->begin(), recordings->end(), [&](const auto& r) {
        return number && r.id == *number;
    });
    if (it == recordings->end()) {
        return net::Response::json_error(
                404, "not_found", fmt::format("call '{}' has no recording '{}'", id, wanted));
    }
    const store::RecordingArchive& archive = it->archive;
    if (archive.status != store::ArchiveStatus::Stored) {
        return net::Response::json_error(
                404, "not_archived",
                fmt::format("recording {} has no stored copy (status {}{}{})", it->id,
                            store::to_string(archive.status),
                            archive.last_error.empty() ? "" : ": ", archive.last_error));
    }
    // The path is the worker's own ("<call>/<id>.<ext>"); refuse anything else all the same.
    const std::filesystem::path relative(archive.file);
    const bool safe = !archive.file.empty() && relative.is_relative() &&
                      std::none_of(relative.begin(), relative.end(),
                                   [](const auto& part) { return part == ".."; });
    if (!safe || recordings_dir.empty()) {
        return net::Response::json_error(404, "not_archived",
                                         fmt::format("recording {} has no usable copy", it->id));
    }
    const bool mp3 = relative.extension() == ".mp3";
    net::Response response =
            net::Response::file((recordings_dir / relative).string(), mp3 ? "audio/mpeg"
                                                                           : "audio/wav");
    response.headers.emplace_back(
            "content-disposition",
            fmt::format("inline; filename=\"recording-{}.{}\"", it->id, mp3 ? "mp3" : "wav"));
    response.headers.emplace_back("cache-control", "private, no-store");
    response.headers.emplace_back("x-content-sha256", archive.sha256);
    return response;
}

base::Result<Analysis> analyze_samples(std::string_view call_id, std::span<const float> samples,
                                       std::shared_ptr<const model::DetectorModel> model,
                                       std::shared_ptr<const dsp::FeatureTables> tables,
                                       const pipeline::ScorerOptions& options) {
    pipeline::StreamingScorer scorer(std::move(model), std::move(tables), options);
    Analysis analysis;
    analysis.call_id = std::string(call_id);
    analysis.threshold = scorer.threshold();
    double end_seconds = 0.0;  // where the chunk that completed the window ends
    const auto on_window = [&](const pipeline::WindowScore& w, const pipeline::CallScore&) {
        analysis.windows.push_back(AnalysisWindow{
                .end_seconds = end_seconds,
                .end_speech_seconds = static_cast<double>(w.end_speech_frame) / kFramesPerSecond,
                .probability = w.probability,
                .llr = w.llr,
        });
    };
    std::size_t pos = 0;
    while (pos < samples.size()) {
        const std::size_t n = std::min(kAnalysisChunkSamples, samples.size() - pos);
        pos += n;
        end_seconds = static_cast<double>(pos) / kSampleRateHz;
        if (auto ok = scorer.accept(samples.subspan(pos - n, n), on_window); !ok) {
            return ok.error();
        }
    }
    if (auto finished = scorer.finish(on_window); !finished) {
        return finished.error();
    }
    analysis.audio_seconds = static_cast<double>(samples.size()) / kSampleRateHz;
    analysis.score = scorer.call();
    analysis.flagged = analysis.score.verdict == pipeline::Verdict::Synthetic
                       && analysis.score.probability >= analysis.threshold;
    return analysis;
}

namespace {

Json analysis_body(const Analysis& a) {
    Json windows = Json::array();
    for (const auto& w : a.windows) {
        windows.push_back(Json{{"end_seconds", number(w.end_seconds)},
                               {"end_speech_seconds", number(w.end_speech_seconds)},
                               {"score", number(w.probability)},
                               {"llr", number(w.llr)}});
    }
    return Json{
            {"call_id", a.call_id},
            {"score", number(a.score.probability)},
            {"llr", number(a.score.llr)},
            {"verdict", pipeline::to_string(a.score.verdict)},
            {"flagged", a.flagged},
            {"threshold", number(a.threshold)},
            {"speech_seconds", number(a.score.speech_seconds)},
            {"audio_seconds", number(a.audio_seconds)},
            {"windows_scored", a.score.windows},
            {"analyzed_at", format_time_ms(a.analyzed_at_ms)},
            {"windows", std::move(windows)},
    };
}

}  // namespace

std::string analysis_json(const Analysis& a) {
    return analysis_body(a).dump();
}

std::string analysis_json(const Analysis& a, const std::optional<store::AnalysisRecord>& record,
                          std::string_view risk_status, std::string_view message) {
    Json body = analysis_body(a);
    if (risk_status.empty()) {
        body["risk_analysis"] = nullptr;
    } else {
        body["risk_analysis"] = Json{{"status", risk_status},
                                     {"message", message.empty() ? Json(nullptr) : Json(message)},
                                     {"analysis", record ? analysis_object(*record) : Json(nullptr)}};
    }
    return body.dump();
}

std::string analysis_record_json(const store::AnalysisRecord& record) {
    return analysis_object(record).dump();
}

std::string indicators_list_json(std::string_view stored) {
    return indicators_list(stored).dump();
}

store::CallScoreUpdate analysis_update(const Analysis& a) {
    return store::CallScoreUpdate{
            .call_id = a.call_id,
            .final_score = a.score.probability,
            .final_llr = a.score.llr,
            .verdict = std::string(pipeline::to_string(a.score.verdict)),
            .speech_seconds = a.score.speech_seconds,
            .flagged = a.flagged,
            .updated_at_ms = a.analyzed_at_ms,
    };
}

bool is_e164(std::string_view number) {
    if (number.size() < 9 || number.size() > 16 || number[0] != '+' || number[1] == '0') {
        return false;
    }
    return std::all_of(number.begin() + 1, number.end(),
                       [](char c) { return c >= '0' && c <= '9'; });
}

std::variant<std::string, net::Response> parse_dial_request(const net::Request& request) {
    if (request.body.size() > kMaxDialBodyBytes) {
        return net::Response::json_error(413, "payload_too_large",
                                         fmt::format("the body is {} bytes; at most {}",
                                                     request.body.size(), kMaxDialBodyBytes));
    }
    const Json body = Json::parse(request.body, nullptr, /*allow_exceptions=*/false);
    if (body.is_discarded() || !body.is_object()) {
        return net::Response::json_error(
                400, "invalid_json",
                "the body must be a JSON object like {\"to\": \"+13125550100\"}");
    }
    const auto it = body.find("to");
    if (it == body.end() || it->is_null()) {
        return net::Response::json_error(422, "invalid_field", "to: required");
    }
    if (!it->is_string()) {
        return net::Response::json_error(422, "invalid_field", "to: must be a string");
    }
    std::string to = it->get<std::string>();
    if (!is_e164(to)) {
        return net::Response::json_error(422, "invalid_field",
                                         "to: must be an E.164 number such as +13125550100");
    }
    return to;
}

std::string public_base_url(const net::Request& request) {
    auto host = request.header("x-forwarded-host");
    if (!host) {
        host = request.header("host");
    }
    if (!host) {
        return {};
    }
    std::string_view h = trim(host->substr(0, host->find(',')));
    if (h.empty() || !std::all_of(h.begin(), h.end(), is_host_char)) {
        return {};
    }
    std::string_view scheme = "http";
    if (auto proto = request.header("x-forwarded-proto")) {
        const std::string_view p = trim(proto->substr(0, proto->find(',')));
        if (iequals(p, "https")) {
            scheme = "https";
        }
    }
    return fmt::format("{}://{}", scheme, h);
}

std::string health_json(double uptime_seconds, std::int64_t active_sessions,
                        std::string_view version) {
    return Json{{"status", "ok"},
                {"uptime_seconds", number(uptime_seconds)},
                {"active_sessions", active_sessions},
                {"version", version}}
            .dump();
}

bool writer_queue_nearly_full(std::size_t depth, std::size_t capacity) {
    return capacity > 0 && depth * 10 >= capacity * 9;
}

net::Response readiness_response(const Readiness& r) {
    const bool writer_ok = !r.writer_failing
                           && !writer_queue_nearly_full(r.writer_queue_depth,
                                                        r.writer_queue_capacity);
    Json checks = Json::object();
    checks["database"] = Json{{"ok", r.database_ok},
                              {"latency_ms", number(r.database_ms)},
                              {"error", r.database_ok ? Json(nullptr) : Json(r.database_error)}};
    if (r.writer_present) {
        checks["store_writer"] = Json{{"ok", writer_ok},
                                      {"failing", r.writer_failing},
                                      {"queue_depth", r.writer_queue_depth},
                                      {"queue_capacity", r.writer_queue_capacity}};
    }
    const bool ready = r.database_ok && (!r.writer_present || writer_ok);
    net::Response response = net::Response::json(
            ready ? 200 : 503,
            Json{{"status", ready ? "ready" : "not_ready"}, {"checks", std::move(checks)}}.dump());
    response.headers.emplace_back("Cache-Control", "no-store");
    return response;
}

std::string call_json(const store::Call& call) {
    return call_object(call).dump();
}

}  // namespace dvd::api
