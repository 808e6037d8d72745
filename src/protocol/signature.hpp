#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "base/result.hpp"

namespace dvd::protocol {

/// Header names (HTTP header look-ups are case-insensitive; Telnyx's docs capitalise them).
inline constexpr std::string_view kSignatureHeader = "telnyx-signature-ed25519";
inline constexpr std::string_view kTimestampHeader = "telnyx-timestamp";
/// Telnyx's SDKs reject a timestamp more than five minutes from the local clock, either way.
inline constexpr std::chrono::seconds kDefaultSignatureTolerance{300};

inline constexpr std::size_t kEd25519PublicKeyBytes = 32;
inline constexpr std::size_t kEd25519SecretKeyBytes = 64;  ///< libsodium layout: seed || public
inline constexpr std::size_t kEd25519SeedBytes = 32;
inline constexpr std::size_t kEd25519SignatureBytes = 64;

/// Case-insensitive (ASCII) header look-up over name/value pairs; nullopt when absent.
[[nodiscard]] std::optional<std::string_view> find_header(
        std::span<const std::pair<std::string_view, std::string_view>> headers,
        std::string_view name) noexcept;

/// Verifies Telnyx webhook signatures (telnyx-protocol.md section 4): Ed25519 (RFC 8032, via
/// libsodium) over the bytes `timestamp + "|" + raw body`, signature and public key in padded
/// standard base64. The current time is passed in; nothing here reads a clock.
/// Immutable after creation: safe to share between threads.
class WebhookVerifier {
public:
    /// `public_key_base64`: the key as shown in the Telnyx portal. Errc::BadKey when it is not
    /// base64 of 32 bytes or not a valid Ed25519 point; Errc::CryptoUnavailable if libsodium
    /// cannot initialise.
    [[nodiscard]] static base::Result<WebhookVerifier> create(std::string_view public_key_base64);

    /// Checks one delivery. The header values are as received (nullopt when absent); `raw_body`
    /// must be the untouched request body. Errors, in the order they are checked:
    /// Errc::MissingHeader, Errc::BadTimestamp (not a decimal integer),
    /// Errc::StaleTimestamp (|now - timestamp| > tolerance), Errc::BadBase64 (signature header),
    /// Errc::BadSignature (not 64 bytes, or does not verify).
    [[nodiscard]] base::Result<void> verify(
            std::optional<std::string_view> signature_header,
            std::optional<std::string_view> timestamp_header, std::string_view raw_body,
            std::chrono::sys_seconds now,
            std::chrono::seconds tolerance = kDefaultSignatureTolerance) const;

    const std::array<uint8_t, kEd25519PublicKeyBytes>& public_key() const { return public_key_; }

private:
    explicit WebhookVerifier(const std::array<uint8_t, kEd25519PublicKeyBytes>& key)
        : public_key_(key) {}

    std::array<uint8_t, kEd25519PublicKeyBytes> public_key_{};
};

/// An Ed25519 key pair in libsodium's layout, for the Telnyx simulator and tests.
struct Ed25519KeyPair {
    std::array<uint8_t, kEd25519PublicKeyBytes> public_key{};
    std::array<uint8_t, kEd25519SecretKeyBytes> secret_key{};

    std::string public_key_base64() const;
};

/// Derives the key pair of an RFC 8032 secret key (the 32-byte seed). Errc::BadKey when `seed`
/// is not 32 bytes.
[[nodiscard]] base::Result<Ed25519KeyPair> ed25519_keypair_from_seed(std::span<const uint8_t> seed);

/// A fresh random key pair (libsodium's system RNG).
[[nodiscard]] base::Result<Ed25519KeyPair> ed25519_generate_keypair();

/// Detached Ed25519 signature of `message` (libsodium crypto_sign_detached).
[[nodiscard]] std::array<uint8_t, kEd25519SignatureBytes> ed25519_sign(
        std::span<const uint8_t> message, const Ed25519KeyPair& keys);

/// Plain Ed25519 verification of a detached signature, no timestamp logic.
[[nodiscard]] bool ed25519_verify(std::span<const uint8_t> message,
                                  std::span<const uint8_t> signature,
                                  std::span<const uint8_t> public_key) noexcept;

/// What Telnyx puts in `telnyx-signature-ed25519` for this timestamp header value and body:
/// base64(Ed25519(timestamp + "|" + body)).
[[nodiscard]] std::string sign_webhook(std::string_view timestamp, std::string_view raw_body,
                                       const Ed25519KeyPair& keys);

}  // namespace dvd::protocol
