#include "protocol/timestamp.hpp"

#include <fmt/format.h>

#include "base/parse.hpp"
#include "protocol/errc.hpp"

namespace dvd::protocol {
namespace {

base::Error bad(std::string_view text) {
    return fail(Errc::BadValue,
                fmt::format("'{}' is not an RFC 3339 UTC timestamp", text.substr(0, 40)));
}

}  // namespace

base::Result<UtcMicros> parse_utc_timestamp(std::string_view text) {
    using namespace std::chrono;
    int year = 0;
    int month = 0;
    int day = 0;
    int hour = 0;
    int minute = 0;
    int second = 0;
    if (!base::parse_fixed_digits(text, 0, 4, year) || text.size() < 20 || text[4] != '-'
        || !base::parse_fixed_digits(text, 5, 2, month) || text[7] != '-'
        || !base::parse_fixed_digits(text, 8, 2, day)
        || (text[10] != 'T' && text[10] != 't' && text[10] != ' ')
        || !base::parse_fixed_digits(text, 11, 2, hour) || text[13] != ':'
        || !base::parse_fixed_digits(text, 14, 2, minute) || text[16] != ':'
        || !base::parse_fixed_digits(text, 17, 2, second)) {
        return bad(text);
    }
    std::size_t pos = 19;
    int64_t micros = 0;
    if (pos < text.size() && text[pos] == '.') {
        ++pos;
        const std::size_t start = pos;
        int64_t scale = 100000;
        while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
            micros += (text[pos] - '0') * scale;
            scale /= 10;
            ++pos;
        }
        if (pos == start || pos - start > 9) {
            return bad(text);
        }
    }
    int offset_minutes = 0;
    if (pos < text.size() && (text[pos] == 'Z' || text[pos] == 'z')) {
        ++pos;
    } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
        int off_h = 0;
        int off_m = 0;
        if (!base::parse_fixed_digits(text, pos + 1, 2, off_h) || pos + 3 >= text.size()
            || text[pos + 3] != ':' || !base::parse_fixed_digits(text, pos + 4, 2, off_m)
            || off_h > 23 || off_m > 59) {
            return bad(text);
        }
        offset_minutes = (off_h * 60 + off_m) * (text[pos] == '-' ? -1 : 1);
        pos += 6;
    } else {
        return bad(text);
    }
    // A leap second (60) is folded into the next second, as most parsers do.
    if (pos != text.size() || hour > 23 || minute > 59 || second > 60) {
        return bad(text);
    }
    const year_month_day date{std::chrono::year{year},
                              std::chrono::month{static_cast<unsigned>(month)},
                              std::chrono::day{static_cast<unsigned>(day)}};
    if (!date.ok()) {
        return bad(text);
    }
    const auto time = sys_days{date} + hours{hour} + minutes{minute} + seconds{second}
                      + microseconds{micros} - minutes{offset_minutes};
    return UtcMicros{time};
}

std::string format_utc_timestamp(UtcMicros time) {
    using namespace std::chrono;
    const auto day_start = floor<std::chrono::days>(time);
    const year_month_day date{day_start};
    const hh_mm_ss clock{time - day_start};
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z", static_cast<int>(date.year()),
                       static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()),
                       clock.hours().count(), clock.minutes().count(), clock.seconds().count(),
                       clock.subseconds().count());
}

}  // namespace dvd::protocol
