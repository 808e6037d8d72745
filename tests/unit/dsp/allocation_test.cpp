// Checks the "allocation-free in steady state" contract with the counter of
// tests/support/allocation_counter.hpp, which replaces the global operator new/delete for the
// whole dvd_dsp_tests binary (so only this file may include it).

#include <span>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "dsp/feature_extractor.hpp"
#include "dsp/g711.hpp"
#include "dsp/vad.hpp"
#include "support/allocation_counter.hpp"
#include "test_signals.hpp"

using dvd::test::g_allocations;

namespace dvd::dsp {
namespace {

TEST(Allocation, CounterSeesVectorAllocations) {
    const long before = g_allocations.load();
    std::vector<int> v(10);
    EXPECT_GT(g_allocations.load(), before);
}

// Constructs an extractor with `options` on the calling thread, then counts the allocations of
// 2 s of 20 ms messages (decode, features, VAD), `finish` and `reset`.
long allocations_after_construction(const FeatureOptions& options) {
    const auto tables = FeatureTables::create(options);
    EXPECT_TRUE(tables);
    FeatureExtractor ex(*tables);
    EnergyVad vad;
    const auto x = testing::white_noise(16000, 0.1, 5);
    std::vector<uint8_t> codes(160, 0x55);
    std::vector<float> decoded(160);
    float checksum = 0.0f;
    int speech = 0;
    const auto sink = [&](std::span<const float> f, float e) {
        checksum += f[0];
        speech += vad.accept(e) ? 1 : 0;
    };

    const long before = g_allocations.load();
    for (std::size_t pos = 0; pos + 160 <= x.size(); pos += 160) {  // 20 ms messages
        decode_mulaw(codes, decoded);
        ex.accept(std::span<const float>(x).subspan(pos, 160), sink);
    }
    ex.finish(sink);
    EXPECT_EQ(ex.frames_emitted(), num_frames(options, 16000));
    ex.reset();
    vad.reset();
    const long after = g_allocations.load();
    EXPECT_NE(checksum, 0.0f);
    EXPECT_EQ(ex.frames_emitted(), 0);
    (void)speech;
    return after - before;
}

TEST(Allocation, FeatureExtractorVadAndG711AreAllocationFreeAfterConstruction) {
    EXPECT_EQ(allocations_after_construction(FeatureOptions{}), 0)
            << "allocations on the per-frame path";
}

TEST(Allocation, BandHarmonicityOnAFreshThreadIsAllocationFreeAfterConstruction) {
    // The shipped front end; its FFT scratch is per thread, allocated when the extractor is
    // constructed on that thread (a new one here, as a worker would be).
    FeatureOptions options;
    options.fine_bands = 6;
    options.band_harmonicity = true;
    long allocations = -1;
    std::thread([&] { allocations = allocations_after_construction(options); }).join();
    EXPECT_EQ(allocations, 0) << "allocations on the per-frame path";
}

}  // namespace
}  // namespace dvd::dsp
