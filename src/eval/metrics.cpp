#include "eval/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <string>
#include <utility>

#include "base/check.hpp"

namespace dvd::eval {

namespace {

constexpr double kInfinity = std::numeric_limits<double>::infinity();

struct ClassCounts {
    std::size_t num_target = 0;
    std::size_t num_non_target = 0;
};

// Both classes present, every score finite.
base::Result<ClassCounts> check_trials(std::span<const Trial> trials) {
    ClassCounts counts;
    for (const Trial& trial : trials) {
        if (!std::isfinite(trial.score)) {
            return base::fail(base::Errc::InvalidArgument, "eval: a trial score is not finite");
        }
        if (trial.is_target) {
            ++counts.num_target;
        } else {
            ++counts.num_non_target;
        }
    }
    if (counts.num_target == 0) {
        return base::fail(base::Errc::InvalidArgument, "eval: no target (synthetic) trials");
    }
    if (counts.num_non_target == 0) {
        return base::fail(base::Errc::InvalidArgument, "eval: no non-target (genuine) trials");
    }
    return counts;
}

double ratio(std::size_t count, std::size_t total) {
    return static_cast<double>(count) / static_cast<double>(total);
}

// Unnormalised cost weights of the two errors and the normaliser of DcfParams.
struct DcfWeights {
    double miss;
    double fa;
    double norm;
};

DcfWeights dcf_weights(const DcfParams& params) {
    const double miss = params.p_target * params.c_miss;
    const double fa = (1.0 - params.p_target) * params.c_fa;
    return {miss, fa, std::min(miss, fa)};
}

double normalised_dcf(const DcfWeights& weights, double miss_rate, double fa_rate) {
    return (weights.miss * miss_rate + weights.fa * fa_rate) / weights.norm;
}

// The operating point of minimum DCF; ties go to the first (lowest threshold) one.
base::Result<OperatingPoint> min_dcf_point(std::span<const Trial> trials, const DcfParams& params) {
    if (auto valid = validate(params); !valid) {
        return valid.error();
    }
    auto points = operating_points(trials);
    if (!points) {
        return points.error();
    }
    const DcfWeights weights = dcf_weights(params);
    const auto best = std::min_element(points->begin(), points->end(),
                                       [&](const OperatingPoint& a, const OperatingPoint& b) {
                                           return normalised_dcf(weights, a.miss_rate, a.fa_rate)
                                                  < normalised_dcf(weights, b.miss_rate, b.fa_rate);
                                       });
    return *best;
}

// ln(1 + e^x) without overflow for large x or loss of precision for very negative x.
double softplus(double x) {
    return std::max(x, 0.0) + std::log1p(std::exp(-std::abs(x)));
}

}  // namespace

base::Result<void> validate(const DcfParams& params) {
    if (!(params.p_target > 0.0 && params.p_target < 1.0)) {
        return base::fail(base::Errc::InvalidArgument,
                          "eval: DcfParams.p_target must be in (0, 1)");
    }
    if (!(params.c_miss > 0.0 && params.c_fa > 0.0) || !std::isfinite(params.c_miss)
        || !std::isfinite(params.c_fa)) {
        return base::fail(base::Errc::InvalidArgument,
                          "eval: DcfParams costs must be finite and positive");
    }
    return {};
}

double bayes_threshold(const DcfParams& params) {
    DVD_ASSERT(validate(params).has_value(), "bayes_threshold needs valid DcfParams");
    return std::log((1.0 - params.p_target) * params.c_fa / (params.p_target * params.c_miss));
}

base::Result<std::vector<OperatingPoint>> operating_points(std::span<const Trial> trials) {
    const auto counts = check_trials(trials);
    if (!counts) {
        return counts.error();
    }
    std::vector<std::pair<double, bool>> sorted;
    sorted.reserve(trials.size());
    for (const Trial& trial : trials) {
        sorted.emplace_back(trial.score, trial.is_target);
    }
    std::sort(sorted.begin(), sorted.end());

    // Raising the threshold past a group of equal scores un-flags the whole group at once.
    std::vector<OperatingPoint> points;
    points.push_back({sorted.front().first, 0.0, 1.0});
    std::size_t misses = 0;
    std::size_t false_alarms = counts->num_non_target;
    for (std::size_t i = 0; i < sorted.size();) {
        const double score = sorted[i].first;
        for (; i < sorted.size() && sorted[i].first == score; ++i) {
            if (sorted[i].second) {
                ++misses;
            } else {
                --false_alarms;
            }
        }
        double next_threshold = kInfinity;
        if (i < sorted.size()) {
            next_threshold = sorted[i].first;
        }
        points.push_back({next_threshold, ratio(misses, counts->num_target),
                          ratio(false_alarms, counts->num_non_target)});
    }
    return points;
}

base::Result<Rates> rates_at_threshold(std::span<const Trial> trials, double threshold) {
    if (std::isnan(threshold)) {
        return base::fail(base::Errc::InvalidArgument, "eval: threshold is NaN");
    }
    const auto counts = check_trials(trials);
    if (!counts) {
        return counts.error();
    }
    std::size_t misses = 0;
    std::size_t false_alarms = 0;
    for (const Trial& trial : trials) {
        const bool flagged = trial.score >= threshold;
        if (trial.is_target && !flagged) {
            ++misses;
        } else if (!trial.is_target && flagged) {
            ++false_alarms;
        }
    }
    return Rates{ratio(misses, counts->num_target), ratio(false_alarms, counts->num_non_target)};
}

base::Result<double> equal_error_rate(std::span<const Trial> trials) {
    const auto points = operating_points(trials);
    if (!points) {
        return points.error();
    }
    // d = P_miss - P_fa goes from -1 (first point) to +1 (last point) without decreasing.
    const auto& p = *points;
    std::size_t b = 0;
    while (p[b].miss_rate < p[b].fa_rate) {
        ++b;
    }
    if (p[b].miss_rate == p[b].fa_rate) {
        return p[b].miss_rate;
    }
    DVD_ASSERT(b > 0, "the first operating point has P_miss = 0 < P_fa = 1");
    const OperatingPoint& a = p[b - 1];
    const double d_a = a.miss_rate - a.fa_rate;
    const double d_b = p[b].miss_rate - p[b].fa_rate;
    const double t = d_a / (d_a - d_b);
    return a.fa_rate + t * (p[b].fa_rate - a.fa_rate);
}

base::Result<double> min_dcf(std::span<const Trial> trials, const DcfParams& params) {
    const auto best = min_dcf_point(trials, params);
    if (!best) {
        return best.error();
    }
    return normalised_dcf(dcf_weights(params), best->miss_rate, best->fa_rate);
}

base::Result<double> min_dcf_threshold(std::span<const Trial> trials, const DcfParams& params) {
    const auto best = min_dcf_point(trials, params);
    if (!best) {
        return best.error();
    }
    return best->threshold;
}

base::Result<double> actual_dcf(std::span<const Trial> trials, double threshold_llr,
                                const DcfParams& params) {
    if (auto valid = validate(params); !valid) {
        return valid.error();
    }
    const auto rates = rates_at_threshold(trials, threshold_llr);
    if (!rates) {
        return rates.error();
    }
    return normalised_dcf(dcf_weights(params), rates->miss_rate, rates->fa_rate);
}

base::Result<double> actual_dcf(std::span<const Trial> trials, const DcfParams& params) {
    if (auto valid = validate(params); !valid) {
        return valid.error();
    }
    return actual_dcf(trials, bayes_threshold(params), params);
}

base::Result<double> cllr(std::span<const Trial> trials) {
    const auto counts = check_trials(trials);
    if (!counts) {
        return counts.error();
    }
    // -ln P(correct class | s) under a flat prior: ln(1 + e^{-s}) for targets and
    // ln(1 + e^{s}) for non-targets (Brümmer & du Preez 2006).
    double target_sum_nats = 0.0;
    double non_target_sum_nats = 0.0;
    for (const Trial& trial : trials) {
        if (trial.is_target) {
            target_sum_nats += softplus(-trial.score);
        } else {
            non_target_sum_nats += softplus(trial.score);
        }
    }
    const double target_mean_nats = target_sum_nats / static_cast<double>(counts->num_target);
    const double non_target_mean_nats =
            non_target_sum_nats / static_cast<double>(counts->num_non_target);
    return 0.5 * (target_mean_nats + non_target_mean_nats) / std::log(2.0);
}

}  // namespace dvd::eval
