#include "dsp/g711.hpp"

#include <array>
#include <cstdint>
#include <vector>

#include <gtest/gtest.h>

namespace dvd::dsp {
namespace {

TEST(G711, MulawKnownValues) {
    EXPECT_EQ(mulaw_to_linear(0xFF), 0);
    EXPECT_EQ(mulaw_to_linear(0x7F), 0);  // "negative zero"
    EXPECT_EQ(mulaw_to_linear(0x00), -32124);
    EXPECT_EQ(mulaw_to_linear(0x80), 32124);
    EXPECT_EQ(mulaw_to_linear(0xFE), 8);
    EXPECT_EQ(mulaw_to_linear(0x7E), -8);
    EXPECT_EQ(linear_to_mulaw(0), 0xFF);
    EXPECT_EQ(linear_to_mulaw(32767), 0x80);
    EXPECT_EQ(linear_to_mulaw(-32768), 0x00);
}

TEST(G711, AlawKnownValues) {
    EXPECT_EQ(alaw_to_linear(0xD5), 8);
    EXPECT_EQ(alaw_to_linear(0x55), -8);
    EXPECT_EQ(alaw_to_linear(0xAA), 32256);
    EXPECT_EQ(alaw_to_linear(0x2A), -32256);
    EXPECT_EQ(linear_to_alaw(0), 0xD5);
    EXPECT_EQ(linear_to_alaw(-1), 0x55);
    EXPECT_EQ(linear_to_alaw(32767), 0xAA);
    EXPECT_EQ(linear_to_alaw(-32768), 0x2A);
}

TEST(G711, MulawCodeRoundTripsExceptNegativeZero) {
    for (int c = 0; c < 256; ++c) {
        const auto code = static_cast<uint8_t>(c);
        const uint8_t expected = code == 0x7F ? 0xFF : code;
        EXPECT_EQ(linear_to_mulaw(mulaw_to_linear(code)), expected) << "code " << c;
    }
}

TEST(G711, AlawCodeRoundTrips) {
    for (int c = 0; c < 256; ++c) {
        const auto code = static_cast<uint8_t>(c);
        EXPECT_EQ(linear_to_alaw(alaw_to_linear(code)), code) << "code " << c;
    }
}

// Decoded levels sorted by linear value must come from codes whose encoder is monotonic:
// encoding then decoding any 16-bit value is non-decreasing in the input.
TEST(G711, EncodeDecodeIsMonotonic) {
    int prev_mu = -40000;
    int prev_a = -40000;
    for (int v = -32768; v <= 32767; ++v) {
        const auto pcm = static_cast<int16_t>(v);
        const int mu = mulaw_to_linear(linear_to_mulaw(pcm));
        const int a = alaw_to_linear(linear_to_alaw(pcm));
        ASSERT_GE(mu, prev_mu) << "mu-law at " << v;
        ASSERT_GE(a, prev_a) << "A-law at " << v;
        prev_mu = mu;
        prev_a = a;
    }
}

TEST(G711, QuantisationErrorIsBoundedBySegmentStep) {
    for (int v = -32768; v <= 32767; v += 7) {
        const auto pcm = static_cast<int16_t>(v);
        const int mu_err = std::abs(mulaw_to_linear(linear_to_mulaw(pcm)) - v);
        const int a_err = std::abs(alaw_to_linear(linear_to_alaw(pcm)) - v);
        // The top segment's step is 1024 in 16-bit units for both laws: half a step of error,
        // plus the encoders' dropped low bits (2 for mu-law, 3 for A-law), plus mu-law's clip
        // at 32124.
        EXPECT_LE(mu_err, v > 32124 || v < -32124 ? 700 : 512 + 3) << v;
        EXPECT_LE(a_err, 512 + 7) << v;
    }
}

TEST(G711, DecodeSpansMatchScalarDecoders) {
    std::vector<uint8_t> codes(256);
    for (int c = 0; c < 256; ++c) {
        codes[static_cast<std::size_t>(c)] = static_cast<uint8_t>(c);
    }
    std::vector<float> mu(256);
    std::vector<float> a(256);
    decode_mulaw(codes, mu);
    decode_alaw(codes, a);
    for (std::size_t c = 0; c < 256; ++c) {
        EXPECT_EQ(mu[c], static_cast<float>(mulaw_to_linear(codes[c])) / 32768.0f);
        EXPECT_EQ(a[c], static_cast<float>(alaw_to_linear(codes[c])) / 32768.0f);
    }
    decode_mulaw({}, std::span<float>{});  // empty is fine
}

TEST(G711DeathTest, DecodeRejectsShortOutput) {
    std::vector<uint8_t> codes(4, 0xFF);
    std::vector<float> out(3);
    EXPECT_DEATH(decode_mulaw(codes, out), "output shorter");
}

}  // namespace
}  // namespace dvd::dsp
