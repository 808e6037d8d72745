#include "dsp/g711.hpp"

#include <array>
#include <cstddef>

#include "base/check.hpp"

// The Sun Microsystems reference implementation of ITU-T G.711 (g711.c, 1994), also shipped in
// the ITU-T G.191 software tools, transcribed with the same segment tables and bit operations.

namespace dvd::dsp {
namespace {

constexpr int kSignBit = 0x80;
constexpr int kQuantMask = 0x0F;
constexpr int kSegShift = 4;
constexpr int kSegMask = 0x70;
constexpr int kMulawBias = 0x84;
constexpr int kMulawClip = 8159;

constexpr std::array<int, 8> kSegEndAlaw = {0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF};
constexpr std::array<int, 8> kSegEndMulaw = {0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF};

// Index of the first segment whose end is >= value, or 8 when above all of them.
constexpr int segment(int value, const std::array<int, 8>& ends) {
    for (int i = 0; i < 8; ++i) {
        if (value <= ends[static_cast<std::size_t>(i)]) {
            return i;
        }
    }
    return 8;
}

constexpr int mulaw_decode(int code) {
    const int u = ~code & 0xFF;
    int t = ((u & kQuantMask) << 3) + kMulawBias;
    t <<= (u & kSegMask) >> kSegShift;
    return (u & kSignBit) != 0 ? kMulawBias - t : t - kMulawBias;
}

constexpr int alaw_decode(int code) {
    const int a = code ^ 0x55;
    int t = (a & kQuantMask) << 4;
    const int seg = (a & kSegMask) >> kSegShift;
    switch (seg) {
        case 0:
            t += 8;
            break;
        case 1:
            t += 0x108;
            break;
        default:
            t += 0x108;
            t <<= seg - 1;
            break;
    }
    return (a & kSignBit) != 0 ? t : -t;
}

template <int (*Decode)(int)>
constexpr std::array<float, 256> make_float_table() {
    std::array<float, 256> table{};
    for (int c = 0; c < 256; ++c) {
        table[static_cast<std::size_t>(c)] = static_cast<float>(Decode(c)) / 32768.0f;
    }
    return table;
}

constexpr std::array<float, 256> kMulawFloat = make_float_table<mulaw_decode>();
constexpr std::array<float, 256> kAlawFloat = make_float_table<alaw_decode>();

static_assert(mulaw_decode(0xFF) == 0 && mulaw_decode(0x00) == -32124);
static_assert(alaw_decode(0xD5) == 8 && alaw_decode(0x55) == -8);

void decode_with(const std::array<float, 256>& table, std::span<const uint8_t> in,
                 std::span<float> out) {
    DVD_CHECK(out.size() >= in.size(), "G.711 decode: output shorter than input");
    for (std::size_t i = 0; i < in.size(); ++i) {
        out[i] = table[in[i]];
    }
}

}  // namespace

int16_t mulaw_to_linear(uint8_t code) noexcept {
    return static_cast<int16_t>(mulaw_decode(code));
}

int16_t alaw_to_linear(uint8_t code) noexcept {
    return static_cast<int16_t>(alaw_decode(code));
}

uint8_t linear_to_mulaw(int16_t pcm) noexcept {
    int value = pcm >> 2;  // 14-bit magnitude range
    int mask = 0xFF;
    if (value < 0) {
        value = -value;
        mask = 0x7F;
    }
    if (value > kMulawClip) {
        value = kMulawClip;
    }
    value += kMulawBias >> 2;
    const int seg = segment(value, kSegEndMulaw);
    if (seg >= 8) {
        return static_cast<uint8_t>(0x7F ^ mask);
    }
    const int code = (seg << 4) | ((value >> (seg + 1)) & kQuantMask);
    return static_cast<uint8_t>(code ^ mask);
}

uint8_t linear_to_alaw(int16_t pcm) noexcept {
    int value = pcm >> 3;  // 13-bit range
    int mask = 0xD5;       // sign bit set for non-negative values
    if (value < 0) {
        mask = 0x55;
        value = -value - 1;
    }
    const int seg = segment(value, kSegEndAlaw);
    if (seg >= 8) {
        return static_cast<uint8_t>(0x7F ^ mask);
    }
    int code = seg << kSegShift;
    code |= seg < 2 ? (value >> 1) & kQuantMask : (value >> seg) & kQuantMask;
    return static_cast<uint8_t>(code ^ mask);
}

void decode_mulaw(std::span<const uint8_t> in, std::span<float> out) {
    decode_with(kMulawFloat, in, out);
}

void decode_alaw(std::span<const uint8_t> in, std::span<float> out) {
    decode_with(kAlawFloat, in, out);
}

}  // namespace dvd::dsp
