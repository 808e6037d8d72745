// Small text formats read from outside: the .env file, HTTP dates (Retry-After) and Telnyx's
// RFC 3339 timestamps. The first byte picks the parser.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "config/env_file.hpp"
#include "fuzz_check.hpp"
#include "http/http_date.hpp"
#include "protocol/timestamp.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) {
        return 0;
    }
    const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
    switch (data[0] % 3) {
        case 0:
            if (const auto entries = dvd::config::parse_env_file(text)) {
                for (const auto& entry : *entries) {
                    DVD_FUZZ_CHECK(!entry.key.empty());
                }
            }
            break;
        case 1:
            static_cast<void>(dvd::http::parse_http_date(text));
            break;
        default:
            static_cast<void>(dvd::protocol::parse_utc_timestamp(text));
            break;
    }
    return 0;
}
