#pragma once

#include <span>
#include <vector>

#include "base/result.hpp"
#include "eval/metrics.hpp"

/// Detection error trade-off (DET) curves (Martin et al., "The DET curve in assessment of
/// detection task performance", Eurospeech 1997): miss rate against false-alarm rate, both on
/// standard normal deviate (probit) axes, where two Gaussian score distributions of equal
/// variance give a straight line. Pure functions; safe from any thread.
namespace dvd::eval {

/// Standard normal CDF: Phi(x) = erfc(-x / sqrt(2)) / 2.
[[nodiscard]] double normal_cdf(double x);

/// Inverse of the standard normal CDF (probit, the normal deviate of a probability).
/// probit(0) = -inf, probit(1) = +inf, NaN outside [0, 1]. Acklam's rational approximation
/// refined by one Halley step on `normal_cdf`; absolute error below 1e-12 over (0, 1).
[[nodiscard]] double probit(double p);

/// One vertex of a DET curve. Probits are +-inf where a rate is exactly 0 or 1.
struct DetPoint {
    double fa_rate;
    double miss_rate;
    double probit_fa;    ///< probit(fa_rate): the x axis
    double probit_miss;  ///< probit(miss_rate): the y axis
};

/// The DET curve of `trials`: the operating points of `operating_points` (same conventions and
/// errors), in order of increasing threshold (P_fa falling, P_miss rising). Points in the middle
/// of a horizontal or vertical run are dropped: straight segments between the remaining
/// vertices draw the same curve. Adjacent vertices are joined by straight segments when drawn.
[[nodiscard]] base::Result<std::vector<DetPoint>> det_curve(std::span<const Trial> trials);

}  // namespace dvd::eval
