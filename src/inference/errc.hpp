#pragma once

#include <string>
#include <system_error>
#include <type_traits>

#include "base/result.hpp"

namespace dvd::inference {

/// Why a risk analysis produced no usable result. Carried in `base::Error::code` (category
/// "dvd.inference"); `base::Error::message` says what happened, never the API key.
enum class Errc {
    InvalidInput = 1,  ///< the RiskInput cannot be sent (non-finite score, ...); nothing was sent
    Transport,         ///< no HTTP reply after the allowed attempts (DNS, connect, TLS, transfer)
    Timeout,           ///< the request timeout elapsed (on the last attempt)
    HttpStatus,        ///< a non-2xx reply (after retries for 408/429/5xx)
    BadResponse,       ///< 2xx but not a chat completion (no choices[0].message.content, ...)
    MalformedOutput,   ///< the assistant content is not one JSON object (or was cut off)
    SchemaViolation,   ///< JSON, but not the risk-analysis schema (missing/extra field, enum)
    Cancelled,         ///< the Sleeper refused to wait for a retry (shutdown)
};

const std::error_category& error_category() noexcept;

inline std::error_code make_error_code(Errc e) noexcept {
    return {static_cast<int>(e), error_category()};
}

inline base::Error fail(Errc code, std::string message) {
    return base::Error{make_error_code(code), std::move(message)};
}

}  // namespace dvd::inference

template <>
struct std::is_error_code_enum<dvd::inference::Errc> : std::true_type {};
