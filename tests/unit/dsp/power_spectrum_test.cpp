#include "dsp/power_spectrum.hpp"

#include <cmath>
#include <numbers>
#include <utility>

#include <gtest/gtest.h>

namespace dvd::dsp {
namespace {

TEST(PowerSpectrum, BinCentredSineHasAllItsPowerInOneBin) {
    constexpr int n = 256;
    PowerSpectrum ps(n);
    const auto frame = ps.frame();
    ASSERT_EQ(frame.size(), static_cast<std::size_t>(n));
    for (std::size_t i = 0; i < frame.size(); ++i) {
        const double phase = 2.0 * std::numbers::pi * 16.0 * static_cast<double>(i) / n;
        frame[i] = static_cast<float>(std::cos(phase));
    }
    const auto power = ps.compute();
    ASSERT_EQ(power.size(), static_cast<std::size_t>(n / 2 + 1));
    // |X[16]| = N / 2 for a unit cosine exactly on bin 16; every other bin is (numerically) zero.
    EXPECT_NEAR(power[16], (n / 2.0) * (n / 2.0), 1e-2 * n * n);
    for (std::size_t k = 0; k < power.size(); ++k) {
        if (k != 16) {
            EXPECT_LT(power[k], 1e-6 * n * n) << "bin " << k;
        }
    }
}

TEST(PowerSpectrum, ParsevalAndReuse) {
    constexpr int n = 128;
    PowerSpectrum ps(n);
    for (double rate : {0.37, 0.74}) {  // a second frame overwrites the first
        double time_energy = 0.0;
        const auto frame = ps.frame();
        for (std::size_t i = 0; i < frame.size(); ++i) {
            frame[i] = static_cast<float>(std::sin(rate * static_cast<double>(i)) + 0.1);
            time_energy += static_cast<double>(frame[i]) * static_cast<double>(frame[i]);
        }
        const auto p = ps.compute();
        // Parseval for a real FFT: sum |x|^2 = (P[0] + P[N/2] + 2 sum_{0<k<N/2} P[k]) / N.
        double freq_energy = static_cast<double>(p[0]) + static_cast<double>(p[n / 2]);
        for (int k = 1; k < n / 2; ++k) {
            freq_energy += 2.0 * static_cast<double>(p[static_cast<std::size_t>(k)]);
        }
        EXPECT_NEAR(freq_energy / n, time_energy, 1e-3 * time_energy);
    }
}

TEST(PowerSpectrum, MovesKeepThePlanAndCountTheirBytes) {
    PowerSpectrum a(64);
    a.frame()[0] = 1.0f;  // an impulse: flat power 1
    PowerSpectrum b(std::move(a));
    const auto p = b.compute();
    for (const float v : p) {
        EXPECT_NEAR(v, 1.0f, 1e-6f);
    }
    EXPECT_GT(b.state_bytes(), (64 + 33) * sizeof(float));
}

}  // namespace
}  // namespace dvd::dsp
