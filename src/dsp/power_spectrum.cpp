#include "dsp/power_spectrum.hpp"

#include <vector>

#include <kiss_fftr.h>

#include "base/check.hpp"

namespace dvd::dsp {

struct PowerSpectrum::Impl {
    explicit Impl(int fft_size)
        : frame(static_cast<std::size_t>(fft_size), 0.0f),
          spectrum(static_cast<std::size_t>(fft_size / 2 + 1)),
          power(static_cast<std::size_t>(fft_size / 2 + 1), 0.0f) {
        kiss_fftr_alloc(fft_size, 0, nullptr, &cfg_bytes);  // only queries the size
        cfg = kiss_fftr_alloc(fft_size, 0, nullptr, nullptr);
        DVD_CHECK(cfg != nullptr, "kiss_fftr_alloc failed");
    }

    ~Impl() { kiss_fftr_free(cfg); }

    Impl(const Impl&) = delete;
    Impl& operator=(const Impl&) = delete;

    kiss_fftr_cfg cfg = nullptr;
    std::size_t cfg_bytes = 0;
    std::vector<float> frame;
    std::vector<kiss_fft_cpx> spectrum;
    std::vector<float> power;
};

PowerSpectrum::PowerSpectrum(int fft_size) {
    DVD_CHECK(fft_size >= 2 && fft_size % 2 == 0, "PowerSpectrum: fft_size must be even, >= 2");
    impl_ = std::make_unique<Impl>(fft_size);
}

PowerSpectrum::~PowerSpectrum() = default;
PowerSpectrum::PowerSpectrum(PowerSpectrum&&) noexcept = default;
PowerSpectrum& PowerSpectrum::operator=(PowerSpectrum&&) noexcept = default;

std::span<float> PowerSpectrum::frame() noexcept {
    return impl_->frame;
}

std::span<const float> PowerSpectrum::compute() noexcept {
    Impl& w = *impl_;
    kiss_fftr(w.cfg, w.frame.data(), w.spectrum.data());
    for (std::size_t k = 0; k < w.power.size(); ++k) {
        const kiss_fft_cpx c = w.spectrum[k];
        w.power[k] = c.r * c.r + c.i * c.i;
    }
    return w.power;
}

std::span<const float> PowerSpectrum::compute_real() noexcept {
    Impl& w = *impl_;
    kiss_fftr(w.cfg, w.frame.data(), w.spectrum.data());
    for (std::size_t k = 0; k < w.power.size(); ++k) {
        w.power[k] = w.spectrum[k].r;
    }
    return w.power;
}

std::size_t PowerSpectrum::state_bytes() const {
    const Impl& w = *impl_;
    return sizeof(*this) + sizeof(Impl) + w.cfg_bytes + w.frame.capacity() * sizeof(float)
           + w.spectrum.capacity() * sizeof(kiss_fft_cpx) + w.power.capacity() * sizeof(float);
}

}  // namespace dvd::dsp
