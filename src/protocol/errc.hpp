#pragma once

#include <string>
#include <system_error>
#include <type_traits>

#include "base/result.hpp"

namespace dvd::protocol {

/// Why a Telnyx message, header or command was refused. Carried in `base::Error::code` (category
/// "dvd.protocol"), so callers can branch on the reason: `r.error().code == Errc::StaleTimestamp`.
enum class Errc {
    MalformedJson = 1,  ///< the text is not JSON (or not a JSON object)
    MissingField,       ///< a required field is absent or null
    WrongType,          ///< a field has the wrong JSON type (e.g. a number where a string is due)
    BadValue,           ///< right type, unusable value (non-decimal sequence_number, bad enum)
    BadBase64,          ///< not standard base64 with padding (RFC 4648 section 4)
    TooLarge,           ///< over a size limit (message or decoded payload)
    UnknownEvent,       ///< a well-formed message whose event name we do not know
    MissingHeader,      ///< telnyx-signature-ed25519 or telnyx-timestamp absent
    BadTimestamp,       ///< telnyx-timestamp is not a decimal Unix time in seconds
    StaleTimestamp,     ///< the timestamp is more than the tolerance away from now (past or future)
    BadKey,             ///< the public key is not base64 of a valid 32-byte Ed25519 key
    BadSignature,       ///< the signature is not 64 bytes or does not verify
    InvalidCommand,     ///< a Call Control command that the documented API would reject
    CryptoUnavailable,  ///< libsodium failed to initialise
};

const std::error_category& error_category() noexcept;

inline std::error_code make_error_code(Errc e) noexcept {
    return {static_cast<int>(e), error_category()};
}

/// Builds a `base::Error` with a protocol code: `return protocol::fail(Errc::MissingField, "...")`.
inline base::Error fail(Errc code, std::string message) {
    return base::Error{make_error_code(code), std::move(message)};
}

}  // namespace dvd::protocol

template <>
struct std::is_error_code_enum<dvd::protocol::Errc> : std::true_type {};
