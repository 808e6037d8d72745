#include "eval/det_curve.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "unit/eval/trial_builders.hpp"

namespace dvd::eval {
namespace {

using test::make_trials;

constexpr double kInf = std::numeric_limits<double>::infinity();

TEST(EvalProbit, MatchesReferenceValues) {
    // References from Python's statistics.NormalDist().inv_cdf (Wichura's AS241, ~1e-16).
    const std::vector<std::pair<double, double>> cases = {
            {1e-300, -37.0470962993612},       {1e-100, -21.27345356096532},
            {1e-20, -9.262340089798405},       {1e-6, -4.753424308822899},
            {0.001, -3.090232306167813},       {0.02, -2.0537489106318225},
            {0.3, -0.5244005127080407},        {0.5, 0.0},
            {2.0 / 3, 0.43072729929545733},    {0.9, 1.2815515655446008},
            {0.975, 1.9599639845400536},       {1.0 - 1e-10, 6.361340889697421},
            {1.0 - 0x1p-52, 8.125890664701906}};
    for (const auto& [p, expected] : cases) {
        EXPECT_NEAR(probit(p), expected, 1e-13 * std::max(1.0, std::abs(expected))) << "p = " << p;
    }
}

TEST(EvalProbit, InvertsNormalCdf) {
    // Lower half: Phi(x) is a small number held to full relative precision, so the round trip
    // is exact to ~1e-13. Upper half: Phi(x) near 1 keeps only ~1e-16 absolute precision, i.e.
    // an x error of 1e-16 / phi(x) (7e-11 at x = 5), which bounds what any probit can return.
    for (double x = -37.0; x <= 0.0; x += 0.25) {
        EXPECT_NEAR(probit(normal_cdf(x)), x, 1e-13 * std::max(1.0, std::abs(x))) << "x = " << x;
    }
    for (double x = 0.25; x <= 5.0; x += 0.25) {
        EXPECT_NEAR(probit(normal_cdf(x)), x, 1e-9) << "x = " << x;
    }
}

TEST(EvalProbit, EdgesAndOutOfRange) {
    EXPECT_EQ(probit(0.0), -kInf);
    EXPECT_EQ(probit(1.0), kInf);
    EXPECT_TRUE(std::isnan(probit(-0.1)));
    EXPECT_TRUE(std::isnan(probit(1.5)));
    EXPECT_TRUE(std::isnan(probit(std::numeric_limits<double>::quiet_NaN())));
    EXPECT_TRUE(std::isfinite(probit(std::numeric_limits<double>::denorm_min())));
}

TEST(EvalDetCurve, HandComputedVertices) {
    // targets {2, 4, 6, 8}, non-targets {1, 3, 5}: the sweep has 8 points; (P_miss, P_fa) =
    // (3/4, 0) lies inside the run (1/2, 0) -> (1, 0) and is dropped.
    const auto curve = det_curve(make_trials({2, 4, 6, 8}, {1, 3, 5}));
    ASSERT_TRUE(curve);
    const std::vector<std::pair<double, double>> expected = {
            // (fa, miss)
            {1.0, 0.0},     {2.0 / 3, 0.0}, {2.0 / 3, 0.25}, {1.0 / 3, 0.25},
            {1.0 / 3, 0.5}, {0.0, 0.5},     {0.0, 1.0}};
    ASSERT_EQ(curve->size(), expected.size());
    for (std::size_t i = 0; i < expected.size(); ++i) {
        const DetPoint& point = (*curve)[i];
        EXPECT_NEAR(point.fa_rate, expected[i].first, 1e-12) << "vertex " << i;
        EXPECT_NEAR(point.miss_rate, expected[i].second, 1e-12) << "vertex " << i;
        EXPECT_EQ(point.probit_fa, probit(point.fa_rate)) << "vertex " << i;
        EXPECT_EQ(point.probit_miss, probit(point.miss_rate)) << "vertex " << i;
    }
    EXPECT_EQ(curve->front().probit_fa, kInf);
    EXPECT_EQ(curve->front().probit_miss, -kInf);
    EXPECT_NEAR((*curve)[2].probit_fa, 0.43072729929545733, 1e-13);
}

TEST(EvalDetCurve, PerfectSeparationIsTheCorner) {
    const auto curve = det_curve(make_trials({10, 11, 12, 13}, {1, 2, 3}));
    ASSERT_TRUE(curve);
    ASSERT_EQ(curve->size(), 3U);  // (fa, miss) = (1, 0), (0, 0), (0, 1)
    EXPECT_EQ((*curve)[1].fa_rate, 0.0);
    EXPECT_EQ((*curve)[1].miss_rate, 0.0);
}

TEST(EvalDetCurve, EqualVarianceGaussiansGiveAStraightLine) {
    // Scores at the quantiles of N(+-d/2, 1): at threshold x, probit(P_miss) = x - d/2 and
    // probit(P_fa) = -x - d/2, so probit(P_miss) + probit(P_fa) = -d (slope -1 on DET axes).
    constexpr double kD = 2.0;
    constexpr std::size_t kCount = 20000;
    std::vector<Trial> trials;
    for (std::size_t i = 0; i < kCount; ++i) {
        const double z = probit((static_cast<double>(i) + 0.5) / static_cast<double>(kCount));
        trials.push_back({0.5 * kD + z, true});
        trials.push_back({-0.5 * kD + z, false});
    }
    const auto curve = det_curve(trials);
    ASSERT_TRUE(curve);
    std::size_t checked = 0;
    for (const DetPoint& point : *curve) {
        if (point.fa_rate > 0.01 && point.fa_rate < 0.99 && point.miss_rate > 0.01
            && point.miss_rate < 0.99) {
            EXPECT_NEAR(point.probit_miss + point.probit_fa, -kD, 0.01);
            ++checked;
        }
    }
    EXPECT_GT(checked, 1000U);
}

TEST(EvalDetCurve, RejectsEmptyClasses) {
    const auto curve = det_curve(make_trials({1, 2}, {}));
    ASSERT_FALSE(curve);
    EXPECT_EQ(curve.error().code, base::make_error_code(base::Errc::InvalidArgument));
}

}  // namespace
}  // namespace dvd::eval
