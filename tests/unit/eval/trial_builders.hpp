#pragma once

#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

#include "eval/metrics.hpp"

namespace dvd::eval::test {

/// Trials with the given target (synthetic) and non-target (genuine) scores.
inline std::vector<Trial> make_trials(const std::vector<double>& target_scores,
                                      const std::vector<double>& non_target_scores) {
    std::vector<Trial> trials;
    for (const double score : target_scores) {
        trials.push_back({score, true});
    }
    for (const double score : non_target_scores) {
        trials.push_back({score, false});
    }
    return trials;
}

/// `count` draws per class from N(+d/2, 1) (targets) and N(-d/2, 1) (non-targets), each score
/// multiplied by `scale`. With scale = d the scores are calibrated LLRs: ln N(x; d/2, 1) /
/// N(x; -d/2, 1) = d x.
inline std::vector<Trial> gaussian_trials(double d, std::size_t count, double scale,
                                          std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> normal(0.0, 1.0);
    std::vector<Trial> trials;
    trials.reserve(2 * count);
    for (std::size_t i = 0; i < count; ++i) {
        trials.push_back({scale * (0.5 * d + normal(rng)), true});
        trials.push_back({scale * (-0.5 * d + normal(rng)), false});
    }
    return trials;
}

}  // namespace dvd::eval::test
