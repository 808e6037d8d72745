#include "http/http_date.hpp"

#include <array>
#include <charconv>
#include <cstdint>

#include <fmt/format.h>

#include "base/parse.hpp"

namespace dvd::http {
namespace {

using namespace std::chrono;

constexpr std::array<std::string_view, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
constexpr std::array<std::string_view, 7> kShortDays = {"Sun", "Mon", "Tue", "Wed",
                                                        "Thu", "Fri", "Sat"};
constexpr std::array<std::string_view, 7> kLongDays = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                                       "Thursday", "Friday", "Saturday"};

// A forward-only reader over the date text; every method returns false on a mismatch.
class Reader {
public:
    explicit Reader(std::string_view text) : text_(text) {}

    bool literal(std::string_view expected) {
        if (text_.substr(pos_, expected.size()) != expected) {
            return false;
        }
        pos_ += expected.size();
        return true;
    }

    // Exactly `width` decimal digits.
    bool digits(std::size_t width, int& out) {
        if (!base::parse_fixed_digits(text_, pos_, width, out)) {
            return false;
        }
        pos_ += width;
        return true;
    }

    // asctime's day: a space then one digit, or two digits.
    bool padded_day(int& out) {
        if (literal(" ")) {
            return digits(1, out);
        }
        return digits(2, out);
    }

    bool month(unsigned& out) {
        for (std::size_t i = 0; i < kMonths.size(); ++i) {
            if (literal(kMonths[i])) {
                out = static_cast<unsigned>(i + 1);
                return true;
            }
        }
        return false;
    }

    template <std::size_t N>
    bool one_of(const std::array<std::string_view, N>& names) {
        for (const auto name : names) {
            if (literal(name)) {
                return true;
            }
        }
        return false;
    }

    bool time_of_day(int& h, int& m, int& s) {
        return digits(2, h) && literal(":") && digits(2, m) && literal(":") && digits(2, s);
    }

    [[nodiscard]] bool at_end() const { return pos_ == text_.size(); }

private:
    std::string_view text_;
    std::size_t pos_ = 0;
};

std::optional<sys_seconds> make_time(int y, unsigned mon, int d, int h, int m, int s) {
    const year_month_day date{year{y}, month{mon}, day{static_cast<unsigned>(d)}};
    if (!date.ok() || h > 23 || m > 59 || s > 60) {  // 60: a leap second, as RFC 5322 allows
        return std::nullopt;
    }
    return sys_days{date} + hours{h} + minutes{m} + seconds{s};
}

std::optional<sys_seconds> parse_imf_fixdate(std::string_view text) {
    Reader r(text);
    int d = 0;
    int y = 0;
    int h = 0;
    int m = 0;
    int s = 0;
    unsigned mon = 0;
    if (r.one_of(kShortDays) && r.literal(", ") && r.digits(2, d) && r.literal(" ") && r.month(mon)
        && r.literal(" ") && r.digits(4, y) && r.literal(" ") && r.time_of_day(h, m, s)
        && r.literal(" GMT") && r.at_end()) {
        return make_time(y, mon, d, h, m, s);
    }
    return std::nullopt;
}

std::optional<sys_seconds> parse_rfc850(std::string_view text) {
    Reader r(text);
    int d = 0;
    int yy = 0;
    int h = 0;
    int m = 0;
    int s = 0;
    unsigned mon = 0;
    if (r.one_of(kLongDays) && r.literal(", ") && r.digits(2, d) && r.literal("-") && r.month(mon)
        && r.literal("-") && r.digits(2, yy) && r.literal(" ") && r.time_of_day(h, m, s)
        && r.literal(" GMT") && r.at_end()) {
        return make_time(yy < 70 ? 2000 + yy : 1900 + yy, mon, d, h, m, s);
    }
    return std::nullopt;
}

std::optional<sys_seconds> parse_asctime(std::string_view text) {
    Reader r(text);
    int d = 0;
    int y = 0;
    int h = 0;
    int m = 0;
    int s = 0;
    unsigned mon = 0;
    if (r.one_of(kShortDays) && r.literal(" ") && r.month(mon) && r.literal(" ") && r.padded_day(d)
        && r.literal(" ") && r.time_of_day(h, m, s) && r.literal(" ") && r.digits(4, y)
        && r.at_end()) {
        return make_time(y, mon, d, h, m, s);
    }
    return std::nullopt;
}

}  // namespace

std::optional<sys_seconds> parse_http_date(std::string_view text) {
    if (auto t = parse_imf_fixdate(text)) {
        return t;
    }
    if (auto t = parse_rfc850(text)) {
        return t;
    }
    return parse_asctime(text);
}

std::string format_http_date(sys_seconds time) {
    const auto day_start = floor<days>(time);
    const year_month_day date{day_start};
    const hh_mm_ss tod{time - day_start};
    const weekday wd{day_start};
    return fmt::format("{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT", kShortDays[wd.c_encoding()],
                       static_cast<unsigned>(date.day()),
                       kMonths[static_cast<unsigned>(date.month()) - 1],
                       static_cast<int>(date.year()), tod.hours().count(), tod.minutes().count(),
                       tod.seconds().count());
}

}  // namespace dvd::http
