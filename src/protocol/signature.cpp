#include "protocol/signature.hpp"

#include <algorithm>
#include <limits>
#include <vector>

#include <fmt/format.h>
#include <sodium.h>

#include "base/check.hpp"
#include "protocol/base64.hpp"
#include "protocol/errc.hpp"
#include "protocol/json_util.hpp"

namespace dvd::protocol {
namespace {

static_assert(crypto_sign_PUBLICKEYBYTES == kEd25519PublicKeyBytes);
static_assert(crypto_sign_SECRETKEYBYTES == kEd25519SecretKeyBytes);
static_assert(crypto_sign_SEEDBYTES == kEd25519SeedBytes);
static_assert(crypto_sign_BYTES == kEd25519SignatureBytes);

// sodium_init() is thread-safe and idempotent; the static makes it run once per process.
bool sodium_ready() noexcept {
    static const bool ready = sodium_init() >= 0;
    return ready;
}

char lower(char c) noexcept {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) {
        return false;
    }
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (lower(a[i]) != lower(b[i])) {
            return false;
        }
    }
    return true;
}

// "timestamp|body": the exact bytes Telnyx signs.
std::vector<uint8_t> signed_message(std::string_view timestamp, std::string_view body) {
    std::vector<uint8_t> message;
    message.reserve(timestamp.size() + 1 + body.size());
    message.insert(message.end(), timestamp.begin(), timestamp.end());
    message.push_back(static_cast<uint8_t>('|'));
    message.insert(message.end(), body.begin(), body.end());
    return message;
}

}  // namespace

std::optional<std::string_view> find_header(
        std::span<const std::pair<std::string_view, std::string_view>> headers,
        std::string_view name) noexcept {
    for (const auto& [key, value] : headers) {
        if (iequals(key, name)) {
            return value;
        }
    }
    return std::nullopt;
}

base::Result<WebhookVerifier> WebhookVerifier::create(std::string_view public_key_base64) {
    if (!sodium_ready()) {
        return fail(Errc::CryptoUnavailable, "libsodium failed to initialise");
    }
    auto key = decode_base64(public_key_base64, kEd25519PublicKeyBytes);
    if (!key) {
        return fail(Errc::BadKey, fmt::format("public key is not base64 of {} bytes: {}",
                                              kEd25519PublicKeyBytes, key.error().message));
    }
    if (key->size() != kEd25519PublicKeyBytes) {
        return fail(Errc::BadKey, fmt::format("public key is {} bytes, expected {}", key->size(),
                                              kEd25519PublicKeyBytes));
    }
    // Rejects non-canonical encodings, points off the curve and small-order points.
    if (crypto_core_ed25519_is_valid_point(key->data()) != 1) {
        return fail(Errc::BadKey, "public key is not a valid Ed25519 point");
    }
    std::array<uint8_t, kEd25519PublicKeyBytes> raw{};
    std::copy(key->begin(), key->end(), raw.begin());
    return WebhookVerifier(raw);
}

base::Result<void> WebhookVerifier::verify(std::optional<std::string_view> signature_header,
                                           std::optional<std::string_view> timestamp_header,
                                           std::string_view raw_body, std::chrono::sys_seconds now,
                                           std::chrono::seconds tolerance) const {
    if (!signature_header || signature_header->empty()) {
        return fail(Errc::MissingHeader, fmt::format("missing header {}", kSignatureHeader));
    }
    if (!timestamp_header || timestamp_header->empty()) {
        return fail(Errc::MissingHeader, fmt::format("missing header {}", kTimestampHeader));
    }
    const auto seconds = detail::parse_decimal(*timestamp_header);
    if (!seconds || *seconds > static_cast<uint64_t>(std::numeric_limits<int64_t>::max() / 2)) {
        return fail(Errc::BadTimestamp,
                    fmt::format("{} is not Unix seconds: \"{}\"", kTimestampHeader,
                                timestamp_header->substr(0, 32)));
    }
    const auto sent = static_cast<int64_t>(*seconds);
    const int64_t now_s = now.time_since_epoch().count();
    const int64_t skew = sent > now_s ? sent - now_s : now_s - sent;
    if (skew > tolerance.count()) {
        return fail(Errc::StaleTimestamp,
                    fmt::format("{} is {} s {} the local clock (tolerance {} s)", kTimestampHeader,
                                skew, sent > now_s ? "ahead of" : "behind", tolerance.count()));
    }
    auto signature = decode_base64(*signature_header, kEd25519SignatureBytes);
    if (!signature) {
        if (signature.error().code == Errc::TooLarge) {
            return fail(Errc::BadSignature, fmt::format("{} decodes to more than {} bytes",
                                                        kSignatureHeader, kEd25519SignatureBytes));
        }
        return fail(Errc::BadBase64, fmt::format("{} is not base64: {}", kSignatureHeader,
                                                 signature.error().message));
    }
    if (signature->size() != kEd25519SignatureBytes) {
        return fail(Errc::BadSignature, fmt::format("{} is {} bytes, expected {}", kSignatureHeader,
                                                    signature->size(), kEd25519SignatureBytes));
    }
    const auto message = signed_message(*timestamp_header, raw_body);
    if (!ed25519_verify(message, *signature, public_key_)) {
        return fail(Errc::BadSignature, "signature does not match the timestamp and body");
    }
    return {};
}

std::string Ed25519KeyPair::public_key_base64() const {
    return encode_base64(public_key);
}

base::Result<Ed25519KeyPair> ed25519_keypair_from_seed(std::span<const uint8_t> seed) {
    if (!sodium_ready()) {
        return fail(Errc::CryptoUnavailable, "libsodium failed to initialise");
    }
    if (seed.size() != kEd25519SeedBytes) {
        return fail(Errc::BadKey,
                    fmt::format("seed is {} bytes, expected {}", seed.size(), kEd25519SeedBytes));
    }
    Ed25519KeyPair keys;
    if (crypto_sign_seed_keypair(keys.public_key.data(), keys.secret_key.data(), seed.data())
        != 0) {
        return fail(Errc::CryptoUnavailable, "crypto_sign_seed_keypair failed");
    }
    return keys;
}

base::Result<Ed25519KeyPair> ed25519_generate_keypair() {
    if (!sodium_ready()) {
        return fail(Errc::CryptoUnavailable, "libsodium failed to initialise");
    }
    Ed25519KeyPair keys;
    if (crypto_sign_keypair(keys.public_key.data(), keys.secret_key.data()) != 0) {
        return fail(Errc::CryptoUnavailable, "crypto_sign_keypair failed");
    }
    return keys;
}

std::array<uint8_t, kEd25519SignatureBytes> ed25519_sign(std::span<const uint8_t> message,
                                                         const Ed25519KeyPair& keys) {
    // A key pair exists only if libsodium initialised (both factories check), so this holds.
    DVD_CHECK(sodium_ready(), "libsodium must be initialised before signing");
    std::array<uint8_t, kEd25519SignatureBytes> signature{};
    crypto_sign_detached(signature.data(), nullptr, message.data(), message.size(),
                         keys.secret_key.data());
    return signature;
}

bool ed25519_verify(std::span<const uint8_t> message, std::span<const uint8_t> signature,
                    std::span<const uint8_t> public_key) noexcept {
    if (!sodium_ready() || signature.size() != kEd25519SignatureBytes
        || public_key.size() != kEd25519PublicKeyBytes) {
        return false;
    }
    return crypto_sign_verify_detached(signature.data(), message.data(), message.size(),
                                       public_key.data())
           == 0;
}

std::string sign_webhook(std::string_view timestamp, std::string_view raw_body,
                         const Ed25519KeyPair& keys) {
    const auto message = signed_message(timestamp, raw_body);
    return encode_base64(ed25519_sign(message, keys));
}

}  // namespace dvd::protocol
