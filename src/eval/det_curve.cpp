#include "eval/det_curve.hpp"

#include <array>
#include <cmath>
#include <cstddef>
#include <limits>
#include <numbers>

namespace dvd::eval {

namespace {

// Coefficients of P. J. Acklam's "algorithm for computing the inverse normal cumulative
// distribution function" (2003): relative error 1.15e-9 before refinement.
constexpr std::array<double, 6> kAcklamA = {-3.969683028665376e+01, 2.209460984245205e+02,
                                            -2.759285104469687e+02, 1.383577518672690e+02,
                                            -3.066479806614716e+01, 2.506628277459239e+00};
constexpr std::array<double, 5> kAcklamB = {-5.447609879822406e+01, 1.615858368580409e+02,
                                            -1.556989798598866e+02, 6.680131188771972e+01,
                                            -1.328068155288572e+01};
constexpr std::array<double, 6> kAcklamC = {-7.784894002430293e-03, -3.223964580411365e-01,
                                            -2.400758277161838e+00, -2.549732539343734e+00,
                                            4.374664141464968e+00,  2.938163982698783e+00};
constexpr std::array<double, 4> kAcklamD = {7.784695709041462e-03, 3.224671290700398e-01,
                                            2.445134137142996e+00, 3.754408661907416e+00};
constexpr double kAcklamLowTail = 0.02425;

// Valid for 0 < p <= 0.5 (the caller folds the upper half onto the lower).
double acklam(double p) {
    const auto& a = kAcklamA;
    const auto& b = kAcklamB;
    const auto& c = kAcklamC;
    const auto& d = kAcklamD;
    if (p < kAcklamLowTail) {
        const double q = std::sqrt(-2.0 * std::log(p));
        return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5])
               / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1.0);
    }
    const double q = p - 0.5;
    const double r = q * q;
    return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q
           / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1.0);
}

DetPoint to_det_point(const OperatingPoint& point) {
    return {point.fa_rate, point.miss_rate, probit(point.fa_rate), probit(point.miss_rate)};
}

// True when `middle` lies inside a horizontal or vertical run from `before` to `after`.
bool is_redundant(const OperatingPoint& before, const OperatingPoint& middle,
                  const OperatingPoint& after) {
    const bool same_fa = before.fa_rate == middle.fa_rate && middle.fa_rate == after.fa_rate;
    const bool same_miss =
            before.miss_rate == middle.miss_rate && middle.miss_rate == after.miss_rate;
    return same_fa || same_miss;
}

}  // namespace

double normal_cdf(double x) {
    return 0.5 * std::erfc(-x / std::numbers::sqrt2);
}

double probit(double p) {
    if (std::isnan(p) || p < 0.0 || p > 1.0) {
        return std::numeric_limits<double>::quiet_NaN();
    }
    if (p == 0.0) {
        return -std::numeric_limits<double>::infinity();
    }
    if (p == 1.0) {
        return std::numeric_limits<double>::infinity();
    }
    // Work in the lower half, where Phi(x) - p has no cancellation; 1 - p is exact for
    // p >= 0.5 (Sterbenz), so the upper half loses nothing by symmetry.
    if (p > 0.5) {
        return -probit(1.0 - p);
    }
    // One Halley step on f(x) = Phi(x) - p (Acklam's suggested refinement) brings the 1e-9
    // approximation to near machine precision.
    const double x = acklam(p);
    const double e = normal_cdf(x) - p;
    const double u = e * std::sqrt(2.0 * std::numbers::pi) * std::exp(0.5 * x * x);
    if (!std::isfinite(u)) {
        return x;  // p deep in the subnormal range: exp overflows; keep the approximation
    }
    return x - u / (1.0 + 0.5 * x * u);
}

base::Result<std::vector<DetPoint>> det_curve(std::span<const Trial> trials) {
    const auto points = operating_points(trials);
    if (!points) {
        return points.error();
    }
    const auto& p = *points;
    std::vector<DetPoint> curve;
    curve.reserve(p.size());
    curve.push_back(to_det_point(p.front()));
    for (std::size_t i = 1; i + 1 < p.size(); ++i) {
        if (!is_redundant(p[i - 1], p[i], p[i + 1])) {
            curve.push_back(to_det_point(p[i]));
        }
    }
    curve.push_back(to_det_point(p.back()));
    return curve;
}

}  // namespace dvd::eval
