#include "net/ws_session.hpp"

#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/role.hpp>
#include <boost/beast/websocket/error.hpp>
#include <boost/beast/websocket/stream.hpp>

#include "base/log.hpp"

namespace dvd::net {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;

namespace detail {
class WsSession;
}  // namespace detail

/// What a WsHandle points at: the session while it lives (worker thread only) and the gate
/// that gets other threads onto that worker.
class WsHandle::Impl {
public:
    explicit Impl(std::shared_ptr<detail::WorkerGate> worker_gate) : gate(std::move(worker_gate)) {}

    const std::shared_ptr<detail::WorkerGate> gate;
    detail::WsSession* session = nullptr;  ///< worker thread only; null once the session ended
};

namespace detail {

namespace {

using asio::as_tuple;
using asio::use_awaitable;

/// RFC 6455 section 5.5: a control frame's payload is at most 125 bytes, 2 of them the code.
constexpr std::size_t kMaxCloseReasonBytes = 123;

[[nodiscard]] std::string truncate_utf8(std::string text, std::size_t max_bytes) {
    if (text.size() <= max_bytes) {
        return text;
    }
    std::size_t cut = max_bytes;
    // Do not split a UTF-8 sequence: back off over continuation bytes (10xxxxxx).
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0U) == 0x80U) {
        --cut;
    }
    text.resize(cut);
    return text;
}

}  // namespace

/// One WebSocket session on its worker thread (house style 3.8): a read loop that hands each
/// message to the handler before reading the next (backpressure), and a writer coroutine with
/// one async_write in flight and a bounded queue; our close goes through the writer, after
/// what was queued before it.
class WsSession final : public WsConnection,
                        public LiveConnection,
                        public std::enable_shared_from_this<WsSession> {
public:
    WsSession(ServerState& state, Worker& worker, beast::tcp_stream stream,
              std::unique_ptr<WsHandler> handler, std::string remote_address)
        : state_(state),
          worker_(worker),
          ws_(std::move(stream)),
          signal_(ws_.get_executor()),
          handler_(std::move(handler)),
          remote_address_(std::move(remote_address)),
          handle_impl_(std::make_shared<WsHandle::Impl>(worker.gate)) {
        handle_impl_->session = this;
        worker_.connections.insert(this);
    }

    ~WsSession() override {
        handle_impl_->session = nullptr;
        worker_.connections.erase(this);
    }

    WsSession(const WsSession&) = delete;
    WsSession& operator=(const WsSession&) = delete;

    asio::awaitable<void> run(http::request<http::string_body> upgrade);
    asio::awaitable<void> write_loop();

    bool send_text(std::string message) override {
        if (!open_ || closing_) {
            return false;
        }
        if (outbox_.size() >= state_.options.max_ws_send_queue) {
            Counters::add(state_.counters.ws_send_queue_overflows);
            DVD_LOG_RATE_LIMITED(Net, Warn,
                                 "WebSocket send queue full ({} messages), closing worker={} "
                                 "remote={}",
                                 outbox_.size(), worker_.index, remote_address_);
            // Keep only the message being written: the slow reader gets its close frame next.
            const auto keep = static_cast<std::ptrdiff_t>(write_in_flight_ ? 1 : 0);
            outbox_.erase(outbox_.begin() + keep, outbox_.end());
            close(CloseCode::PolicyViolation, "send queue full");
            return false;
        }
        outbox_.push_back(std::move(message));
        signal_.cancel();
        return true;
    }

    void close(CloseCode code, std::string reason) override {
        if (!open_ || closing_) {
            return;
        }
        closing_ = true;
        close_reason_.code = static_cast<std::uint16_t>(code);
        const std::string truncated = truncate_utf8(std::move(reason), kMaxCloseReasonBytes);
        close_reason_.reason.assign(truncated.data(), truncated.size());
        signal_.cancel();
    }

    [[nodiscard]] WsHandle handle() const override { return WsHandle(handle_impl_); }

    [[nodiscard]] int worker() const override { return worker_.index; }

    [[nodiscard]] std::string_view remote_address() const override { return remote_address_; }

    void on_server_stop() override { close(CloseCode::GoingAway, "server shutting down"); }

    void force_close() override {
        close_socket();
        signal_.cancel();
    }

private:
    void deliver(bool text, const beast::flat_buffer& buffer);
    void handler_failed(std::string_view what);
    [[nodiscard]] WsCloseInfo close_info_for(const beast::error_code& ec);

    void close_socket() {
        beast::error_code ec;
        auto& socket = beast::get_lowest_layer(ws_).socket();
        if (socket.is_open()) {
            socket.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
            socket.close(ec);
        }
    }

    ServerState& state_;
    Worker& worker_;
    websocket::stream<beast::tcp_stream> ws_;
    asio::steady_timer signal_;  ///< wakes the writer
    std::unique_ptr<WsHandler> handler_;
    std::string remote_address_;
    std::shared_ptr<WsHandle::Impl> handle_impl_;
    std::deque<std::string> outbox_;  ///< front is being written while write_in_flight_
    websocket::close_reason close_reason_;
    bool open_ = false;     ///< handshake done and the session has not ended
    bool closing_ = false;  ///< we asked to close; no more callbacks, no more sends
    bool close_sent_ = false;
    bool ended_ = false;
    bool write_in_flight_ = false;
};

namespace {

asio::awaitable<void> run_writer(std::shared_ptr<WsSession> session) {
    co_await session->write_loop();
}

}  // namespace

asio::awaitable<void> WsSession::run(http::request<http::string_body> upgrade) {
    const ServerOptions& options = state_.options;
    beast::get_lowest_layer(ws_).expires_never();
    auto timeouts = websocket::stream_base::timeout::suggested(beast::role_type::server);
    timeouts.idle_timeout = options.ws_idle_timeout;
    timeouts.keep_alive_pings = false;  // ws_idle_timeout: no frame for this long closes
    ws_.set_option(timeouts);
    ws_.set_option(websocket::stream_base::decorator(
            [name = options.server_name](websocket::response_type& response) {
                response.set(http::field::server, name);
            }));
    ws_.read_message_max(options.max_ws_message_bytes);

    auto [accept_ec] = co_await ws_.async_accept(upgrade, as_tuple(use_awaitable));
    if (accept_ec) {
        DVD_LOG_RATE_LIMITED(Net, Debug, "WebSocket handshake failed: {} remote={}",
                             accept_ec.message(), remote_address_);
        close_socket();
        co_return;
    }
    open_ = true;
    ++worker_.ws_sessions;
    Counters::add(state_.counters.ws_sessions_opened);
    Counters::add(state_.counters.ws_sessions_active);
    asio::co_spawn(ws_.get_executor(), run_writer(shared_from_this()), asio::detached);

    try {
        handler_->on_open(*this);
    } catch (const std::exception& e) {
        handler_failed(e.what());
    } catch (...) {
        handler_failed("non-standard exception");
    }
    if (worker_.stopping) {
        on_server_stop();  // the stop pass ran while the handshake was in flight
    }

    beast::flat_buffer buffer;
    WsCloseInfo info;
    for (;;) {
        auto [ec, bytes] = co_await ws_.async_read(buffer, as_tuple(use_awaitable));
        static_cast<void>(bytes);
        if (ec) {
            info = close_info_for(ec);
            break;
        }
        Counters::add(state_.counters.ws_messages_received);
        if (!closing_) {
            deliver(ws_.got_text(), buffer);
        }
        buffer.consume(buffer.size());
    }

    open_ = false;
    ended_ = true;
    handle_impl_->session = nullptr;
    --worker_.ws_sessions;
    Counters::sub(state_.counters.ws_sessions_active);
    signal_.cancel();  // the writer ends
    close_socket();    // usually closed already by the closing handshake or the failure
    try {
        handler_->on_close(info);
    } catch (const std::exception& e) {
        Counters::add(state_.counters.handler_exceptions);
        DVD_LOG_RATE_LIMITED(Net, Error, "WebSocket on_close threw: {}", e.what());
    } catch (...) {
        Counters::add(state_.counters.handler_exceptions);
    }
    handler_.reset();
}

asio::awaitable<void> WsSession::write_loop() {
    bool failed = false;
    while (!ended_) {
        if (!outbox_.empty()) {
            write_in_flight_ = true;
            ws_.text(true);
            auto [ec, bytes] = co_await ws_.async_write(
                    asio::buffer(outbox_.front().data(), outbox_.front().size()),
                    as_tuple(use_awaitable));
            static_cast<void>(bytes);
            write_in_flight_ = false;
            if (ec) {
                failed = true;
                break;
            }
            outbox_.pop_front();
            continue;
        }
        if (closing_) {
            if (!close_sent_) {
                close_sent_ = true;
                auto [ec] = co_await ws_.async_close(close_reason_, as_tuple(use_awaitable));
                failed = static_cast<bool>(ec);
            }
            break;
        }
        signal_.expires_at(asio::steady_timer::time_point::max());
        auto [ec] = co_await signal_.async_wait(as_tuple(use_awaitable));
        static_cast<void>(ec);
    }
    if (failed && !ended_) {
        close_socket();  // the read loop ends and reports the session closed
    }
}

void WsSession::deliver(bool text, const beast::flat_buffer& buffer) {
    const auto data = buffer.cdata();
    try {
        if (text) {
            handler_->on_text(*this,
                              std::string_view(static_cast<const char*>(data.data()), data.size()));
        } else {
            handler_->on_binary(
                    *this, std::span<const std::byte>(static_cast<const std::byte*>(data.data()),
                                                      data.size()));
        }
    } catch (const std::exception& e) {
        handler_failed(e.what());
    } catch (...) {
        handler_failed("non-standard exception");
    }
}

void WsSession::handler_failed(std::string_view what) {
    Counters::add(state_.counters.handler_exceptions);
    DVD_LOG_RATE_LIMITED(Net, Error, "WebSocket handler threw: {} worker={} remote={}", what,
                         worker_.index, remote_address_);
    close(CloseCode::InternalError, "internal error");
}

WsCloseInfo WsSession::close_info_for(const beast::error_code& ec) {
    WsCloseInfo info;
    if (closing_) {
        info.code = close_reason_.code;
        info.reason = std::string(close_reason_.reason.data(), close_reason_.reason.size());
        info.by_peer = false;
    } else if (ec == websocket::error::closed) {
        const websocket::close_reason& peer = ws_.reason();
        info.code = peer.code == websocket::close_code::none ? std::uint16_t{1005} : peer.code;
        info.reason = std::string(peer.reason.data(), peer.reason.size());
        info.by_peer = true;
    } else if (ec == websocket::error::message_too_big) {
        Counters::add(state_.counters.ws_messages_too_big);
        info.code = static_cast<std::uint16_t>(CloseCode::MessageTooBig);
        info.reason = "message too big";
        DVD_LOG_RATE_LIMITED(Net, Warn, "WebSocket message over {} bytes, closed 1009 remote={}",
                             state_.options.max_ws_message_bytes, remote_address_);
    } else if (ec == beast::error::timeout) {
        info.code = 1006;
        info.reason = "idle timeout";
        info.timed_out = true;
    } else if (&ec.category() == &websocket::make_error_code(websocket::error::closed).category()) {
        // Beast failed the connection and sent the close frame itself (RFC 6455 section 7.1.7).
        info.code = ec == websocket::error::bad_frame_payload
                            ? static_cast<std::uint16_t>(CloseCode::InvalidPayload)
                            : static_cast<std::uint16_t>(CloseCode::ProtocolError);
        info.reason = ec.message();
    } else {
        info.code = 1006;
        info.reason = ec.message();
        info.by_peer = true;
    }
    return info;
}

asio::awaitable<void> run_ws_session(ServerState& state, Worker& worker, beast::tcp_stream stream,
                                     http::request<http::string_body> upgrade,
                                     std::unique_ptr<WsHandler> handler,
                                     std::string remote_address) {
    auto session = std::make_shared<WsSession>(state, worker, std::move(stream), std::move(handler),
                                               std::move(remote_address));
    co_await session->run(std::move(upgrade));
}

}  // namespace detail

WsHandle::WsHandle(std::weak_ptr<Impl> impl) : impl_(std::move(impl)) {}

bool WsHandle::send_text(std::string message) const {
    const std::shared_ptr<Impl> impl = impl_.lock();
    if (!impl) {
        return false;
    }
    return impl->gate->dispatch([impl, message = std::move(message)]() mutable {
        if (impl->session != nullptr) {
            impl->session->send_text(std::move(message));
        }
    });
}

bool WsHandle::close(CloseCode code, std::string reason) const {
    const std::shared_ptr<Impl> impl = impl_.lock();
    if (!impl) {
        return false;
    }
    return impl->gate->dispatch([impl, code, reason = std::move(reason)]() mutable {
        if (impl->session != nullptr) {
            impl->session->close(code, std::move(reason));
        }
    });
}

void WsHandler::on_binary(WsConnection& connection, std::span<const std::byte> message) {
    static_cast<void>(message);
    connection.close(CloseCode::UnsupportedData, "binary frames are not supported");
}

}  // namespace dvd::net
