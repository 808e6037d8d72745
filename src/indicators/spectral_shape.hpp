#pragma once

#include <cstddef>
#include <span>
#include <vector>

#include "dsp/power_spectrum.hpp"
#include "indicators/indicator_options.hpp"

namespace dvd::indicators {

/// Power spectrum of one frame of N = kFftSize samples: Hann window
/// (w[n] = 0.5 - 0.5 cos(2 pi (n + 0.5) / N)) times the samples, FFTW real FFT of N points,
/// P[k] = re^2 + im^2 for k = 0 .. N/2.
/// Thread ownership: one thread at a time (the FFT buffers). Allocates only in the
/// constructor (the window table is immutable and shared, built once per process); movable,
/// not copyable.
class SpectrumAnalyzer {
public:
    SpectrumAnalyzer();
    ~SpectrumAnalyzer();
    SpectrumAnalyzer(SpectrumAnalyzer&&) noexcept;
    SpectrumAnalyzer& operator=(SpectrumAnalyzer&&) noexcept;
    SpectrumAnalyzer(const SpectrumAnalyzer&) = delete;
    SpectrumAnalyzer& operator=(const SpectrumAnalyzer&) = delete;

    static constexpr int fft_size() { return kFftSize; }

    static constexpr int num_bins() { return kFftSize / 2 + 1; }

    /// Precondition: x.size() == fft_size() (checked in debug builds). The span stays valid until
    /// the next call. No allocation.
    std::span<const float> power(std::span<const float> x) noexcept;

    std::size_t state_bytes() const;

private:
    dsp::PowerSpectrum spectrum_;
};

/// Wiener entropy of power[lo_bin .. hi_bin] (inclusive): exp(mean ln(P + eps)) / mean(P + eps),
/// eps = 1e-20. 1 for a flat spectrum, towards 0 for a line spectrum. Preconditions:
/// 0 <= lo_bin <= hi_bin < power.size().
double spectral_flatness(std::span<const float> power, int lo_bin, int hi_bin) noexcept;
double spectral_flatness(std::span<const double> power, int lo_bin, int hi_bin) noexcept;

/// Least-squares slope of y_k = 10 log10(P[k] + eps) against x_k = log2(k * bin_hz) over bins
/// lo_bin .. hi_bin (inclusive), in dB per octave. Preconditions: 1 <= lo_bin < hi_bin <
/// power.size(), bin_hz > 0.
double spectral_tilt_db_per_octave(std::span<const double> power, int lo_bin, int hi_bin,
                                   double bin_hz) noexcept;

}  // namespace dvd::indicators
