#pragma once

#include <cstddef>
#include <span>

#include "dsp/feature_options.hpp"

namespace dvd::dsp {

/// Band harmonicity of one 40 ms window of 8 kHz audio (`FeatureOptions::band_harmonicity`).
///
/// Exact definition (training/probes/band_harmonicity.py `frame_harmonicity` and
/// tools/golden/make_golden.py compute the same independently, in numpy float64):
/// - x: kHarmonicityWindowSamples RAW samples (no pre-emphasis); d = x - mean(x);
/// - s = d times the symmetric Hann window w[n] = 0.5 - 0.5 cos(2 pi n / (L - 1)), L = 320,
///   zero-padded to N = kHarmonicityFftSize points; P[k] = |FFT(s)[k]|^2;
/// - bands (f_k = k 8000 / N, lo <= f_k < hi): full 300-3400 Hz, b1 300-1000, b2 1000-2000,
///   b3 2000-3400 Hz; a band's autocorrelation ac_b[n] = (2 / N) sum_{k in b} P[k] cos(2 pi k n /
///   N) (the inverse FFT of P masked to the band);
/// - the window's own normalised autocorrelation c[n] = sum_m w[m] w[m + n] / sum_m w[m]^2;
/// - the pitch lag T = the first lag in kHarmonicityMinLag..kHarmonicityMaxLag that maximises
///   ac_full[n] / (ac_full[0] + 1e-12) / c[n];
/// - value_b = max over n in {T - 1, T, T + 1} of (ac_b[n] / c[n]) / (ac_b[0] + 1e-12),
///   for b = b1, b2, b3, in that order.
/// A periodic voice gives values near 1 in every band where its harmonics stand above the noise;
/// silence gives 0.
///
/// Cost: two 1024-point real FFTs (the second, of the masked power spectrum, gives the full
/// band's autocorrelation at every lag) and 4 x 397 cosine-table products.
///
/// Writes kHarmonicityFeatures values to `out` for the kHarmonicityWindowSamples samples `x`
/// (preconditions: both spans have those sizes, checked in debug builds). Never locks or throws;
/// allocates only on a thread's first call, unless `prepare_band_harmonicity_thread` ran on it.
void band_harmonicity(std::span<const float> x, std::span<float> out) noexcept;

/// The FFT scratch is per thread, not per stream: one per thread that computes band harmonicity
/// (a worker serves many streams, one frame at a time), so a stream's own state stays small.
/// Allocates the calling thread's scratch (kept for the thread's life) and the shared tables;
/// FeatureExtractor calls it when constructed, so its `accept` does not allocate on that thread.
void prepare_band_harmonicity_thread();

/// Bytes of one thread's scratch (the FFT buffers; the FFTW plan is shared by the process).
std::size_t band_harmonicity_thread_bytes();

}  // namespace dvd::dsp
