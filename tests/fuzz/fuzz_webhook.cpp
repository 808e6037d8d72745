// Call Control webhook bodies (POST /webhooks/voice, after the signature check): any bytes must
// give a typed event or an error value, never a crash, a hang or an exception.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_check.hpp"
#include "protocol/webhook.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view body(reinterpret_cast<const char*>(data), size);
    const auto event = dvd::protocol::parse_webhook(body);
    if (event) {
        // A parsed event names its type; an unknown name is a value, not an error.
        static_cast<void>(dvd::protocol::parse_webhook_event_type(event->event_type));
        DVD_FUZZ_CHECK(!event->event_type.empty());
    } else {
        DVD_FUZZ_CHECK(!event.error().message.empty());
    }
    return 0;
}
