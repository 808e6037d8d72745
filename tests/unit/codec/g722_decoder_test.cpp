#include "codec/g722_decoder.hpp"

#include <algorithm>
#include <cstdlib>

#include <gtest/gtest.h>

#include "codec_test_util.hpp"

namespace dvd::codec {
namespace {

using testing::read_fixture;

// ffmpeg's G.722 encoder and decoder are an implementation independent of spandsp's; both are
// bit-exact ITU-T G.722, so decoding the same bitstream must give the same samples.
TEST(G722Decoder, MatchesFfmpegDecodeOfAnFfmpegBitstream) {
    const auto bitstream = read_fixture("tones_16k.g722");
    const auto reference_bytes = read_fixture("tones_16k_g722_ref.s16le");
    ASSERT_EQ(bitstream.size(), 4000U);
    ASSERT_EQ(reference_bytes.size(), 4 * bitstream.size());
    auto decoder = G722Decoder::create();
    ASSERT_TRUE(decoder);
    std::vector<int16_t> decoded;
    decoder->decode(bitstream, decoded);
    ASSERT_EQ(decoded.size(), 2 * bitstream.size());
    int max_diff = 0;
    std::size_t differing = 0;
    for (std::size_t i = 0; i < decoded.size(); ++i) {
        const auto ref = static_cast<int16_t>(
                static_cast<uint16_t>(reference_bytes[2 * i] | (reference_bytes[2 * i + 1] << 8)));
        const int diff = std::abs(int{decoded[i]} - int{ref});
        max_diff = std::max(max_diff, diff);
        differing += diff != 0 ? 1U : 0U;
    }
    EXPECT_EQ(max_diff, 0) << differing << " samples differ";
}

TEST(G722Decoder, ChunkingDoesNotChangeTheOutput) {
    const auto bitstream = read_fixture("tones_16k.g722");
    auto whole = G722Decoder::create();
    auto chunked = G722Decoder::create();
    ASSERT_TRUE(whole && chunked);
    std::vector<int16_t> a;
    std::vector<int16_t> b;
    whole->decode(bitstream, a);
    std::span<const uint8_t> rest(bitstream);
    for (std::size_t size = 1; !rest.empty(); size = size % 170 + 7) {
        const auto n = std::min(size, rest.size());
        chunked->decode(rest.first(n), b);
        rest = rest.subspan(n);
    }
    EXPECT_EQ(a, b);
}

}  // namespace
}  // namespace dvd::codec
