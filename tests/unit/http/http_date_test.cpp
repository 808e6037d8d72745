#include "http/http_date.hpp"

#include <gtest/gtest.h>

namespace dvd::http {
namespace {

using std::chrono::seconds;
using std::chrono::sys_seconds;

// RFC 9110 section 5.6.7's example instant in its three spellings.
constexpr sys_seconds kExample{seconds{784111777}};

TEST(HttpDate, ParsesTheThreeFormsOfRfc9110) {
    EXPECT_EQ(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"), kExample);
    EXPECT_EQ(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"), kExample);
    EXPECT_EQ(parse_http_date("Sun Nov  6 08:49:37 1994"), kExample);
}

TEST(HttpDate, Rfc850TwoDigitYearsBelow70AreThisCentury) {
    EXPECT_EQ(parse_http_date("Thursday, 01-Jan-26 00:00:00 GMT"),
              sys_seconds{std::chrono::sys_days{std::chrono::year{2026} / 1 / 1}});
}

TEST(HttpDate, RejectsMalformedAndOutOfRangeDates) {
    EXPECT_FALSE(parse_http_date(""));
    EXPECT_FALSE(parse_http_date("120"));
    EXPECT_FALSE(parse_http_date("Sun, 06 Nov 1994 08:49:37 UTC"));
    EXPECT_FALSE(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT "));
    EXPECT_FALSE(parse_http_date("Sun, 6 Nov 1994 08:49:37 GMT"));
    EXPECT_FALSE(parse_http_date("Sun, 31 Feb 1994 08:49:37 GMT"));
    EXPECT_FALSE(parse_http_date("Sun, 06 Nov 1994 24:00:00 GMT"));
    EXPECT_FALSE(parse_http_date("Xyz, 06 Nov 1994 08:49:37 GMT"));
}

TEST(HttpDate, FormatsImfFixdateAndRoundTrips) {
    EXPECT_EQ(format_http_date(kExample), "Sun, 06 Nov 1994 08:49:37 GMT");
    const sys_seconds t{seconds{1'767'225'600 + 3'723}};  // 2026-01-01T01:02:03Z
    EXPECT_EQ(format_http_date(t), "Thu, 01 Jan 2026 01:02:03 GMT");
    EXPECT_EQ(parse_http_date(format_http_date(t)), t);
}

}  // namespace
}  // namespace dvd::http
