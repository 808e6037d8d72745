#include "service/secrets.hpp"

#include <gtest/gtest.h>

#include <set>

namespace dvd::service {
namespace {

TEST(SecretsEqual, ComparesWholeContents) {
    EXPECT_TRUE(secrets_equal("abc", "abc"));
    EXPECT_FALSE(secrets_equal("abc", "abd"));
    EXPECT_FALSE(secrets_equal("abc", "ab"));
    EXPECT_TRUE(secrets_equal("", ""));
}

// The calls layer's per-call stream tokens (stream_auth_token) are these.
TEST(NewSecretToken, IsBase64UrlOf32RandomBytes) {
    std::set<std::string> seen;
    for (int i = 0; i < 64; ++i) {
        const std::string token = new_secret_token();
        ASSERT_EQ(token.size(), 43U);
        for (const char c : token) {
            EXPECT_TRUE((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
                        || c == '-' || c == '_')
                    << token;
        }
        seen.insert(token);
    }
    EXPECT_EQ(seen.size(), 64U);
}

}  // namespace
}  // namespace dvd::service
