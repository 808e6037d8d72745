#include "service/secrets.hpp"

#include <sodium.h>

#include <array>

#include "base/check.hpp"

namespace dvd::service {

bool secrets_equal(std::string_view a, std::string_view b) noexcept {
    // Length is not secret (tokens have a fixed format); the contents are compared in full.
    if (a.size() != b.size()) {
        return false;
    }
    unsigned char diff = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
        diff = static_cast<unsigned char>(diff | (static_cast<unsigned char>(a[i]) ^
                                                  static_cast<unsigned char>(b[i])));
    }
    return diff == 0;
}

std::string new_secret_token() {
    // sodium_init is thread-safe and idempotent; < 0 means the library cannot work at all.
    static const int rc = sodium_init();
    DVD_CHECK(rc >= 0, "libsodium failed to initialise");
    std::array<unsigned char, 32> bytes{};
    randombytes_buf(bytes.data(), bytes.size());
    constexpr int kVariant = sodium_base64_VARIANT_URLSAFE_NO_PADDING;
    std::string out(sodium_base64_ENCODED_LEN(bytes.size(), kVariant), '\0');
    sodium_bin2base64(out.data(), out.size(), bytes.data(), bytes.size(), kVariant);
    out.resize(out.size() - 1);  // the encoded length counts the terminating NUL
    return out;
}

}  // namespace dvd::service
