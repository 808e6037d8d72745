#include "server/service.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <random>
#include <thread>
#include <utility>

#include <fmt/format.h>

#include "alerts/alert_outbox.hpp"
#include "api/api_service.hpp"
#include "base/cpu_budget.hpp"
#include "base/log.hpp"
#include "calls/call_controller.hpp"
#include "calls/webhook_endpoint.hpp"
#include "dsp/feature_extractor.hpp"
#include "http/http_client.hpp"
#include "http/retry.hpp"
#include "inference/risk_analysis_client.hpp"
#include "media/audio_archive.hpp"
#include "media/media_routes.hpp"
#include "media/media_stream.hpp"
#include "model/detector_model.hpp"
#include "net/server.hpp"
#include "pipeline/scoring_pool.hpp"
#include "recordings/archiver.hpp"
#include "risk/risk_coordinator.hpp"
#include "service/call_directory.hpp"
#include "service/metrics.hpp"
#include "sim/call_audio.hpp"
#include "sim/simulator.hpp"
#include "store/instance_lock.hpp"
#include "store/open_store.hpp"
#include "store/sqlite_store.hpp"
#include "store/store_writer.hpp"
#include "web/live_hub.hpp"
#include "web/web_routes.hpp"

#ifndef DVD_VERSION
#define DVD_VERSION "0.0.0"
#endif

namespace dvd::server {
namespace {

std::int64_t wall_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::system_clock::now().time_since_epoch())
            .count();
}

// The demo's API key: the simulator accepts only this one.
constexpr std::string_view kDemoApiKey = "KEYDEMO0000000000000000000000000";

// A free TCP port on 127.0.0.1, for demo mode with port 0: the simulator must know the
// service's webhook URL before the service binds. (A small race with other processes.)
base::Result<std::uint16_t> probe_free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        return base::fail(base::Errc::Io, "cannot create a socket to find a free port");
    }
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = 0;
    socklen_t length = sizeof(address);
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): the POSIX socket API
    auto* generic = reinterpret_cast<sockaddr*>(&address);
    const bool ok = ::bind(fd, generic, sizeof(address)) == 0 &&
                    ::getsockname(fd, generic, &length) == 0;
    ::close(fd);
    if (!ok) {
        return base::fail(base::Errc::Io, "cannot find a free port on 127.0.0.1");
    }
    return ntohs(address.sin_port);
}

// Maps the calls layer's dial result to the API's answer (docs/api.md, POST /calls).
net::Response dial_response(const base::Result<calls::DialResult>& result) {
    if (!result) {
        const base::Error& error = result.error();
        if (error.code == base::make_error_code(base::Errc::InvalidArgument)) {
            return net::Response::json_error(422, "invalid_request", error.message);
        }
        if (error.code == base::make_error_code(base::Errc::Unsupported)) {
            return net::Response::json_error(503, "unavailable", error.message);
        }
        return net::Response::json_error(502, "telnyx_error", error.message);
    }
    const calls::DialResult& call = *result;
    return net::Response::json(
            201, fmt::format(R"({{"call_id":"{}","call_control_id":"{}","status":"{}",)"
                             R"("from":"{}","to":"{}"}})",
                             call.call_id, call.call_control_id, call.status, call.from, call.to));
}

}  // namespace

std::string_view version() noexcept { return DVD_VERSION; }

class Service::Impl {
public:
    Impl(config::Config config, ServeOptions options)
        : config_(std::move(config)), options_(std::move(options)) {}
    ~Impl() { stop(std::chrono::milliseconds(2000)); }
    Impl(const Impl&) = delete;
    Impl& operator=(const Impl&) = delete;

    base::Result<void> create();
    base::Result<void> start();
    void stop(std::chrono::milliseconds grace);
    [[nodiscard]] ServiceEndpoints endpoints() const;
    [[nodiscard]] bool demo_calls_done() const { return demo_done_.load(); }
    [[nodiscard]] bool instance_lock_lost() const { return lock_lost_.load(); }

private:
    /// The `instance-lock` thread (PostgreSQL): checks the lock every
    /// instance_lock_check_interval until stop; on loss, logs and calls on_instance_lock_lost.
    void watch_instance_lock();
    std::vector<service::ExtraSample> extra_metrics() const;
    void run_demo_calls(std::vector<std::shared_ptr<const sim::CallAudio>> audio);
    /// Risk analysis, alerts and escalation (issue 4): the outbox and the coordinator, each
    /// with its own store connection; in demo mode unset ALERT_WEBHOOK / AI_INFERENCE_URL point
    /// at the simulator's fake Slack and AI Inference.
    base::Result<void> create_risk();

    config::Config config_;
    ServeOptions options_;
    bool demo_ = false;
    std::uint16_t port_ = 0;
    std::chrono::steady_clock::time_point started_at_{};

    // Owned in dependency order: later members use earlier ones, and are destroyed first.
    std::unique_ptr<store::InstanceLock> instance_lock_;  ///< released after everything stopped
    std::thread lock_watch_;
    std::mutex lock_watch_mutex_;
    std::condition_variable lock_watch_wake_;
    bool lock_watch_stop_ = false;  ///< guarded by lock_watch_mutex_
    std::atomic<bool> lock_lost_{false};
    std::shared_ptr<const model::DetectorModel> model_;
    std::shared_ptr<const dsp::FeatureTables> tables_;
    service::Metrics metrics_;
    service::CallDirectory directory_;
    http::SystemSleeper sleeper_;
    std::unique_ptr<store::Store> calls_store_;
    std::unique_ptr<store::Store> reader_store_;
    std::unique_ptr<store::StoreWriter> writer_;
    std::unique_ptr<media::AudioArchive> archive_;
    std::filesystem::path recordings_dir_;  ///< RECORDINGS_DIR, resolved
    /// Downloads each recording before Telnyx's URLs expire; null with RECORDING_DOWNLOAD=false.
    std::unique_ptr<recordings::RecordingArchiver> recordings_;
    std::vector<std::shared_ptr<const sim::CallAudio>> demo_audio_;
    std::unique_ptr<sim::Simulator> simulator_;
    std::unique_ptr<calls::CallController> controller_;
    std::unique_ptr<risk::RiskCoordinator> risk_;  ///< alerts, AI analysis, escalation requests
    std::string default_ai_inference_url_;  ///< AI_INFERENCE_URL when it was left unset
    std::unique_ptr<web::LiveHub> live_hub_;  ///< dashboard feed: media sink tee -> controller_
    /// Model windows of every media stream, off the network workers (after the streams stop).
    std::unique_ptr<pipeline::ScoringPool> scoring_;
    std::unique_ptr<media::MediaDeps> media_deps_;
    std::unique_ptr<media::MediaRelay> relay_;
    std::unique_ptr<api::ApiService> api_;
    std::unique_ptr<net::Server> server_;
    std::thread demo_thread_;
    std::atomic<bool> demo_done_{true};
    std::atomic<bool> stopping_{false};
    bool running_ = false;
};

base::Result<void> Service::Impl::create() {
    demo_ = config_.is_demo_mode();
    default_ai_inference_url_ = config_.telnyx_api_base + std::string(config::kInferencePath);
    if (!demo_ && config_.telnyx_public_key.empty() && !options_.insecure_skip_verify) {
        return base::fail(base::Errc::InvalidArgument,
                          "TELNYX_PUBLIC_KEY: required to verify Telnyx webhook signatures when "
                          "TELNYX_API_KEY is set (or start with --insecure-skip-verify, never in "
                          "production)");
    }
    // Local files (call audio, recording copies) go beside a SQLite database, or under ./var
    // when the database is a PostgreSQL server.
    std::filesystem::path data_dir = "var";
    if (!store::is_postgres_url(config_.database_url)) {
        auto database = store::sqlite_path_from_url(config_.database_url);
        if (!database) {
            return base::fail(base::Errc::InvalidArgument,
                              "DATABASE_URL: " + database.error().message);
        }
        if (*database == ":memory:") {
            return base::fail(base::Errc::InvalidArgument,
                              "DATABASE_URL: ':memory:' cannot be shared by the service's "
                              "database connections; give a file, e.g. sqlite://./var/dvd.db");
        }
        data_dir = std::filesystem::path(*database).parent_path();
    }
    if (options_.audio_dir.empty()) {
        options_.audio_dir = data_dir / "audio";
    }

    const std::string model_path = options_.model_path.empty() ? model::default_model_path()
                                                               : options_.model_path.string();
    auto model = model::DetectorModel::load(model_path);
    if (!model) {
        return base::fail(base::Errc::InvalidArgument, "model: " + model.error().message);
    }
    model_ = *model;
    auto tables = dsp::FeatureTables::create(model_->metadata().feature);
    if (!tables) {
        return base::fail(base::Errc::InvalidArgument,
                          "model features: " + tables.error().message);
    }
    tables_ = *tables;

    // Before any connection: a second instance on this database must not start anything.
    auto instance_lock = store::acquire_instance_lock(
            config_.database_url, store::InstanceLockOptions{.wait = options_.instance_lock_wait});
    if (!instance_lock) {
        return base::fail(base::Errc::InvalidArgument,
                          "DATABASE_URL: " + instance_lock.error().message);
    }
    instance_lock_ = std::move(*instance_lock);
    DVD_LOG(Server, Info, "this instance holds the database ({})", instance_lock_->describe());

    // One connection per owning thread; the first one creates and migrates the database.
    auto calls_store = store::open_store(config_.database_url);
    if (!calls_store) {
        return base::fail(base::Errc::InvalidArgument,
                          "DATABASE_URL: " + calls_store.error().message);
    }
    calls_store_ = std::move(*calls_store);
    auto writer_store = store::open_store(config_.database_url);
    if (!writer_store) {
        return base::fail(base::Errc::InvalidArgument,
                          "DATABASE_URL: " + writer_store.error().message);
    }
    auto reader_store =
            store::open_store(config_.database_url, store::StoreOptions{.read_only = true});
    if (!reader_store) {
        return base::fail(base::Errc::InvalidArgument,
                          "DATABASE_URL: " + reader_store.error().message);
    }
    reader_store_ = std::move(*reader_store);
    writer_ = std::make_unique<store::StoreWriter>(std::move(*writer_store),
                                                   store::StoreWriterOptions{});
    archive_ = std::make_unique<media::AudioArchive>(options_.audio_dir);
    recordings_dir_ = config_.recordings_dir.empty()
                              ? data_dir / "recordings"
                              : std::filesystem::path(config_.recordings_dir);
    if (config_.recording_download) {
        recordings::ArchiverOptions recording_options =
                recordings::archiver_options(config_, recordings_dir_);
        if (auto valid = recordings::validate(recording_options); !valid) {
            return valid.error();
        }
        auto recordings_store = store::open_store(config_.database_url);
        if (!recordings_store) {
            return base::fail(base::Errc::InvalidArgument,
                              "DATABASE_URL: " + recordings_store.error().message);
        }
        std::random_device device;
        recordings_ = std::make_unique<recordings::RecordingArchiver>(
                std::move(recording_options),
                recordings::ArchiverDeps{.store = std::move(*recordings_store),
                                         .seed = (std::uint64_t{device()} << 32U) | device()});
    }

    if (demo_) {
        for (const auto& path : options_.demo_wavs) {
            auto audio = sim::load_call_audio(path.string());
            if (!audio) {
                return base::fail(base::Errc::InvalidArgument,
                                  "demo call audio: " + audio.error().message);
            }
            demo_audio_.push_back(*audio);
        }
    }
    return {};
}

base::Result<void> Service::Impl::start() {
    started_at_ = std::chrono::steady_clock::now();
    if (store::is_postgres_url(config_.database_url)) {
        // A file lock lasts as long as the process; a PostgreSQL session can be cut under it.
        lock_watch_ = std::thread([this] { watch_instance_lock(); });
    }
    port_ = options_.port.value_or(config_.port);
    if (demo_ && port_ == 0) {
        auto free_port = probe_free_port();
        if (!free_port) {
            return free_port.error();
        }
        port_ = *free_port;
    }

    if (auto started = archive_->start(); !started) {
        return started.error();
    }
    writer_->start();

    auto controller_options = calls::options_from_config(config_);
    if (demo_) {
        sim::SimulatorOptions sim_options;
        sim_options.webhook_url = fmt::format("http://127.0.0.1:{}/webhooks/voice", port_);
        sim_options.api_port = options_.demo_api_port;
        sim_options.speed = options_.demo_speed;
        sim_options.api_key = std::string(kDemoApiKey);
        sim_options.max_recordings = sim::recordings_to_keep(options_.demo_concurrency);
        if (!demo_audio_.empty()) {
            sim_options.outbound_audio = demo_audio_.back();  // what a dialled party says
        }
        simulator_ = std::make_unique<sim::Simulator>(std::move(sim_options));
        if (auto started = simulator_->start(); !started) {
            return base::fail(base::Errc::Runtime,
                              "demo simulator: " + started.error().message);
        }
        controller_options.api_base = simulator_->api_base();
        controller_options.api_key = std::string(kDemoApiKey);
        // Outbound verification calls (POST /calls) work in the demo too: the simulator answers
        // them and plays a dialled party.
        if (controller_options.main_number.empty()) {
            controller_options.main_number = "+13125550199";
        }
        if (controller_options.connection_id.empty()) {
            controller_options.connection_id = "1494404757140276705";
        }
        config_.telnyx_public_key = simulator_->public_key_base64();
        config_.telnyx_api_base = simulator_->api_base();
        DVD_LOG(Server, Info,
                "demo mode: no TELNYX_API_KEY, the built-in Telnyx simulator plays Telnyx at {}",
                simulator_->api_base());
    }
    if (auto created = create_risk(); !created) {
        return created.error();
    }
    if (recordings_) {
        recordings_->start();  // before the controller: recovery may store recordings
        controller_options.on_recording_saved = [this] { recordings_->notify(); };
    }
    controller_options.on_flagged = [this](const calls::FlaggedCall& call) {
        DVD_LOG(Calls, Warn,
                "synthetic voice suspected call_id={} from={} to={} score={:.3f} at={:.1f}s",
                call.call_id, call.from, call.to, call.score.probability,
                static_cast<double>(call.at_ms) / 1000.0);
        risk_->on_flagged(risk::FlaggedEvent{.call_id = call.call_id,
                                             .call_control_id = call.call_control_id,
                                             .score = call.score,
                                             .at_ms = call.at_ms,
                                             .public_base_url = call.public_base_url});
    };
    controller_options.on_call_ended = [this](const calls::EndedCall& call) {
        risk_->on_call_ended(risk::EndedEvent{.call_id = call.call_id,
                                              .flagged = call.flagged,
                                              .final_score = call.final_score,
                                              .final_llr = call.final_llr,
                                              .verdict = call.verdict,
                                              .speech_seconds = call.speech_seconds,
                                              .public_base_url = call.public_base_url});
    };
    controller_ = std::make_unique<calls::CallController>(
            std::move(controller_options),
            calls::CallControllerDeps{
                    .store = std::move(calls_store_),
                    .directory = directory_,
                    .metrics = metrics_,
                    .make_sender = [] { return std::make_unique<http::HttpClient>(); },
                    .sleeper = sleeper_,
                    .now_ms = wall_ms,
                    .seed = 0,
            });

    // Dashboard (issue 5): media sessions report to a LiveHub, which forwards every event to
    // the controller first and fans it out to the dashboards' event streams (GET /events).
    web::LiveHubOptions hub_options;
    hub_options.detection_threshold = config_.detection_threshold;
    hub_options.now_ms = wall_ms;
    live_hub_ = std::make_unique<web::LiveHub>(*controller_, std::move(hub_options));

    pipeline::ScorerOptions scorer;
    scorer.threshold = config_.detection_threshold;
    if (options_.scoring_threads >= 0) {
        scoring_ = std::make_unique<pipeline::ScoringPool>(
                model_, pipeline::ScoringPoolOptions{.threads = options_.scoring_threads,
                                                     .spare_windows = options_.scoring_spares});
    }
    media_deps_ = std::make_unique<media::MediaDeps>(media::MediaDeps{
            .model = model_,
            .tables = tables_,
            .scoring = scoring_.get(),
            .scorer = scorer,
            .directory = directory_,
            .sink = *live_hub_,
            .writer = *writer_,
            .archive = *archive_,
            .metrics = metrics_,
            .now_ms = wall_ms,
    });
    relay_ = std::make_unique<media::MediaRelay>(*media_deps_);

    api::ApiOptions api_options;
    api_options.api_token = config_.api_token;
    api_options.version = std::string(version());
    api_options.detection_threshold = config_.detection_threshold;
    api_options.scorer = scorer;
    api_options.recordings_dir = recordings_dir_;
    api_options.recording_download = recordings_ != nullptr;
    api::ApiDeps api_deps{
            .model = model_,
            .tables = tables_,
            .archive = *archive_,
            .metrics = metrics_,
            .extra_metrics = [this] { return extra_metrics(); },
            .active_sessions = [this] { return metrics_.media_streams_active.value(); },
            .dial = {},
            .writer = writer_.get(),
            .now_ms = wall_ms,
    };
    api_deps.risk = [this](api::RiskRequest request, std::function<void(api::RiskResult)> done) {
        risk_->analyze(
                risk::AnalysisRequest{.call_id = std::move(request.call_id),
                                      .probability = request.probability,
                                      .llr = request.llr,
                                      .verdict = std::move(request.verdict),
                                      .speech_seconds = request.speech_seconds,
                                      .window_probabilities =
                                              std::move(request.window_probabilities),
                                      .public_base_url = std::move(request.public_base_url)},
                [done = std::move(done)](risk::AnalysisResult result) {
                    done(api::RiskResult{.status = std::move(result.status),
                                         .record = std::move(result.record),
                                         .message = std::move(result.message)});
                });
    };
    if (config_.can_dial() || demo_) {
        api_deps.dial = [this](std::string to, std::string public_base_url, api::Reply done) {
            controller_->dial(std::move(to), std::move(public_base_url),
                              [done = std::move(done)](base::Result<calls::DialResult> result) {
                                  done(dial_response(result));
                              });
        };
    }
    api_ = std::make_unique<api::ApiService>(std::move(api_options), std::move(reader_store_),
                                             std::move(api_deps));

    net::Router router;
    calls::WebhookOptions webhook_options;
    webhook_options.public_key_base64 = config_.telnyx_public_key;
    webhook_options.skip_verification = options_.insecure_skip_verify;
    if (auto added = calls::add_webhook_routes(router, *controller_, webhook_options, metrics_);
        !added) {
        return added.error();
    }
    media::add_media_routes(router, *media_deps_, *relay_);
    api::add_api_routes(router, *api_);
    web::WebOptions web_options;  // dashboard: GET /, /assets/{name}, /events
    web_options.dist_dir = web::locate_dist_dir(options_.web_dir, web::current_executable());
    web_options.api_token = config_.api_token;
    web::add_web_routes(router, web_options, *live_hub_);

    // Recovery (re-granting active calls, re-running unprocessed webhooks) happens on the calls
    // thread before the first webhook of this run.
    // The risk threads first: the controller's recovery re-runs webhooks (a hang-up asks for
    // the final analysis).
    if (auto started = risk_->start(); !started) {
        return started.error();
    }
    if (auto started = controller_->start(); !started) {
        return started.error();
    }
    // After the controller: risk recovery may ask for escalations of calls flagged before.
    if (auto recovered = risk_->recover(); !recovered) {
        return recovered.error();
    }

    net::ServerOptions server_options;
    server_options.bind_address = options_.bind_address;
    server_options.port = port_;
    server_options.workers = options_.workers;
    server_ = std::make_unique<net::Server>(std::move(server_options), std::move(router));
    if (auto started = server_->start(); !started) {
        return base::fail(base::Errc::Io, fmt::format("cannot listen on {}:{}: {}",
                                                      options_.bind_address, port_,
                                                      started.error().message));
    }
    port_ = server_->port();
    running_ = true;
    controller_->resume_media_streams();  // Telnyx connects at once: only now that we listen
    DVD_LOG(Server, Info,
            "listening on {}:{} (webhooks POST /webhooks/voice, media ws /media, "
            "API /calls, /health, /metrics) version={} workers={} scoring={}; "
            "this process may use {}",
            options_.bind_address, port_, version(), server_->worker_count(),
            scoring_ ? fmt::format("{} threads", scoring_->threads()) : std::string("inline"),
            base::process_cpu_budget().describe());

    if (demo_ && !demo_audio_.empty()) {
        demo_done_ = false;
        demo_thread_ = std::thread([this, audio = demo_audio_] { run_demo_calls(audio); });
    }
    return {};
}

void Service::Impl::run_demo_calls(std::vector<std::shared_ptr<const sim::CallAudio>> audio) {
    const std::size_t concurrency =
            static_cast<std::size_t>(std::max(1, options_.demo_concurrency));
    std::vector<sim::CallHandle> in_flight;
    std::size_t next = 0;
    int number = 0;
    while (!stopping_.load() && (next < audio.size() || !in_flight.empty())) {
        while (next < audio.size() && in_flight.size() < concurrency) {
            sim::CallSpec spec;
            spec.audio = audio[next];
            spec.from = fmt::format("+1312555{:04d}", 100 + number++);
            auto handle = simulator_->place_inbound_call(std::move(spec));
            if (!handle) {
                DVD_LOG(Sim, Warn, "demo call not placed: {}", handle.error().message);
            } else {
                DVD_LOG(Sim, Info, "demo call placed call_control_id={} audio={}",
                        handle->call_control_id, audio[next]->label);
                in_flight.push_back(std::move(*handle));
            }
            ++next;
        }
        for (auto it = in_flight.begin(); it != in_flight.end();) {
            if (it->wait_for(std::chrono::milliseconds(0))) {
                it = in_flight.erase(it);
            } else {
                ++it;
            }
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    demo_done_ = true;
    DVD_LOG(Sim, Info, "demo calls finished: see GET /calls");
}

std::vector<service::ExtraSample> Service::Impl::extra_metrics() const {
    std::vector<service::ExtraSample> samples;
    const double uptime =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - started_at_).count();
    samples.push_back({"dvd_uptime_seconds", "gauge", "Seconds since the service started.",
                       uptime});
    if (server_) {
        const net::ServerStats stats = server_->stats();
        samples.push_back({"dvd_http_requests_total", "counter", "HTTP requests served.",
                           static_cast<double>(stats.requests)});
        samples.push_back({"dvd_http_responses_4xx_total", "counter", "HTTP 4xx responses.",
                           static_cast<double>(stats.responses_4xx)});
        samples.push_back({"dvd_http_responses_5xx_total", "counter", "HTTP 5xx responses.",
                           static_cast<double>(stats.responses_5xx)});
        samples.push_back({"dvd_ws_sessions_active", "gauge", "WebSocket sessions open now.",
                           static_cast<double>(stats.ws_sessions_active)});
        samples.push_back({"dvd_ws_messages_too_big_total", "counter",
                           "WebSocket messages over the size limit (session closed).",
                           static_cast<double>(stats.ws_messages_too_big)});
    }
    if (scoring_) {
        const pipeline::ScoringPoolStats stats = scoring_->stats();
        samples.push_back({"dvd_scoring_failures_total", "counter",
                           "Windows whose model run failed in the scoring pool (their streams "
                           "closed with 1011).",
                           static_cast<double>(stats.failures)});
        samples.push_back({"dvd_scoring_waits_total", "counter",
                           "Times a media stream had to wait for its previous window's model run "
                           "(the scoring pool is behind).",
                           static_cast<double>(stats.waits)});
        samples.push_back({"dvd_scoring_skipped_total", "counter",
                           "Windows dropped unscored because the scoring pool had not started them "
                           "when their stream needed the slot again (the pool is far behind; the "
                           "calls are scored on fewer windows).",
                           static_cast<double>(stats.skipped)});
        samples.push_back({"dvd_scoring_copied_total", "counter",
                           "Windows the scoring pool had not started when their stream needed "
                           "their rows again, copied to a spare buffer to be scored late instead "
                           "of dropped (the pool is behind, e.g. after many calls started "
                           "together).",
                           static_cast<double>(stats.copied)});
        samples.push_back({"dvd_scoring_queue_depth", "gauge",
                           "Windows waiting for the scoring pool now.",
                           static_cast<double>(stats.queued)});
        samples.push_back({"dvd_scoring_spares", "gauge",
                           "Spare window buffers of the scoring pool (serve --scoring-spares).",
                           static_cast<double>(stats.spares)});
        samples.push_back({"dvd_scoring_spares_in_use", "gauge",
                           "Spare window buffers of the scoring pool holding a copied window now.",
                           static_cast<double>(stats.spares_in_use)});
    }
    if (writer_) {
        const store::StoreWriterStats stats = writer_->stats();
        samples.push_back({"dvd_store_written_total", "counter", "Rows written by the store writer.",
                           static_cast<double>(stats.written)});
        samples.push_back({"dvd_store_dropped_total", "counter",
                           "Rows dropped because the store writer queue was full.",
                           static_cast<double>(stats.dropped)});
        samples.push_back({"dvd_store_failed_total", "counter",
                           "Rows the store writer could not write (refused, or the database stayed "
                           "away through every retry).",
                           static_cast<double>(stats.failed)});
        samples.push_back({"dvd_store_retries_total", "counter",
                           "Store writer batches tried again after the database failed them as a "
                           "whole (busy, restarting, unreachable).",
                           static_cast<double>(stats.retries)});
        samples.push_back({"dvd_store_queue_depth", "gauge", "Rows waiting for the store writer.",
                           static_cast<double>(stats.queue_depth)});
        samples.push_back({"dvd_store_failing", "gauge",
                           "1 while the database fails the store writer's batches as a whole "
                           "(nothing committed since), else 0; GET /ready is 503 then.",
                           stats.failing ? 1.0 : 0.0});
    }
    if (live_hub_) {
        const web::LiveHubStats stats = live_hub_->stats();
        samples.push_back({"dvd_dashboard_subscribers", "gauge",
                           "Dashboards connected to GET /events now.",
                           static_cast<double>(stats.subscribers)});
        samples.push_back({"dvd_dashboard_events_total", "counter",
                           "Live events published to the dashboards.",
                           static_cast<double>(stats.events_published)});
        samples.push_back({"dvd_dashboard_dropped_total", "counter",
                           "Dashboard event streams closed because the client was too slow.",
                           static_cast<double>(stats.subscribers_dropped)});
    }
    if (risk_) {
        const risk::RiskStats stats = risk_->stats();
        samples.push_back({"dvd_risk_analyses_total", "counter",
                           "Risk decisions stored (threshold, hang-up, API).",
                           static_cast<double>(stats.analyses)});
        samples.push_back({"dvd_risk_analyses_fallback_total", "counter",
                           "Risk decisions that fell back to the detector alone (the AI "
                           "analysis failed or is off).",
                           static_cast<double>(stats.analyses_fallback)});
        samples.push_back({"dvd_risk_rate_limited_total", "counter",
                           "Risk analyses refused by the per-call rate limit.",
                           static_cast<double>(stats.rate_limited)});
        samples.push_back({"dvd_escalations_requested_total", "counter",
                           "Escalations (ESCALATION_POLICY) requested for flagged calls.",
                           static_cast<double>(stats.escalations)});
        samples.push_back({"dvd_alerts_level2_total", "counter",
                           "Level-2 alerts queued (the analysis raised the risk).",
                           static_cast<double>(stats.level2_alerts)});
        if (const alerts::AlertOutbox* outbox = risk_->outbox()) {
            const alerts::OutboxStats alert_stats = outbox->stats();
            samples.push_back({"dvd_alerts_delivered_total", "counter",
                               "Alert deliveries accepted by the webhook (Slack: 200 ok).",
                               static_cast<double>(alert_stats.delivered)});
            samples.push_back({"dvd_alerts_retried_total", "counter",
                               "Alert delivery attempts that scheduled a retry.",
                               static_cast<double>(alert_stats.retried)});
            samples.push_back({"dvd_alerts_failed_total", "counter",
                               "Alerts failed for good (4xx, or retries exhausted).",
                               static_cast<double>(alert_stats.failed)});
            samples.push_back({"dvd_alerts_dropped_total", "counter",
                               "Alerts dropped (queue full, or never stored).",
                               static_cast<double>(alert_stats.dropped)});
            samples.push_back({"dvd_alerts_failing", "gauge",
                               "1 while the latest alert delivery attempt did not deliver and "
                               "none has since, else 0.",
                               alert_stats.failing ? 1.0 : 0.0});
        }
    }
    if (recordings_) {
        const recordings::ArchiverStats stats = recordings_->stats();
        samples.push_back({"dvd_recordings_stored_total", "counter",
                           "Call recordings downloaded and stored under RECORDINGS_DIR.",
                           static_cast<double>(stats.stored)});
        samples.push_back({"dvd_recordings_retried_total", "counter",
                           "Recording download attempts that scheduled a retry.",
                           static_cast<double>(stats.retried)});
        samples.push_back({"dvd_recordings_failed_total", "counter",
                           "Recordings given up (URLs expired, refused, retries exhausted).",
                           static_cast<double>(stats.failed)});
        samples.push_back({"dvd_recordings_bytes_total", "counter",
                           "Bytes of recordings stored.", static_cast<double>(stats.bytes)});
        samples.push_back({"dvd_recordings_deleted_total", "counter",
                           "Stored recordings deleted by RECORDING_RETENTION_DAYS.",
                           static_cast<double>(stats.deleted)});
    }
    if (archive_) {
        const media::AudioArchiveStats stats = archive_->stats();
        samples.push_back({"dvd_audio_archive_dropped_samples_total", "counter",
                           "Audio samples the archive dropped (queue full).",
                           static_cast<double>(stats.dropped_samples)});
    }
    return samples;
}

void Service::Impl::stop(std::chrono::milliseconds grace) {
    if (stopping_.exchange(true)) {
        return;
    }
    const auto deadline = std::chrono::steady_clock::now() + grace;
    DVD_LOG(Server, Info, "shutting down");
    {
        const std::lock_guard lock(lock_watch_mutex_);
        lock_watch_stop_ = true;
    }
    lock_watch_wake_.notify_all();  // joined last: a check in flight must not hold up the rest
    if (demo_thread_.joinable()) {
        demo_thread_.join();
    }
    if (live_hub_) {
        live_hub_->close_all();  // dashboards' event streams end; media events still forwarded
    }
    if (server_) {
        server_->stop(grace / 2);
    }
    if (relay_) {
        relay_->end_all("shutdown");
    }
    if (simulator_) {
        simulator_->stop();
    }
    if (controller_) {
        controller_->stop(deadline);
    }
    if (risk_) {
        risk_->stop();  // the analysis in flight finishes; queued alerts are kept for the restart
    }
    if (recordings_) {
        recordings_->stop();  // a download in flight is abandoned; its row resumes at restart
    }
    if (api_) {
        api_->stop();
    }
    if (archive_) {
        archive_->stop();
    }
    if (writer_) {
        const bool complete = writer_->stop(std::max(deadline, std::chrono::steady_clock::now() +
                                                                       std::chrono::seconds(1)));
        if (!complete) {
            DVD_LOG(Server, Warn, "shutdown: some score points were not written");
        }
    }
    if (lock_watch_.joinable()) {
        lock_watch_.join();
    }
    running_ = false;
    DVD_LOG(Server, Info, "stopped");
}

base::Result<void> Service::Impl::create_risk() {
    if (demo_ && simulator_) {
        // A new user sees alerts and analyses in the demo: the simulator plays Slack and AI
        // Inference unless the configuration names real ones.
        if (config_.alert_webhook.empty()) {
            config_.alert_webhook = simulator_->slack_webhook_url();
        }
        if (config_.ai_inference_url == default_ai_inference_url_) {
            config_.ai_inference_url = simulator_->inference_url();
        }
    }
    auto risk_store = store::open_store(config_.database_url);
    if (!risk_store) {
        return base::fail(base::Errc::InvalidArgument,
                          "DATABASE_URL: " + risk_store.error().message);
    }
    risk::RiskDeps deps;
    deps.store = std::move(*risk_store);
    const alerts::OutboxOptions outbox_options = alerts::outbox_options(config_);
    if (auto valid = alerts::validate(outbox_options); !valid) {
        return valid.error();
    }
    std::random_device device;
    const std::uint64_t seed = (std::uint64_t{device()} << 32U) | device();
    if (!outbox_options.slack_webhook_url.empty() || !outbox_options.json_webhook_url.empty()) {
        auto outbox_store = store::open_store(config_.database_url);
        if (!outbox_store) {
            return base::fail(base::Errc::InvalidArgument,
                              "DATABASE_URL: " + outbox_store.error().message);
        }
        deps.outbox = std::make_unique<alerts::AlertOutbox>(
                outbox_options,
                alerts::OutboxDeps{.store = std::move(*outbox_store), .seed = seed});
    }
    inference::RiskAnalysisOptions analysis = inference::risk_analysis_options(config_);
    if (demo_ && simulator_ && config_.ai_inference_url == simulator_->inference_url()) {
        analysis.api_key = std::string(kDemoApiKey);  // the simulator checks the bearer
    }
    deps.analysis = std::move(analysis);
    deps.sleeper = &sleeper_;
    deps.escalate = [this](std::string call_id, config::EscalationPolicy policy,
                           std::string reason) {
        controller_->escalate(std::move(call_id), policy, std::move(reason));
    };
    deps.now_ms = wall_ms;
    deps.seed = seed ^ 0x5DEECE66DULL;
    risk_ = std::make_unique<risk::RiskCoordinator>(risk::risk_options(config_), std::move(deps));
    return {};
}

void Service::Impl::watch_instance_lock() {
    pthread_setname_np(pthread_self(), "instance-lock");
    bool unknown = false;
    std::unique_lock lock(lock_watch_mutex_);
    while (!lock_watch_wake_.wait_for(lock, options_.instance_lock_check_interval,
                                      [this] { return lock_watch_stop_; })) {
        lock.unlock();
        const base::Result<bool> held = instance_lock_->check();
        lock.lock();
        if (!held) {
            if (!unknown) {
                DVD_LOG(Server, Warn, "cannot check the instance lock (until the database is "
                        "back, this instance keeps running): {}", held.error().message);
            }
            unknown = true;
            continue;
        }
        if (*held) {
            if (unknown) {
                DVD_LOG(Server, Info, "the instance lock is held again ({})",
                        instance_lock_->describe());
            }
            unknown = false;
            continue;
        }
        lock_lost_.store(true);
        DVD_LOG(Server, Critical,
                "another instance took this database while its connection was cut ({}); "
                "stopping, so that one instance alone sends alerts and keeps recordings",
                instance_lock_->describe());
        if (options_.on_instance_lock_lost) {
            options_.on_instance_lock_lost();
        }
        return;
    }
}

ServiceEndpoints Service::Impl::endpoints() const {
    ServiceEndpoints endpoints;
    endpoints.port = port_;
    endpoints.webhook_url = fmt::format("http://127.0.0.1:{}/webhooks/voice", port_);
    endpoints.media_url = fmt::format("ws://127.0.0.1:{}/media", port_);
    endpoints.telnyx_api_base = config_.telnyx_api_base;
    endpoints.demo = demo_;
    return endpoints;
}

base::Result<std::unique_ptr<Service>> Service::create(config::Config config,
                                                       ServeOptions options) {
    auto impl = std::make_unique<Impl>(std::move(config), std::move(options));
    if (auto created = impl->create(); !created) {
        return created.error();
    }
    return std::unique_ptr<Service>(new Service(std::move(impl)));
}

Service::Service(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Service::~Service() = default;

base::Result<void> Service::start() { return impl_->start(); }

void Service::stop(std::chrono::milliseconds grace) { impl_->stop(grace); }

ServiceEndpoints Service::endpoints() const { return impl_->endpoints(); }

bool Service::demo_calls_done() const { return impl_->demo_calls_done(); }

bool Service::instance_lock_lost() const { return impl_->instance_lock_lost(); }

}  // namespace dvd::server
