#include "protocol/signature.hpp"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "protocol/base64.hpp"
#include "protocol/errc.hpp"

namespace dvd::protocol {
namespace {

using std::chrono::seconds;
using std::chrono::sys_seconds;

std::vector<uint8_t> unhex(std::string_view hex) {
    std::vector<uint8_t> bytes;
    for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
        bytes.push_back(
                static_cast<uint8_t>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
    }
    return bytes;
}

struct Rfc8032Vector {
    const char* name;
    const char* secret_key;  // the 32-byte seed
    const char* public_key;
    const char* message;
    const char* signature;
};

// RFC 8032 section 7.1, TEST 1, TEST 2 and TEST 3.
constexpr Rfc8032Vector kVectors[] = {
        {"TEST 1", "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
         "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
         "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
         "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"},
        {"TEST 2", "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
         "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
         "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
         "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"},
        {"TEST 3", "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
         "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
         "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac"
         "18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a"},
};

TEST(Ed25519, Rfc8032Section71Vectors) {
    for (const auto& v : kVectors) {
        SCOPED_TRACE(v.name);
        const auto keys = ed25519_keypair_from_seed(unhex(v.secret_key));
        ASSERT_TRUE(keys);
        EXPECT_EQ(std::vector<uint8_t>(keys->public_key.begin(), keys->public_key.end()),
                  unhex(v.public_key));
        const auto message = unhex(v.message);
        const auto signature = ed25519_sign(message, *keys);
        EXPECT_EQ(std::vector<uint8_t>(signature.begin(), signature.end()), unhex(v.signature));
        EXPECT_TRUE(ed25519_verify(message, unhex(v.signature), unhex(v.public_key)));
        auto tampered = message;
        tampered.push_back(0x00);
        EXPECT_FALSE(ed25519_verify(tampered, unhex(v.signature), unhex(v.public_key)));
        auto bad_signature = unhex(v.signature);
        bad_signature[0] ^= 0x01;
        EXPECT_FALSE(ed25519_verify(message, bad_signature, unhex(v.public_key)));
    }
}

TEST(Ed25519, RejectsBadSeedLength) {
    const auto keys = ed25519_keypair_from_seed(std::vector<uint8_t>(31));
    ASSERT_FALSE(keys);
    EXPECT_EQ(keys.error().code, Errc::BadKey);
}

class WebhookVerifierTest : public ::testing::Test {
protected:
    void SetUp() override {
        // RFC 8032 TEST 2's key stands in for Telnyx's key pair.
        auto k = ed25519_keypair_from_seed(unhex(kVectors[1].secret_key));
        ASSERT_TRUE(k);
        keys_ = *k;
        auto v = WebhookVerifier::create(keys_.public_key_base64());
        ASSERT_TRUE(v) << v.error().message;
        verifier_.emplace(std::move(*v));
    }

    base::Result<void> verify(std::optional<std::string_view> signature,
                              std::optional<std::string_view> timestamp, std::string_view body,
                              sys_seconds now) const {
        return verifier_->verify(signature, timestamp, body, now);
    }

    static constexpr std::string_view kTimestamp = "1767261642";
    static constexpr sys_seconds kSentAt{seconds{1767261642}};
    static constexpr std::string_view kBody =
            R"({"data":{"event_type":"call.initiated","id":"e1","payload":{}}})";

    Ed25519KeyPair keys_;
    std::optional<WebhookVerifier> verifier_;
};

TEST_F(WebhookVerifierTest, AcceptsWhatTelnyxSigns) {
    const auto signature = sign_webhook(kTimestamp, kBody, keys_);
    EXPECT_EQ(decode_base64(signature)->size(), kEd25519SignatureBytes);
    EXPECT_TRUE(verify(signature, kTimestamp, kBody, kSentAt));
    EXPECT_TRUE(verify(signature, kTimestamp, kBody, kSentAt + seconds{300}));
    EXPECT_TRUE(verify(signature, kTimestamp, kBody, kSentAt - seconds{300}));
}

TEST_F(WebhookVerifierTest, SignedMessageIsTimestampPipeBody) {
    std::string message = std::string(kTimestamp) + "|" + std::string(kBody);
    const auto raw =
            ed25519_sign(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(message.data()),
                                                  message.size()),
                         keys_);
    EXPECT_EQ(sign_webhook(kTimestamp, kBody, keys_), encode_base64(raw));
}

TEST_F(WebhookVerifierTest, RejectsTamperedBodyOrTimestamp) {
    const auto signature = sign_webhook(kTimestamp, kBody, keys_);
    std::string body(kBody);
    body[10] = 'X';
    auto r = verify(signature, kTimestamp, body, kSentAt);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, Errc::BadSignature);
    // Re-serialised JSON (an added space) is a different message.
    r = verify(signature, kTimestamp, std::string(kBody) + " ", kSentAt);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, Errc::BadSignature);
    r = verify(signature, "1767261643", kBody, kSentAt);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, Errc::BadSignature);
}

TEST_F(WebhookVerifierTest, RejectsSignatureFromAnotherKey) {
    auto other = ed25519_keypair_from_seed(unhex(kVectors[2].secret_key));
    ASSERT_TRUE(other);
    const auto r = verify(sign_webhook(kTimestamp, kBody, *other), kTimestamp, kBody, kSentAt);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, Errc::BadSignature);
}

TEST_F(WebhookVerifierTest, RejectsStaleAndFutureTimestamps) {
    const auto signature = sign_webhook(kTimestamp, kBody, keys_);
    auto r = verify(signature, kTimestamp, kBody, kSentAt + seconds{301});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, Errc::StaleTimestamp);
    EXPECT_NE(r.error().message.find("behind"), std::string::npos);
    r = verify(signature, kTimestamp, kBody, kSentAt - seconds{301});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, Errc::StaleTimestamp);
    EXPECT_NE(r.error().message.find("ahead"), std::string::npos);
    // Custom tolerance.
    r = verifier_->verify(signature, kTimestamp, kBody, kSentAt + seconds{11}, seconds{10});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, Errc::StaleTimestamp);
}

TEST_F(WebhookVerifierTest, MissingHeadersAreDistinct) {
    const auto signature = sign_webhook(kTimestamp, kBody, keys_);
    auto r = verify(std::nullopt, kTimestamp, kBody, kSentAt);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, Errc::MissingHeader);
    EXPECT_NE(r.error().message.find(kSignatureHeader), std::string::npos);
    r = verify(signature, std::nullopt, kBody, kSentAt);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, Errc::MissingHeader);
    EXPECT_NE(r.error().message.find(kTimestampHeader), std::string::npos);
    r = verify("", kTimestamp, kBody, kSentAt);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, Errc::MissingHeader);
}

TEST_F(WebhookVerifierTest, BadTimestampBadBase64AndShortSignature) {
    const auto signature = sign_webhook(kTimestamp, kBody, keys_);
    for (const char* bad :
         {"abc", "-5", "1767261642.0", " 1767261642", "99999999999999999999999"}) {
        const auto r = verify(signature, bad, kBody, kSentAt);
        ASSERT_FALSE(r) << bad;
        EXPECT_EQ(r.error().code, Errc::BadTimestamp) << bad;
    }
    auto r = verify("not*base64", kTimestamp, kBody, kSentAt);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, Errc::BadBase64);
    r = verify(signature.substr(0, 84), kTimestamp, kBody, kSentAt);  // 63 bytes
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, Errc::BadSignature);
    r = verify(signature + "AAAA", kTimestamp, kBody, kSentAt);  // too long
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, Errc::BadSignature);
}

TEST(WebhookVerifier, RejectsBadPublicKeys) {
    for (const std::string& bad :
         {std::string("not base64"), encode_base64(std::vector<uint8_t>(31, 1)),
          encode_base64(std::vector<uint8_t>(33, 1)),
          // The identity point (a small-order point) is a well-formed but unusable key.
          encode_base64(unhex("0100000000000000000000000000000000000000000000000000000000000000")),
          std::string()}) {
        const auto v = WebhookVerifier::create(bad);
        ASSERT_FALSE(v) << bad;
        EXPECT_EQ(v.error().code, Errc::BadKey) << bad;
    }
}

TEST(WebhookVerifier, RoundTripWithAFreshKey) {
    const auto keys = ed25519_generate_keypair();
    ASSERT_TRUE(keys);
    const auto verifier = WebhookVerifier::create(keys->public_key_base64());
    ASSERT_TRUE(verifier);
    const std::string body = R"({"data":{"id":"x"}})";
    EXPECT_TRUE(verifier->verify(sign_webhook("100", body, *keys), "100", body,
                                 sys_seconds{seconds{50}}));
}

TEST(FindHeader, IsCaseInsensitive) {
    const std::vector<std::pair<std::string_view, std::string_view>> headers = {
            {"Content-Type", "application/json"},
            {"Telnyx-Signature-Ed25519", "sig"},
            {"TELNYX-TIMESTAMP", "123"}};
    EXPECT_EQ(find_header(headers, kSignatureHeader), "sig");
    EXPECT_EQ(find_header(headers, kTimestampHeader), "123");
    EXPECT_FALSE(find_header(headers, "telnyx-signature"));
}

}  // namespace
}  // namespace dvd::protocol
