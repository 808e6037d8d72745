// WebSocket text messages per second through net::Server on loopback, driven by net::WsClient
// from the benchmark thread. The frame is shaped like a Telnyx media message (20 ms of PCMU,
// base64 in JSON). Client and server share the machine's cores, so the figures are a lower
// bound for the server alone.
#include <chrono>
#include <memory>
#include <string>

#include <benchmark/benchmark.h>

#include "base/log.hpp"
#include "net/server.hpp"
#include "net/ws_client.hpp"

namespace {

using namespace std::chrono_literals;
using dvd::net::WsClient;

const std::string kFrame =
        R"({"event":"media","sequence_number":"42","stream_id":"32de0dea-53cb-4b21-89a4-9610b2bd0f8b",)"
        R"("media":{"track":"inbound","chunk":"41","timestamp":"820","payload":")"
        + std::string(216, 'A') + R"("}})";

/// Echoes "sync" (so the client knows everything before it was read) and every message when
/// `echo_all`; otherwise only counts.
class BenchHandler final : public dvd::net::WsHandler {
public:
    explicit BenchHandler(bool echo_all) : echo_all_(echo_all) {}

    void on_text(dvd::net::WsConnection& connection, std::string_view message) override {
        if (echo_all_ || message == "sync") {
            connection.send_text(std::string(message));
        }
    }

    void on_close(const dvd::net::WsCloseInfo&) override {}

private:
    bool echo_all_;
};

struct BenchServer {
    explicit BenchServer(bool echo_all) {
        dvd::base::set_log_level(dvd::base::LogLevel::Warn);
        dvd::net::ServerOptions options;
        options.bind_address = "127.0.0.1";
        options.workers = 1;
        dvd::net::Router router;
        router.add_websocket("/ws", [echo_all](const dvd::net::Request&) {
            return dvd::net::WsAcceptResult(std::make_unique<BenchHandler>(echo_all));
        });
        server = std::make_unique<dvd::net::Server>(options, std::move(router));
        if (!server->start()) {
            std::abort();
        }
    }

    ~BenchServer() { server->stop(1s); }

    WsClient connect() const {
        auto client = WsClient::connect("ws://127.0.0.1:" + std::to_string(server->port()) + "/ws",
                                        {}, 5s);
        if (!client) {
            std::abort();
        }
        return std::move(client.value());
    }

    std::unique_ptr<dvd::net::Server> server;
};

/// One message out, its echo back: latency-bound.
void BM_WsEchoRoundTrip(benchmark::State& state) {
    BenchServer server(true);
    WsClient client = server.connect();
    for (auto _ : state) {
        static_cast<void>(client.send_text(kFrame));
        auto reply = client.receive(5s);
        benchmark::DoNotOptimize(reply);
    }
    state.SetItemsProcessed(state.iterations());
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(kFrame.size()));
}

BENCHMARK(BM_WsEchoRoundTrip)->UseRealTime()->Unit(benchmark::kMicrosecond);

/// Inbound only, as media frames arrive: `batch` frames, then a "sync" round trip.
void BM_WsInboundFrames(benchmark::State& state) {
    BenchServer server(false);
    WsClient client = server.connect();
    const auto batch = state.range(0);
    for (auto _ : state) {
        for (std::int64_t i = 0; i < batch; ++i) {
            static_cast<void>(client.send_text(kFrame));
        }
        static_cast<void>(client.send_text("sync"));
        auto reply = client.receive(5s);
        benchmark::DoNotOptimize(reply);
    }
    state.SetItemsProcessed(state.iterations() * batch);
    state.SetBytesProcessed(state.iterations() * batch * static_cast<std::int64_t>(kFrame.size()));
}

BENCHMARK(BM_WsInboundFrames)->Arg(50)->UseRealTime()->Unit(benchmark::kMicrosecond);

}  // namespace
