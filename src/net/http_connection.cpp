#include "net/http_connection.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <ctime>
#include <deque>
#include <exception>
#include <functional>
#include <limits>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/file_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <fmt/format.h>

#include "base/log.hpp"
#include "net/route_match.hpp"
#include "net/ws_session.hpp"

namespace dvd::net {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;

namespace detail {
namespace {

using asio::as_tuple;
using asio::use_awaitable;
using namespace std::chrono_literals;

/// A silent event stream gets a comment line this often, so that a vanished client is noticed
/// by a failing write even when no event is sent.
constexpr auto kEventHeartbeat = 15s;
/// After a response with `Connection: close`, what the client still sends (the rest of a body
/// we refused) is read and dropped for this long, so that closing does not reset the connection
/// before the client has read our answer.
constexpr auto kLingerTime = 2s;
constexpr std::size_t kLingerMaxBytes = 8U << 20;
constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

[[nodiscard]] std::string_view to_std(beast::string_view text) noexcept {
    return {text.data(), text.size()};
}

[[nodiscard]] Method to_method(http::verb verb) noexcept {
    switch (verb) {
        case http::verb::get:
            return Method::Get;
        case http::verb::head:
            return Method::Head;
        case http::verb::post:
            return Method::Post;
        case http::verb::put:
            return Method::Put;
        case http::verb::patch:
            return Method::Patch;
        case http::verb::delete_:
            return Method::Delete;
        case http::verb::options:
            return Method::Options;
        default:
            return Method::Other;
    }
}

/// RFC 9110 section 5.6.7 IMF-fixdate, e.g. "Sun, 06 Nov 1994 08:49:37 GMT".
[[nodiscard]] std::string http_date() {
    static constexpr std::array<std::string_view, 7> kDays{"Sun", "Mon", "Tue", "Wed",
                                                           "Thu", "Fri", "Sat"};
    static constexpr std::array<std::string_view, 12> kMonths{
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
    std::tm utc{};
    gmtime_r(&now, &utc);
    return fmt::format("{}, {:02} {} {} {:02}:{:02}:{:02} GMT",
                       kDays[static_cast<std::size_t>(utc.tm_wday) % 7], utc.tm_mday,
                       kMonths[static_cast<std::size_t>(utc.tm_mon) % 12], utc.tm_year + 1900,
                       utc.tm_hour, utc.tm_min, utc.tm_sec);
}

[[nodiscard]] bool is_http_parse_error(const beast::error_code& ec) {
    return &ec.category() == &http::make_error_code(http::error::bad_method).category();
}

/// "event: <name>\ndata: <line>\n...\n\n"; a "\n" inside `data` starts another data line, as
/// the SSE format requires.
[[nodiscard]] std::string format_event(std::string_view event, std::string_view data) {
    std::string chunk;
    chunk.reserve(event.size() + data.size() + 16);
    if (!event.empty()) {
        chunk += "event: ";
        chunk += event;
        chunk += '\n';
    }
    for (;;) {
        const std::size_t newline = data.find('\n');
        chunk += "data: ";
        chunk += data.substr(0, newline);
        chunk += '\n';
        if (newline == std::string_view::npos) {
            break;
        }
        data = data.substr(newline + 1);
    }
    chunk += '\n';
    return chunk;
}

/// The answer to a request that could not be read, or nullopt when the connection just ends
/// (end of stream, timeout, reset).
[[nodiscard]] std::optional<Response> response_for_read_error(const beast::error_code& ec,
                                                              const ServerOptions& options) {
    if (ec == http::error::body_limit) {
        return Response::json_error(
                413, "payload_too_large",
                fmt::format("the request body exceeds {} bytes", options.max_body_bytes));
    }
    if (ec == http::error::header_limit) {
        return Response::json_error(
                431, "headers_too_large",
                fmt::format("the request head exceeds {} bytes", options.max_header_bytes));
    }
    if (is_http_parse_error(ec) && ec != http::error::end_of_stream
        && ec != http::error::partial_message) {
        return Response::json_error(400, "bad_request",
                                    fmt::format("malformed request: {}", ec.message()));
    }
    return std::nullopt;
}

}  // namespace

/// The event-stream sink a handler gets from Responder::start_event_stream. `send` and `close`
/// from any thread; the connection drains it on its worker.
class EventStreamImpl final : public Responder::EventStream {
public:
    EventStreamImpl(std::size_t queue_limit, std::function<void()> wake)
        : queue_limit_(queue_limit), wake_(std::move(wake)) {}

    bool send(std::string_view event, std::string_view data) override {
        if (!open_.load(std::memory_order_acquire)) {
            return false;
        }
        std::string chunk = format_event(event, data);
        bool need_wake = false;
        {
            std::lock_guard lock(mutex_);
            if (!open_.load(std::memory_order_acquire) || close_requested_
                || queue_.size() >= queue_limit_) {
                return false;
            }
            queue_.push_back(std::move(chunk));
            need_wake = !wake_pending_;
            wake_pending_ = true;
        }
        if (need_wake && wake_) {
            wake_();
        }
        return true;
    }

    [[nodiscard]] bool is_open() const override { return open_.load(std::memory_order_acquire); }

    void close() override {
        bool need_wake = false;
        {
            std::lock_guard lock(mutex_);
            if (close_requested_) {
                return;
            }
            close_requested_ = true;
            need_wake = !wake_pending_;
            wake_pending_ = true;
        }
        if (need_wake && wake_) {
            wake_();
        }
    }

    // ---- the connection's side (its worker thread) ----
    [[nodiscard]] std::deque<std::string> take() {
        std::deque<std::string> batch;
        std::lock_guard lock(mutex_);
        batch.swap(queue_);
        wake_pending_ = false;
        return batch;
    }

    [[nodiscard]] bool close_requested() const {
        std::lock_guard lock(mutex_);
        return close_requested_;
    }

    void mark_closed() {
        std::lock_guard lock(mutex_);
        open_.store(false, std::memory_order_release);
        queue_.clear();
    }

private:
    const std::size_t queue_limit_;
    const std::function<void()> wake_;  ///< empty: nobody drains (callback Responder)
    mutable std::mutex mutex_;
    std::atomic<bool> open_{true};
    // ---- guarded by mutex_ ----
    std::deque<std::string> queue_;
    bool wake_pending_ = false;
    bool close_requested_ = false;
};

/// What ends a connection's wait for its handler.
struct Completion {
    Response response{};
    std::shared_ptr<EventStreamImpl> events{};  ///< set: switch to an event stream
    bool dropped = false;                       ///< the Responder was destroyed unused
};

}  // namespace detail

/// Shared by a Responder and the connection it answers; the `done` flag makes completion
/// exactly-once whichever thread gets there first.
class Responder::Impl {
public:
    using Deliver = std::function<void(detail::Completion)>;

    Impl(Deliver deliver, std::function<void()> wake_events, std::size_t event_queue_limit)
        : deliver_(std::move(deliver)),
          wake_events_(std::move(wake_events)),
          event_queue_limit_(event_queue_limit) {}

    /// Claims the single completion; false when it was already claimed.
    [[nodiscard]] bool claim() noexcept { return !done_.exchange(true, std::memory_order_acq_rel); }

    void deliver(detail::Completion completion) { deliver_(std::move(completion)); }

    [[nodiscard]] const std::function<void()>& wake_events() const { return wake_events_; }

    [[nodiscard]] std::size_t event_queue_limit() const { return event_queue_limit_; }

private:
    const Deliver deliver_;
    const std::function<void()> wake_events_;
    const std::size_t event_queue_limit_;
    std::atomic<bool> done_{false};
};

Responder::Responder(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

Responder::Responder(Responder&& other) noexcept = default;

Responder& Responder::operator=(Responder&& other) noexcept {
    if (this != &other) {
        Responder dropped(std::move(*this));  // answers 500 if it was still unanswered
        impl_ = std::move(other.impl_);
    }
    return *this;
}

Responder::~Responder() {
    if (impl_ && impl_->claim()) {
        DVD_LOG_RATE_LIMITED(Net, Warn, "handler dropped a request without answering it");
        try {
            impl_->deliver(detail::Completion{
                    Response::json_error(500, "internal_error", "handler dropped the request"),
                    nullptr, true});
        } catch (...) {
            // Only bad_alloc can get here; a destructor must not throw.
        }
    }
}

void Responder::send(Response response) && {
    const std::shared_ptr<Impl> impl = std::move(impl_);
    if (impl && impl->claim()) {
        impl->deliver(detail::Completion{std::move(response), nullptr, false});
    }
}

std::shared_ptr<Responder::EventStream> Responder::start_event_stream() && {
    const std::shared_ptr<Impl> impl = std::move(impl_);
    if (!impl || !impl->claim()) {
        auto closed = std::make_shared<detail::EventStreamImpl>(0, nullptr);
        closed->mark_closed();
        return closed;
    }
    auto events = std::make_shared<detail::EventStreamImpl>(impl->event_queue_limit(),
                                                            impl->wake_events());
    impl->deliver(detail::Completion{Response{}, events, false});
    return events;
}

Responder Responder::from_callback(std::function<void(Response)> on_response) {
    auto deliver = [on_response = std::move(on_response)](detail::Completion completion) {
        if (completion.events) {
            completion.events->mark_closed();
            on_response(Response::text(200, "", "text/event-stream"));
            return;
        }
        on_response(std::move(completion.response));
    };
    return Responder(std::make_shared<Impl>(std::move(deliver), nullptr, 0));
}

namespace detail {
namespace {

/// One accepted TCP connection, on its worker thread for life: reads requests one at a time,
/// routes them, waits for the Responder, writes the answer; or becomes an event stream or a
/// WebSocket session. Owned by its coroutine(s) through shared_ptr; Responders hold a weak_ptr.
class HttpConnection final : public LiveConnection,
                             public std::enable_shared_from_this<HttpConnection> {
public:
    HttpConnection(ServerState& state, Worker& worker, tcp::socket socket)
        : state_(state),
          worker_(worker),
          stream_(std::move(socket)),
          signal_(stream_.get_executor()),
          write_deadline_(stream_.get_executor()) {
        beast::error_code ec;
        stream_.socket().set_option(tcp::no_delay(true), ec);
        const auto endpoint = stream_.socket().remote_endpoint(ec);
        if (!ec) {
            remote_address_ = endpoint.address().to_string();
        }
        worker_.connections.insert(this);
        state_.connection_opened();
    }

    ~HttpConnection() {
        worker_.connections.erase(this);
        state_.connection_closed();
    }

    HttpConnection(const HttpConnection&) = delete;
    HttpConnection& operator=(const HttpConnection&) = delete;

    asio::awaitable<void> serve();
    asio::awaitable<void> watch_event_client();

    /// The Responder's answer arrived (worker thread).
    void complete(Completion completion) {
        if (completion_) {
            return;
        }
        completion_ = std::move(completion);
        signal_.cancel();
    }

    /// An event was queued or the event stream closed (worker thread).
    void wake() { signal_.cancel(); }

    void on_server_stop() override {
        switch (phase_) {
            case Phase::Reading:
            case Phase::Closing:
                close_socket();
                break;
            case Phase::Handling:
            case Phase::Writing:
                close_after_response_ = true;
                break;
            case Phase::Events:
                if (events_) {
                    events_->close();
                }
                break;
            case Phase::WebSocket:
                break;  // the session is registered on its own
        }
    }

    void force_close() override {
        aborted_ = true;
        if (phase_ != Phase::WebSocket) {
            close_socket();
        }
        signal_.cancel();
        write_deadline_.cancel();
    }

private:
    enum class Phase { Reading, Handling, Writing, Events, WebSocket, Closing };

    /// Where a request goes: a handler, a WebSocket acceptor, or `response` at once.
    struct Routed {
        Request request{};
        const HttpHandler* handler = nullptr;
        const WsAcceptor* acceptor = nullptr;
        Response response{};  ///< when neither handler nor acceptor is set
    };

    /// Builds the Request (moving the body out of `message`) and routes it. Synchronous.
    [[nodiscard]] Routed route(http::request<http::string_body>& message);

    [[nodiscard]] asio::awaitable<beast::error_code> read_request(
            http::request_parser<http::string_body>& parser);
    [[nodiscard]] asio::awaitable<Completion> handle(const HttpHandler& handler, Request request);
    void on_handler_exception(Responder::Impl& impl, std::string_view what);
    [[nodiscard]] asio::awaitable<bool> write_response(Response response, unsigned version,
                                                       bool head, bool keep_alive);
    asio::awaitable<void> refuse_and_close(Response response, unsigned version);
    asio::awaitable<void> upgrade(http::request<http::string_body> message, Request request,
                                  const WsAcceptor& acceptor);
    asio::awaitable<void> serve_events(std::shared_ptr<EventStreamImpl> events);
    [[nodiscard]] asio::awaitable<bool> write_raw(std::string_view bytes);
    /// Waits for complete()/wake()/force_close(), or `timeout`; true when the timeout expired.
    [[nodiscard]] asio::awaitable<bool> wait_signal(std::chrono::steady_clock::duration timeout);
    asio::awaitable<void> close_gracefully();
    void close_socket();
    [[nodiscard]] std::shared_ptr<Responder::Impl> make_responder();

    ServerState& state_;
    Worker& worker_;
    beast::tcp_stream stream_;
    beast::flat_buffer buffer_;
    asio::steady_timer signal_;
    asio::steady_timer write_deadline_;
    std::string remote_address_;
    Phase phase_ = Phase::Reading;
    bool close_after_response_ = false;
    bool aborted_ = false;
    bool client_gone_ = false;
    std::optional<Completion> completion_;
    std::shared_ptr<EventStreamImpl> events_;
};

asio::awaitable<void> watch_event_client_of(std::shared_ptr<HttpConnection> connection) {
    co_await connection->watch_event_client();
}

asio::awaitable<void> HttpConnection::serve() {
    const ServerOptions& options = state_.options;
    for (;;) {
        // Also catches a connection whose last write was still completing when the stop pass
        // ran (it then saw Phase::Writing).
        if (worker_.stopping || close_after_response_) {
            close_socket();
            co_return;
        }
        phase_ = Phase::Reading;
        http::request_parser<http::string_body> parser;
        parser.body_limit(options.max_body_bytes);
        parser.header_limit(static_cast<std::uint32_t>(std::min<std::size_t>(
                options.max_header_bytes, std::numeric_limits<std::uint32_t>::max())));
        const beast::error_code ec = co_await read_request(parser);
        if (ec) {
            // GCC 12: no temporaries with destructors inside a co_await expression.
            std::optional<Response> refusal = response_for_read_error(ec, options);
            if (refusal) {
                co_await refuse_and_close(std::move(*refusal), 11);
            } else {
                close_socket();  // end of stream, timeout, reset, shutdown
            }
            co_return;
        }

        Counters::add(state_.counters.requests);
        auto& message = parser.get();
        const unsigned version = message.version();
        const bool keep_alive = message.keep_alive();
        const bool head = message.method() == http::verb::head;
        // GCC 12 miscompiles co_await inside conditions (if/switch): decide first, then await.
        Routed routed = route(message);
        if (routed.acceptor != nullptr) {
            http::request<http::string_body> upgrade_request = parser.release();
            co_await upgrade(std::move(upgrade_request), std::move(routed.request),
                             *routed.acceptor);
            co_return;
        }
        Response response;
        if (routed.handler != nullptr) {
            Completion completion = co_await handle(*routed.handler, std::move(routed.request));
            if (aborted_) {
                co_return;
            }
            if (completion.events) {
                co_await serve_events(std::move(completion.events));
                co_return;
            }
            response = std::move(completion.response);
        } else {
            response = std::move(routed.response);
        }

        phase_ = Phase::Writing;
        const bool keep = keep_alive && !close_after_response_ && !worker_.stopping;
        const bool written = co_await write_response(std::move(response), version, head, keep);
        if (!written) {
            close_socket();
            co_return;
        }
        if (!keep) {
            co_await close_gracefully();
            co_return;
        }
    }
}

HttpConnection::Routed HttpConnection::route(http::request<http::string_body>& message) {
    Routed routed;
    Request& request = routed.request;
    request.method = to_method(message.method());
    request.method_name = std::string(to_std(message.method_string()));
    request.target = std::string(to_std(message.target()));
    request.remote_address = remote_address_;
    request.worker = worker_.index;
    request.headers.reserve(16);
    for (const auto& field : message) {
        std::string name(to_std(field.name_string()));
        std::transform(name.begin(), name.end(), name.begin(), [](char c) {
            return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
        });
        request.headers.emplace_back(std::move(name), std::string(to_std(field.value())));
    }
    auto target = parse_target(request.target);
    if (!target) {
        routed.response = Response::json_error(400, "bad_request", "malformed request target");
        return routed;
    }
    request.path = std::move(target->path);
    request.query = std::move(target->query);
    if (boost::beast::websocket::is_upgrade(message)) {
        auto ws = match_websocket(state_.router, target->segments);
        if (ws.has_value()) {
            request.path_params = std::move(ws->path_params);
            routed.acceptor = ws->acceptor;
            return routed;
        }
    }
    request.body = std::move(message.body());
    RouteMatch match = match_route(state_.router, request.method, target->segments);
    switch (match.kind) {
        case RouteMatch::Kind::Handler:
            request.path_params = std::move(match.path_params);
            routed.handler = match.handler;
            break;
        case RouteMatch::Kind::NotFound:
            routed.response = Response::json_error(404, "not_found",
                                                   fmt::format("no route for {}", request.path));
            break;
        case RouteMatch::Kind::MethodNotAllowed:
            routed.response = Response::json_error(
                    405, "method_not_allowed",
                    fmt::format("{} is not allowed on {}", request.method_name, request.path));
            routed.response.headers.emplace_back("Allow", std::move(match.allow));
            break;
        case RouteMatch::Kind::UpgradeRequired:
            routed.response = Response::json_error(426, "upgrade_required",
                                                   "this path is a WebSocket endpoint");
            routed.response.headers.emplace_back("Upgrade", "websocket");
            break;
    }
    return routed;
}

asio::awaitable<beast::error_code> HttpConnection::read_request(
        http::request_parser<http::string_body>& parser) {
    stream_.expires_after(state_.options.http_idle_timeout);
    auto [ec, header_bytes] =
            co_await http::async_read_header(stream_, buffer_, parser, as_tuple(use_awaitable));
    static_cast<void>(header_bytes);
    if (ec || parser.is_done()) {
        co_return ec;
    }
    // curl and others wait (up to 1 s) for "100 Continue" before sending a larger body.
    const auto& header = parser.get();
    const auto expect = header.find(http::field::expect);
    if (expect != header.end() && beast::iequals(expect->value(), "100-continue")) {
        auto [write_ec, written] = co_await asio::async_write(
                stream_, asio::buffer(kContinue.data(), kContinue.size()), as_tuple(use_awaitable));
        static_cast<void>(written);
        if (write_ec) {
            co_return write_ec;
        }
    }
    auto [body_ec, body_bytes] =
            co_await http::async_read(stream_, buffer_, parser, as_tuple(use_awaitable));
    static_cast<void>(body_bytes);
    co_return body_ec;
}

std::shared_ptr<Responder::Impl> HttpConnection::make_responder() {
    std::weak_ptr<HttpConnection> weak = weak_from_this();
    std::shared_ptr<WorkerGate> gate = worker_.gate;
    auto deliver = [gate, weak](Completion completion) {
        gate->dispatch([weak, completion = std::move(completion)]() mutable {
            if (auto connection = weak.lock()) {
                connection->complete(std::move(completion));
            }
        });
    };
    auto wake = [gate, weak] {
        gate->dispatch([weak] {
            if (auto connection = weak.lock()) {
                connection->wake();
            }
        });
    };
    return std::make_shared<Responder::Impl>(std::move(deliver), std::move(wake),
                                             state_.options.max_ws_send_queue);
}

asio::awaitable<Completion> HttpConnection::handle(const HttpHandler& handler, Request request) {
    phase_ = Phase::Handling;
    completion_.reset();
    const std::shared_ptr<Responder::Impl> impl = make_responder();
    try {
        handler(std::move(request), Responder(impl));
    } catch (const std::exception& e) {
        on_handler_exception(*impl, e.what());
    } catch (...) {
        on_handler_exception(*impl, "non-standard exception");
    }
    while (!completion_ && !aborted_) {
        static_cast<void>(co_await wait_signal(std::chrono::steady_clock::duration::max()));
    }
    if (!completion_) {
        co_return Completion{Response::json_error(503, "shutting_down", "server stopped"), nullptr,
                             false};
    }
    Completion completion = std::move(*completion_);
    completion_.reset();
    co_return completion;
}

void HttpConnection::on_handler_exception(Responder::Impl& impl, std::string_view what) {
    Counters::add(state_.counters.handler_exceptions);
    DVD_LOG_RATE_LIMITED(Net, Error, "HTTP handler threw: {} worker={}", what, worker_.index);
    Response error = Response::json_error(500, "internal_error", "the request handler failed");
    if (impl.claim()) {
        completion_ = Completion{std::move(error), nullptr, false};
    } else if (completion_ && completion_->dropped) {
        // The Responder died during unwinding; say what really happened.
        completion_->response = std::move(error);
    }
}

asio::awaitable<bool> HttpConnection::write_response(Response response, unsigned version, bool head,
                                                     bool keep_alive) {
    int status = response.status;
    if (status < 100 || status > 999) {
        status = 500;
    }
    const bool bodyless = status < 200 || status == 204 || status == 304;
    std::optional<http::file_body::value_type> file;
    if (!response.file_path.empty() && !bodyless) {
        beast::error_code open_ec;
        file.emplace();
        file->open(response.file_path.c_str(), beast::file_mode::scan, open_ec);
        if (open_ec) {
            file.reset();
            response = Response::json_error(404, "not_found", "the file is no longer available");
            status = 404;
        }
    }
    if (status >= 500) {
        Counters::add(state_.counters.responses_5xx);
    } else if (status >= 400) {
        Counters::add(state_.counters.responses_4xx);
    }
    auto fill = [&](auto& message) {
        message.version(version == 10 ? 10 : 11);
        message.result(static_cast<unsigned>(status));
        message.set(http::field::server, state_.options.server_name);
        message.set(http::field::date, http_date());
        for (const auto& [name, value] : response.headers) {
            message.insert(name, value);
        }
        if (!bodyless && !response.content_type.empty()) {
            message.set(http::field::content_type, response.content_type);
        }
    };
    stream_.expires_after(state_.options.http_idle_timeout);
    if (file && !head) {
        http::response<http::file_body> message;
        fill(message);
        message.body() = std::move(*file);
        message.prepare_payload();
        message.keep_alive(keep_alive);
        // A large file is written piece by piece, the idle timeout restarting with each piece:
        // a slow but live client gets the whole file, a stalled one is cut off.
        http::response_serializer<http::file_body> serializer(message);
        while (!serializer.is_done()) {
            stream_.expires_after(state_.options.http_idle_timeout);
            auto [ec, bytes] =
                    co_await http::async_write_some(stream_, serializer, as_tuple(use_awaitable));
            static_cast<void>(bytes);
            if (ec) {
                co_return false;
            }
        }
        co_return true;
    }
    http::response<http::string_body> message;
    fill(message);
    if (!bodyless) {
        if (head) {
            message.content_length(file ? file->size() : response.body.size());
        } else {
            message.body() = std::move(response.body);
            message.prepare_payload();
        }
    }
    message.keep_alive(keep_alive);
    auto [ec, bytes] = co_await http::async_write(stream_, message, as_tuple(use_awaitable));
    static_cast<void>(bytes);
    co_return !ec;
}

asio::awaitable<void> HttpConnection::refuse_and_close(Response response, unsigned version) {
    phase_ = Phase::Writing;
    const bool written = co_await write_response(std::move(response), version, false, false);
    if (written) {
        co_await close_gracefully();
    } else {
        close_socket();
    }
}

asio::awaitable<void> HttpConnection::upgrade(http::request<http::string_body> message,
                                              Request request, const WsAcceptor& acceptor) {
    const unsigned version = message.version();
    std::optional<Response> refusal;
    std::unique_ptr<WsHandler> handler;
    if (worker_.stopping) {
        refusal = Response::json_error(503, "shutting_down", "the server is shutting down");
    } else if (worker_.ws_sessions >= state_.options.max_ws_sessions_per_worker) {
        refusal = Response::json_error(503, "too_many_sessions",
                                       "too many WebSocket sessions; try again later");
        refusal->headers.emplace_back("Retry-After", "1");
    } else {
        try {
            WsAcceptResult result = acceptor(request);
            if (auto* response = std::get_if<Response>(&result)) {
                refusal = std::move(*response);
            } else {
                handler = std::move(std::get<std::unique_ptr<WsHandler>>(result));
                if (!handler) {
                    refusal = Response::json_error(500, "internal_error",
                                                   "the WebSocket acceptor gave no handler");
                }
            }
        } catch (const std::exception& e) {
            Counters::add(state_.counters.handler_exceptions);
            DVD_LOG_RATE_LIMITED(Net, Error, "WebSocket acceptor threw: {} path={}", e.what(),
                                 request.path);
            refusal = Response::json_error(500, "internal_error", "the request handler failed");
        } catch (...) {
            Counters::add(state_.counters.handler_exceptions);
            refusal = Response::json_error(500, "internal_error", "the request handler failed");
        }
    }
    if (refusal) {
        Counters::add(state_.counters.ws_sessions_refused);
        co_await refuse_and_close(std::move(*refusal), version);
        co_return;
    }
    phase_ = Phase::WebSocket;
    co_await run_ws_session(state_, worker_, std::move(stream_), std::move(message),
                            std::move(handler), remote_address_);
}

asio::awaitable<void> HttpConnection::serve_events(std::shared_ptr<EventStreamImpl> events) {
    phase_ = Phase::Events;
    events_ = events;
    Counters::add(state_.counters.event_streams_active);
    // From here on the raw socket is used: a tcp_stream deadline set for a write would also
    // end the pending read that watches for the client leaving.
    stream_.expires_never();
    const std::string head = fmt::format(
            "HTTP/1.1 200 OK\r\nServer: {}\r\nDate: {}\r\nContent-Type: text/event-stream\r\n"
            "Cache-Control: no-cache\r\nConnection: close\r\n\r\n",
            state_.options.server_name, http_date());
    bool ok = co_await write_raw(head);
    if (ok && !worker_.stopping) {
        asio::co_spawn(stream_.get_executor(), watch_event_client_of(shared_from_this()),
                       asio::detached);
        while (ok) {
            std::deque<std::string> batch = events->take();
            if (batch.empty()) {
                if (events->close_requested() || client_gone_ || aborted_) {
                    break;
                }
                const bool quiet = co_await wait_signal(kEventHeartbeat);
                if (!quiet) {
                    continue;  // woken: something was queued, or the stream ends
                }
                batch.emplace_back(": keep-alive\n\n");
            }
            for (const std::string& chunk : batch) {
                ok = co_await write_raw(chunk);
                if (!ok) {
                    break;
                }
            }
        }
    }
    events->mark_closed();
    Counters::sub(state_.counters.event_streams_active);
    close_socket();
}

asio::awaitable<void> HttpConnection::watch_event_client() {
    std::array<char, 512> sink{};
    for (;;) {
        auto [ec, bytes] = co_await stream_.socket().async_read_some(asio::buffer(sink),
                                                                     as_tuple(use_awaitable));
        static_cast<void>(bytes);
        if (ec) {
            break;
        }
    }
    client_gone_ = true;
    if (events_) {
        events_->mark_closed();
    }
    signal_.cancel();
}

asio::awaitable<bool> HttpConnection::write_raw(std::string_view bytes) {
    // A client that stops reading must not hold the connection forever.
    write_deadline_.expires_after(state_.options.http_idle_timeout);
    write_deadline_.async_wait([weak = weak_from_this()](const beast::error_code& ec) {
        if (!ec) {
            if (auto connection = weak.lock()) {
                connection->close_socket();
            }
        }
    });
    auto [ec, written] = co_await asio::async_write(
            stream_.socket(), asio::buffer(bytes.data(), bytes.size()), as_tuple(use_awaitable));
    static_cast<void>(written);
    write_deadline_.cancel();
    co_return !ec;
}

asio::awaitable<bool> HttpConnection::wait_signal(std::chrono::steady_clock::duration timeout) {
    if (timeout == std::chrono::steady_clock::duration::max()) {
        signal_.expires_at(asio::steady_timer::time_point::max());
    } else {
        signal_.expires_after(timeout);
    }
    auto [ec] = co_await signal_.async_wait(as_tuple(use_awaitable));
    co_return !ec;
}

asio::awaitable<void> HttpConnection::close_gracefully() {
    phase_ = Phase::Closing;
    if (worker_.stopping) {
        close_socket();
        co_return;
    }
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.expires_after(kLingerTime);
    std::array<char, 2048> sink{};
    std::size_t drained = 0;
    while (!ec && drained < kLingerMaxBytes && !aborted_) {
        auto [read_ec, bytes] =
                co_await stream_.async_read_some(asio::buffer(sink), as_tuple(use_awaitable));
        ec = read_ec;
        drained += bytes;
    }
    close_socket();
}

void HttpConnection::close_socket() {
    beast::error_code ec;
    auto& socket = stream_.socket();
    if (socket.is_open()) {
        socket.shutdown(tcp::socket::shutdown_both, ec);
        socket.close(ec);
    }
}

}  // namespace

asio::awaitable<void> run_http_connection(ServerState& state, Worker& worker, tcp::socket socket) {
    auto connection = std::make_shared<HttpConnection>(state, worker, std::move(socket));
    co_await connection->serve();
}

}  // namespace detail
}  // namespace dvd::net
