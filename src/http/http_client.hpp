#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.hpp"
#include "http/headers.hpp"

namespace dvd::http {

/// One outbound HTTP request. `url` is absolute (http:// or https:// only). `timeout` bounds the
/// whole exchange: DNS, connect, TLS, sending and receiving the full response.
struct HttpRequest {
    std::string method = "GET";  ///< an RFC 9110 token, e.g. "GET", "POST"
    std::string url{};
    Headers headers{};  ///< names must be tokens; values must not contain CR, LF or NUL
    std::string body{};
    std::chrono::milliseconds timeout{10'000};  ///< > 0
    /// Where a 2xx response's body goes instead of `HttpResponse::body` (a file, a hash): called
    /// with each chunk as it arrives, on the sending thread. Returning false aborts the exchange
    /// with Errc::SinkFailed. With a sink, HttpClientOptions::max_response_body_bytes does not
    /// bound the 2xx body (the sink enforces its own limit); the body of any other status is
    /// still buffered in `HttpResponse::body` under that limit, so that its error text is kept.
    /// Empty: every body is buffered.
    std::function<bool(std::string_view chunk)> body_sink{};
};

/// A complete HTTP response (any status: 4xx/5xx are responses, not errors).
struct HttpResponse {
    int status = 0;
    Headers headers{};  ///< those of the final response (interim 1xx headers are dropped)
    std::string body{};
};

/// Settings fixed for the life of a client.
struct HttpClientOptions {
    /// Longest response body accepted; a longer one fails with Errc::BodyTooLarge (0: none).
    std::size_t max_response_body_bytes = std::size_t{1} << 20;
    /// Connect (+ TLS handshake) budget; the request's own timeout still bounds everything.
    std::chrono::milliseconds connect_timeout{5'000};
    std::string user_agent = "deepfake-voice-detector/0.1";
    /// PEM bundle of trusted CAs; empty: the system store. Peer and host are always verified.
    std::string ca_bundle_path{};
    /// nullopt: libcurl's environment proxy variables apply; "": no proxy; else a proxy URL.
    std::optional<std::string> proxy{};
};

/// Anything that can perform one HTTP exchange. `HttpClient` is the real one; tests and
/// `send_with_retries` see only this interface.
class HttpSender {
public:
    virtual ~HttpSender() = default;

    /// Performs `request` once. Transport failures are error values with an `http::Errc` code and
    /// libcurl's message; any HTTP status is a value. Never throws (std::bad_alloc aside).
    [[nodiscard]] virtual base::Result<HttpResponse> send(const HttpRequest& request) = 0;
};

/// A blocking HTTP/1.1 + HTTPS client over one libcurl easy handle, reused for every request so
/// that connections (keep-alive), TLS sessions and DNS results are reused too.
///
/// Threads: one client per thread. A client is used by one thread at a time (it checks this in
/// debug builds: the first thread to call `send` owns it). It blocks that thread for up to the
/// request timeout, so never call it on a network worker thread. libcurl's global state is
/// initialised once per process (thread-safe) on the first construction and never torn down.
/// Redirects are not followed; only http and https are allowed.
class HttpClient final : public HttpSender {
public:
    explicit HttpClient(HttpClientOptions options = {});
    ~HttpClient() override;

    HttpClient(const HttpClient&) = delete;
    HttpClient& operator=(const HttpClient&) = delete;
    HttpClient(HttpClient&&) noexcept;
    HttpClient& operator=(HttpClient&&) noexcept;

    /// See HttpSender::send. Errc::InvalidRequest (nothing sent) for a bad method, URL, header or
    /// timeout; Errc::Init when libcurl failed to start.
    [[nodiscard]] base::Result<HttpResponse> send(const HttpRequest& request) override;

    [[nodiscard]] const HttpClientOptions& options() const noexcept;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;  // keeps <curl/curl.h> out of this header
};

/// Checks what `HttpClient::send` checks before sending: method token, http(s) URL without
/// whitespace, header names/values, timeout > 0.
[[nodiscard]] base::Result<void> validate(const HttpRequest& request);

}  // namespace dvd::http
