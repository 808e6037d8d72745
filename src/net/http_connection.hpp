#pragma once

// Internal to the net layer: the coroutine that serves one accepted TCP connection (HTTP/1.1
// keep-alive, server-sent events, or the upgrade to a WebSocket session).

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "net/worker.hpp"

namespace dvd::net::detail {

/// Serves `socket` on `worker`'s thread until the connection ends. Never throws for network or
/// handler errors (they become responses, close codes and counters).
asio::awaitable<void> run_http_connection(ServerState& state, Worker& worker,
                                          asio::ip::tcp::socket socket);

}  // namespace dvd::net::detail
