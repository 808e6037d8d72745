#include "api/api_service.hpp"

#include <utility>

#include <fmt/format.h>

#include "api/handlers.hpp"
#include "base/log.hpp"
#include "media/audio_archive.hpp"

namespace dvd::api {
namespace {

ApiOptions normalised(ApiOptions options) {
    if (options.scorer.threshold <= 0.0) {
        options.scorer.threshold = options.detection_threshold;
    }
    return options;
}

net::Response busy(std::string_view what) {
    net::Response response = net::Response::json_error(
            503, "busy", fmt::format("the {} queue is full; retry shortly", what));
    response.headers.emplace_back("Retry-After", "1");
    return response;
}

std::int64_t system_now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::system_clock::now().time_since_epoch())
            .count();
}

}  // namespace

ApiService::ApiService(ApiOptions options, std::unique_ptr<store::Store> reader, ApiDeps deps)
    : options_(normalised(std::move(options))),
      reader_(std::move(reader)),
      deps_(std::move(deps)),
      started_(std::chrono::steady_clock::now()),
      reader_thread_("store-reader", options_.reader_queue),
      analysis_thread_("analysis", options_.analysis_queue) {
    if (!deps_.now_ms) {
        deps_.now_ms = system_now_ms;
    }
}

ApiService::~ApiService() {
    stop();
}

void ApiService::stop() {
    reader_thread_.stop();
    analysis_thread_.stop();
}

bool ApiService::authorized(const net::Request& request, Reply& reply) const {
    if (auto refusal = check_bearer(request, options_.api_token)) {
        reply(std::move(*refusal));
        return false;
    }
    return true;
}

bool ApiService::post_reader(std::function<void()> task, Reply& reply) {
    if (reader_thread_.post(std::move(task))) {
        return true;
    }
    reply(busy("database read"));
    return false;
}

void ApiService::list_calls(net::Request request, Reply reply) {
    if (!authorized(request, reply)) {
        return;
    }
    post_reader([this, request = std::move(request),
                 reply]() { reply(api::list_calls(request, *reader_)); },
                reply);
}

void ApiService::get_call(net::Request request, Reply reply) {
    if (!authorized(request, reply)) {
        return;
    }
    post_reader(
            [this, request = std::move(request), reply]() {
                reply(api::get_call(request, *reader_, options_.max_timeline_points,
                                    options_.recording_download));
            },
            reply);
}

void ApiService::recording_audio(net::Request request, Reply reply) {
    if (!authorized(request, reply)) {
        return;
    }
    post_reader(
            [this, request = std::move(request), reply]() {
                reply(api::recording_audio(request, *reader_, options_.recordings_dir));
            },
            reply);
}

void ApiService::analyze_call(net::Request request, Reply reply) {
    if (!authorized(request, reply)) {
        return;
    }
    std::string id(request.path_param("id"));
    bool wait = true;
    if (auto param = request.query_param("wait")) {
        if (*param == "false" || *param == "0") {
            wait = false;
        } else if (*param != "true" && *param != "1") {
            reply(net::Response::json_error(400, "invalid_parameter",
                                            "wait: must be true or false"));
            return;
        }
    }
    std::string base = public_base_url(request);
    post_reader(
            [this, id = std::move(id), reply, wait, base = std::move(base)]() mutable {
                auto found = find_call(*reader_, id);
                if (!found) {
                    reply(internal_error(found.error(), "reading the call"));
                    return;
                }
                if (!*found) {
                    reply(net::Response::json_error(404, "not_found",
                                                    fmt::format("no call '{}'", id)));
                    return;
                }
                std::string call_id = (*found)->id;
                const bool posted = analysis_thread_.post([this, call_id, reply, wait, base]() {
                    deps_.archive.flush(std::chrono::steady_clock::now()
                                        + options_.archive_flush_wait);
                    auto audio = deps_.archive.read(call_id);
                    if (!audio
                        && audio.error().code != base::make_error_code(base::Errc::NotFound)) {
                        reply(internal_error(audio.error(), "reading the archived audio"));
                        return;
                    }
                    if (!audio || audio->empty()) {
                        reply(net::Response::json_error(
                                422, "no_audio",
                                fmt::format("no audio has been collected for call '{}' yet",
                                            call_id)));
                        return;
                    }
                    auto analysis = analyze_samples(call_id, *audio, deps_.model, deps_.tables,
                                                    options_.scorer);
                    if (!analysis) {
                        reply(internal_error(analysis.error(), "scoring the audio"));
                        return;
                    }
                    analysis->analyzed_at_ms = deps_.now_ms();
                    if (deps_.writer != nullptr
                        && !deps_.writer->try_push(analysis_update(*analysis))) {
                        DVD_LOG(Api, Warn,
                                "analysis result not stored: writer queue full "
                                "call_id={}",
                                call_id);
                    }
                    DVD_LOG(Api, Info,
                            "re-scored call_id={} audio_seconds={:.1f} windows={} score={:.3f} "
                            "verdict={}",
                            call_id, analysis->audio_seconds, analysis->score.windows,
                            analysis->score.probability,
                            pipeline::to_string(analysis->score.verdict));
                    if (!deps_.risk) {
                        reply(net::Response::json(
                                200, analysis_json(*analysis, std::nullopt, "", "")));
                        return;
                    }
                    RiskRequest risk{.call_id = call_id,
                                     .probability = analysis->score.probability,
                                     .llr = analysis->score.llr,
                                     .verdict = std::string(
                                             pipeline::to_string(analysis->score.verdict)),
                                     .speech_seconds = analysis->score.speech_seconds,
                                     .public_base_url = base};
                    for (const auto& window : analysis->windows) {
                        risk.window_probabilities.push_back(window.probability);
                    }
                    if (!wait) {
                        // 202: the risk analysis goes on; GET /calls/{id} shows it when done.
                        deps_.risk(std::move(risk), [](RiskResult) {});
                        reply(net::Response::json(
                                202, analysis_json(*analysis, std::nullopt, "pending", "")));
                        return;
                    }
                    auto rescored = std::make_shared<Analysis>(std::move(*analysis));
                    deps_.risk(std::move(risk), [reply, rescored](RiskResult result) {
                        reply(net::Response::json(
                                200, analysis_json(*rescored, result.record, result.status,
                                                   result.message)));
                    });
                });
                if (!posted) {
                    reply(busy("analysis"));
                }
            },
            reply);
}

void ApiService::create_call(net::Request request, Reply reply) {
    if (!authorized(request, reply)) {
        return;
    }
    auto parsed = parse_dial_request(request);
    if (auto* error = std::get_if<net::Response>(&parsed)) {
        reply(std::move(*error));
        return;
    }
    if (!deps_.dial) {
        reply(net::Response::json_error(
                503, "dial_unavailable",
                "outbound calls are not configured (MAIN_NUMBER and CONNECTION_ID are needed)"));
        return;
    }
    std::string to = std::move(std::get<std::string>(parsed));
    DVD_LOG(Api, Info, "dial requested to={}", to);
    deps_.dial(std::move(to), public_base_url(request), std::move(reply));
}

void ApiService::health(const net::Request& request, Reply reply) {
    static_cast<void>(request);
    const double uptime =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
    const std::int64_t active = deps_.active_sessions ? deps_.active_sessions()
                                                      : deps_.metrics.media_streams_active.value();
    reply(net::Response::json(200, health_json(uptime, active, options_.version)));
}

void ApiService::ready(const net::Request& request, Reply reply) {
    static_cast<void>(request);
    post_reader(
            [this, reply] {
                Readiness readiness;
                const auto start = std::chrono::steady_clock::now();
                auto pinged = reader_->ping();
                readiness.database_ms = std::chrono::duration<double, std::milli>(
                                                std::chrono::steady_clock::now() - start)
                                                .count();
                readiness.database_ok = pinged.has_value();
                if (!pinged) {
                    readiness.database_error = pinged.error().code.message();
                    if (!database_down_) {
                        DVD_LOG(Api, Warn, "readiness: the database does not answer: {}",
                                pinged.error().message);
                    }
                } else if (database_down_) {
                    DVD_LOG(Api, Info, "readiness: the database answers again");
                }
                database_down_ = !pinged;
                if (deps_.writer != nullptr) {
                    const store::StoreWriterStats stats = deps_.writer->stats();
                    readiness.writer_present = true;
                    readiness.writer_failing = stats.failing;
                    readiness.writer_queue_depth = stats.queue_depth;
                    readiness.writer_queue_capacity = stats.queue_capacity;
                }
                reply(readiness_response(readiness));
            },
            reply);
}

void ApiService::metrics(const net::Request& request, Reply reply) {
    if (!authorized(request, reply)) {
        return;
    }
    std::vector<service::ExtraSample> extra;
    if (deps_.extra_metrics) {
        extra = deps_.extra_metrics();
    }
    reply(net::Response::text(200, service::render_prometheus(deps_.metrics, extra),
                              "text/plain; version=0.0.4; charset=utf-8"));
}

}  // namespace dvd::api
