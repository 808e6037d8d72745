#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.hpp"
#include "net/ws_client.hpp"
#include "sim/media_streamer.hpp"

namespace dvd::sim {

/// How long one poll of a wait with `remaining` time left may block: at most 10 ms, so the
/// stream's signal is seen quickly, and rounded up to whole milliseconds, so a wait with less
/// than a millisecond left still blocks (a 0 ms poll returns at once: rounding down made every
/// frame's last millisecond a busy loop, 100 streams' worth of them over a core). Zero only
/// when no time remains.
[[nodiscard]] std::chrono::milliseconds poll_slice(std::chrono::steady_clock::duration remaining);

/// The real StreamTransport: a blocking net::WsClient to the service's `stream_url`, opened
/// with the `x-telnyx-streaming-auth-token` upgrade header when the command gave a token. Waits
/// poll the socket in slices of `poll_slice`. Owned by the stream's thread.
class WsStreamTransport final : public StreamTransport {
public:
    /// Errors: those of net::WsClient::connect (bad URL, refused, upgrade refused).
    [[nodiscard]] static base::Result<std::unique_ptr<WsStreamTransport>> connect(
            std::string_view url, const std::optional<std::string>& auth_token,
            std::chrono::milliseconds timeout);

    [[nodiscard]] base::Result<void> send_text(std::string_view message) override;
    [[nodiscard]] WaitOutcome wait_until(std::chrono::steady_clock::time_point deadline,
                                         const std::atomic<StreamSignal>& signal,
                                         std::vector<std::string>& received) override;
    void close(std::uint16_t code, std::string_view reason) override;
    void drop() override;

    [[nodiscard]] std::optional<PeerClose> peer_close() const override { return peer_close_; }

    [[nodiscard]] std::chrono::steady_clock::time_point now() const override {
        return std::chrono::steady_clock::now();
    }

    explicit WsStreamTransport(net::WsClient client) : client_(std::move(client)) {}

private:
    WaitOutcome connection_ended();

    net::WsClient client_;
    std::optional<PeerClose> peer_close_;
    bool ended_ = false;
};

}  // namespace dvd::sim
