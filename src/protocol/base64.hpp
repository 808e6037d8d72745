#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"

namespace dvd::protocol {

/// Standard base64 (RFC 4648 section 4: alphabet `A-Z a-z 0-9 + /`, `=` padding), the encoding
/// Telnyx uses for media payloads, client_state, signatures and public keys. Pure functions.

/// Encodes bytes as padded standard base64.
[[nodiscard]] std::string encode_base64(std::span<const uint8_t> bytes);
[[nodiscard]] std::string encode_base64(std::string_view bytes);

/// Number of bytes `text` decodes to, assuming it is well-formed (length a multiple of 4).
[[nodiscard]] std::size_t base64_decoded_size(std::string_view text) noexcept;

/// Decodes padded standard base64 into `out` (its contents are replaced; its capacity is reused,
/// so a per-stream buffer stops allocating once warm). Refuses, leaving `out` empty:
/// `Errc::TooLarge` when the decoded size would exceed `max_decoded_bytes` (checked before any
/// work); `Errc::BadBase64` for a length that is not a multiple of 4, a character outside the
/// alphabet (whitespace and the URL-safe `-`/`_` included) or misplaced padding.
/// Unused low bits of the last group are ignored, as Python's `base64.b64decode` does.
[[nodiscard]] base::Result<void> decode_base64_into(
        std::string_view text, std::vector<uint8_t>& out,
        std::size_t max_decoded_bytes = std::numeric_limits<std::size_t>::max());

/// Convenience form of `decode_base64_into` returning a new vector.
[[nodiscard]] base::Result<std::vector<uint8_t>> decode_base64(
        std::string_view text,
        std::size_t max_decoded_bytes = std::numeric_limits<std::size_t>::max());

}  // namespace dvd::protocol
