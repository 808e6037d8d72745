#include "indicators/sinc_interpolation.hpp"

#include <cmath>
#include <numbers>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "test_signals.hpp"

namespace dvd::indicators {
namespace {

TEST(SincInterpolation, IntegerPositionsAreTheSamples) {
    const auto x = testing::sine(64, 700.0, 0.8, 0.2);
    for (std::size_t i = 0; i < x.size(); ++i) {
        EXPECT_EQ(sinc_value(x, i, 0), static_cast<double>(x[i]));
    }
}

TEST(SincInterpolation, ReconstructsBandLimitedSinesBetweenSamples) {
    // Tolerances: the kernel's worst-case response error at each frequency (see the header).
    const std::vector<std::pair<double, double>> cases = {{200.0, 5e-4},  {1000.0, 5e-4},
                                                          {2000.0, 5e-4}, {2500.0, 1.5e-3},
                                                          {3000.0, 4e-3}, {3400.0, 2e-2}};
    for (const auto& [f, tolerance] : cases) {
        const auto x = testing::sine(200, f, 1.0, 0.3);
        for (std::size_t i = 40; i < 160; i += 7) {
            for (int step = 1; step < kSincSteps; ++step) {
                const double t = static_cast<double>(i) + static_cast<double>(step) / kSincSteps;
                const double truth =
                        std::sin(2.0 * std::numbers::pi * f * t / testing::kRate + 0.3);
                EXPECT_NEAR(sinc_value(x, i, step), truth, tolerance) << f << " Hz at " << t;
            }
        }
    }
}

TEST(SincInterpolation, RefinesThePeakOfASampledSine) {
    // A 1 kHz sine has a peak between samples; the raw maximum sample can be 8 % low.
    for (const double phase : {0.0, 0.2, 0.5, 0.9}) {
        const auto x = testing::sine(100, 1000.0, 1.0, phase);
        std::size_t imax = 40;
        for (std::size_t i = 40; i < 48; ++i) {
            if (x[i] > x[imax]) {
                imax = i;
            }
        }
        const Extreme e = refine_extreme(std::span<const float>(x), imax, true);
        EXPECT_NEAR(e.value, 1.0, 1e-3) << phase;
        std::size_t imin = imax + 2;
        for (std::size_t i = imax + 2; i < imax + 7; ++i) {
            if (x[i] < x[imin]) {
                imin = i;
            }
        }
        const Extreme m = refine_extreme(std::span<const float>(x), imin, false);
        EXPECT_NEAR(m.value, -1.0, 1e-3) << phase;
    }
}

}  // namespace
}  // namespace dvd::indicators
