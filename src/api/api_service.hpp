#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dsp/feature_extractor.hpp"
#include "model/detector_model.hpp"
#include "net/http_types.hpp"
#include "net/server.hpp"
#include "pipeline/streaming_scorer.hpp"
#include "service/metrics.hpp"
#include "service/task_thread.hpp"
#include "store/store.hpp"
#include "store/store_writer.hpp"

namespace dvd::media {
class AudioArchive;
}

namespace dvd::api {

/// Completes one API request (from any thread), exactly once.
using Reply = std::function<void(net::Response)>;

/// Hands `POST /calls` over to the calls layer: dial `to` (+E.164); `public_base_url` is
/// "http(s)://host[:port]" as the client reached us (for a derived stream URL; empty when the
/// request had no Host header). `done` must be called exactly once, from any thread, with the
/// response (201 `{"call_id","status":"initiated","from","to"}` or a JSON error).
using DialHandler = std::function<void(std::string to, std::string public_base_url, Reply done)>;

/// What `POST /calls/{id}/analyze` hands to the risk side after re-scoring: the fresh detector
/// numbers of the whole archived audio.
struct RiskRequest {
    std::string call_id{};  ///< ours
    double probability = 0.0;
    double llr = 0.0;
    std::string verdict{};
    double speech_seconds = 0.0;
    std::vector<double> window_probabilities{};
    std::string public_base_url{};  ///< as the client reached us (dashboard links)
};

/// The risk side's answer.
struct RiskResult {
    /// "done" (record: the new decision), "rate_limited" (record: the latest stored one, if
    /// any), "not_found", "unavailable".
    std::string status{};
    std::optional<store::AnalysisRecord> record{};
    std::string message{};
};

/// Runs the AI risk analysis + fusion for a re-scored call (the server wires it to
/// risk::RiskCoordinator::analyze). `done` is called exactly once, from any thread.
using RiskHandler = std::function<void(RiskRequest request, std::function<void(RiskResult)> done)>;

struct ApiOptions {
    std::string api_token{};            ///< API_TOKEN; empty: the API is open
    std::string version{};              ///< reported by /health
    double detection_threshold = 0.75;  ///< DETECTION_THRESHOLD (analysis verdict/flag)
    pipeline::ScorerOptions scorer{};   ///< for re-scoring; threshold taken from above when 0
    std::size_t reader_queue = 256;     ///< store-reader tasks waiting; beyond: 503
    std::size_t analysis_queue = 4;     ///< analyses waiting; beyond: 503
    std::size_t max_timeline_points = 10'000;  ///< per GET /calls/{id}
    /// How long an analysis waits for the audio writer to catch up before it reads the file.
    std::chrono::milliseconds archive_flush_wait{500};
    /// Where the recordings worker keeps its copies (RECORDINGS_DIR resolved); served by
    /// GET /calls/{id}/recordings/{recording}/audio.
    std::filesystem::path recordings_dir{};
    /// RECORDING_DOWNLOAD: false shows a pending copy as `off` (no worker will fetch it).
    bool recording_download = true;
};

/// What the API reads besides its own store connection. References must outlive the service.
struct ApiDeps {
    std::shared_ptr<const model::DetectorModel> model;
    std::shared_ptr<const dsp::FeatureTables> tables;
    media::AudioArchive& archive;
    service::Metrics& metrics;
    /// Samples owned by other layers for /metrics (uptime, server, store writer); may be empty.
    std::function<std::vector<service::ExtraSample>()> extra_metrics{};
    /// Live media sessions for /health; may be empty (then metrics.media_streams_active).
    std::function<std::int64_t()> active_sessions{};
    /// `POST /calls`; empty: 503 dial_unavailable (demo without CONNECTION_ID, ...).
    DialHandler dial{};
    /// The risk analysis of `POST /calls/{id}/analyze`; empty: the result has
    /// `"risk_analysis": null`.
    RiskHandler risk{};
    /// Where an analysis result is stored (CallScoreUpdate); nullptr: not stored.
    store::StoreWriter* writer = nullptr;
    /// Wall clock, ms since the Unix epoch; empty: std::chrono::system_clock.
    std::function<std::int64_t()> now_ms{};
};

/// The JSON API (docs/api.md): owns the `store-reader` thread with its own Store connection and
/// the `analysis` thread. Every handler is called on a network worker and never blocks: database
/// reads run on `store-reader`, re-scoring on `analysis`, and the reply is sent from there.
///
/// Threads: the request methods from any thread; `stop` and the destructor from the owner.
class ApiService {
public:
    ApiService(ApiOptions options, std::unique_ptr<store::Store> reader, ApiDeps deps);
    ~ApiService();  ///< stop()
    ApiService(const ApiService&) = delete;
    ApiService& operator=(const ApiService&) = delete;

    /// Finishes the queued work and joins both threads. Idempotent; later requests get 503.
    void stop();

    void list_calls(net::Request request, Reply reply);      ///< GET /calls
    void get_call(net::Request request, Reply reply);        ///< GET /calls/{id}
    /// GET /calls/{id}/recordings/{recording}/audio: the service's copy of a recording.
    void recording_audio(net::Request request, Reply reply);
    void analyze_call(net::Request request, Reply reply);    ///< POST /calls/{id}/analyze
    void create_call(net::Request request, Reply reply);     ///< POST /calls
    void health(const net::Request& request, Reply reply);   ///< GET /health (no token)
    /// GET /ready (no token): pings the database on the store-reader thread and reads the store
    /// writer's state; 200 ready or 503 not_ready (docs/api.md).
    void ready(const net::Request& request, Reply reply);
    void metrics(const net::Request& request, Reply reply);  ///< GET /metrics

    const ApiOptions& options() const { return options_; }

private:
    bool authorized(const net::Request& request, Reply& reply) const;
    bool post_reader(std::function<void()> task, Reply& reply);

    const ApiOptions options_;
    std::unique_ptr<store::Store> reader_;  ///< used on reader_thread_ only
    bool database_down_ = false;  ///< the last ping failed (reader_thread_ only; logs changes)
    ApiDeps deps_;
    const std::chrono::steady_clock::time_point started_;
    service::TaskThread reader_thread_;
    service::TaskThread analysis_thread_;
};

/// Registers GET /calls, POST /calls, GET /calls/{id}, GET /calls/{id}/recordings/{recording}/audio,
/// POST /calls/{id}/analyze, GET /health, GET /ready and GET /metrics. `service` must outlive the server.
void add_api_routes(net::Router& router, ApiService& service);

}  // namespace dvd::api
