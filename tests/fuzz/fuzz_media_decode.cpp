// RTP payloads from a media stream, for every encoding the service accepts: the first byte picks
// the encoding and rate, then each payload is one length byte and that many bytes. Decoding,
// concealment and flush must never crash, and every sample must be finite and within
// full scale (a NaN or a huge value would poison the features).
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "codec/media_decoder.hpp"
#include "fuzz_check.hpp"

namespace {

struct Format {
    const char* encoding;
    int rate;
    int channels;
};

constexpr Format kFormats[] = {
        {"PCMU", 8000, 1}, {"PCMA", 8000, 1},  {"L16", 8000, 1},   {"L16", 16000, 1},
        {"L16", 48000, 1}, {"G722", 16000, 1}, {"OPUS", 48000, 1}, {"OPUS", 16000, 2},
};

void check(const std::vector<float>& samples) {
    for (const float s : samples) {
        DVD_FUZZ_CHECK(std::isfinite(s));
        DVD_FUZZ_CHECK(std::fabs(s) <= 4.0F);  // resampler and Opus overshoot stay bounded
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) {
        return 0;
    }
    const Format& format = kFormats[data[0] % std::size(kFormats)];
    auto decoder = dvd::codec::MediaDecoder::create(format.encoding, format.rate, format.channels);
    DVD_FUZZ_CHECK(decoder.has_value());
    std::vector<float> out;
    std::size_t pos = 1;
    while (pos < size) {
        const std::size_t length = data[pos++];
        const std::size_t take = std::min(length, size - pos);
        if (length == 0xFF) {
            decoder->conceal(data[pos - 1] % 4, out);  // a gap now and then
            continue;
        }
        const auto before = out.size();
        const auto decoded = decoder->decode(std::span<const std::uint8_t>(data + pos, take), out);
        if (!decoded) {
            DVD_FUZZ_CHECK(out.size() == before);  // an error appends nothing
        }
        pos += take;
    }
    decoder->flush(out);
    check(out);
    return 0;
}
