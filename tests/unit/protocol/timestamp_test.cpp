#include "protocol/timestamp.hpp"

#include <gtest/gtest.h>

#include "protocol/errc.hpp"

namespace dvd::protocol {
namespace {

using std::chrono::microseconds;
using std::chrono::sys_days;

TEST(UtcTimestamp, ParsesTelnyxOccurredAt) {
    const auto t = parse_utc_timestamp("2018-02-02T22:25:27.521992Z");
    ASSERT_TRUE(t);
    const auto expected = sys_days{std::chrono::year{2018} / 2 / 2} + std::chrono::hours{22}
                          + std::chrono::minutes{25} + std::chrono::seconds{27}
                          + microseconds{521992};
    EXPECT_EQ(*t, expected);
    EXPECT_EQ(format_utc_timestamp(*t), "2018-02-02T22:25:27.521992Z");
}

TEST(UtcTimestamp, AcceptsOffsetsAndShortOrLongFractions) {
    const auto z = parse_utc_timestamp("2026-01-01T10:00:00Z");
    const auto offset = parse_utc_timestamp("2026-01-01T12:30:00+02:30");
    const auto negative = parse_utc_timestamp("2026-01-01T05:00:00-05:00");
    ASSERT_TRUE(z && offset && negative);
    EXPECT_EQ(*z, *offset);
    EXPECT_EQ(*z, *negative);
    const auto short_fraction = parse_utc_timestamp("2026-01-01T10:00:00.5Z");
    const auto nanos = parse_utc_timestamp("2026-01-01T10:00:00.123456789Z");
    ASSERT_TRUE(short_fraction && nanos);
    EXPECT_EQ(*short_fraction - *z, microseconds{500000});
    EXPECT_EQ(*nanos - *z, microseconds{123456});
}

TEST(UtcTimestamp, RejectsMalformedTimes) {
    for (const char* bad : {"", "2026-01-01", "2026-01-01T10:00:00", "2026-02-30T10:00:00Z",
                            "2026-13-01T10:00:00Z", "2026-01-01T24:00:00Z", "2026-01-01T10:00:00.Z",
                            "2026-01-01T10:00:00Zjunk", "2026/01/01T10:00:00Z", "1767261642"}) {
        const auto t = parse_utc_timestamp(bad);
        ASSERT_FALSE(t) << bad;
        EXPECT_EQ(t.error().code, Errc::BadValue);
    }
}

}  // namespace
}  // namespace dvd::protocol
