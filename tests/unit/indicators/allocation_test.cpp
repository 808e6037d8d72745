// Counts heap allocations made through operator new while the per-frame code runs, to check the
// "allocation-free after construction" contract. Replaces the global operator new/delete for the
// whole dvd_indicators_tests binary (malloc/free underneath, so sanitizers stay consistent).

#include <atomic>
#include <cstdlib>
#include <new>
#include <span>
#include <vector>

#include <gtest/gtest.h>

#include "indicators/indicator_tracker.hpp"
#include "test_signals.hpp"

namespace {
std::atomic<long> g_allocations{0};
}  // namespace

// GCC 12 at -O2 inlines these replacements into callers and then reports malloc/free as a
// mismatch with new/delete: a false positive for a replaced global operator new.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

void* operator new(std::size_t size) {
    g_allocations.fetch_add(1, std::memory_order_relaxed);
    if (void* p = std::malloc(size == 0 ? 1 : size)) {
        return p;
    }
    throw std::bad_alloc();
}

void operator delete(void* p) noexcept {
    std::free(p);
}

void operator delete(void* p, std::size_t) noexcept {
    std::free(p);
}

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
