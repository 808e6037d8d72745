#pragma once

#include <cstddef>
#include <memory>
#include <span>

namespace dvd::dsp {

/// Power spectrum of one real frame with KissFFT (float): the caller writes the (windowed)
/// frame into `frame()` (fft_size values; entries it leaves alone keep their last value, so a
/// zero-padded tail stays zero), then `compute()` returns P[k] = re^2 + im^2, k = 0..fft_size/2.
/// Owns the FFT plan and the buffers, all allocated in the constructor; `compute` never
/// allocates. Thread ownership: one thread at a time (the plan holds scratch). Movable, not
/// copyable.
class PowerSpectrum {
public:
    /// Precondition: fft_size is even and >= 2 (checked).
    explicit PowerSpectrum(int fft_size);
    ~PowerSpectrum();
    PowerSpectrum(PowerSpectrum&&) noexcept;
    PowerSpectrum& operator=(PowerSpectrum&&) noexcept;
    PowerSpectrum(const PowerSpectrum&) = delete;
    PowerSpectrum& operator=(const PowerSpectrum&) = delete;

    /// The FFT input, fft_size values, zero at construction.
    std::span<float> frame() noexcept;

    /// FFT of `frame()`; the span (fft_size / 2 + 1 values) stays valid until the next call.
    std::span<const float> compute() noexcept;

    /// The real part of the FFT of `frame()` (fft_size / 2 + 1 values), in the same buffer as
    /// `compute`'s result. For an even input (frame[n] = frame[fft_size - n]) the FFT is real,
    /// so this is the cosine transform: the inverse FFT of a real, even spectrum times fft_size.
    std::span<const float> compute_real() noexcept;

    /// Bytes owned: plan, frame, complex spectrum and power buffers.
    std::size_t state_bytes() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace dvd::dsp
