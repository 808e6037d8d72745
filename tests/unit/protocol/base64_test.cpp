#include "protocol/base64.hpp"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "protocol/errc.hpp"

namespace dvd::protocol {
namespace {

std::string as_text(const std::vector<uint8_t>& bytes) {
    return {bytes.begin(), bytes.end()};
}

// RFC 4648 section 10 test vectors.
TEST(Base64, EncodesRfc4648Vectors) {
    EXPECT_EQ(encode_base64(std::string_view("")), "");
    EXPECT_EQ(encode_base64(std::string_view("f")), "Zg==");
    EXPECT_EQ(encode_base64(std::string_view("fo")), "Zm8=");
    EXPECT_EQ(encode_base64(std::string_view("foo")), "Zm9v");
    EXPECT_EQ(encode_base64(std::string_view("foob")), "Zm9vYg==");
    EXPECT_EQ(encode_base64(std::string_view("fooba")), "Zm9vYmE=");
    EXPECT_EQ(encode_base64(std::string_view("foobar")), "Zm9vYmFy");
}

TEST(Base64, DecodesRfc4648Vectors) {
    for (const auto& [text, plain] :
         std::vector<std::pair<std::string, std::string>>{{"", ""},
                                                          {"Zg==", "f"},
                                                          {"Zm8=", "fo"},
                                                          {"Zm9v", "foo"},
                                                          {"Zm9vYg==", "foob"},
                                                          {"Zm9vYmE=", "fooba"},
                                                          {"Zm9vYmFy", "foobar"}}) {
        const auto decoded = decode_base64(text);
        ASSERT_TRUE(decoded) << text;
        EXPECT_EQ(as_text(*decoded), plain);
        EXPECT_EQ(base64_decoded_size(text), plain.size());
    }
}

TEST(Base64, RoundTripsEveryByteValueAndLength) {
    std::vector<uint8_t> bytes;
    for (int i = 0; i < 300; ++i) {
        bytes.push_back(static_cast<uint8_t>((i * 97 + 13) & 0xFF));
        const auto decoded = decode_base64(encode_base64(bytes));
        ASSERT_TRUE(decoded);
        ASSERT_EQ(*decoded, bytes) << "length " << bytes.size();
    }
}

TEST(Base64, RejectsMalformedInput) {
    for (const std::string bad : {"Zg=", "Zm9", "Zm9v\n", " Zm9v", "Zm9-", "Zm9_", "Z===", "=Zm9",
                                  "Zg=a", "Zg==Zm9v", "Zm=v", "Zm9v===="}) {
        const auto decoded = decode_base64(bad);
        ASSERT_FALSE(decoded) << bad;
        EXPECT_EQ(decoded.error().code, Errc::BadBase64) << bad;
    }
}

TEST(Base64, EnforcesTheDecodedSizeLimitBeforeDecoding) {
    const std::string text(4000, 'A');  // 3000 bytes
    EXPECT_TRUE(decode_base64(text, 3000));
    const auto decoded = decode_base64(text, 2999);
    ASSERT_FALSE(decoded);
    EXPECT_EQ(decoded.error().code, Errc::TooLarge);
}

TEST(Base64, DecodeIntoReusesTheBufferAndClearsItOnError) {
    std::vector<uint8_t> out;
    ASSERT_TRUE(decode_base64_into("Zm9vYmFy", out));
    EXPECT_EQ(as_text(out), "foobar");
    const auto capacity = out.capacity();
    ASSERT_TRUE(decode_base64_into("Zm8=", out));
    EXPECT_EQ(as_text(out), "fo");
    EXPECT_EQ(out.capacity(), capacity);
    EXPECT_FALSE(decode_base64_into("Zm8*", out));
    EXPECT_TRUE(out.empty());
}

}  // namespace
}  // namespace dvd::protocol
