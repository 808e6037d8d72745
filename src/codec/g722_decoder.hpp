#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "base/result.hpp"

struct g722_decode_state_s;  // spandsp's decoder state (spandsp/g722.h); kept out of this header

namespace dvd::codec {

/// ITU-T G.722 decoder at 64 kbit/s (spandsp's bit-exact implementation): each byte decodes to
/// two 16 kHz samples, whatever RTP clock rate was announced (RFC 3551 fixes G.722's RTP clock at
/// 8000 for historical reasons). Stateful ADPCM: feed one stream's bytes in order.
/// Thread ownership: one thread at a time. Movable, not copyable.
class G722Decoder {
public:
    static constexpr int kSampleRateHz = 16000;

    /// Errc::Runtime if spandsp cannot allocate its state.
    [[nodiscard]] static base::Result<G722Decoder> create();

    ~G722Decoder();
    G722Decoder(G722Decoder&&) noexcept;
    G722Decoder& operator=(G722Decoder&&) noexcept;
    G722Decoder(const G722Decoder&) = delete;
    G722Decoder& operator=(const G722Decoder&) = delete;

    /// Appends 2 * payload.size() samples at 16 kHz to `out_append`. Every byte is a valid code
    /// word, so this cannot fail.
    void decode(std::span<const uint8_t> payload, std::vector<int16_t>& out_append);

private:
    struct StateDeleter {
        void operator()(g722_decode_state_s* state) const noexcept;
    };

    explicit G722Decoder(g722_decode_state_s* state);

    std::unique_ptr<g722_decode_state_s, StateDeleter> state_;
};

}  // namespace dvd::codec
