#include <pthread.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/log.hpp"
#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "config/config.hpp"
#include "server/service.hpp"

namespace dvd::cli {
namespace {

constexpr const char* kUsage =
        "usage: deepfake-voice-detector serve [--env-file FILE] [--insecure-skip-verify]\n"
        "                                     [--bind ADDRESS] [--port PORT] [--workers N]\n"
        "                                     [--scoring-threads N] [--scoring-spares N]\n"
        "                                     [--model detector.json] [--ready-file FILE]\n"
        "                                     [--demo-wav FILE ...] [--demo-speed X]\n"
        "                                     [--web-dir DIR] [--lock-wait S]\n"
        "Answers, streams and scores Telnyx calls (configuration: environment variables and\n"
        "the .env file, see .env.example). Without TELNYX_API_KEY it runs in demo mode: the\n"
        "built-in Telnyx simulator plays Telnyx and places a call per --demo-wav file.\n"
        "  --env-file              configuration file (default: ./.env when it exists)\n"
        "  --insecure-skip-verify  accept unsigned webhooks when TELNYX_PUBLIC_KEY is unset\n"
        "  --bind                  listen address (default 0.0.0.0)\n"
        "  --port                  overrides PORT; 0 picks a free port (see --ready-file)\n"
        "  --workers               network worker threads (default: one per core this process\n"
        "                          may use: online CPUs, CPU affinity and cgroup CPU limit)\n"
        "  --scoring-threads       threads that run the detector model for every call, off the\n"
        "                          network workers (default 0: one per core; -1: run it on the\n"
        "                          network workers)\n"
        "  --scoring-spares        spare window buffers (72 kB each, default 64): a window the\n"
        "                          scoring threads are too far behind to start in time is copied\n"
        "                          there and scored late instead of dropped\n"
        "  --model                 model metadata (default: models/detector.json or $DVD_MODEL)\n"
        "  --ready-file            once listening, write {\"port\",...} as JSON to this file\n"
        "  --demo-wav              demo mode: a call saying this file (repeatable)\n"
        "  --demo-speed            demo mode: audio plays this much faster than real time\n"
        "  --web-dir               the built dashboard served at / (default: web/dist here, else\n"
        "                          beside the executable: ../../web/dist)\n"
        "  --lock-wait             seconds to wait for another instance to release the database\n"
        "                          (default 10)\n"
        "Stops gracefully on SIGINT or SIGTERM. One instance per database: a second one\n"
        "refuses to start (after waiting --lock-wait for the first to go). Exit status:\n"
        "0 stopped, 1 stopped because another instance took the database (PostgreSQL),\n"
        "2 configuration error.\n";

base::LogLevel to_base(config::LogLevel level) {
    switch (level) {
        case config::LogLevel::Trace: return base::LogLevel::Trace;
        case config::LogLevel::Debug: return base::LogLevel::Debug;
        case config::LogLevel::Info: return base::LogLevel::Info;
        case config::LogLevel::Warn: return base::LogLevel::Warn;
        case config::LogLevel::Error: return base::LogLevel::Error;
        case config::LogLevel::Critical: return base::LogLevel::Critical;
        case config::LogLevel::Off: return base::LogLevel::Off;
    }
    return base::LogLevel::Info;
}

}  // namespace

int run_serve(const std::vector<std::string>& raw_args) {
    std::vector<std::string> arg_list = raw_args;
    const std::vector<std::string> demo_wavs = Args::take_repeated(arg_list, "--demo-wav");
    auto args =
            Args::parse(arg_list, {"help", "insecure-skip-verify"},
                        {"env-file", "bind", "port", "workers", "scoring-threads", "scoring-spares",
                         "model", "ready-file", "demo-speed", "web-dir", "lock-wait"});
    if (!args) {
        std::cerr << "serve: " << args.error().message << "\n" << kUsage;
        return 2;
    }
    if (args->has("help")) {
        std::cout << kUsage;
        return 0;
    }
    if (!args->positional().empty()) {
        std::cerr << "serve: unexpected argument: " << args->positional().front() << "\n"
                  << kUsage;
        return 2;
    }

    std::optional<std::filesystem::path> env_file;
    if (auto given = args->get("env-file")) {
        env_file = *given;
    } else if (std::filesystem::exists(".env")) {
        env_file = ".env";
    }
    auto config = config::load_config(config::process_environment(), env_file);
    if (!config) {
        std::cerr << "serve: configuration error: " << config.error().message << "\n";
        return 2;
    }
    base::set_log_level(to_base(config->log_level));
    for (const std::string& warning : config->warnings) {
        DVD_LOG(Server, Warn, "configuration: {}", warning);
    }
    DVD_LOG(Server, Info, "configuration: {}", config::redacted(*config));

    server::ServeOptions options;
    options.insecure_skip_verify = args->has("insecure-skip-verify");
    if (options.insecure_skip_verify) {
        DVD_LOG(Server, Warn, "--insecure-skip-verify: webhooks without a valid signature are "
                              "accepted when TELNYX_PUBLIC_KEY is unset; never do this in "
                              "production");
    }
    options.bind_address = args->get("bind").value_or("0.0.0.0");
    auto port = args->number("port", -1.0);
    auto workers = args->number("workers", 0.0);
    auto speed = args->number("demo-speed", 1.0);
    auto lock_wait = args->number("lock-wait", 10.0);
    auto scoring_threads = args->number("scoring-threads", 0.0);
    auto scoring_spares = args->number("scoring-spares", 64.0);
    if (!port || !workers || !speed || !lock_wait || !scoring_threads || !scoring_spares) {
        std::cerr << "serve: "
                  << (!port              ? port.error()
                      : !workers         ? workers.error()
                      : !speed           ? speed.error()
                      : !scoring_threads ? scoring_threads.error()
                      : !scoring_spares  ? scoring_spares.error()
                                         : lock_wait.error())
                             .message
                  << "\n";
        return 2;
    }
    if (*scoring_threads < -1.0 || *scoring_threads > 256.0
        || *scoring_threads != static_cast<double>(static_cast<int>(*scoring_threads))) {
        std::cerr << "serve: --scoring-threads must be a whole number in -1..256\n";
        return 2;
    }
    options.scoring_threads = static_cast<int>(*scoring_threads);
    if (*scoring_spares < 0.0 || *scoring_spares > 4096.0
        || *scoring_spares != static_cast<double>(static_cast<int>(*scoring_spares))) {
        std::cerr << "serve: --scoring-spares must be a whole number in 0..4096\n";
        return 2;
    }
    options.scoring_spares = static_cast<int>(*scoring_spares);
    if (*lock_wait < 0.0 || *lock_wait > 600.0) {
        std::cerr << "serve: --lock-wait must be 0..600 seconds\n";
        return 2;
    }
    options.instance_lock_wait = std::chrono::milliseconds(static_cast<int>(*lock_wait * 1000.0));
    if (*port > 65535.0 || (*port >= 0.0 && *port != static_cast<double>(static_cast<int>(*port)))) {
        std::cerr << "serve: --port: not a TCP port (0..65535)\n";
        return 2;
    }
    if (*port >= 0.0) {
        options.port = static_cast<std::uint16_t>(*port);
    }
    if (*workers < 0.0 || *workers > 256.0 || *speed <= 0.0 || *speed > 1000.0) {
        std::cerr << "serve: --workers must be 0..256 and --demo-speed in (0, 1000]\n";
        return 2;
    }
    options.workers = static_cast<int>(*workers);
    options.demo_speed = *speed;
    if (auto model = args->get("model")) {
        options.model_path = *model;
    }
    if (auto web_dir = args->get("web-dir")) {
        options.web_dir = *web_dir;
    }
    for (const std::string& wav : demo_wavs) {
        options.demo_wavs.emplace_back(wav);
    }
    if (!demo_wavs.empty() && !config->is_demo_mode()) {
        DVD_LOG(Server, Warn, "--demo-wav ignored: TELNYX_API_KEY is set (not demo mode)");
    }

    // Block the stop signals in every thread the service starts; this thread waits for them.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

    // Another instance took the database (PostgreSQL): stop as on SIGTERM, then exit 1.
    options.on_instance_lock_lost = [] { ::kill(::getpid(), SIGTERM); };
    auto service = server::Service::create(*config, std::move(options));
    if (!service) {
        std::cerr << "serve: " << service.error().message << "\n";
        return 2;
    }
    if (auto started = (*service)->start(); !started) {
        std::cerr << "serve: " << started.error().message << "\n";
        (*service)->stop(std::chrono::milliseconds(1000));
        return 2;
    }
    const server::ServiceEndpoints endpoints = (*service)->endpoints();
    if (auto ready_file = args->get("ready-file")) {
        nlohmann::ordered_json ready{{"port", endpoints.port},
                                     {"webhook_url", endpoints.webhook_url},
                                     {"media_url", endpoints.media_url},
                                     {"telnyx_api_base", endpoints.telnyx_api_base},
                                     {"demo", endpoints.demo}};
        const std::string temporary = *ready_file + ".tmp";
        std::ofstream(temporary) << ready.dump() << "\n";
        std::error_code error;
        std::filesystem::rename(temporary, *ready_file, error);  // readers never see half a file
        if (error) {
            DVD_LOG(Server, Error, "cannot write --ready-file {}: {}", *ready_file, error.message());
        }
    }
    std::cout << fmt::format("deepfake-voice-detector {} listening on port {}{}\n",
                             server::version(), endpoints.port,
                             endpoints.demo ? " (demo mode: simulated Telnyx calls)" : "")
              << fmt::format("  dashboard: http://127.0.0.1:{}/\n", endpoints.port)
              << fmt::format("  calls:   http://127.0.0.1:{}/calls\n", endpoints.port)
              << fmt::format("  health:  http://127.0.0.1:{}/health\n", endpoints.port)
              << std::flush;

    int signal = 0;
    sigwait(&stop_signals, &signal);
    DVD_LOG(Server, Info, "received {}, stopping", signal == SIGINT ? "SIGINT" : "SIGTERM");
    (*service)->stop(std::chrono::milliseconds(5000));
    if ((*service)->instance_lock_lost()) {
        std::cerr << "serve: another instance took the database; stopped\n";
        return 1;
    }
    return 0;
}

}  // namespace dvd::cli
