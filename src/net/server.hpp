#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/result.hpp"
#include "net/http_types.hpp"

namespace dvd::net {

/// Listener and per-connection limits (house style 3.8 item 9).
struct ServerOptions {
    std::string bind_address = "0.0.0.0";  ///< "127.0.0.1" in tests
    std::uint16_t port = 0;                ///< 0: an ephemeral port, see Server::port()
    int workers = 0;                       ///< worker threads; 0: base::usable_cores()
    std::size_t max_body_bytes = 1U << 20;                ///< larger request bodies get 413
    std::size_t max_header_bytes = 16U << 10;             ///< larger request heads get 431
    std::size_t max_ws_message_bytes = 64U << 10;         ///< larger WS messages close with 1009
    std::chrono::milliseconds http_idle_timeout{30'000};  ///< keep-alive/read timeout per request
    std::chrono::milliseconds ws_idle_timeout{60'000};    ///< no frame for this long: close
    std::size_t max_ws_sessions_per_worker = 2000;        ///< beyond: upgrade refused with 503
    std::size_t max_ws_send_queue = 256;  ///< outgoing messages queued per session; beyond: close
    std::string server_name = "deepfake-voice-detector";  ///< the Server header
};

[[nodiscard]] base::Result<void> validate(const ServerOptions& options);

/// Completes one HTTP request exactly once. Move-only; `send` may be called from ANY thread
/// (the response is posted to the connection's worker). Destroying a Responder that never sent
/// answers 500 "handler dropped the request" so a client never hangs.
class Responder {
public:
    class Impl;
    explicit Responder(std::shared_ptr<Impl> impl);
    Responder(Responder&&) noexcept;
    Responder& operator=(Responder&&) noexcept;
    Responder(const Responder&) = delete;
    Responder& operator=(const Responder&) = delete;
    ~Responder();

    void send(Response response) &&;

    /// Turns this request into a server-sent-events stream (`text/event-stream`, kept open).
    /// The returned sink is thread-safe; it stays valid after the client leaves (writes are then
    /// dropped and `is_open()` turns false).
    class EventStream {
    public:
        virtual ~EventStream() = default;
        /// Queues `event: <name>\ndata: <data>\n\n` (data must not contain "\n\n"); false when
        /// the stream is closed or its queue (max_ws_send_queue) is full.
        virtual bool send(std::string_view event, std::string_view data) = 0;
        [[nodiscard]] virtual bool is_open() const = 0;
        virtual void close() = 0;
    };

    [[nodiscard]] std::shared_ptr<EventStream> start_event_stream() &&;

    /// A Responder not tied to a connection (unit tests of handlers, adapters): `on_response`
    /// runs once, on the thread that sends (or drops: 500) it. An event stream started from it
    /// is closed at once and `on_response` gets an empty 200 `text/event-stream` response.
    [[nodiscard]] static Responder from_callback(std::function<void(Response)> on_response);

private:
    std::shared_ptr<Impl> impl_;
};

/// Handles a routed request. Runs on the connection's worker thread: it must not block (no
/// database, no outbound HTTP, no file I/O beyond a few kB); hand such work to another thread
/// and `std::move(responder).send(...)` from there.
using HttpHandler = std::function<void(Request request, Responder responder)>;

/// WebSocket close codes used by the service (RFC 6455 section 7.4.1).
enum class CloseCode : std::uint16_t {
    Normal = 1000,
    GoingAway = 1001,
    ProtocolError = 1002,
    UnsupportedData = 1003,
    InvalidPayload = 1007,
    PolicyViolation = 1008,
    MessageTooBig = 1009,
    InternalError = 1011,
    TryAgainLater = 1013,
};

/// Why a WebSocket session ended, given to `WsHandler::on_close` once.
struct WsCloseInfo {
    std::uint16_t code = 1000;  ///< the close code (sent or received); 1006 when the peer vanished
    std::string reason{};
    bool by_peer = false;    ///< the peer closed (or dropped) the connection, not us
    bool timed_out = false;  ///< we heard nothing for the idle timeout and dropped it (code 1006)
};

/// A thread-safe, copyable handle to a live WebSocket session. After the session ended every
/// call is a no-op that returns false.
class WsHandle {
public:
    class Impl;
    WsHandle() = default;
    explicit WsHandle(std::weak_ptr<Impl> impl);
    /// Queues a text message (posted to the session's worker).
    bool send_text(std::string message) const;
    /// Closes the session with a code and reason (posted to the session's worker).
    bool close(CloseCode code, std::string reason) const;

private:
    std::weak_ptr<Impl> impl_;
};

/// The session's side for its handler. Valid only inside the handler's callbacks, on the
/// session's worker thread.
class WsConnection {
public:
    virtual ~WsConnection() = default;
    /// Queues a text message; false (and the session closes with 1008) if the send queue is full.
    virtual bool send_text(std::string message) = 0;
    /// Starts the closing handshake; `on_close` follows. Further callbacks are not delivered.
    virtual void close(CloseCode code, std::string reason) = 0;
    [[nodiscard]] virtual WsHandle handle() const = 0;
    [[nodiscard]] virtual int worker() const = 0;
    [[nodiscard]] virtual std::string_view remote_address() const = 0;
};

/// Per-session logic, owned by the session and called on its worker thread only, in order:
/// `on_open`, then `on_text`/`on_binary` per message (the next read starts only after the
/// callback returned: backpressure), then `on_close` exactly once.
class WsHandler {
public:
    virtual ~WsHandler() = default;

    virtual void on_open(WsConnection& connection) { static_cast<void>(connection); }

    virtual void on_text(WsConnection& connection, std::string_view message) = 0;
    /// Default: close with 1003 "binary frames are not supported".
    virtual void on_binary(WsConnection& connection, std::span<const std::byte> message);
    virtual void on_close(const WsCloseInfo& info) = 0;
};

/// Decides a WebSocket upgrade on the worker thread: a handler accepts it, a Response refuses it
/// (401 bad token, 503 full, ...) and is sent instead of the 101.
using WsAcceptResult = std::variant<std::unique_ptr<WsHandler>, Response>;
using WsAcceptor = std::function<WsAcceptResult(const Request& upgrade_request)>;

/// Maps method + path to handlers. Patterns are literal segments and `{name}` segments
/// ("/calls/{id}/analyze"); literal segments win over parameters. Unknown path: 404 JSON error;
/// known path, other method: 405 with `Allow`. HEAD is answered by the GET route without a body.
/// Build it completely before giving it to the Server; it is immutable afterwards.
class Router {
public:
    void add(Method method, std::string pattern, HttpHandler handler);
    /// A WebSocket endpoint. A plain (non-upgrade) GET on the path gets 426 Upgrade Required
    /// unless an HTTP route for GET on the same pattern exists.
    void add_websocket(std::string pattern, WsAcceptor acceptor);

    struct Route {
        Method method;
        std::vector<std::string> segments;
        HttpHandler handler;
    };

    struct WsRoute {
        std::vector<std::string> segments;
        WsAcceptor acceptor;
    };

    [[nodiscard]] const std::vector<Route>& routes() const { return routes_; }

    [[nodiscard]] const std::vector<WsRoute>& ws_routes() const { return ws_routes_; }

private:
    std::vector<Route> routes_;
    std::vector<WsRoute> ws_routes_;
};

/// Counters since start (relaxed atomics inside; a snapshot here).
struct ServerStats {
    std::uint64_t connections_accepted = 0;
    std::uint64_t requests = 0;
    std::uint64_t responses_4xx = 0;
    std::uint64_t responses_5xx = 0;
    std::uint64_t ws_sessions_opened = 0;
    std::uint64_t ws_sessions_refused = 0;  ///< upgrade answered with a Response, or full
    std::uint64_t ws_messages_received = 0;
    std::uint64_t ws_messages_too_big = 0;
    std::uint64_t ws_sessions_active = 0;
    std::uint64_t ws_send_queue_overflows = 0;  ///< sessions closed 1008 for a full send queue
    std::uint64_t handler_exceptions = 0;       ///< caught at the session boundary
    std::uint64_t event_streams_active = 0;     ///< server-sent-event streams open now
};

/// The Boost.Beast/Asio HTTP + WebSocket server (house style 3.8): `workers` threads named
/// worker-0.., each running its own io_context; one acceptor on worker 0 hands each connection
/// to a worker round-robin, and the connection, its handler and any WebSocket session stay on
/// that worker for life (no strands, no locks). Sessions are C++20 coroutines.
/// Exceptions from handlers are caught at the session boundary: HTTP answers 500, a WebSocket
/// session closes with 1011; the worker goes on.
class Server {
public:
    Server(ServerOptions options, Router router);
    ~Server();  ///< stop() with a 1 s grace if still running
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    /// Binds, listens and starts the workers. Errors: the address/port cannot be bound.
    [[nodiscard]] base::Result<void> start();

    /// The bound port (the ephemeral one when options.port was 0). Valid after start().
    [[nodiscard]] std::uint16_t port() const;

    /// Stops accepting, closes WebSocket sessions with 1001 "server shutting down", lets requests
    /// in flight finish until `grace` passes, then stops the workers and joins them. Idempotent.
    void stop(std::chrono::milliseconds grace);

    [[nodiscard]] ServerStats stats() const;
    [[nodiscard]] int worker_count() const;

    /// Runs `task` on worker `worker`'s thread (0 <= worker < worker_count(); the server must
    /// have been started). After stop() the task is dropped without running.
    void post(int worker, std::function<void()> task);

private:
    class Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace dvd::net
