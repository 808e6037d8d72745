// Checks the "allocation-free after construction" contract with the counter of
// tests/support/allocation_counter.hpp, which replaces the global operator new/delete for the
// whole dvd_indicators_tests binary (so only this file may include it).

#include <span>
#include <vector>

#include <gtest/gtest.h>

#include "indicators/indicator_tracker.hpp"
#include "support/allocation_counter.hpp"
#include "test_signals.hpp"

using dvd::test::g_allocations;

namespace dvd::indicators {
namespace {

TEST(IndicatorsAllocation, CounterSeesVectorAllocations) {
    const long before = g_allocations.load();
    std::vector<int> v(10);
    EXPECT_GT(g_allocations.load(), before);
}

TEST(IndicatorsAllocation, TrackerIsAllocationFreeAfterConstruction) {
    // Voiced, unvoiced, silent and breath-like material so every code path runs.
    std::vector<float> x(testing::samples_of(0.3), 0.0f);
    testing::append(x, testing::harmonic(testing::samples_of(0.8), 140.0, 0.1));
    testing::append(x, std::vector<float>(testing::samples_of(0.3), 0.0f));
    testing::append(x, testing::white_noise(testing::samples_of(0.3), 0.01, 3));
    testing::append(x, std::vector<float>(testing::samples_of(0.3), 0.0f));
    testing::append(x, testing::harmonic(testing::samples_of(0.8), 190.0, 0.1));
    testing::mix(x, testing::white_noise(x.size(), 0.0005, 4));

    IndicatorTracker tracker;
    long frames = 0;
    const long before = g_allocations.load();
    for (std::size_t pos = 0; pos + 160 <= x.size(); pos += 160) {  // 20 ms media frames
        tracker.accept(std::span<const float>(x).subspan(pos, 160),
                       [&](const FrameIndicators& f) { frames += f.voiced ? 1 : 0; });
    }
    tracker.reset();
    const long after = g_allocations.load();
    EXPECT_EQ(after - before, 0) << "allocations on the per-frame path";
    EXPECT_GT(frames, 100);
}

}  // namespace
}  // namespace dvd::indicators
