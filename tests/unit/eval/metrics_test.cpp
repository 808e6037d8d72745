#include "eval/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "eval/det_curve.hpp"
#include "unit/eval/trial_builders.hpp"

namespace dvd::eval {
namespace {

using test::gaussian_trials;
using test::make_trials;

constexpr double kExact = 1e-12;
constexpr double kInf = std::numeric_limits<double>::infinity();

// targets {2, 4, 6, 8}, non-targets {1, 3, 5}. Sweep (P_miss, P_fa) by threshold:
// 1: (0, 1)  2: (0, 2/3)  3: (1/4, 2/3)  4: (1/4, 1/3)  5: (1/2, 1/3)  6: (1/2, 0)  8: (3/4, 0)
// +inf: (1, 0).
std::vector<Trial> interleaved() {
    return make_trials({2, 4, 6, 8}, {1, 3, 5});
}

// --- operating points and fixed-threshold rates ----------------------------------------------

TEST(EvalOperatingPoints, HandComputedSweep) {
    const auto points = operating_points(interleaved());
    ASSERT_TRUE(points);
    const std::vector<OperatingPoint> expected = {
            {1, 0.0, 1.0},     {2, 0.0, 2.0 / 3}, {3, 0.25, 2.0 / 3}, {4, 0.25, 1.0 / 3},
            {5, 0.5, 1.0 / 3}, {6, 0.5, 0.0},     {8, 0.75, 0.0},     {kInf, 1.0, 0.0}};
    ASSERT_EQ(points->size(), expected.size());
    for (std::size_t i = 0; i < expected.size(); ++i) {
        EXPECT_EQ((*points)[i].threshold, expected[i].threshold) << "point " << i;
        EXPECT_NEAR((*points)[i].miss_rate, expected[i].miss_rate, kExact) << "point " << i;
        EXPECT_NEAR((*points)[i].fa_rate, expected[i].fa_rate, kExact) << "point " << i;
    }
}

TEST(EvalOperatingPoints, TiedScoresMoveTogether) {
    const auto points = operating_points(make_trials({1, 2}, {2, 3, 4}));
    ASSERT_TRUE(points);
    ASSERT_EQ(points->size(), 5U);  // one per distinct score, plus the flag-all point
    EXPECT_NEAR((*points)[2].miss_rate, 1.0, kExact);  // threshold 3: both 1 and 2 missed
    EXPECT_NEAR((*points)[2].fa_rate, 2.0 / 3, kExact);
}

TEST(EvalRatesAtThreshold, FlagsScoresAtOrAboveTheThreshold) {
    const auto at_4 = rates_at_threshold(interleaved(), 4.0);
    ASSERT_TRUE(at_4);
    EXPECT_NEAR(at_4->miss_rate, 0.25, kExact);   // target 2 < 4
    EXPECT_NEAR(at_4->fa_rate, 1.0 / 3, kExact);  // non-target 5 >= 4
    const auto at_3 = rates_at_threshold(interleaved(), 3.0);
    ASSERT_TRUE(at_3);
    EXPECT_NEAR(at_3->fa_rate, 2.0 / 3, kExact);  // the tie 3 >= 3 is flagged
    const auto at_inf = rates_at_threshold(interleaved(), kInf);
    ASSERT_TRUE(at_inf);
    EXPECT_EQ(at_inf->miss_rate, 1.0);
    EXPECT_EQ(at_inf->fa_rate, 0.0);
    const auto at_minus_inf = rates_at_threshold(interleaved(), -kInf);
    ASSERT_TRUE(at_minus_inf);
    EXPECT_EQ(at_minus_inf->miss_rate, 0.0);
    EXPECT_EQ(at_minus_inf->fa_rate, 1.0);
}

TEST(EvalRatesAtThreshold, RejectsNanThreshold) {
    const auto rates = rates_at_threshold(interleaved(), std::numeric_limits<double>::quiet_NaN());
    ASSERT_FALSE(rates);
    EXPECT_EQ(rates.error().code, base::make_error_code(base::Errc::InvalidArgument));
}

// --- EER -------------------------------------------------------------------------------------

TEST(EvalEqualErrorRate, PerfectSeparationIsZero) {
    const auto eer = equal_error_rate(make_trials({3, 4}, {1, 2}));
    ASSERT_TRUE(eer);
    EXPECT_EQ(*eer, 0.0);
}

TEST(EvalEqualErrorRate, PerfectInversionIsOne) {
    // No convex hull: a detector that ranks every trial backwards has EER 1, not 0.5.
    const auto eer = equal_error_rate(make_trials({0, 1}, {2, 3}));
    ASSERT_TRUE(eer);
    EXPECT_EQ(*eer, 1.0);
}

TEST(EvalEqualErrorRate, AllScoresTiedIsOneHalf) {
    // One diagonal segment from (P_fa, P_miss) = (1, 0) to (0, 1).
    const auto eer = equal_error_rate(make_trials({0, 0}, {0, 0, 0}));
    ASSERT_TRUE(eer);
    EXPECT_NEAR(*eer, 0.5, kExact);
}

TEST(EvalEqualErrorRate, HandComputedVerticalCrossing) {
    // (P_fa, P_miss) goes from (1/3, 1/4) at threshold 4 (d = P_miss - P_fa = -1/12) to
    // (1/3, 1/2) at threshold 5 (d = +1/6), a vertical segment:
    // t = (1/12) / (1/12 + 1/6) = 1/3, EER = P_miss = 1/4 + 1/3 * 1/4 = 1/3 = P_fa.
    const auto eer = equal_error_rate(interleaved());
    ASSERT_TRUE(eer);
    EXPECT_NEAR(*eer, 1.0 / 3, kExact);
}

TEST(EvalEqualErrorRate, HandComputedDiagonalTieSegment) {
    // targets {1, 2}, non-targets {2, 3, 4}. Points (P_fa, P_miss): (1, 0), (1, 1/2), then the
    // tie at 2 moves diagonally to (2/3, 1). d: -1/2 -> +1/3, t = (1/2) / (5/6) = 3/5,
    // EER = 1 + 3/5 * (2/3 - 1) = 4/5 (= 1/2 + 3/5 * 1/2 on the miss axis).
    const auto eer = equal_error_rate(make_trials({1, 2}, {2, 3, 4}));
    ASSERT_TRUE(eer);
    EXPECT_NEAR(*eer, 0.8, kExact);
}

TEST(EvalEqualErrorRate, HandComputedSingleCrossingAtAPoint) {
    // sorted 1T 2N 3T 4N: after 1T and 2N the point is (P_fa, P_miss) = (1/2, 1/2) exactly.
    const auto eer = equal_error_rate(make_trials({1, 3}, {2, 4}));
    ASSERT_TRUE(eer);
    EXPECT_EQ(*eer, 0.5);
}

TEST(EvalEqualErrorRate, InvariantUnderMonotoneTransform) {
    const auto trials = gaussian_trials(1.5, 2000, 1.0, 7);
    std::vector<Trial> transformed = trials;
    for (Trial& trial : transformed) {
        trial.score = std::exp(trial.score) * 3.0 - 1.0;
    }
    const auto eer = equal_error_rate(trials);
    const auto eer_transformed = equal_error_rate(transformed);
    ASSERT_TRUE(eer && eer_transformed);
    EXPECT_NEAR(*eer, *eer_transformed, kExact);
}

TEST(EvalEqualErrorRate, GaussianQuantileGridMatchesClosedForm) {
    // Scores at the quantiles (i + 1/2) / n of N(+-d/2, 1): the empirical distributions converge
    // to the Gaussians with error O(1/n), so EER -> Phi(-d/2).
    constexpr std::size_t kCount = 20000;
    for (const double d : {1.0, 2.0, 3.0}) {
        std::vector<Trial> trials;
        for (std::size_t i = 0; i < kCount; ++i) {
            const double z = probit((static_cast<double>(i) + 0.5) / static_cast<double>(kCount));
            trials.push_back({0.5 * d + z, true});
            trials.push_back({-0.5 * d + z, false});
        }
        const auto eer = equal_error_rate(trials);
        ASSERT_TRUE(eer);
        EXPECT_NEAR(*eer, normal_cdf(-0.5 * d), 1e-4) << "d = " << d;
    }
}

TEST(EvalEqualErrorRate, GaussianSamplesMatchClosedForm) {
    // Reference values Phi(-d/2) from Python's statistics.NormalDist. 100k draws per class: the
    // standard error is about 0.0015, the tolerance 0.006.
    const std::vector<std::pair<double, double>> cases = {
            {1.0, 0.3085375387259869}, {2.0, 0.15865525393145707}, {3.0, 0.06680720126885809}};
    for (const auto& [d, expected] : cases) {
        const auto eer = equal_error_rate(gaussian_trials(d, 100000, 1.0, 42));
        ASSERT_TRUE(eer);
        EXPECT_NEAR(*eer, expected, 0.006) << "d = " << d;
    }
}

// --- DCF -------------------------------------------------------------------------------------

TEST(EvalDcf, DefaultsAreTheAsvspoof5CostModel) {
    const DcfParams params;
    EXPECT_EQ(params.p_target, 0.05);
    // Missing a synthetic call = ASVspoof's false acceptance of a spoof (Cfa = 10); flagging a
    // genuine caller = ASVspoof's miss of a bona fide trial (Cmiss = 1).
    EXPECT_EQ(params.c_miss, 10.0);
    EXPECT_EQ(params.c_fa, 1.0);
    EXPECT_NEAR(bayes_threshold(params), std::log(1.9), kExact);
    EXPECT_NEAR(bayes_threshold({.p_target = 0.5, .c_miss = 1.0, .c_fa = 1.0}), 0.0, kExact);
}

TEST(EvalMinDcf, HandComputedWithDefaults) {
    // Default weights 0.05 * 10 = 0.5 (miss) and 0.95 * 1 = 0.95 (fa), normaliser 0.5:
    // DCF = P_miss + 1.9 P_fa. Over the sweep of interleaved(): 1.9, 1.267, 1.517, 0.883,
    // 1.133, 0.5, 0.75, 1 -> 0.5 at threshold 6.
    const auto value = min_dcf(interleaved());
    ASSERT_TRUE(value);
    EXPECT_NEAR(*value, 0.5, kExact);
    const auto threshold = min_dcf_threshold(interleaved());
    ASSERT_TRUE(threshold);
    EXPECT_EQ(*threshold, 6.0);
}

TEST(EvalMinDcf, HandComputedInteriorOptimum) {
    // p = 0.5, c_miss = 4, c_fa = 1: weights 2 and 0.5, normaliser 0.5, DCF = 4 P_miss + P_fa.
    // Sweep: 1, 0.667, 1.667, 1.333, 2.333, 2, 3, 4 -> 2/3 at threshold 2.
    const DcfParams params{.p_target = 0.5, .c_miss = 4.0, .c_fa = 1.0};
    const auto value = min_dcf(interleaved(), params);
    ASSERT_TRUE(value);
    EXPECT_NEAR(*value, 2.0 / 3, kExact);
    const auto threshold = min_dcf_threshold(interleaved(), params);
    ASSERT_TRUE(threshold);
    EXPECT_EQ(*threshold, 2.0);
}

TEST(EvalMinDcf, PerfectIsZeroUselessIsOne) {
    const auto perfect = min_dcf(make_trials({3, 4}, {1, 2}));
    ASSERT_TRUE(perfect);
    EXPECT_EQ(*perfect, 0.0);
    const auto tied = min_dcf(make_trials({0, 0}, {0, 0, 0}));
    ASSERT_TRUE(tied);
    EXPECT_NEAR(*tied, 1.0, kExact);
    const auto inverted = min_dcf(make_trials({0, 1}, {2, 3}));
    ASSERT_TRUE(inverted);
    EXPECT_NEAR(*inverted, 1.0, kExact);
}

TEST(EvalMinDcf, InvariantUnderScoreShift) {
    const auto trials = gaussian_trials(2.0, 5000, 2.0, 3);
    std::vector<Trial> shifted = trials;
    for (Trial& trial : shifted) {
        trial.score += 5.0;
    }
    const auto value = min_dcf(trials);
    const auto value_shifted = min_dcf(shifted);
    ASSERT_TRUE(value && value_shifted);
    EXPECT_NEAR(*value, *value_shifted, kExact);
}

// An independent transcription of the ASVspoof 5 evaluation package (calculate_modules.py,
// compute_det_curve / compute_mindcf / compute_actDCF) in its own convention: scores are
// higher-means-bona-fide, Cmiss = 1 for rejecting bona fide, Cfa = 10 for accepting a spoof,
// Pspoof = 0.05, normalised by min(Cfa Pspoof, Cmiss (1 - Pspoof)).
struct Asvspoof5Reference {
    double min_dcf;
    double act_dcf;
};

Asvspoof5Reference asvspoof5_reference(const std::vector<double>& bona,
                                       const std::vector<double>& spoof) {
    constexpr double kPspoof = 0.05;
    constexpr double kCmiss = 1.0;
    constexpr double kCfa = 10.0;
    const double norm = std::min(kCfa * kPspoof, kCmiss * (1.0 - kPspoof));
    std::vector<std::pair<double, bool>> all;  // (score, is_bona)
    for (const double s : bona) {
        all.emplace_back(s, true);
    }
    for (const double s : spoof) {
        all.emplace_back(s, false);
    }
    std::stable_sort(all.begin(), all.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    const auto n_bona = static_cast<double>(bona.size());
    const auto n_spoof = static_cast<double>(spoof.size());
    double frr = 0.0;
    double far = 1.0;
    double best = kCmiss * (1.0 - kPspoof) * frr + kCfa * kPspoof * far;
    for (const auto& [score, is_bona] : all) {
        if (is_bona) {
            frr += 1.0 / n_bona;
        } else {
            far -= 1.0 / n_spoof;
        }
        best = std::min(best, kCmiss * (1.0 - kPspoof) * frr + kCfa * kPspoof * far);
    }
    const double threshold = -std::log(kCmiss * (1.0 - kPspoof) / (kCfa * kPspoof));
    const auto misses =
            std::count_if(bona.begin(), bona.end(), [&](double s) { return s < threshold; });
    const auto accepts =
            std::count_if(spoof.begin(), spoof.end(), [&](double s) { return s >= threshold; });
    const double act = kCmiss * (1.0 - kPspoof) * static_cast<double>(misses) / n_bona
                       + kCfa * kPspoof * static_cast<double>(accepts) / n_spoof;
    return {best / norm, act / norm};
}

TEST(EvalDcf, DefaultsReproduceTheAsvspoof5Package) {
    for (const double scale : {0.5, 2.0, 4.0}) {
        const auto trials = gaussian_trials(2.0, 3000, scale, 11);
        std::vector<double> bona;
        std::vector<double> spoof;
        for (const Trial& trial : trials) {
            (trial.is_target ? spoof : bona).push_back(-trial.score);  // bona-fide-high scores
        }
        const Asvspoof5Reference reference = asvspoof5_reference(bona, spoof);
        const auto ours_min = min_dcf(trials);
        const auto ours_act = actual_dcf(trials);
        ASSERT_TRUE(ours_min && ours_act);
        EXPECT_NEAR(*ours_min, reference.min_dcf, 1e-9) << "scale " << scale;
        EXPECT_NEAR(*ours_act, reference.act_dcf, 1e-9) << "scale " << scale;
    }
}

TEST(EvalActualDcf, EqualsMinDcfAtTheOptimalThreshold) {
    const auto trials = gaussian_trials(2.0, 5000, 1.3, 5);
    for (const DcfParams& params :
         {DcfParams{}, DcfParams{.p_target = 0.5, .c_miss = 1.0, .c_fa = 1.0},
          DcfParams{.p_target = 0.01, .c_miss = 1.0, .c_fa = 10.0}}) {
        const auto threshold = min_dcf_threshold(trials, params);
        const auto minimum = min_dcf(trials, params);
        ASSERT_TRUE(threshold && minimum);
        const auto actual = actual_dcf(trials, *threshold, params);
        ASSERT_TRUE(actual);
        EXPECT_EQ(*actual, *minimum);
    }
}

TEST(EvalActualDcf, CalibratedLlrsAtTheBayesThresholdAreNearlyOptimal) {
    // With scores d x the LLRs are exact, so the Bayes threshold is the population optimum:
    // actDCF approaches minDCF, and both approach the closed form
    //   P_miss = Phi(t/d - d/2), P_fa = Phi(-t/d - d/2) at t = ln 1.9.
    constexpr double kD = 2.0;
    const auto trials = gaussian_trials(kD, 100000, kD, 9);
    const auto actual = actual_dcf(trials);
    const auto minimum = min_dcf(trials);
    ASSERT_TRUE(actual && minimum);
    const double t = std::log(1.9);
    const double expected = normal_cdf(t / kD - 0.5 * kD) + 1.9 * normal_cdf(-t / kD - 0.5 * kD);
    EXPECT_NEAR(*actual, expected, 0.01);
    EXPECT_GE(*actual, *minimum);
    EXPECT_LT(*actual - *minimum, 0.01);
}

TEST(EvalActualDcf, MiscalibrationCosts) {
    // Shifting calibrated LLRs by +3 leaves minDCF alone but flags far too many genuine calls.
    auto trials = gaussian_trials(2.0, 20000, 2.0, 13);
    const auto calibrated = actual_dcf(trials);
    for (Trial& trial : trials) {
        trial.score += 3.0;
    }
    const auto shifted = actual_dcf(trials);
    const auto minimum = min_dcf(trials);
    ASSERT_TRUE(calibrated && shifted && minimum);
    EXPECT_GT(*shifted, *calibrated + 0.3);
    EXPECT_GT(*shifted, *minimum + 0.3);
}

TEST(EvalDcf, RejectsInvalidParams) {
    const auto trials = interleaved();
    for (const DcfParams& params :
         {DcfParams{.p_target = 0.0}, DcfParams{.p_target = 1.0}, DcfParams{.c_miss = 0.0},
          DcfParams{.c_fa = -1.0}, DcfParams{.c_fa = std::numeric_limits<double>::infinity()}}) {
        EXPECT_FALSE(validate(params));
        const auto minimum = min_dcf(trials, params);
        ASSERT_FALSE(minimum);
        EXPECT_EQ(minimum.error().code, base::make_error_code(base::Errc::InvalidArgument));
        EXPECT_FALSE(actual_dcf(trials, params));
        EXPECT_FALSE(actual_dcf(trials, 0.0, params));
    }
}

// --- Cllr ------------------------------------------------------------------------------------

TEST(EvalCllr, AllZeroLlrsCostOneBit) {
    const auto value = cllr(make_trials({0, 0, 0}, {0, 0}));
    ASSERT_TRUE(value);
    EXPECT_NEAR(*value, 1.0, kExact);
}

TEST(EvalCllr, PerfectHugeLlrsCostNothing) {
    const auto value = cllr(make_trials({1e6, 800}, {-1e6, -800}));
    ASSERT_TRUE(value);
    EXPECT_EQ(*value, 0.0);
}

TEST(EvalCllr, HandComputedCases) {
    // {+1} vs {-1}: Cllr = ln(1 + e^-1) / ln 2 = log2(1 + e^-1).
    const auto single = cllr(make_trials({1}, {-1}));
    ASSERT_TRUE(single);
    EXPECT_NEAR(*single, 0.4519410830830482, kExact);
    // {0, 2} vs {-1, 1}: [ (ln 2 + ln(1 + e^-2)) / 2 + (ln(1 + e^-1) + ln(1 + e)) / 2 ] / (2 ln 2).
    const auto mixed = cllr(make_trials({0, 2}, {-1, 1}));
    ASSERT_TRUE(mixed);
    EXPECT_NEAR(*mixed, 0.8824239047841639, kExact);
}

TEST(EvalCllr, ConfidentlyWrongLlrsDoNotOverflow) {
    // Each trial costs ln(1 + e^1000) ~= 1000 nats; mean over both classes / ln 2.
    const auto value = cllr(make_trials({-1000}, {1000}));
    ASSERT_TRUE(value);
    EXPECT_NEAR(*value, 1000.0 / std::log(2.0), 1e-9);
}

// --- errors common to every metric ----------------------------------------------------------

TEST(EvalErrors, EmptyClassesAreRejected) {
    const std::vector<std::vector<Trial>> bad = {
            {}, make_trials({1, 2}, {}), make_trials({}, {1, 2})};
    for (const auto& trials : bad) {
        EXPECT_FALSE(operating_points(trials));
        EXPECT_FALSE(rates_at_threshold(trials, 0.0));
        EXPECT_FALSE(min_dcf(trials));
        EXPECT_FALSE(min_dcf_threshold(trials));
        EXPECT_FALSE(actual_dcf(trials));
        EXPECT_FALSE(cllr(trials));
        const auto eer = equal_error_rate(trials);
        ASSERT_FALSE(eer);
        EXPECT_EQ(eer.error().code, base::make_error_code(base::Errc::InvalidArgument));
    }
    const auto no_targets = equal_error_rate(make_trials({}, {1}));
    ASSERT_FALSE(no_targets);
    EXPECT_NE(no_targets.error().message.find("no target"), std::string::npos);
    const auto no_non_targets = equal_error_rate(make_trials({1}, {}));
    ASSERT_FALSE(no_non_targets);
    EXPECT_NE(no_non_targets.error().message.find("no non-target"), std::string::npos);
}

TEST(EvalErrors, NonFiniteScoresAreRejected) {
    for (const double bad : {std::numeric_limits<double>::quiet_NaN(), kInf, -kInf}) {
        const auto trials = make_trials({1, bad}, {0});
        EXPECT_FALSE(equal_error_rate(trials));
        EXPECT_FALSE(min_dcf(trials));
        EXPECT_FALSE(actual_dcf(trials));
        EXPECT_FALSE(cllr(trials));
        EXPECT_FALSE(rates_at_threshold(trials, 0.0));
    }
}

}  // namespace
}  // namespace dvd::eval
