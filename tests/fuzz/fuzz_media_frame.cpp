// Media-stream text frames (WebSocket /media) and HTTP relay batches (POST /webhooks/media): any
// bytes give a typed frame or an error value; a parsed frame serialises and parses back to the
// same kind of frame.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <variant>

#include "fuzz_check.hpp"
#include "protocol/media_message.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace dvd::protocol;
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    MediaParseLimits limits;
    limits.max_message_bytes = 64 * 1024;
    limits.max_payload_bytes = 16 * 1024;
    if (const auto message = parse_inbound_message(text, limits)) {
        const auto again = parse_inbound_message(serialize_inbound_message(*message), limits);
        DVD_FUZZ_CHECK(again.has_value());
        DVD_FUZZ_CHECK(again->index() == message->index());
        if (const auto* media = std::get_if<MediaMessage>(&*message)) {
            DVD_FUZZ_CHECK(media->payload.size() <= limits.max_payload_bytes);
            DVD_FUZZ_CHECK(std::get<MediaMessage>(*again).payload == media->payload);
        }
    }
    if (const auto batch = parse_inbound_batch(text, limits, 64)) {
        DVD_FUZZ_CHECK(batch->size() <= 64);
    }
    return 0;
}
