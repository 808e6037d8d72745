#include "protocol/base64.hpp"

#include <array>

#include <fmt/format.h>

#include "protocol/errc.hpp"

namespace dvd::protocol {
namespace {

constexpr std::string_view kAlphabet =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr uint8_t kInvalid = 0xFF;
constexpr uint8_t kPad = 0xFE;

constexpr std::array<uint8_t, 256> make_decode_table() {
    std::array<uint8_t, 256> table{};
    for (auto& entry : table) {
        entry = kInvalid;
    }
    for (std::size_t i = 0; i < kAlphabet.size(); ++i) {
        table[static_cast<unsigned char>(kAlphabet[i])] = static_cast<uint8_t>(i);
    }
    table[static_cast<unsigned char>('=')] = kPad;
    return table;
}

constexpr std::array<uint8_t, 256> kDecode = make_decode_table();

uint8_t lookup(char c) noexcept {
    return kDecode[static_cast<unsigned char>(c)];
}

}  // namespace

std::string encode_base64(std::span<const uint8_t> bytes) {
    std::string text;
    text.reserve((bytes.size() + 2) / 3 * 4);
    std::size_t i = 0;
    for (; i + 3 <= bytes.size(); i += 3) {
        const uint32_t group =
                (uint32_t{bytes[i]} << 16) | (uint32_t{bytes[i + 1]} << 8) | uint32_t{bytes[i + 2]};
        text.push_back(kAlphabet[(group >> 18) & 63U]);
        text.push_back(kAlphabet[(group >> 12) & 63U]);
        text.push_back(kAlphabet[(group >> 6) & 63U]);
        text.push_back(kAlphabet[group & 63U]);
    }
    const std::size_t rest = bytes.size() - i;
    if (rest == 1) {
        const uint32_t group = uint32_t{bytes[i]} << 16;
        text.push_back(kAlphabet[(group >> 18) & 63U]);
        text.push_back(kAlphabet[(group >> 12) & 63U]);
        text.append("==");
    } else if (rest == 2) {
        const uint32_t group = (uint32_t{bytes[i]} << 16) | (uint32_t{bytes[i + 1]} << 8);
        text.push_back(kAlphabet[(group >> 18) & 63U]);
        text.push_back(kAlphabet[(group >> 12) & 63U]);
        text.push_back(kAlphabet[(group >> 6) & 63U]);
        text.push_back('=');
    }
    return text;
}

std::string encode_base64(std::string_view bytes) {
    return encode_base64(
            std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
}

std::size_t base64_decoded_size(std::string_view text) noexcept {
    std::size_t size = text.size() / 4 * 3;
    if (!text.empty() && text.back() == '=') {
        --size;
        if (text.size() >= 2 && text[text.size() - 2] == '=') {
            --size;
        }
    }
    return size;
}

base::Result<void> decode_base64_into(std::string_view text, std::vector<uint8_t>& out,
                                      std::size_t max_decoded_bytes) {
    out.clear();
    if (text.size() % 4 != 0) {
        return fail(Errc::BadBase64,
                    fmt::format("base64 length {} is not a multiple of 4", text.size()));
    }
    const std::size_t size = base64_decoded_size(text);
    if (size > max_decoded_bytes) {
        return fail(Errc::TooLarge,
                    fmt::format("base64 decodes to {} bytes, limit {}", size, max_decoded_bytes));
    }
    out.resize(size);
    std::size_t o = 0;
    for (std::size_t i = 0; i < text.size(); i += 4) {
        const uint8_t a = lookup(text[i]);
        const uint8_t b = lookup(text[i + 1]);
        const uint8_t c = lookup(text[i + 2]);
        const uint8_t d = lookup(text[i + 3]);
        const bool last = i + 4 == text.size();
        // Padding is allowed only as "xx==" or "xxx=" in the last group.
        const bool ok = a < 64 && b < 64
                        && ((c < 64 && d < 64) || (last && c < 64 && d == kPad)
                            || (last && c == kPad && d == kPad));
        if (!ok) {
            out.clear();
            return fail(Errc::BadBase64, fmt::format("invalid base64 near offset {}", i));
        }
        const uint32_t group = (uint32_t{a} << 18) | (uint32_t{b} << 12)
                               | (uint32_t{c < 64 ? c : 0U} << 6) | uint32_t{d < 64 ? d : 0U};
        out[o++] = static_cast<uint8_t>(group >> 16);
        if (c < 64) {
            out[o++] = static_cast<uint8_t>((group >> 8) & 0xFFU);
        }
        if (d < 64) {
            out[o++] = static_cast<uint8_t>(group & 0xFFU);
        }
    }
    return {};
}

base::Result<std::vector<uint8_t>> decode_base64(std::string_view text,
                                                 std::size_t max_decoded_bytes) {
    std::vector<uint8_t> out;
    auto r = decode_base64_into(text, out, max_decoded_bytes);
    if (!r) {
        return r.error();
    }
    return out;
}

}  // namespace dvd::protocol
