#include "protocol/jitter_buffer.hpp"

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace dvd::protocol {
namespace {

using Buffer = JitterBuffer<std::string>;
using Out = std::vector<Sequenced<std::string>>;

std::vector<uint64_t> sequence_numbers(const Out& out) {
    std::vector<uint64_t> seqs;
    for (const auto& s : out) {
        seqs.push_back(s.sequence_number);
    }
    return seqs;
}

TEST(JitterBuffer, InOrderFramesPassStraightThrough) {
    Buffer buffer;
    Out out;
    for (uint64_t seq = 2; seq < 10; ++seq) {
        buffer.push(seq, std::to_string(seq), out);
        ASSERT_EQ(out.size(), seq - 1);  // released at once, no added latency
        EXPECT_EQ(out.back().item, std::to_string(seq));
        EXPECT_EQ(out.back().lost_before, 0U);
    }
    EXPECT_EQ(buffer.held(), 0U);
    EXPECT_EQ(buffer.stats().released, 8U);
    EXPECT_EQ(buffer.stats().lost, 0U);
}

TEST(JitterBuffer, ReordersWithinTheWindow) {
    Buffer buffer(5);
    Out out;
    for (const uint64_t seq : {1U, 3U, 4U, 2U, 6U, 5U, 7U}) {
        buffer.push(seq, std::to_string(seq), out);
    }
    EXPECT_EQ(sequence_numbers(out), (std::vector<uint64_t>{1, 2, 3, 4, 5, 6, 7}));
    for (const auto& s : out) {
        EXPECT_EQ(s.item, std::to_string(s.sequence_number));
    }
    EXPECT_EQ(buffer.stats().lost, 0U);
}

TEST(JitterBuffer, GivesUpOnAGapOnceTheWindowIsExceeded) {
    Buffer buffer(3);
    Out out;
    buffer.push(1, "1", out);
    buffer.push(3, "3", out);  // 2 missing: held
    buffer.push(4, "4", out);
    EXPECT_EQ(sequence_numbers(out), (std::vector<uint64_t>{1}));
    EXPECT_EQ(buffer.held(), 2U);
    buffer.push(5, "5", out);  // 5 - 2 >= 3: give up on 2
    EXPECT_EQ(sequence_numbers(out), (std::vector<uint64_t>{1, 3, 4, 5}));
    EXPECT_EQ(out[1].lost_before, 1U);
    EXPECT_EQ(buffer.stats().lost, 1U);
    buffer.push(2, "2", out);  // too late now
    EXPECT_EQ(buffer.stats().late, 1U);
    EXPECT_EQ(out.size(), 4U);
}

TEST(JitterBuffer, CountsDuplicates) {
    Buffer buffer(4);
    Out out;
    buffer.push(1, "1", out);
    buffer.push(3, "3", out);
    buffer.push(3, "3 again", out);  // still held: duplicate
    buffer.push(1, "1 again", out);  // already released: late
    EXPECT_EQ(buffer.stats().duplicate, 1U);
    EXPECT_EQ(buffer.stats().late, 1U);
    buffer.push(2, "2", out);
    EXPECT_EQ(sequence_numbers(out), (std::vector<uint64_t>{1, 2, 3}));
    EXPECT_EQ(out[2].item, "3");
}

TEST(JitterBuffer, FlushReleasesTheRestAndCountsInnerGaps) {
    Buffer buffer(10);
    Out out;
    buffer.push(1, "1", out);
    buffer.push(4, "4", out);
    buffer.push(6, "6", out);
    EXPECT_EQ(out.size(), 1U);
    buffer.flush(out);
    EXPECT_EQ(sequence_numbers(out), (std::vector<uint64_t>{1, 4, 6}));
    EXPECT_EQ(out[1].lost_before, 2U);
    EXPECT_EQ(out[2].lost_before, 1U);
    EXPECT_EQ(buffer.stats().lost, 3U);
    EXPECT_EQ(buffer.held(), 0U);
}

TEST(JitterBuffer, AHugeJumpIsCountedWithoutLoopingOrGrowing) {
    Buffer buffer(5);
    Out out;
    buffer.push(1, "1", out);
    constexpr uint64_t kFar = 1'000'000'000'000ULL;
    buffer.push(kFar, "far", out);
    // The window now ends at kFar: kFar-4 .. kFar-1 may still arrive, everything older is lost.
    EXPECT_EQ(sequence_numbers(out), (std::vector<uint64_t>{1}));
    EXPECT_EQ(buffer.held(), 1U);
    EXPECT_EQ(buffer.stats().lost, kFar - 6);
    buffer.push(kFar - 1, "near", out);
    buffer.flush(out);
    EXPECT_EQ(sequence_numbers(out), (std::vector<uint64_t>{1, kFar - 1, kFar}));
    EXPECT_EQ(out[1].lost_before, kFar - 3);
    EXPECT_EQ(buffer.stats().lost, kFar - 3);
}

TEST(JitterBuffer, SkippedNumbersAreNotLosses) {
    Buffer buffer(5);
    Out out;
    buffer.push(1, "start", out);
    buffer.push(3, "media 3", out);  // 2 was a dtmf frame, handled elsewhere
    EXPECT_EQ(out.size(), 1U);
    buffer.skip(2, out);
    EXPECT_EQ(sequence_numbers(out), (std::vector<uint64_t>{1, 3}));
    buffer.skip(5, out);  // skip ahead of time, then 4 arrives
    buffer.push(4, "media 4", out);
    buffer.push(6, "media 6", out);
    EXPECT_EQ(sequence_numbers(out), (std::vector<uint64_t>{1, 3, 4, 6}));
    EXPECT_EQ(buffer.stats().lost, 0U);
    EXPECT_EQ(out.back().lost_before, 0U);
}

TEST(JitterBuffer, RandomShuffleWithinTheWindowLosesNothingAndStaysBounded) {
    std::mt19937 rng(42);
    for (int trial = 0; trial < 50; ++trial) {
        const std::size_t window = 1 + static_cast<std::size_t>(trial % 8);
        std::vector<uint64_t> seqs(200);
        for (std::size_t i = 0; i < seqs.size(); ++i) {
            seqs[i] = i + 1;
        }
        // Displace each frame by less than the window: shuffle disjoint blocks of `window`.
        for (std::size_t i = 0; i < seqs.size(); i += window) {
            const auto end = std::min(seqs.size(), i + window);
            std::shuffle(seqs.begin() + static_cast<std::ptrdiff_t>(i),
                         seqs.begin() + static_cast<std::ptrdiff_t>(end), rng);
        }
        // The first frame fixes the start, so begin with 1.
        std::iter_swap(seqs.begin(), std::find(seqs.begin(), seqs.end(), 1U));
        Buffer buffer(window);
        Out out;
        for (const auto seq : seqs) {
            buffer.push(seq, std::to_string(seq), out);
            ASSERT_LE(buffer.held(), window);
        }
        buffer.flush(out);
        ASSERT_EQ(out.size(), 200U) << "window " << window;
        for (std::size_t i = 0; i < out.size(); ++i) {
            ASSERT_EQ(out[i].sequence_number, i + 1);
        }
        EXPECT_EQ(buffer.stats().lost, 0U);
    }
}

TEST(JitterBuffer, WindowOfOneReleasesImmediatelyAndDropsLateFrames) {
    Buffer buffer(1);
    Out out;
    buffer.push(1, "1", out);
    buffer.push(3, "3", out);
    buffer.push(2, "2", out);
    EXPECT_EQ(sequence_numbers(out), (std::vector<uint64_t>{1, 3}));
    EXPECT_EQ(buffer.stats().lost, 1U);
    EXPECT_EQ(buffer.stats().late, 1U);
}

}  // namespace
}  // namespace dvd::protocol
