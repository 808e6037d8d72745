#pragma once

#include <span>
#include <vector>

#include "base/result.hpp"

/// Detection metrics for a binary "synthetic or genuine" detector.
///
/// Conventions used by every function in this header:
/// - A `Trial` score is higher-means-synthetic, ideally a log-likelihood ratio
///   LLR = ln p(x | synthetic) / p(x | genuine) (natural log).
/// - "Target" is the class we detect (synthetic speech); "non-target" is genuine speech.
/// - A threshold t flags a trial as synthetic when `score >= t` (the BOSARIS and ASVspoof
///   tie convention). So P_miss(t) = #{target: score < t} / N_target and
///   P_fa(t) = #{non-target: score >= t} / N_non-target.
/// - Every function returns `Errc::InvalidArgument` when either class is empty, when a score is
///   not finite (NaN or +-inf), or when the parameters are out of range.
///
/// Everything here is a pure function of its arguments: no state, safe from any thread.
/// Cost is O(N log N) for the functions that sort, O(N) for the others.
namespace dvd::eval {

/// One scored trial with its ground truth.
struct Trial {
    double score;    ///< higher means synthetic; an LLR in nats for `cllr` and `actual_dcf`
    bool is_target;  ///< true: synthetic (the class we detect); false: genuine
};

/// Error rates of hard decisions at one threshold, in [0, 1].
struct Rates {
    double miss_rate;  ///< fraction of synthetic trials not flagged
    double fa_rate;    ///< fraction of genuine trials flagged (false alarms)
};

/// One point of the threshold sweep: the rates obtained with `threshold` (flag if score >=
/// threshold). `threshold` is +inf for the point that flags nothing.
struct OperatingPoint {
    double threshold;
    double miss_rate;
    double fa_rate;
};

/// The detection cost model of the ASVspoof 5 evaluation plan (Wang et al., 2024, section on
/// Track 1 metrics; the same numbers as its evaluation package `calculate_modules.py`):
/// P(spoof) = 0.05, cost 1 for rejecting a bona fide trial and cost 10 for accepting a spoof.
///
/// ASVspoof calls bona fide the "target" of the countermeasure; this project calls synthetic the
/// target. The costs therefore swap names: our miss (a synthetic call not flagged) is ASVspoof's
/// false acceptance of a spoof (cost 10), and our false alarm (a genuine caller flagged) is
/// ASVspoof's miss of a bona fide trial (cost 1). With these defaults `min_dcf` and `actual_dcf`
/// equal the values the ASVspoof 5 package reports for the negated scores.
///
/// Cost of a threshold t:
///   DCF(t) = p_target * c_miss * P_miss(t) + (1 - p_target) * c_fa * P_fa(t),
/// normalised by the cost of the best decision taken without looking at the data,
///   DCF_norm(t) = DCF(t) / min(p_target * c_miss, (1 - p_target) * c_fa),
/// so that a useless detector scores 1 and a perfect one 0.
struct DcfParams {
    double p_target = 0.05;  ///< prior probability of a synthetic trial, P(spoof); in (0, 1)
    double c_miss = 10.0;    ///< cost of missing a synthetic trial (ASVspoof 5: Cfa = 10); > 0
    double c_fa = 1.0;       ///< cost of flagging a genuine trial (ASVspoof 5: Cmiss = 1); > 0
};

/// Checks 0 < p_target < 1 and finite positive costs.
[[nodiscard]] base::Result<void> validate(const DcfParams& params);

/// The Bayes decision threshold for calibrated LLRs:
///   t* = ln((1 - p_target) * c_fa / (p_target * c_miss)).
/// With the default (ASVspoof 5) parameters t* = ln(1.9) ~= 0.642.
/// Precondition: `validate(params)` succeeds (checked with DVD_ASSERT).
[[nodiscard]] double bayes_threshold(const DcfParams& params);

/// All distinct operating points, in order of increasing threshold: the first flags every trial
/// (P_miss = 0, P_fa = 1, threshold = lowest score), then one point per distinct score value,
/// the last flagging nothing (P_miss = 1, P_fa = 0, threshold = +inf).
[[nodiscard]] base::Result<std::vector<OperatingPoint>> operating_points(
        std::span<const Trial> trials);

/// P_miss and P_fa when flagging `score >= threshold`. `threshold` may be +-inf, not NaN.
[[nodiscard]] base::Result<Rates> rates_at_threshold(std::span<const Trial> trials,
                                                     double threshold);

/// Equal error rate in [0, 1], without the ROC convex hull: the operating points of
/// `operating_points` are joined by straight segments in the (P_fa, P_miss) plane (a segment is
/// diagonal where target and non-target scores tie), and the EER is the rate where that path
/// crosses P_miss = P_fa. P_miss - P_fa never decreases along the sweep, so the crossing is
/// unique. Between points a (before) and b (after) with d = P_miss - P_fa, d_a < 0 < d_b:
///   EER = P_fa(a) + d_a / (d_a - d_b) * (P_fa(b) - P_fa(a)).
/// A perfect detector gives 0, an uninformative one 0.5, a perfectly inverted one 1.
[[nodiscard]] base::Result<double> equal_error_rate(std::span<const Trial> trials);

/// Minimum normalised DCF (see `DcfParams`) over all operating points, i.e. with an oracle
/// threshold. Always in [0, 1]: the two trivial points (flag all, flag none) are included.
[[nodiscard]] base::Result<double> min_dcf(std::span<const Trial> trials,
                                           const DcfParams& params = {});

/// A threshold that attains `min_dcf` (the lowest such one): `actual_dcf(trials,
/// min_dcf_threshold(...), params) == min_dcf(trials, params)`. May be +inf (flag nothing).
[[nodiscard]] base::Result<double> min_dcf_threshold(std::span<const Trial> trials,
                                                     const DcfParams& params = {});

/// Normalised DCF of the hard decisions `score >= threshold_llr` (see `DcfParams`). This
/// measures calibration too: it exceeds `min_dcf` unless the threshold is optimal.
[[nodiscard]] base::Result<double> actual_dcf(std::span<const Trial> trials, double threshold_llr,
                                              const DcfParams& params = {});

/// `actual_dcf` at the Bayes threshold `bayes_threshold(params)`, the threshold a calibrated
/// LLR should be used with; this is ASVspoof 5's actDCF.
[[nodiscard]] base::Result<double> actual_dcf(std::span<const Trial> trials,
                                              const DcfParams& params = {});

/// Log-likelihood-ratio cost in bits (Brümmer & du Preez, "Application-independent evaluation
/// of speaker detection", Computer Speech and Language 20, 2006, eq. for C_llr):
///   Cllr = 1 / (2 ln 2) * ( mean_target ln(1 + e^{-s}) + mean_non-target ln(1 + e^{s}) ),
/// with s the score read as an LLR in nats. 0 for perfect, infinitely confident LLRs; 1 for a
/// system that always outputs LLR = 0; above 1 for LLRs that are worse than saying nothing.
/// The logistic terms are evaluated stably (no overflow for |s| up to the double range).
[[nodiscard]] base::Result<double> cllr(std::span<const Trial> trials);

}  // namespace dvd::eval
