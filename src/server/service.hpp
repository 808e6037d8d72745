#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "config/config.hpp"

namespace dvd::server {

/// How `serve` runs, besides the environment configuration.
struct ServeOptions {
    /// `--insecure-skip-verify`: accept unsigned webhooks when TELNYX_PUBLIC_KEY is unset.
    bool insecure_skip_verify = false;
    std::string bind_address = "0.0.0.0";
    /// Overrides PORT; 0 picks a free port (tests; see Service::port()).
    std::optional<std::uint16_t> port{};
    int workers = 0;  ///< network workers; 0: one per core
    /// Threads that run the media streams' model windows (pipeline::ScoringPool); 0: one per
    /// core; -1: none, each window runs inline on its stream's network worker.
    int scoring_threads = 0;
    /// The scoring pool's spare window buffers (`--scoring-spares`; 72 kB each, allocated at
    /// start): windows the pool is too far behind to start in time are copied there and scored
    /// late instead of dropped (pipeline::ScoringPoolOptions::spare_windows).
    int scoring_spares = 64;
    /// The detector (ONNX + JSON); empty: $DVD_MODEL or models/detector.onnx.
    std::filesystem::path model_path{};
    /// Where decoded call audio is kept for re-scoring; empty: `audio/` beside the database file.
    std::filesystem::path audio_dir{};
    /// The built dashboard (`--web-dir`); empty: web/dist under the working directory, else
    /// beside the executable (web::locate_dist_dir).
    std::filesystem::path web_dir{};

    // ---- demo mode (no TELNYX_API_KEY): the built-in Telnyx simulator places calls ----
    /// WAV files the simulated callers say, one call each (in order, `demo_concurrency` at a
    /// time); empty: no demo calls (the simulator still answers the service's commands).
    std::vector<std::filesystem::path> demo_wavs{};
    int demo_concurrency = 2;
    double demo_speed = 1.0;  ///< real time: the dashboard shows the scores grow live
    std::uint16_t demo_api_port = 0;  ///< the simulator's Call Control port; 0: any free port

    // ---- one instance per database (store::InstanceLock) ----
    /// How long `create` waits for another instance's lock to go before it refuses to start.
    std::chrono::milliseconds instance_lock_wait{10'000};
    /// PostgreSQL: how often the lock is checked while running (a lost session is reopened).
    std::chrono::milliseconds instance_lock_check_interval{5'000};
    /// Called once, from the `instance-lock` thread, when another instance took the database
    /// (PostgreSQL, after this one's session was cut); `serve` raises SIGTERM and exits 1.
    std::function<void()> on_instance_lock_lost{};
};

/// Where the running service can be reached (printed at start-up, written to --ready-file).
struct ServiceEndpoints {
    std::uint16_t port = 0;
    std::string webhook_url{};     ///< http://127.0.0.1:<port>/webhooks/voice
    std::string media_url{};       ///< ws://127.0.0.1:<port>/media
    std::string telnyx_api_base{}; ///< the simulator's in demo mode, else TELNYX_API_BASE
    bool demo = false;
};

/// The assembled service (docs/architecture.md): network workers, the calls thread, the command
/// threads, the store writer and reader, the audio archive and, in demo mode, the simulator.
/// Construct with `create`, then `start`; `stop` (or the destructor) shuts it down in order:
/// stop accepting, end streams, finish commands, flush the store. Owned by one thread.
class Service {
public:
    /// Validates everything that can be validated before binding: the model loads, no other
    /// instance holds the database (store::InstanceLock; the error names the holder), the
    /// database opens and migrates, the webhook verification is configured (TELNYX_PUBLIC_KEY,
    /// or --insecure-skip-verify, or demo mode). Errors name what is wrong.
    [[nodiscard]] static base::Result<std::unique_ptr<Service>> create(config::Config config,
                                                                       ServeOptions options);
    ~Service();
    Service(const Service&) = delete;
    Service& operator=(const Service&) = delete;

    /// Recovers active calls, binds the port, starts every thread and, in demo mode, places the
    /// demo calls. Errors: the port cannot be bound, the simulator cannot start.
    [[nodiscard]] base::Result<void> start();

    /// Graceful shutdown within about `grace` (plus one Call Control request timeout at worst).
    void stop(std::chrono::milliseconds grace);

    [[nodiscard]] ServiceEndpoints endpoints() const;

    /// True once every demo call has finished (always true outside demo mode).
    [[nodiscard]] bool demo_calls_done() const;

    /// True once another instance took the database while this one ran (PostgreSQL).
    [[nodiscard]] bool instance_lock_lost() const;

    class Impl;

private:
    explicit Service(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

/// The project version ("0.1.0"), from CMake.
[[nodiscard]] std::string_view version() noexcept;

}  // namespace dvd::server
