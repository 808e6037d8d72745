#include "audio/audio_file.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <system_error>

#include <fmt/format.h>
#include <sndfile.h>

#include "dsp/resampler.hpp"

namespace dvd::audio {
namespace {

struct SndfileCloser {
    void operator()(SNDFILE* f) const noexcept { sf_close(f); }
};

using SndfilePtr = std::unique_ptr<SNDFILE, SndfileCloser>;

constexpr sf_count_t kBlockFrames = 4096;

}  // namespace

base::Result<std::vector<float>> read_audio_file(const std::string& path, int target_rate_hz) {
    if (target_rate_hz <= 0) {
        return base::fail(
                base::Errc::InvalidArgument,
                fmt::format("{}: target rate must be > 0 (got {})", path, target_rate_hz));
    }
    std::error_code ec;
    const auto status = std::filesystem::status(path, ec);
    if (!std::filesystem::exists(status)) {
        return base::fail(base::Errc::NotFound, fmt::format("{}: no such file", path));
    }
    if (std::filesystem::is_directory(status)) {
        return base::fail(base::Errc::InvalidArgument, fmt::format("{}: is a directory", path));
    }

    SF_INFO info{};
    SndfilePtr file(sf_open(path.c_str(), SFM_READ, &info));
    if (!file) {
        const int code = sf_error(nullptr);
        const auto errc = code == SF_ERR_SYSTEM ? base::Errc::Io : base::Errc::Corrupt;
        return base::fail(errc,
                          fmt::format("{}: cannot read as audio: {}", path, sf_strerror(nullptr)));
    }
    if (info.channels <= 0) {
        return base::fail(base::Errc::Corrupt,
                          fmt::format("{}: file reports {} channels", path, info.channels));
    }
    if (info.samplerate <= 0) {
        return base::fail(base::Errc::Corrupt,
                          fmt::format("{}: file reports sample rate {}", path, info.samplerate));
    }

    const auto channels = static_cast<std::size_t>(info.channels);
    std::vector<float> mono;
    if (info.frames > 0 && info.frames < (sf_count_t{1} << 34)) {
        mono.reserve(static_cast<std::size_t>(info.frames));
    }
    std::vector<float> block(static_cast<std::size_t>(kBlockFrames) * channels);
    for (;;) {
        const sf_count_t got = sf_readf_float(file.get(), block.data(), kBlockFrames);
        if (got <= 0) {
            break;
        }
        const auto frames = static_cast<std::size_t>(got);
        if (channels == 1) {
            mono.insert(mono.end(), block.begin(),
                        block.begin() + static_cast<std::ptrdiff_t>(frames));
            continue;
        }
        const float scale = 1.0f / static_cast<float>(channels);
        for (std::size_t i = 0; i < frames; ++i) {
            float sum = 0.0f;
            for (std::size_t c = 0; c < channels; ++c) {
                sum += block[i * channels + c];
            }
            mono.push_back(sum * scale);
        }
    }
    if (const int code = sf_error(file.get()); code != SF_ERR_NO_ERROR) {
        return base::fail(base::Errc::Corrupt,
                          fmt::format("{}: read failed after {} frames: {}", path, mono.size(),
                                      sf_strerror(file.get())));
    }
    if (mono.empty()) {
        return base::fail(base::Errc::Corrupt, fmt::format("{}: no audio samples", path));
    }
    if (info.samplerate == target_rate_hz) {
        return mono;
    }
    auto resampled = dsp::resample(mono, info.samplerate, target_rate_hz);
    if (!resampled) {
        return base::Error{resampled.error().code,
                           fmt::format("{}: {}", path, resampled.error().message)};
    }
    return std::move(*resampled);
}

base::Result<void> write_wav_pcm16(const std::string& path, std::span<const float> samples,
                                   int rate_hz) {
    if (rate_hz <= 0) {
        return base::fail(base::Errc::InvalidArgument,
                          fmt::format("{}: sample rate must be > 0 (got {})", path, rate_hz));
    }
    SF_INFO info{};
    info.samplerate = rate_hz;
    info.channels = 1;
    info.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
    SndfilePtr file(sf_open(path.c_str(), SFM_WRITE, &info));
    if (!file) {
        return base::fail(base::Errc::Io,
                          fmt::format("{}: cannot create: {}", path, sf_strerror(nullptr)));
    }
    std::array<short, 4096> block{};
    std::size_t done = 0;
    while (done < samples.size()) {
        const std::size_t n = std::min(block.size(), samples.size() - done);
        for (std::size_t i = 0; i < n; ++i) {
            const float scaled = samples[done + i] * 32768.0f;
            const float clipped =
                    std::isnan(scaled) ? 0.0f : std::clamp(scaled, -32768.0f, 32767.0f);
            block[i] = static_cast<short>(std::lrint(clipped));
        }
        if (sf_write_short(file.get(), block.data(), static_cast<sf_count_t>(n))
            != static_cast<sf_count_t>(n)) {
            return base::fail(base::Errc::Io,
                              fmt::format("{}: write failed: {}", path, sf_strerror(file.get())));
        }
        done += n;
    }
    if (sf_close(file.release()) != 0) {
        return base::fail(base::Errc::Io, fmt::format("{}: close failed", path));
    }
    return {};
}

}  // namespace dvd::audio
