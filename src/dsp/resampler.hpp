#pragma once

#include <memory>
#include <span>
#include <vector>

#include "base/result.hpp"

struct soxr;  // libsoxr's resampler state (soxr.h); kept out of this header

namespace dvd::dsp {

/// libsoxr quality recipes: VeryHigh = SOXR_VHQ (default), High = SOXR_HQ (faster).
enum class ResampleQuality { High, VeryHigh };

/// Streaming mono float sample-rate converter (libsoxr, linear phase). Feed chunks with
/// `process`, then `flush` once at the end of the stream to get the delayed tail.
/// Output length after flush is round(input length * out_rate / in_rate) (libsoxr's contract).
/// Thread ownership: one thread at a time. Movable, not copyable. libsoxr allocates at creation;
/// `process` only grows `out_append` when its capacity is short (reserve it to avoid that).
class Resampler {
public:
    /// Fails with `Errc::InvalidArgument` for non-positive or non-finite rates, `Errc::Runtime`
    /// when libsoxr refuses the conversion.
    [[nodiscard]] static base::Result<Resampler> create(
            double in_rate_hz, double out_rate_hz,
            ResampleQuality quality = ResampleQuality::VeryHigh);

    ~Resampler();
    Resampler(Resampler&&) noexcept;
    Resampler& operator=(Resampler&&) noexcept;
    Resampler(const Resampler&) = delete;
    Resampler& operator=(const Resampler&) = delete;

    double in_rate_hz() const { return in_rate_hz_; }

    double out_rate_hz() const { return out_rate_hz_; }

    /// Consumes all of `in` and appends whatever output is ready to `out_append`.
    void process(std::span<const float> in, std::vector<float>& out_append);

    /// Ends the stream: appends the remaining output. After flush the resampler must not be fed.
    void flush(std::vector<float>& out_append);

private:
    struct SoxrDeleter {
        void operator()(soxr* s) const noexcept;
    };

    Resampler(double in_rate_hz, double out_rate_hz, soxr* state);
    void drain(const float* in, std::size_t in_len, std::vector<float>& out_append);

    double in_rate_hz_ = 0.0;
    double out_rate_hz_ = 0.0;
    std::unique_ptr<soxr, SoxrDeleter> state_;
};

/// One-shot conversion of a whole signal (process + flush). Returns the input unchanged when the
/// rates are equal. Errors as for `Resampler::create`.
[[nodiscard]] base::Result<std::vector<float>> resample(
        std::span<const float> in, double in_rate_hz, double out_rate_hz,
        ResampleQuality quality = ResampleQuality::VeryHigh);

}  // namespace dvd::dsp
