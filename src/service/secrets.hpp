#pragma once

#include <string>
#include <string_view>

namespace dvd::service {

/// Constant-time comparison for secrets (stream tokens, API tokens, dashboard stream tickets).
[[nodiscard]] bool secrets_equal(std::string_view a, std::string_view b) noexcept;

/// A fresh secret: 32 random bytes from libsodium, base64url without padding (43 characters).
/// Thread-safe.
[[nodiscard]] std::string new_secret_token();

}  // namespace dvd::service
