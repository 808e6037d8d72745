#include "sim/signing_seed.hpp"

#include "protocol/signature.hpp"

namespace dvd::sim {
namespace {

int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

}  // namespace

base::Result<SigningSeed> parse_signing_seed(std::string_view hex) {
    SigningSeed seed{};
    if (hex.size() != seed.size() * 2) {
        return base::fail(base::Errc::InvalidArgument,
                          "signing seed: expected 64 hexadecimal digits (32 bytes)");
    }
    for (std::size_t i = 0; i < seed.size(); ++i) {
        const int high = hex_value(hex[2 * i]);
        const int low = hex_value(hex[2 * i + 1]);
        if (high < 0 || low < 0) {
            return base::fail(base::Errc::InvalidArgument,
                              "signing seed: expected 64 hexadecimal digits (32 bytes)");
        }
        seed[i] = static_cast<std::uint8_t>(high * 16 + low);
    }
    return seed;
}

base::Result<std::string> public_key_for_seed(const SigningSeed& seed) {
    auto keys = protocol::ed25519_keypair_from_seed(seed);
    if (!keys) {
        return keys.error();
    }
    return keys->public_key_base64();
}

}  // namespace dvd::sim
