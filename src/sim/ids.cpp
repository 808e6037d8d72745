#include "sim/ids.hpp"

#include <array>
#include <cstddef>

namespace dvd::sim {
namespace {

constexpr std::string_view kHex = "0123456789abcdef";
constexpr std::string_view kUrlSafe =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
constexpr std::size_t kCallControlIdChars = 54;
constexpr std::size_t kNumericIdDigits = 19;

}  // namespace

std::string IdGenerator::uuid() {
    std::array<std::uint8_t, 16> bytes{};
    {
        const std::lock_guard lock(mutex_);
        for (std::size_t i = 0; i < bytes.size(); i += 8) {
            std::uint64_t word = rng_();
            for (std::size_t j = 0; j < 8; ++j) {
                bytes[i + j] = static_cast<std::uint8_t>(word & 0xFFU);
                word >>= 8U;
            }
        }
    }
    bytes[6] = static_cast<std::uint8_t>((bytes[6] & 0x0FU) | 0x40U);  // version 4
    bytes[8] = static_cast<std::uint8_t>((bytes[8] & 0x3FU) | 0x80U);  // RFC variant
    std::string out;
    out.reserve(36);
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) {
            out.push_back('-');
        }
        out.push_back(kHex[bytes[i] >> 4U]);
        out.push_back(kHex[bytes[i] & 0x0FU]);
    }
    return out;
}

std::string IdGenerator::call_control_id() {
    std::string out = "v3:";
    const std::lock_guard lock(mutex_);
    for (std::size_t i = 0; i < kCallControlIdChars; ++i) {
        out.push_back(kUrlSafe[rng_() % kUrlSafe.size()]);
    }
    return out;
}

std::string IdGenerator::numeric_id() {
    std::string out;
    const std::lock_guard lock(mutex_);
    out.push_back(static_cast<char>('1' + rng_() % 9));
    for (std::size_t i = 1; i < kNumericIdDigits; ++i) {
        out.push_back(static_cast<char>('0' + rng_() % 10));
    }
    return out;
}

}  // namespace dvd::sim
