// Replies of the Call Control API (and of anything in its place: a proxy's error page): every
// status and body is classified, and the result/error parsers return values.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_check.hpp"
#include "protocol/call_control.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace dvd::protocol;
    if (size < 2) {
        return 0;
    }
    const int status = 100 + (data[0] | (data[1] << 8)) % 500;
    const std::string_view body(reinterpret_cast<const char*>(data + 2), size - 2);
    const CommandOutcome outcome = classify_command_response(status, body);
    if (status >= 200 && status < 300) {
        DVD_FUZZ_CHECK(outcome == CommandOutcome::Ok);
    }
    if (status == 429 || status >= 500) {
        DVD_FUZZ_CHECK(outcome == CommandOutcome::Retry);
    }
    static_cast<void>(parse_error_response(body));
    static_cast<void>(parse_command_result(body));
    static_cast<void>(parse_dial_result(body));
    return 0;
}
