#include "media/media_session.hpp"

#include <utility>

#include <fmt/format.h>

#include "base/log.hpp"

namespace dvd::media {

MediaSession::MediaSession(MediaDeps& deps, std::string upgrade_token, std::string remote_address)
    : stream_(deps, std::move(upgrade_token)), remote_address_(std::move(remote_address)) {}

MediaSession::~MediaSession() = default;

void MediaSession::on_open(net::WsConnection& connection) {
    DVD_LOG(Media, Debug, "media websocket opened remote={} worker={}", remote_address_,
            connection.worker());
}

void MediaSession::on_text(net::WsConnection& connection, std::string_view message) {
    if (closing_) {
        return;
    }
    if (auto close = stream_.handle_text(message)) {
        close_with(connection, *close);
    }
}

void MediaSession::on_binary(net::WsConnection& connection, std::span<const std::byte> message) {
    if (closing_) {
        return;
    }
    close_with(connection, stream_.abort(net::CloseCode::UnsupportedData, "binary_frame",
                                         fmt::format("binary frames are not supported ({} bytes)",
                                                     message.size())));
}

void MediaSession::on_close(const net::WsCloseInfo& info) {
    if (stream_.ended()) {
        return;
    }
    // The peer left (or the server closed us: idle timeout, shutdown) without a `stop` frame.
    const bool normal = info.code == static_cast<std::uint16_t>(net::CloseCode::Normal)
                        || info.code == static_cast<std::uint16_t>(net::CloseCode::GoingAway);
    // Lost: the peer went (a close frame, or the connection vanished), or we heard nothing for the
    // idle timeout; not our shutdown (1001) or our refusals (1002-1009).
    const bool lost = info.by_peer || info.timed_out;
    std::string reason = info.by_peer ? fmt::format("peer closed ({}{}{})", info.code,
                                                    info.reason.empty() ? "" : ": ", info.reason)
                                      : fmt::format("closed ({}{}{})", info.code,
                                                    info.reason.empty() ? "" : ": ", info.reason);
    stream_.end(std::move(reason), !normal, lost);
}

void MediaSession::close_with(net::WsConnection& connection, const StreamClose& close) {
    closing_ = true;
    connection.close(close.code, close.reason);
}

net::WsAcceptResult accept_media_session(MediaDeps& deps, const net::Request& upgrade_request) {
    std::string token(upgrade_request.header("x-telnyx-streaming-auth-token").value_or(""));
    return std::unique_ptr<net::WsHandler>(
            std::make_unique<MediaSession>(deps, std::move(token), upgrade_request.remote_address));
}

}  // namespace dvd::media
