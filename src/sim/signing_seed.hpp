#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.hpp"

namespace dvd::sim {

/// An RFC 8032 Ed25519 secret key: the 32-byte seed the simulator signs webhooks with.
using SigningSeed = std::array<std::uint8_t, 32>;

/// Parses 64 hexadecimal digits (either case, nothing else). InvalidArgument otherwise; the
/// message never repeats the input (it is a secret).
[[nodiscard]] base::Result<SigningSeed> parse_signing_seed(std::string_view hex);

/// The public key of `seed` as the Telnyx portal shows it (standard base64 of 32 bytes): what
/// the service needs as TELNYX_PUBLIC_KEY before the simulator starts.
[[nodiscard]] base::Result<std::string> public_key_for_seed(const SigningSeed& seed);

}  // namespace dvd::sim
