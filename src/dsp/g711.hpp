#pragma once

#include <cstdint>
#include <span>

namespace dvd::dsp {

/// ITU-T G.711 codecs (the Sun/ITU reference algorithms, as in the G.191 software tools).
/// Pure functions, no state: safe from any thread. Linear values are 16-bit PCM.

/// Decodes one mu-law byte to 16-bit linear PCM (range -32124..32124; 0xFF and 0x7F decode to 0).
[[nodiscard]] int16_t mulaw_to_linear(uint8_t code) noexcept;

/// Decodes one A-law byte to 16-bit linear PCM (range -32256..32256; 0xD5 -> 8, 0x55 -> -8).
[[nodiscard]] int16_t alaw_to_linear(uint8_t code) noexcept;

/// Encodes 16-bit linear PCM to mu-law (the 14-bit reference: the low 2 bits are ignored).
[[nodiscard]] uint8_t linear_to_mulaw(int16_t pcm) noexcept;

/// Encodes 16-bit linear PCM to A-law (the 13-bit reference: the low 3 bits are ignored).
[[nodiscard]] uint8_t linear_to_alaw(int16_t pcm) noexcept;

/// Decodes a mu-law buffer to floats at full scale +-1.0 (linear / 32768).
/// Precondition: out.size() >= in.size() (checked); writes in.size() values, allocates nothing.
void decode_mulaw(std::span<const uint8_t> in, std::span<float> out);

/// Decodes an A-law buffer to floats at full scale +-1.0 (linear / 32768).
/// Precondition: out.size() >= in.size() (checked); writes in.size() values, allocates nothing.
void decode_alaw(std::span<const uint8_t> in, std::span<float> out);

}  // namespace dvd::dsp
