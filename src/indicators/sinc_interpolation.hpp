#pragma once

#include <cstddef>
#include <span>

namespace dvd::indicators {

/// Band-limited interpolation on a grid of 1/8 sample: windowed sinc with 12 taps on each side,
/// h(d) = sinc(d) (0.5 + 0.5 cos(pi d / 13)) for |d| < 13. Used to refine extremes of signals and
/// of autocorrelation functions (Boersma 1993 interpolates with a windowed sinc too). Worst-case
/// error for a unit sine at 8 kHz (computed from the kernel's response): 2e-4 up to 2 kHz, 8e-4 at
/// 2.5 kHz, 2.6e-3 at 3 kHz, 1.3e-2 at 3.4 kHz.
inline constexpr int kSincHalfWidth = 12;
inline constexpr int kSincSteps = 8;  ///< fractional positions per sample

/// An extreme found by `refine_extreme`.
struct Extreme {
    double position = 0.0;  ///< fractional index into the span
    double value = 0.0;
};

/// Value of y at i + step / kSincSteps (0 <= step < kSincSteps); taps outside y are skipped.
/// Precondition: 0 <= i < y.size().
double sinc_value(std::span<const float> y, std::size_t i, int step) noexcept;
double sinc_value(std::span<const double> y, std::size_t i, int step) noexcept;

/// Refines the extreme at integer index i (a local maximum when `maximum`, else minimum):
/// evaluates y on the 1/8-sample grid over [i - 1, i + 1], takes the best point and a parabola
/// through it and its grid neighbours. Precondition: 1 <= i and i + 1 < y.size().
Extreme refine_extreme(std::span<const float> y, std::size_t i, bool maximum) noexcept;
Extreme refine_extreme(std::span<const double> y, std::size_t i, bool maximum) noexcept;

}  // namespace dvd::indicators
