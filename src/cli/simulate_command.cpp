#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <deque>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "sim/call_audio.hpp"
#include "sim/service_client.hpp"
#include "sim/signing_seed.hpp"
#include "sim/simulator.hpp"

namespace dvd::cli {
namespace {

using namespace std::chrono_literals;

constexpr const char* kUsage =
        "usage: deepfake-voice-detector simulate --wav FILE [--wav FILE ...] [--calls N]\n"
        "                                        [--concurrency C] [--speed X] [--service URL]\n"
        "                                        [--api-port P] [--signing-seed HEX64]\n"
        "                                        [--from E164] [--to E164] [--print-key]\n"
        "                                        [--duplicate EVENT] [--out-of-order EVENT]\n"
        "                                        [--fail-stream-connects N]\n"
        "Plays Telnyx for a running service without a Telnyx account: a Call Control API on\n"
        "127.0.0.1:P, signed webhooks to URL/webhooks/voice, and for each call a media stream of\n"
        "a WAV file after streaming_start. Prints a summary per call: the commands received,\n"
        "the service's verdict, final score and alerts, and whether it stored its copy of the\n"
        "recording (from its GET /calls/{id}; the recording is served only while this runs).\n"
        "Start the service with TELNYX_API_BASE=http://127.0.0.1:P/v2 and TELNYX_PUBLIC_KEY set\n"
        "to the key printed here (fix it across runs with --signing-seed; --print-key prints it\n"
        "and exits).\n"
        "  --wav           audio a caller says (any rate/format libsndfile reads; repeatable)\n"
        "  --calls         calls to place (default: one per --wav; files are used in turn)\n"
        "  --concurrency   calls at the same time (default 1)\n"
        "  --speed         audio plays this much faster than real time (default 1)\n"
        "  --service       the service's base URL (default http://127.0.0.1:5000)\n"
        "  --api-port      the simulator's Call Control API port (default 5050; 0: any)\n"
        "  --signing-seed  64 hex digits: the Ed25519 secret key of webhook signatures\n"
        "                  (default: $SIM_SIGNING_SEED, else a fresh key per run)\n"
        "  --from, --to    caller and called numbers (default +13125550100, +13125550199)\n"
        "  --duplicate     deliver every webhook of this event type twice, same data.id, as\n"
        "                  Telnyx may (repeatable; e.g. call.initiated)\n"
        "  --out-of-order  hold every webhook of this type back until after the call's next\n"
        "                  event (repeatable; e.g. call.initiated)\n"
        "  --fail-stream-connects  the first N media streams fail to connect, as when the\n"
        "                  service refuses them (streaming.failed; default 0)\n"
        "Environment: TELNYX_API_KEY (the bearer the service must send; unset: any is accepted),\n"
        "API_TOKEN (bearer for the service's JSON API), SIM_SIGNING_SEED.\n"
        "Exit status: 0 every call completed and was found in the service, 1 some call did not,\n"
        "2 usage or set-up error (bad option, unreadable WAV, port busy, service unreachable).\n";

constexpr std::chrono::seconds kServiceWait{10};
constexpr std::chrono::seconds kCallMargin{60};
constexpr std::chrono::seconds kVerdictWait{5};
// How long the summary waits for the service's copy of a recording (downloads take
// milliseconds on loopback; a retry after a transient error takes a few seconds).
constexpr std::chrono::seconds kRecordingWait{15};

std::string env(const char* name) {
    const char* value = std::getenv(name);
    return value != nullptr ? std::string(value) : std::string();
}

struct Settings {
    std::vector<std::string> wavs;
    int calls = 0;
    int concurrency = 1;
    double speed = 1.0;
    std::string service = "http://127.0.0.1:5000";
    int api_port = 5050;
    std::optional<sim::SigningSeed> seed;
    std::string from = "+13125550100";
    std::string to = "+13125550199";
    bool print_key = false;
    std::vector<std::string> duplicate_events;     ///< --duplicate EVENT_TYPE (repeatable)
    std::vector<std::string> out_of_order_events;  ///< --out-of-order EVENT_TYPE (repeatable)
    int fail_stream_connects = 0;                  ///< --fail-stream-connects N
};

base::Result<Settings> parse_settings(std::vector<std::string> raw, bool& help) {
    Settings s;
    s.wavs = Args::take_repeated(raw, "--wav");
    s.duplicate_events = Args::take_repeated(raw, "--duplicate");
    s.out_of_order_events = Args::take_repeated(raw, "--out-of-order");
    auto args = Args::parse(raw, {"help", "print-key"},
                            {"calls", "concurrency", "speed", "service", "api-port", "signing-seed",
                             "from", "to", "fail-stream-connects"});
    if (!args) {
        return args.error();
    }
    help = args->has("help");
    s.print_key = args->has("print-key");
    if (!args->positional().empty()) {
        return base::fail(base::Errc::InvalidArgument,
                          "unexpected argument " + args->positional().front() + " (use --wav)");
    }
    const auto calls =
            args->number("calls", static_cast<double>(std::max<std::size_t>(1, s.wavs.size())));
    const auto concurrency = args->number("concurrency", 1.0);
    const auto speed = args->number("speed", 1.0);
    const auto port = args->number("api-port", 5050.0);
    const auto fail_connects = args->number("fail-stream-connects", 0.0);
    for (const auto* r : {&calls, &concurrency, &speed, &port, &fail_connects}) {
        if (!*r) {
            return r->error();
        }
    }
    if (*calls < 1.0 || *calls > 100000.0 || *concurrency < 1.0 || *concurrency > 1000.0
        || *port < 0.0 || *port > 65535.0 || *fail_connects < 0.0 || *fail_connects > 1000.0) {
        return base::fail(base::Errc::InvalidArgument,
                          "--calls and --concurrency must be >= 1, --api-port in 0..65535, "
                          "--fail-stream-connects in 0..1000");
    }
    if (!(*speed > 0.0) || *speed > 10000.0) {
        return base::fail(base::Errc::InvalidArgument, "--speed must be in (0, 10000]");
    }
    s.calls = static_cast<int>(*calls);
    s.concurrency = static_cast<int>(*concurrency);
    s.speed = *speed;
    s.api_port = static_cast<int>(*port);
    s.fail_stream_connects = static_cast<int>(*fail_connects);
    s.service = args->get("service").value_or(s.service);
    s.from = args->get("from").value_or(s.from);
    s.to = args->get("to").value_or(s.to);
    const std::string seed_hex = args->get("signing-seed").value_or(env("SIM_SIGNING_SEED"));
    if (!seed_hex.empty()) {
        auto seed = sim::parse_signing_seed(seed_hex);
        if (!seed) {
            return seed.error();
        }
        s.seed = *seed;
    }
    if (s.wavs.empty() && !s.print_key && !help) {
        return base::fail(base::Errc::InvalidArgument, "at least one --wav FILE is needed");
    }
    return s;
}

std::string join(const std::vector<std::string>& items) {
    return items.empty() ? std::string("(none)") : fmt::format("{}", fmt::join(items, ", "));
}

// One call's report; returns whether it went through completely.
bool report(int number, int total, const sim::CallSummary& call, sim::ServiceClient& service) {
    std::size_t delivered = 0;
    for (const auto& e : call.events) {
        delivered += e.delivered ? 1 : 0;
    }
    std::cout << fmt::format("call {}/{}  {}  audio={}\n", number, total, call.call_control_id,
                             call.audio_label);
    std::cout << fmt::format("  commands received: {}\n", join(call.actions()));
    std::cout << fmt::format(
            "  webhooks: {} sent, {} delivered; stream: {} frames {} ({}) streams={} dropped={}\n",
            call.events.size(), delivered, call.frames_sent,
            call.stream_encoding.empty() ? "-" : call.stream_encoding,
            call.stream_end.empty() ? "never started" : call.stream_end, call.streams,
            call.stream_drops);
    std::cout << fmt::format("  hangup: {} by {}\n",
                             call.hangup_cause.empty() ? "-" : call.hangup_cause,
                             call.hangup_source.empty() ? "-" : call.hangup_source);
    bool ok = call.completed && call.answered && call.streamed && delivered == call.events.size();
    auto view = service.ended_call(call.call_control_id, kVerdictWait);
    if (view) {
        std::cout << fmt::format(
                "  service: status={} verdict={} final_score={} flagged={} alerts={}\n",
                view->status.empty() ? "-" : view->status,
                view->verdict.empty() ? "-" : view->verdict,
                view->score ? fmt::format("{:.3f}", *view->score) : std::string("-"),
                view->flagged ? "yes" : "no", view->alerts);
    } else {
        ok = false;
        std::cout << fmt::format("  service: GET /calls/{} failed: {}\n", call.call_control_id,
                                 view.error().message);
    }
    // The recording is served by this process only while it runs: wait until the service has
    // its copy (or gave up on it) before reporting, and say which.
    if (view && !call.recording_urls.empty()) {
        if (auto settled = service.recording_settled(call.call_control_id, kRecordingWait)) {
            view = std::move(settled);
        }
        if (view->recording_copy == "stored") {
            std::cout << fmt::format("  recording: the service stored its copy ({} bytes, "
                                     "sha256 {})\n",
                                     view->recording_bytes.value_or(0), view->recording_sha256);
        } else {
            std::cout << fmt::format(
                    "  recording: the service's copy is {}{}{}\n",
                    view->recording_copy.empty() ? "not known yet" : view->recording_copy,
                    view->recording_error.empty() ? "" : ": ", view->recording_error);
        }
    }
    for (const std::string& note : call.errors) {
        std::cout << "  note: " << note << "\n";
    }
    std::cout.flush();
    return ok;
}

}  // namespace

int run_simulate(const std::vector<std::string>& raw) {
    bool help = false;
    auto settings = parse_settings(raw, help);
    if (!settings || help) {
        if (!settings) {
            std::cerr << "simulate: " << settings.error().message << "\n";
        }
        std::cerr << kUsage;
        return settings && help ? 0 : 2;
    }
    if (settings->print_key) {
        if (!settings->seed) {
            std::cerr << "simulate: --print-key needs --signing-seed or SIM_SIGNING_SEED\n";
            return 2;
        }
        auto key = sim::public_key_for_seed(*settings->seed);
        if (!key) {
            std::cerr << "simulate: " << key.error().message << "\n";
            return 2;
        }
        std::cout << "TELNYX_PUBLIC_KEY=" << *key << "\n";
        return 0;
    }

    std::vector<std::shared_ptr<const sim::CallAudio>> audio;
    double longest_s = 0.0;
    for (const std::string& path : settings->wavs) {
        auto loaded = sim::load_call_audio(path);
        if (!loaded) {
            std::cerr << "simulate: " << loaded.error().message << "\n";
            return 2;
        }
        longest_s = std::max(longest_s, (*loaded)->duration_seconds());
        audio.push_back(std::move(*loaded));
    }

    sim::ServiceClient service(settings->service, env("API_TOKEN"));
    if (auto healthy = service.wait_healthy(kServiceWait); !healthy) {
        std::cerr << "simulate: " << healthy.error().message
                  << "\n(start the service first: deepfake-voice-detector serve)\n";
        return 2;
    }

    sim::SimulatorOptions options;
    options.webhook_url = settings->service + "/webhooks/voice";
    options.api_port = static_cast<std::uint16_t>(settings->api_port);
    options.speed = settings->speed;
    options.signing_seed = settings->seed;
    options.api_key = env("TELNYX_API_KEY");
    options.outbound_audio = audio.front();
    options.delivery.duplicate_event_types.insert(settings->duplicate_events.begin(),
                                                  settings->duplicate_events.end());
    options.delivery.hold_back_event_types.insert(settings->out_of_order_events.begin(),
                                                  settings->out_of_order_events.end());
    options.fail_stream_connects = settings->fail_stream_connects;
    options.max_recordings = sim::recordings_to_keep(settings->concurrency);
    sim::Simulator simulator(options);
    if (auto started = simulator.start(); !started) {
        std::cerr << "simulate: " << started.error().message << "\n";
        return 2;
    }
    std::cout << "Telnyx simulator ready; the service must run with:\n"
              << "  TELNYX_API_BASE=" << simulator.api_base() << "\n"
              << "  TELNYX_PUBLIC_KEY=" << simulator.public_key_base64() << "\n"
              << "webhooks go to " << options.webhook_url << "\n\n";
    std::cout.flush();

    const auto call_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::duration<double>(longest_s / settings->speed) + options.answer_timeout
            + options.stream_start_timeout + kCallMargin);
    std::deque<std::pair<int, sim::CallHandle>> in_flight;
    int placed = 0;
    int good = 0;
    const auto finish_oldest = [&] {
        auto [number, handle] = std::move(in_flight.front());
        in_flight.pop_front();
        const auto summary = handle.wait_for(call_timeout);
        if (!summary) {
            std::cout << fmt::format("call {}/{}  {}  did not finish within {} s\n", number,
                                     settings->calls, handle.call_control_id,
                                     call_timeout.count() / 1000);
            return;
        }
        good += report(number, settings->calls, *summary, service) ? 1 : 0;
    };
    while (placed < settings->calls) {
        if (static_cast<int>(in_flight.size()) >= settings->concurrency) {
            finish_oldest();
            continue;
        }
        sim::CallSpec spec;
        spec.audio = audio[static_cast<std::size_t>(placed) % audio.size()];
        spec.from = settings->from;
        spec.to = settings->to;
        auto handle = simulator.place_inbound_call(std::move(spec));
        ++placed;
        if (!handle) {
            std::cerr << "simulate: call not placed: " << handle.error().message << "\n";
            continue;
        }
        in_flight.emplace_back(placed, std::move(*handle));
    }
    while (!in_flight.empty()) {
        finish_oldest();
    }
    simulator.stop();
    std::cout << fmt::format("\n{} of {} calls completed with a verdict from the service\n", good,
                             settings->calls);
    return good == settings->calls ? 0 : 1;
}

}  // namespace dvd::cli
