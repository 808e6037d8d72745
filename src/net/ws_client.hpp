#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.hpp"
#include "net/http_types.hpp"
#include "net/server.hpp"

namespace dvd::net {

/// A blocking WebSocket client (plain `ws://` over TCP), for the Telnyx simulator and tests: it
/// plays Telnyx's side of a media stream. Owned and used by one thread; not for the service's
/// workers.
class WsClient {
public:
    ~WsClient();
    WsClient(WsClient&&) noexcept;
    WsClient& operator=(WsClient&&) noexcept;

    /// Connects and performs the upgrade to `url` ("ws://host:port/path?query") with the extra
    /// headers (e.g. x-telnyx-streaming-auth-token). Errors: bad URL, connect failure, or the
    /// server refused the upgrade: the message then starts "upgrade refused: HTTP <status>"
    /// and holds the body.
    [[nodiscard]] static base::Result<WsClient> connect(std::string_view url,
                                                        const std::vector<Field>& headers,
                                                        std::chrono::milliseconds timeout);

    [[nodiscard]] base::Result<void> send_text(std::string_view message);
    [[nodiscard]] base::Result<void> send_binary(std::string_view bytes);

    /// Waits up to `timeout` for a message. nullopt: the timeout passed with nothing received.
    /// Error: the connection closed (see close_info()) or failed.
    [[nodiscard]] base::Result<std::optional<std::string>> receive(
            std::chrono::milliseconds timeout);

    /// Sends a close frame and waits (up to 2 s) for the peer's.
    [[nodiscard]] base::Result<void> close(CloseCode code, std::string_view reason);

    /// Closes the TCP connection at once, with no close frame: what the server sees when the
    /// network fails (fault injection). Later calls fail.
    void drop();

    /// The close code/reason the server sent, once the session has ended.
    [[nodiscard]] std::optional<WsCloseInfo> close_info() const;

private:
    class Impl;
    explicit WsClient(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace dvd::net
