#include "codec/g722_decoder.hpp"

#include <algorithm>

// spandsp's g722.h needs its telephony.h (SPAN_DECLARE) first.
// clang-format off
#include <spandsp/telephony.h>
#include <spandsp/g722.h>

// clang-format on

namespace dvd::codec {
namespace {

constexpr int kBitRate = 64000;
// Bytes handed to spandsp per call: bounds the int conversion of the length.
constexpr std::size_t kMaxBytesPerCall = 4096;

}  // namespace

void G722Decoder::StateDeleter::operator()(g722_decode_state_s* state) const noexcept {
    g722_decode_free(state);
}

base::Result<G722Decoder> G722Decoder::create() {
    g722_decode_state_t* state = g722_decode_init(nullptr, kBitRate, 0);
    if (state == nullptr) {
        return base::fail(base::Errc::Runtime, "G722Decoder: spandsp g722_decode_init failed");
    }
    return G722Decoder(state);
}

G722Decoder::G722Decoder(g722_decode_state_s* state) : state_(state) {}

G722Decoder::~G722Decoder() = default;
G722Decoder::G722Decoder(G722Decoder&&) noexcept = default;
G722Decoder& G722Decoder::operator=(G722Decoder&&) noexcept = default;

void G722Decoder::decode(std::span<const uint8_t> payload, std::vector<int16_t>& out_append) {
    while (!payload.empty()) {
        const std::size_t bytes = std::min(payload.size(), kMaxBytesPerCall);
        const std::size_t old_size = out_append.size();
        out_append.resize(old_size + 2 * bytes);
        const int produced = g722_decode(state_.get(), out_append.data() + old_size, payload.data(),
                                         static_cast<int>(bytes));
        out_append.resize(old_size + static_cast<std::size_t>(std::max(produced, 0)));
        payload = payload.subspan(bytes);
    }
}

}  // namespace dvd::codec
