#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "base/result.hpp"

namespace dvd::protocol {

using UtcMicros = std::chrono::sys_time<std::chrono::microseconds>;

/// Parses the RFC 3339 / ISO-8601 UTC times Telnyx sends (`data.occurred_at`, `start_time`,
/// DTMF `occurred_at`): `YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)`, fraction of 1-9 digits
/// (truncated to microseconds), a lower-case `t`/`z` or a space separator also accepted.
/// Errc::BadValue for anything else (including impossible dates such as February 30).
[[nodiscard]] base::Result<UtcMicros> parse_utc_timestamp(std::string_view text);

/// Formats as Telnyx does: `2026-01-01T10:00:42.123456Z` (always six fraction digits).
[[nodiscard]] std::string format_utc_timestamp(UtcMicros time);

}  // namespace dvd::protocol
