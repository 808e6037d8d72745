#include "dsp/resampler.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include <fmt/format.h>
#include <soxr.h>

namespace dvd::dsp {

void Resampler::SoxrDeleter::operator()(soxr* s) const noexcept {
    soxr_delete(s);
}

base::Result<Resampler> Resampler::create(double in_rate_hz, double out_rate_hz,
                                          ResampleQuality quality) {
    if (!std::isfinite(in_rate_hz) || !std::isfinite(out_rate_hz) || in_rate_hz <= 0.0
        || out_rate_hz <= 0.0) {
        return base::fail(base::Errc::InvalidArgument,
                          fmt::format("Resampler: rates must be finite and > 0 (got {} -> {})",
                                      in_rate_hz, out_rate_hz));
    }
    const soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
    const soxr_quality_spec_t q =
            soxr_quality_spec(quality == ResampleQuality::VeryHigh ? SOXR_VHQ : SOXR_HQ, 0);
    soxr_error_t error = nullptr;
    soxr_t state = soxr_create(in_rate_hz, out_rate_hz, 1, &error, &io, &q, nullptr);
    if (error != nullptr || state == nullptr) {
        soxr_delete(state);
        return base::fail(
                base::Errc::Runtime,
                fmt::format("Resampler: libsoxr cannot convert {} -> {} Hz: {}", in_rate_hz,
                            out_rate_hz, error != nullptr ? error : "unknown error"));
    }
    return Resampler(in_rate_hz, out_rate_hz, state);
}

Resampler::Resampler(double in_rate_hz, double out_rate_hz, soxr* state)
    : in_rate_hz_(in_rate_hz), out_rate_hz_(out_rate_hz), state_(state) {}

Resampler::~Resampler() = default;
Resampler::Resampler(Resampler&&) noexcept = default;
Resampler& Resampler::operator=(Resampler&&) noexcept = default;

void Resampler::drain(const float* in, std::size_t in_len, std::vector<float>& out_append) {
    const double ratio = out_rate_hz_ / in_rate_hz_;
    for (;;) {
        const auto estimate =
                static_cast<std::size_t>(std::ceil(static_cast<double>(in_len) * ratio));
        const std::size_t capacity = std::max<std::size_t>(estimate + 64, 256);
        const std::size_t old_size = out_append.size();
        out_append.resize(old_size + capacity);
        std::size_t in_done = 0;
        std::size_t out_done = 0;
        // With in == nullptr libsoxr flushes its delay line; in_done is then not written.
        const soxr_error_t error = soxr_process(state_.get(), in, in_len, &in_done,
                                                out_append.data() + old_size, capacity, &out_done);
        out_append.resize(old_size + out_done);
        if (error != nullptr) {
            return;  // only on misuse (process after flush); nothing more to produce
        }
        if (in != nullptr) {
            in += in_done;
            in_len -= in_done;
            if (in_len == 0 && out_done < capacity) {
                return;
            }
        } else if (out_done == 0) {
            return;
        }
    }
}

void Resampler::process(std::span<const float> in, std::vector<float>& out_append) {
    if (in.empty()) {
        return;
    }
    drain(in.data(), in.size(), out_append);
}

void Resampler::flush(std::vector<float>& out_append) {
    drain(nullptr, 0, out_append);
}

base::Result<std::vector<float>> resample(std::span<const float> in, double in_rate_hz,
                                          double out_rate_hz, ResampleQuality quality) {
    auto resampler = Resampler::create(in_rate_hz, out_rate_hz, quality);
    if (!resampler) {
        return resampler.error();
    }
    if (in_rate_hz == out_rate_hz) {
        return std::vector<float>(in.begin(), in.end());
    }
    std::vector<float> out;
    out.reserve(static_cast<std::size_t>(
                        std::ceil(static_cast<double>(in.size()) * out_rate_hz / in_rate_hz))
                + 64);
    resampler->process(in, out);
    resampler->flush(out);
    return out;
}

}  // namespace dvd::dsp
