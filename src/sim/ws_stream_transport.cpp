#include "sim/ws_stream_transport.hpp"

#include <algorithm>

#include "protocol/media_message.hpp"

namespace dvd::sim {
namespace {

constexpr std::string_view kAuthTokenHeader = "x-telnyx-streaming-auth-token";
constexpr std::chrono::milliseconds kPollSlice{10};

}  // namespace

std::chrono::milliseconds poll_slice(std::chrono::steady_clock::duration remaining) {
    if (remaining <= std::chrono::steady_clock::duration::zero()) {
        return std::chrono::milliseconds{0};
    }
    return std::min(kPollSlice, std::chrono::ceil<std::chrono::milliseconds>(remaining));
}

base::Result<std::unique_ptr<WsStreamTransport>> WsStreamTransport::connect(
        std::string_view url, const std::optional<std::string>& auth_token,
        std::chrono::milliseconds timeout) {
    std::vector<net::Field> headers;
    if (auth_token) {
        headers.emplace_back(std::string(kAuthTokenHeader), *auth_token);
    }
    auto client = net::WsClient::connect(url, headers, timeout);
    if (!client) {
        return client.error();
    }
    return std::make_unique<WsStreamTransport>(std::move(*client));
}

base::Result<void> WsStreamTransport::send_text(std::string_view message) {
    if (ended_) {
        return base::fail(base::Errc::Io, "the stream's connection has ended");
    }
    auto sent = client_.send_text(message);
    if (!sent) {
        // A send fails once the service has closed: keep its close code and reason.
        static_cast<void>(connection_ended());
    }
    return sent;
}

WaitOutcome WsStreamTransport::connection_ended() {
    ended_ = true;
    if (const auto info = client_.close_info()) {
        peer_close_ = PeerClose{info->code, info->reason};
        return WaitOutcome::PeerClosed;
    }
    return WaitOutcome::Failed;
}

WaitOutcome WsStreamTransport::wait_until(std::chrono::steady_clock::time_point deadline,
                                          const std::atomic<StreamSignal>& signal,
                                          std::vector<std::string>& received) {
    if (ended_) {
        return peer_close_ ? WaitOutcome::PeerClosed : WaitOutcome::Failed;
    }
    while (true) {
        if (signal.load(std::memory_order_relaxed) != StreamSignal::Run) {
            return WaitOutcome::Stopped;
        }
        const auto now = std::chrono::steady_clock::now();
        if (now >= deadline) {
            return WaitOutcome::Deadline;
        }
        auto message = client_.receive(poll_slice(deadline - now));
        if (!message) {
            return connection_ended();
        }
        if (*message) {
            received.push_back(std::move(**message));
        }
    }
}

void WsStreamTransport::drop() {
    if (ended_) {
        return;
    }
    ended_ = true;
    client_.drop();
}

void WsStreamTransport::close(std::uint16_t code, std::string_view reason) {
    if (ended_) {
        return;
    }
    ended_ = true;
    static_cast<void>(client_.close(static_cast<net::CloseCode>(code), reason));
}

}  // namespace dvd::sim
