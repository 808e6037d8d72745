#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "media/media_stream.hpp"
#include "net/server.hpp"

namespace dvd::media {

/// The WebSocket side of one Telnyx media stream (`/media`, `/webhooks/media`): text frames go to
/// a `MediaStream`; when it decides to end, the session closes with its code and reason (1000
/// after `stop`, 1007/1008/1009/1003/1011 for bad input; see MediaStream). Bad input only ever
/// closes this session.
///
/// Threads: created by the WebSocket acceptor and then called by the net layer on the session's
/// worker only (house style 3.8: one thread owns each stream for its whole life).
class MediaSession final : public net::WsHandler {
public:
    /// `upgrade_token`: the `x-telnyx-streaming-auth-token` header of the upgrade request, empty
    /// when absent (the `connected` frame may still carry one).
    MediaSession(MediaDeps& deps, std::string upgrade_token, std::string remote_address = {});
    ~MediaSession() override;
    MediaSession(const MediaSession&) = delete;
    MediaSession& operator=(const MediaSession&) = delete;

    void on_open(net::WsConnection& connection) override;
    void on_text(net::WsConnection& connection, std::string_view message) override;
    void on_binary(net::WsConnection& connection, std::span<const std::byte> message) override;
    void on_close(const net::WsCloseInfo& info) override;

    const MediaStream& stream() const { return stream_; }

private:
    void close_with(net::WsConnection& connection, const StreamClose& close);

    MediaStream stream_;
    std::string remote_address_;
    bool closing_ = false;
};

/// The WebSocket acceptor for the media paths: reads the token header of the upgrade and creates
/// a MediaSession. Never refuses the upgrade itself (an unknown call or a bad token is refused
/// at the `start` frame with 1008, as Telnyx expects a WebSocket close, not an HTTP error).
[[nodiscard]] net::WsAcceptResult accept_media_session(MediaDeps& deps,
                                                       const net::Request& upgrade_request);

}  // namespace dvd::media
