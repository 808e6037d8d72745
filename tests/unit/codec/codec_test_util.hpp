#pragma once

// Helpers for the codec tests: fixture loading, a minimal Ogg demuxer, tone measurement.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <numbers>
#include <span>
#include <string>
#include <vector>

namespace dvd::codec::testing {

inline std::vector<uint8_t> read_fixture(const std::string& name) {
    std::ifstream in(std::string(DVD_SOURCE_DIR) + "/tests/data/codec/" + name, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// A little-endian s16 fixture as floats at full scale +-1.0.
inline std::vector<float> read_s16le(const std::string& name) {
    const auto bytes = read_fixture(name);
    std::vector<float> samples(bytes.size() / 2);
    for (std::size_t i = 0; i < samples.size(); ++i) {
        const auto s =
                static_cast<int16_t>(static_cast<uint16_t>(bytes[2 * i] | (bytes[2 * i + 1] << 8)));
        samples[i] = static_cast<float>(s) / 32768.0F;
    }
    return samples;
}

/// The packets of the first logical stream of an Ogg file (RFC 3533): pages are "OggS", a
/// 27-byte header whose last byte is the segment count, the lacing table, then the data; a
/// packet ends at a lacing value below 255. Returns {} on a malformed file.
inline std::vector<std::vector<uint8_t>> read_ogg_packets(std::span<const uint8_t> file) {
    std::vector<std::vector<uint8_t>> packets;
    std::vector<uint8_t> current;
    std::size_t pos = 0;
    while (pos + 27 <= file.size()) {
        if (file[pos] != 'O' || file[pos + 1] != 'g' || file[pos + 2] != 'g'
            || file[pos + 3] != 'S') {
            return {};
        }
        const std::size_t segments = file[pos + 26];
        std::size_t data = pos + 27 + segments;
        if (data > file.size()) {
            return {};
        }
        for (std::size_t s = 0; s < segments; ++s) {
            const std::size_t lace = file[pos + 27 + s];
            if (data + lace > file.size()) {
                return {};
            }
            current.insert(current.end(), file.begin() + static_cast<std::ptrdiff_t>(data),
                           file.begin() + static_cast<std::ptrdiff_t>(data + lace));
            data += lace;
            if (lace < 255) {
                packets.push_back(std::move(current));
                current.clear();
            }
        }
        pos = data;
    }
    return packets;
}

/// Amplitude of the sinusoid at `freq_hz` in `x` (least-squares fit of sin + cos; exact for a
/// whole number of periods, close otherwise when x spans many periods).
inline double tone_amplitude(std::span<const float> x, double freq_hz, double rate_hz) {
    double re = 0.0;
    double im = 0.0;
    for (std::size_t n = 0; n < x.size(); ++n) {
        const double phase = 2.0 * std::numbers::pi * freq_hz * static_cast<double>(n) / rate_hz;
        re += static_cast<double>(x[n]) * std::cos(phase);
        im += static_cast<double>(x[n]) * std::sin(phase);
    }
    return 2.0 * std::hypot(re, im) / static_cast<double>(x.size());
}

/// Signal-to-noise ratio in dB of `test` against `reference` (same length).
inline double snr_db(std::span<const float> reference, std::span<const float> test) {
    double signal = 0.0;
    double noise = 0.0;
    for (std::size_t i = 0; i < reference.size() && i < test.size(); ++i) {
        const double r = reference[i];
        const double d = r - static_cast<double>(test[i]);
        signal += r * r;
        noise += d * d;
    }
    return 10.0 * std::log10(signal / std::max(noise, 1e-20));
}

}  // namespace dvd::codec::testing
