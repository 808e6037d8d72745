#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/result.hpp"
#include "dsp/feature_extractor.hpp"
#include "model/detector_model.hpp"
#include "net/http_types.hpp"
#include "pipeline/streaming_scorer.hpp"
#include "store/store.hpp"
#include "store/types.hpp"

namespace dvd::api {

/// The API's request handlers as plain functions (docs/api.md). Each takes the parsed request and
/// what it reads, and returns the whole response; `ApiService` runs them on its threads. They
/// never throw: store failures become 500 `internal_error`.

/// nullopt when `request` may go on: no token is configured, or `Authorization: Bearer <token>`
/// matches (constant-time). Otherwise 401 `unauthorized` with `WWW-Authenticate: Bearer`.
[[nodiscard]] std::optional<net::Response> check_bearer(const net::Request& request,
                                                        std::string_view api_token);

/// `GET /calls?limit&offset&status&flagged&since&sort=time|score&order=asc|desc`
/// -> `{"calls":[...],"total":N,"limit":L,"offset":O}`; 400 `invalid_parameter` for a bad value.
[[nodiscard]] net::Response list_calls(const net::Request& request, store::Store& store);

/// The `CallQuery` a /calls request asks for; InvalidArgument naming the parameter.
[[nodiscard]] base::Result<store::CallQuery> parse_call_query(const net::Request& request);

/// Our call id or Telnyx's call_control_id; nullopt when neither exists.
[[nodiscard]] base::Result<std::optional<store::Call>> find_call(store::Store& store,
                                                                 std::string_view id);

/// `GET /calls/{id}` -> the call with `timeline`, `alerts`, `recordings`, `commands`; 404.
/// `recording_download` false: a pending recording copy shows as `off`.
[[nodiscard]] net::Response get_call(const net::Request& request, store::Store& store,
                                     std::size_t max_timeline_points,
                                     bool recording_download = true);

/// `GET /calls/{id}/recordings/{recording}/audio` -> the stored copy (audio/wav or audio/mpeg,
/// streamed from `recordings_dir`); 404 `not_found` for an unknown call or recording, 404
/// `not_archived` (with the copy's status and last error) while there is no stored copy.
[[nodiscard]] net::Response recording_audio(const net::Request& request, store::Store& store,
                                            const std::filesystem::path& recordings_dir);

/// One window of a re-scoring.
struct AnalysisWindow {
    double end_seconds = 0.0;         ///< position in the audio when the window was scored
    double end_speech_seconds = 0.0;  ///< speech seen at that point
    double probability = 0.0;
    double llr = 0.0;
};

/// The full result of `POST /calls/{id}/analyze`.
struct Analysis {
    std::string call_id{};
    double audio_seconds = 0.0;
    pipeline::CallScore score{};
    double threshold = 0.0;
    bool flagged = false;  ///< synthetic verdict at or above the threshold
    std::vector<AnalysisWindow> windows{};
    std::int64_t analyzed_at_ms = 0;
};

/// Scores `samples` (8 kHz) with a fresh StreamingScorer. Fails only when the model fails.
[[nodiscard]] base::Result<Analysis> analyze_samples(
        std::string_view call_id, std::span<const float> samples,
        std::shared_ptr<const model::DetectorModel> model,
        std::shared_ptr<const dsp::FeatureTables> tables, const pipeline::ScorerOptions& options);

/// The JSON body of an analysis (docs/api.md).
[[nodiscard]] std::string analysis_json(const Analysis& analysis);

/// The same with `risk_analysis`: `{"status", "message", "analysis": <decision or null>}` for a
/// risk result, `{"status":"pending"}` when `pending`, null without either.
[[nodiscard]] std::string analysis_json(const Analysis& analysis,
                                        const std::optional<store::AnalysisRecord>& record,
                                        std::string_view risk_status, std::string_view message);

/// One stored risk decision as the API shows it (docs/api.md, `analysis`).
[[nodiscard]] std::string analysis_record_json(const store::AnalysisRecord& record);

/// The call-level indicators of a call row (`Call::indicators_json`) as the API lists them:
/// `[{"name","value","unit","description"}]` in to_list order; `value` is a number, null, or a
/// string (the codec). Unparsable stored text gives an empty list.
[[nodiscard]] std::string indicators_list_json(std::string_view stored);

/// The store update an analysis makes (flagged is sticky in the store).
[[nodiscard]] store::CallScoreUpdate analysis_update(const Analysis& analysis);

/// `POST /calls` body `{"to": "+E164"}`: the number, or the error response (400 `invalid_json`
/// for a body that is not a JSON object, 422 `invalid_field` for a missing or malformed `to`).
[[nodiscard]] std::variant<std::string, net::Response> parse_dial_request(
        const net::Request& request);

/// "http(s)://host[:port]" from `X-Forwarded-Proto` (else http) and `Host`; empty without Host.
[[nodiscard]] std::string public_base_url(const net::Request& request);

/// True for "+" followed by 8..15 digits, the first not 0 (E.164).
[[nodiscard]] bool is_e164(std::string_view number);

/// `GET /health` body.
[[nodiscard]] std::string health_json(double uptime_seconds, std::int64_t active_sessions,
                                      std::string_view version);

/// What `GET /ready` found (ApiService::ready).
struct Readiness {
    bool database_ok = false;
    double database_ms = 0.0;     ///< how long the ping took
    std::string database_error{};  ///< the error's category ("I/O error", ...), never its text
    bool writer_present = false;  ///< false: no store writer wired (the check is left out)
    bool writer_failing = false;
    std::size_t writer_queue_depth = 0;
    std::size_t writer_queue_capacity = 0;
};

/// True when a queue of `depth` out of `capacity` is full enough (90 %) that new writes are
/// about to be dropped.
[[nodiscard]] bool writer_queue_nearly_full(std::size_t depth, std::size_t capacity);

/// `GET /ready`: 200 `{"status":"ready","checks":{...}}` when the database answers and the store
/// writer keeps up, else 503 `{"status":"not_ready",...}`. Both carry `Cache-Control: no-store`.
[[nodiscard]] net::Response readiness_response(const Readiness& readiness);

/// A call as the API shows it (no secrets: the stream token is never included).
[[nodiscard]] std::string call_json(const store::Call& call);

/// "2026-11-26T14:35:13.123Z" for a Unix time in milliseconds.
[[nodiscard]] std::string format_time_ms(std::int64_t unix_ms);

/// Parses an ISO-8601 UTC time ("2026-11-26T14:35:13Z", optional fraction, `Z` or +-HH:MM) or
/// a decimal Unix time in milliseconds; nullopt when it is neither.
[[nodiscard]] std::optional<std::int64_t> parse_time_ms(std::string_view text);

/// The JSON error for a store failure (logs the detail, answers a generic 500).
[[nodiscard]] net::Response internal_error(const base::Error& error, std::string_view operation);

}  // namespace dvd::api
