#include "http/headers.hpp"

#include <gtest/gtest.h>

namespace dvd::http {
namespace {

TEST(Headers, LookupIgnoresCase) {
    Headers h{{"Retry-After", "3"}, {"Content-Type", "application/json"}};
    EXPECT_EQ(h.find("retry-after"), "3");
    EXPECT_EQ(h.find("CONTENT-TYPE"), "application/json");
    EXPECT_FALSE(h.find("Retry-After-X"));
    EXPECT_TRUE(h.contains("content-type"));
}

TEST(Headers, KeepsRepeatsInOrderAndFindReturnsTheFirst) {
    Headers h;
    h.add("Set-Cookie", "a=1");
    h.add("set-cookie", "b=2");
    EXPECT_EQ(h.size(), 2u);
    EXPECT_EQ(h.find("SET-COOKIE"), "a=1");
}

TEST(Headers, SetReplacesEveryCaseVariantAndRemoveDeletes) {
    Headers h{{"X-A", "1"}, {"x-a", "2"}, {"X-B", "3"}};
    h.set("X-a", "9");
    EXPECT_EQ(h.size(), 2u);
    EXPECT_EQ(h.find("x-A"), "9");
    h.remove("x-b");
    EXPECT_FALSE(h.contains("X-B"));
}

TEST(Headers, IequalsComparesAsciiOnly) {
    EXPECT_TRUE(iequals("Content-Length", "content-LENGTH"));
    EXPECT_FALSE(iequals("Content-Length", "Content-Lengt"));
    EXPECT_FALSE(iequals("a", "b"));
}

}  // namespace
}  // namespace dvd::http
