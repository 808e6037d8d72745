#include "net/ws_client.hpp"

#include <charconv>
#include <chrono>
#include <cstdint>
#include <utility>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/websocket/error.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <fmt/format.h>

namespace dvd::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

constexpr auto kCloseWait = 2s;
/// Longest a refusal body is quoted in the error message.
constexpr std::size_t kMaxQuotedBody = 2000;

struct ParsedUrl {
    std::string host;
    std::string port;
    std::string target;
};

/// "ws://host[:port][/path][?query]"; IPv6 literals in brackets.
[[nodiscard]] base::Result<ParsedUrl> parse_ws_url(std::string_view url) {
    constexpr std::string_view kScheme = "ws://";
    if (!url.starts_with(kScheme)) {
        return base::fail(base::Errc::InvalidArgument,
                          fmt::format("not a ws:// URL (wss is not supported): {}", url));
    }
    url.remove_prefix(kScheme.size());
    const std::size_t authority_end = url.find_first_of("/?");
    const std::string_view authority = url.substr(0, authority_end);
    ParsedUrl parsed;
    parsed.target =
            authority_end == std::string_view::npos ? "/" : std::string(url.substr(authority_end));
    if (!parsed.target.empty() && parsed.target.front() == '?') {
        parsed.target.insert(parsed.target.begin(), '/');
    }
    std::string_view host = authority;
    std::string_view port = "80";
    if (authority.starts_with('[')) {
        const std::size_t close = authority.find(']');
        if (close == std::string_view::npos) {
            return base::fail(base::Errc::InvalidArgument, "unterminated IPv6 literal in URL");
        }
        host = authority.substr(1, close - 1);
        if (close + 1 < authority.size()) {
            if (authority[close + 1] != ':') {
                return base::fail(base::Errc::InvalidArgument, "malformed authority in URL");
            }
            port = authority.substr(close + 2);
        }
    } else if (const std::size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
        host = authority.substr(0, colon);
        port = authority.substr(colon + 1);
    }
    std::uint16_t port_number = 0;
    const auto [end, error] = std::from_chars(port.data(), port.data() + port.size(), port_number);
    if (host.empty() || port.empty() || error != std::errc{} || end != port.data() + port.size()
        || port_number == 0) {
        return base::fail(base::Errc::InvalidArgument, fmt::format("malformed URL: ws://{}", url));
    }
    parsed.host = std::string(host);
    parsed.port = std::string(port);
    return parsed;
}

}  // namespace

/// One io_context driven only from the owning thread: each call starts async operations and
/// runs the context until they finish or the deadline passes. A receive that times out stays
/// pending and is picked up by the next receive.
class WsClient::Impl {
public:
    Impl() : ws(context) {}

    /// Runs handlers until `done` or `deadline`; false on timeout.
    bool run_until(const bool& done, Clock::time_point deadline) {
        while (!done) {
            if (context.stopped()) {
                context.restart();
            }
            if (context.run_one_until(deadline) == 0) {
                if (done) {
                    break;
                }
                if (Clock::now() >= deadline || context.stopped()) {
                    return false;
                }
            }
        }
        return true;
    }

    /// After a timeout: closes the socket and lets every pending handler finish.
    void abort() {
        beast::error_code ec;
        beast::get_lowest_layer(ws).socket().close(ec);
        context.restart();
        context.run_for(1s);
        failed = true;
    }

    base::Result<void> ensure_usable() const {
        if (close.has_value()) {
            return base::fail(base::Errc::Io,
                              fmt::format("connection closed: {} {}", close->code, close->reason));
        }
        if (failed) {
            return base::fail(base::Errc::Io, "connection failed");
        }
        return {};
    }

    void record_close(const beast::error_code& ec) {
        if (close.has_value()) {
            return;
        }
        const websocket::close_reason& reason = ws.reason();
        WsCloseInfo info;
        info.by_peer = true;
        if (reason.code != websocket::close_code::none) {
            info.code = reason.code;
            info.reason = std::string(reason.reason.data(), reason.reason.size());
        } else {
            info.code = 1006;
            info.reason = ec.message();
        }
        close = std::move(info);
    }

    base::Result<void> write(std::string_view bytes, bool text, std::chrono::milliseconds timeout) {
        if (auto usable = ensure_usable(); !usable) {
            return usable;
        }
        bool done = false;
        beast::error_code result;
        ws.text(text);
        ws.async_write(asio::buffer(bytes.data(), bytes.size()),
                       [&done, &result](const beast::error_code& ec, std::size_t) {
                           done = true;
                           result = ec;
                       });
        if (!run_until(done, Clock::now() + timeout)) {
            abort();
            return base::fail(base::Errc::Io, "send timed out");
        }
        if (result) {
            record_close(result);
            return base::fail(base::Errc::Io, fmt::format("send failed: {}", result.message()));
        }
        return {};
    }

    asio::io_context context{1};
    websocket::stream<beast::tcp_stream> ws;
    beast::flat_buffer buffer;
    std::chrono::milliseconds io_timeout{10'000};
    bool read_pending = false;
    bool read_done = false;
    beast::error_code read_error;
    bool failed = false;
    std::optional<WsCloseInfo> close;
};

WsClient::WsClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

WsClient::~WsClient() = default;
WsClient::WsClient(WsClient&&) noexcept = default;
WsClient& WsClient::operator=(WsClient&&) noexcept = default;

base::Result<WsClient> WsClient::connect(std::string_view url, const std::vector<Field>& headers,
                                         std::chrono::milliseconds timeout) {
    auto parsed = parse_ws_url(url);
    if (!parsed) {
        return parsed.error();
    }
    auto impl = std::make_unique<Impl>();
    impl->io_timeout = timeout;
    const auto deadline = Clock::now() + timeout;

    tcp::resolver resolver(impl->context);
    bool resolved = false;
    beast::error_code resolve_error;
    tcp::resolver::results_type endpoints;
    resolver.async_resolve(parsed->host, parsed->port,
                           [&](const beast::error_code& ec, tcp::resolver::results_type results) {
                               resolved = true;
                               resolve_error = ec;
                               endpoints = std::move(results);
                           });
    if (!impl->run_until(resolved, deadline)) {
        resolver.cancel();
        impl->abort();
        return base::fail(base::Errc::Io, fmt::format("resolving {} timed out", parsed->host));
    }
    if (resolve_error) {
        return base::fail(base::Errc::Io, fmt::format("cannot resolve {}: {}", parsed->host,
                                                      resolve_error.message()));
    }

    bool connected = false;
    beast::error_code connect_error;
    beast::get_lowest_layer(impl->ws).async_connect(
            endpoints, [&](const beast::error_code& ec, const tcp::endpoint&) {
                connected = true;
                connect_error = ec;
            });
    if (!impl->run_until(connected, deadline)) {
        impl->abort();
        return base::fail(base::Errc::Io,
                          fmt::format("connecting to {}:{} timed out", parsed->host, parsed->port));
    }
    if (connect_error) {
        return base::fail(base::Errc::Io, fmt::format("cannot connect to {}:{}: {}", parsed->host,
                                                      parsed->port, connect_error.message()));
    }
    beast::error_code ignored;
    beast::get_lowest_layer(impl->ws).socket().set_option(tcp::no_delay(true), ignored);

    impl->ws.set_option(
            websocket::stream_base::decorator([headers](websocket::request_type& request) {
                for (const auto& [name, value] : headers) {
                    request.set(name, value);
                }
            }));
    websocket::response_type response;
    bool handshaken = false;
    beast::error_code handshake_error;
    const std::string host_header = fmt::format("{}:{}", parsed->host, parsed->port);
    impl->ws.async_handshake(response, host_header, parsed->target,
                             [&](const beast::error_code& ec) {
                                 handshaken = true;
                                 handshake_error = ec;
                             });
    if (!impl->run_until(handshaken, deadline)) {
        impl->abort();
        return base::fail(base::Errc::Io, fmt::format("WebSocket upgrade of {} timed out", url));
    }
    if (handshake_error) {
        if (response.result_int() != 0 && response.result_int() != 101) {
            std::string body = response.body();
            if (body.size() > kMaxQuotedBody) {
                body.resize(kMaxQuotedBody);
            }
            return base::fail(base::Errc::Io, fmt::format("upgrade refused: HTTP {} {}",
                                                          response.result_int(), body));
        }
        return base::fail(base::Errc::Io, fmt::format("WebSocket upgrade of {} failed: {}", url,
                                                      handshake_error.message()));
    }
    return WsClient(std::move(impl));
}

base::Result<void> WsClient::send_text(std::string_view message) {
    return impl_->write(message, true, impl_->io_timeout);
}

base::Result<void> WsClient::send_binary(std::string_view bytes) {
    return impl_->write(bytes, false, impl_->io_timeout);
}

base::Result<std::optional<std::string>> WsClient::receive(std::chrono::milliseconds timeout) {
    Impl& impl = *impl_;
    if (!impl.read_pending) {
        if (auto usable = impl.ensure_usable(); !usable) {
            return usable.error();
        }
        impl.read_pending = true;
        impl.read_done = false;
        impl.ws.async_read(impl.buffer, [&impl](const beast::error_code& ec, std::size_t) {
            impl.read_done = true;
            impl.read_error = ec;
        });
    }
    if (!impl.run_until(impl.read_done, Clock::now() + timeout)) {
        return std::optional<std::string>{};
    }
    impl.read_pending = false;
    if (impl.read_error) {
        impl.record_close(impl.read_error);
        return base::fail(base::Errc::Io, fmt::format("connection closed: {} {}", impl.close->code,
                                                      impl.close->reason));
    }
    std::string message = beast::buffers_to_string(impl.buffer.cdata());
    impl.buffer.clear();
    return std::optional<std::string>(std::move(message));
}

base::Result<void> WsClient::close(CloseCode code, std::string_view reason) {
    Impl& impl = *impl_;
    if (impl.close.has_value() || impl.failed) {
        return {};  // already over
    }
    websocket::close_reason close_reason;
    close_reason.code = static_cast<std::uint16_t>(code);
    close_reason.reason.assign(reason.data(), std::min<std::size_t>(reason.size(), 123));
    bool done = false;
    beast::error_code result;
    impl.ws.async_close(close_reason, [&done, &result](const beast::error_code& ec) {
        done = true;
        result = ec;
    });
    const auto deadline = Clock::now() + kCloseWait;
    const bool finished = impl.run_until(done, deadline)
                          && (!impl.read_pending || impl.run_until(impl.read_done, deadline));
    WsCloseInfo info;
    info.code = static_cast<std::uint16_t>(code);
    info.reason = std::string(reason);
    info.by_peer = false;
    impl.close = std::move(info);
    if (!finished) {
        impl.abort();
        return base::fail(base::Errc::Io, "the peer did not answer the close frame in time");
    }
    if (result) {
        return base::fail(base::Errc::Io, fmt::format("close failed: {}", result.message()));
    }
    return {};
}

void WsClient::drop() {
    Impl& impl = *impl_;
    if (impl.close.has_value() || impl.failed) {
        return;
    }
    impl.abort();
    impl.close = WsCloseInfo{.code = 1006, .reason = "dropped", .by_peer = false};
}

std::optional<WsCloseInfo> WsClient::close_info() const {
    return impl_->close;
}

}  // namespace dvd::net
