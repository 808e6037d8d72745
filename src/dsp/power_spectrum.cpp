#include "dsp/power_spectrum.hpp"

#include <algorithm>
#include <map>
#include <mutex>
#include <vector>

#include <fftw3.h>

#include "base/check.hpp"

namespace dvd::dsp {
namespace {

// FFTW's planner is not thread-safe; executing a plan on other arrays (fftwf_execute_dft_r2c) is.
// So every PowerSpectrum of one size shares one plan, made once under this lock and kept for the
// life of the process. FFTW_ESTIMATE plans without running transforms, so the plan (and so every
// transform's bits) is the same in every process on one CPU; FFTW_MEASURE would time candidates
// and could pick another plan next time. Arrays from fftwf_malloc all have the SIMD alignment the
// plan was made for.
fftwf_plan shared_plan(int fft_size) {
    static std::mutex mutex;
    // Never destroyed (nor are the plans): streams on other threads may outlive static
    // destruction, and a live pointer keeps the plans reachable for the leak checker.
    static auto* const plans = new std::map<int, fftwf_plan>();
    const std::lock_guard lock(mutex);
    const auto it = plans->find(fft_size);
    if (it != plans->end()) {
        return it->second;
    }
    float* in = fftwf_alloc_real(static_cast<std::size_t>(fft_size));
    fftwf_complex* out = fftwf_alloc_complex(static_cast<std::size_t>(fft_size / 2 + 1));
    DVD_CHECK(in != nullptr && out != nullptr, "fftwf_malloc failed");
    const fftwf_plan plan = fftwf_plan_dft_r2c_1d(fft_size, in, out, FFTW_ESTIMATE);
    fftwf_free(in);
    fftwf_free(out);
    DVD_CHECK(plan != nullptr, "fftwf_plan_dft_r2c_1d failed");
    plans->emplace(fft_size, plan);
    return plan;
}

struct FftwFree {
    void operator()(void* p) const noexcept { fftwf_free(p); }
};

}  // namespace

struct PowerSpectrum::Impl {
    explicit Impl(int fft_size)
        : size(static_cast<std::size_t>(fft_size)),
          plan(shared_plan(fft_size)),
          frame(fftwf_alloc_real(size)),
          spectrum(fftwf_alloc_complex(size / 2 + 1)),
          power(size / 2 + 1, 0.0f) {
        DVD_CHECK(frame != nullptr && spectrum != nullptr, "fftwf_malloc failed");
        std::fill_n(frame.get(), size, 0.0f);
    }

    std::size_t size;
    fftwf_plan plan;  // shared, not owned
    std::unique_ptr<float[], FftwFree> frame;
    std::unique_ptr<fftwf_complex[], FftwFree> spectrum;
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
    return {impl_->frame.get(), impl_->size};
}

std::span<const float> PowerSpectrum::compute() noexcept {
    Impl& w = *impl_;
    fftwf_execute_dft_r2c(w.plan, w.frame.get(), w.spectrum.get());
    for (std::size_t k = 0; k < w.power.size(); ++k) {
        const float re = w.spectrum[k][0];
        const float im = w.spectrum[k][1];
        w.power[k] = re * re + im * im;
    }
    return w.power;
}

std::span<const float> PowerSpectrum::compute_real() noexcept {
    Impl& w = *impl_;
    fftwf_execute_dft_r2c(w.plan, w.frame.get(), w.spectrum.get());
    for (std::size_t k = 0; k < w.power.size(); ++k) {
        w.power[k] = w.spectrum[k][0];
    }
    return w.power;
}

std::size_t PowerSpectrum::state_bytes() const {
    const Impl& w = *impl_;
    return sizeof(*this) + sizeof(Impl) + w.size * sizeof(float)
           + (w.size / 2 + 1) * sizeof(fftwf_complex) + w.power.capacity() * sizeof(float);
}

}  // namespace dvd::dsp
