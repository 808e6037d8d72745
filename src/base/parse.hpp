#pragma once

#include <cstddef>
#include <string_view>

namespace dvd::base {

/// Reads exactly `count` ASCII decimal digits of `text` starting at `pos` into `out`. Returns
/// false (leaving `out` alone) when the text is too short or any of them is not a digit. For
/// fixed-width date fields (RFC 3339 timestamps, HTTP dates). `count` must be at most 9.
[[nodiscard]] inline bool parse_fixed_digits(std::string_view text, std::size_t pos,
                                             std::size_t count, int& out) {
    if (pos > text.size() || count > text.size() - pos) {
        return false;
    }
    int value = 0;
    for (std::size_t i = 0; i < count; ++i) {
        const char c = text[pos + i];
        if (c < '0' || c > '9') {
            return false;
        }
        value = value * 10 + (c - '0');
    }
    out = value;
    return true;
}

}  // namespace dvd::base
