#pragma once

#include <string>
#include <system_error>
#include <type_traits>

#include "base/result.hpp"

namespace dvd::http {

/// Why an HTTP exchange produced no usable response. Carried in `base::Error::code` (category
/// "dvd.http"); `base::Error::message` holds libcurl's own text (e.g. "Could not resolve host:
/// example.invalid"). An HTTP error status (4xx/5xx) is not an error here: it is a response.
enum class Errc {
    InvalidRequest = 1,  ///< bad method, URL, header (CR/LF injection) or timeout; nothing was sent
    Resolve,             ///< DNS lookup failed
    Connect,             ///< TCP connection refused or unreachable
    Tls,                 ///< TLS handshake or certificate verification failed
    Timeout,             ///< the request timeout elapsed before the response was complete
    Transfer,            ///< the connection broke while sending or receiving
    BodyTooLarge,        ///< the response body exceeded HttpClientOptions::max_response_body_bytes
    Init,                ///< libcurl could not be initialised (or out of memory)
    SinkFailed,          ///< HttpRequest::body_sink refused a chunk (a disk write failed, a limit)
};

/// Whether retrying the same request may succeed (DNS, connect, TLS, timeout, broken transfer).
[[nodiscard]] bool is_transient(Errc code) noexcept;

const std::error_category& error_category() noexcept;

inline std::error_code make_error_code(Errc e) noexcept {
    return {static_cast<int>(e), error_category()};
}

/// Builds a `base::Error` with an http code.
inline base::Error fail(Errc code, std::string message) {
    return base::Error{make_error_code(code), std::move(message)};
}

}  // namespace dvd::http

template <>
struct std::is_error_code_enum<dvd::http::Errc> : std::true_type {};
