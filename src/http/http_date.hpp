#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace dvd::http {

/// Parses an HTTP-date (RFC 9110 section 5.6.7) in any of its three forms, as recipients must:
///   IMF-fixdate "Sun, 06 Nov 1994 08:49:37 GMT", obsolete RFC 850 "Sunday, 06-Nov-94 08:49:37 GMT"
///   (two-digit years 70..99 -> 19xx, 00..69 -> 20xx) and asctime "Sun Nov  6 08:49:37 1994".
/// The weekday is checked for form only, not against the date. Returns nullopt for anything
/// else (including out-of-range fields such as 31 Feb or 24:00:00).
[[nodiscard]] std::optional<std::chrono::sys_seconds> parse_http_date(std::string_view text);

/// Formats `time` as an IMF-fixdate, e.g. "Sun, 06 Nov 1994 08:49:37 GMT".
[[nodiscard]] std::string format_http_date(std::chrono::sys_seconds time);

}  // namespace dvd::http
