#pragma once

#include <cstddef>
#include <memory>
#include <span>

namespace dvd::dsp {

/// Power spectrum of one real frame with FFTW (single precision, r2c): the caller writes the
/// (windowed) frame into `frame()` (fft_size values; entries it leaves alone keep their last
/// value, so a zero-padded tail stays zero), then `compute()` returns P[k] = re^2 + im^2,
/// k = 0..fft_size/2. Owns the buffers, all allocated in the constructor; the FFTW plan is shared
/// by every PowerSpectrum of the same size in the process (made once, thread-safe to execute).
/// `compute` never allocates. FFTW picks SIMD code for the CPU it runs on, so the last bits of a
/// transform may differ between machines, never between runs on one. Thread ownership: one
/// thread at a time (the buffers). Movable, not copyable.
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

    /// Bytes owned: frame, complex spectrum and power buffers (the shared plan is not counted).
    std::size_t state_bytes() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace dvd::dsp
