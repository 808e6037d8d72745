#include "indicators/spectral_shape.hpp"

#include <array>
#include <cmath>
#include <numbers>


#include "base/check.hpp"

namespace dvd::indicators {
namespace {

constexpr double kPowerEps = 1e-20;

template <class T>
double flatness_impl(std::span<const T> power, int lo_bin, int hi_bin) noexcept {
    DVD_ASSERT(lo_bin >= 0 && lo_bin <= hi_bin && static_cast<std::size_t>(hi_bin) < power.size(),
               "spectral_flatness: bad bin range");
    double sum_log = 0.0;
    double sum = 0.0;
    for (int k = lo_bin; k <= hi_bin; ++k) {
        const double p = static_cast<double>(power[static_cast<std::size_t>(k)]) + kPowerEps;
        sum_log += std::log(p);
        sum += p;
    }
    const double n = static_cast<double>(hi_bin - lo_bin + 1);
    return std::exp(sum_log / n) / (sum / n);
}

using Window = std::array<float, static_cast<std::size_t>(kFftSize)>;

Window make_window() {
    Window w{};
    for (std::size_t i = 0; i < w.size(); ++i) {
        const double phase = 2.0 * std::numbers::pi * (static_cast<double>(i) + 0.5)
                             / static_cast<double>(kFftSize);
        w[i] = static_cast<float>(0.5 - 0.5 * std::cos(phase));
    }
    return w;
}

// Immutable after the first call (thread-safe initialisation of a function-local static).
const Window& window() {
    static const Window w = make_window();
    return w;
}

}  // namespace

SpectrumAnalyzer::SpectrumAnalyzer() : spectrum_(kFftSize) {
    (void)window();
}

SpectrumAnalyzer::~SpectrumAnalyzer() = default;
SpectrumAnalyzer::SpectrumAnalyzer(SpectrumAnalyzer&&) noexcept = default;
SpectrumAnalyzer& SpectrumAnalyzer::operator=(SpectrumAnalyzer&&) noexcept = default;

std::size_t SpectrumAnalyzer::state_bytes() const {
    return spectrum_.state_bytes();
}

std::span<const float> SpectrumAnalyzer::power(std::span<const float> x) noexcept {
    const std::span<float> frame = spectrum_.frame();
    DVD_ASSERT(x.size() == frame.size(), "SpectrumAnalyzer: frame size");
    const Window& win = window();
    for (std::size_t i = 0; i < frame.size(); ++i) {
        frame[i] = x[i] * win[i];
    }
    return spectrum_.compute();
}

double spectral_flatness(std::span<const float> power, int lo_bin, int hi_bin) noexcept {
    return flatness_impl(power, lo_bin, hi_bin);
}

double spectral_flatness(std::span<const double> power, int lo_bin, int hi_bin) noexcept {
    return flatness_impl(power, lo_bin, hi_bin);
}

double spectral_tilt_db_per_octave(std::span<const double> power, int lo_bin, int hi_bin,
                                   double bin_hz) noexcept {
    DVD_ASSERT(lo_bin >= 1 && lo_bin < hi_bin && static_cast<std::size_t>(hi_bin) < power.size(),
               "spectral_tilt_db_per_octave: bad bin range");
    double sx = 0.0;
    double sy = 0.0;
    double sxx = 0.0;
    double sxy = 0.0;
    for (int k = lo_bin; k <= hi_bin; ++k) {
        const double x = std::log2(static_cast<double>(k) * bin_hz);
        const double y = 10.0 * std::log10(power[static_cast<std::size_t>(k)] + kPowerEps);
        sx += x;
        sy += y;
        sxx += x * x;
        sxy += x * y;
    }
    const double n = static_cast<double>(hi_bin - lo_bin + 1);
    const double denom = n * sxx - sx * sx;
    return denom > 0.0 ? (n * sxy - sx * sy) / denom : 0.0;
}

}  // namespace dvd::indicators
