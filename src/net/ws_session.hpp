#pragma once

// Internal to the net layer: one accepted WebSocket session, run by the HTTP connection that
// received the upgrade request.

#include <memory>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "net/server.hpp"
#include "net/worker.hpp"

namespace dvd::net::detail {

/// Completes the handshake for `upgrade` on `stream`, then runs `handler` until the session
/// ends (on_close is called once). Runs on `worker`'s thread; never throws for network or
/// handler errors.
asio::awaitable<void> run_ws_session(
        ServerState& state, Worker& worker, boost::beast::tcp_stream stream,
        boost::beast::http::request<boost::beast::http::string_body> upgrade,
        std::unique_ptr<WsHandler> handler, std::string remote_address);

}  // namespace dvd::net::detail
