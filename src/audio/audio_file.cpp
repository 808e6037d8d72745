#include "audio/audio_file.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string_view>
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

/// The number that starts `text` after any spaces; nullopt when there is none.
std::optional<unsigned long long> leading_number(std::string_view text) {
    while (!text.empty() && text.front() == ' ') {
        text.remove_prefix(1);
    }
    unsigned long long value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end == text.data()) {
        return std::nullopt;
    }
    return value;
}

/// libsndfile trusts the file's length over a data chunk size that runs past it, and says so in
/// its log as "data : 63360 (should be 19956)" (WAV and its relatives). That line, when the
/// declared size is the larger, as a warning; empty otherwise.
std::string truncation_warning(SNDFILE* file) {
    std::array<char, 8192> log{};
    sf_command(file, SFC_GET_LOG_INFO, log.data(), static_cast<int>(log.size()));
    const std::string_view text(log.data());
    constexpr std::string_view kShouldBe = "(should be ";
    for (std::size_t at = 0; at < text.size();) {
        const std::size_t end = std::min(text.find('\n', at), text.size());
        const std::string_view line = text.substr(at, end - at);
        at = end + 1;
        const std::size_t colon = line.find(':');
        const std::size_t should = line.find(kShouldBe);
        if (!line.starts_with("data") || colon == std::string_view::npos
            || should == std::string_view::npos) {
            continue;
        }
        const auto declared = leading_number(line.substr(colon + 1));
        const auto present = leading_number(line.substr(should + kShouldBe.size()));
        if (declared && present && *declared > *present) {
            return fmt::format(
                    "the header declares {} bytes of audio data but the file holds {}: "
                    "cut short, or its writer never finished the header; what is there "
                    "was read",
                    *declared, *present);
        }
    }
    return {};
}

/// An Ogg stream ends with a page whose header_type has the end-of-stream bit (RFC 3533: page
/// header "OggS", version 0, header_type, granule position, serial, sequence, CRC, then
/// page_segments and that many lacing values, which sum to the body's length). libsndfile reads
/// an Ogg file cut short up to its last whole packet and says nothing, so this looks at the
/// file's end: a warning unless a page ends exactly at the end of the file and carries the
/// end-of-stream bit. Every candidate "OggS" in the last maximal page's length is tried, so a
/// capture pattern inside packet data cannot hide the real last page.
std::string ogg_end_warning(const std::string& path) {
    constexpr std::size_t kHeader = 27;
    constexpr std::size_t kMaxPage = kHeader + 255 + 255 * 255;
    constexpr unsigned char kEndOfStream = 0x04;
    std::ifstream in(path, std::ios::binary | std::ios::ate);
    const std::streamoff size = in ? static_cast<std::streamoff>(in.tellg()) : -1;
    if (size <= 0) {
        return {};  // libsndfile read it; nothing more to say from here
    }
    const auto tail_size = static_cast<std::size_t>(std::min<std::streamoff>(size, kMaxPage));
    std::string tail(tail_size, '\0');
    in.seekg(size - static_cast<std::streamoff>(tail_size));
    if (!in.read(tail.data(), static_cast<std::streamsize>(tail_size))) {
        return {};
    }
    const auto byte = [&](std::size_t i) {
        return static_cast<unsigned char>(tail[i]);
    };
    for (std::size_t at = tail.rfind("OggS"); at != std::string::npos;
         at = at == 0 ? std::string::npos : tail.rfind("OggS", at - 1)) {
        if (at + kHeader > tail.size() || byte(at + 4) != 0) {
            continue;
        }
        const std::size_t segments = byte(at + 26);
        if (at + kHeader + segments > tail.size()) {
            continue;
        }
        std::size_t body = 0;
        for (std::size_t i = 0; i < segments; ++i) {
            body += byte(at + kHeader + i);
        }
        if (at + kHeader + segments + body != tail.size()) {
            continue;
        }
        if ((byte(at + 5) & kEndOfStream) != 0) {
            return {};
        }
        return "the Ogg stream's last page has no end-of-stream mark: cut short at a page "
               "boundary, or still being written; what is there was read";
    }
    return "the file ends inside an Ogg page: cut short; the whole pages before the cut were "
           "read";
}

}  // namespace

base::Result<std::vector<float>> read_audio_file(const std::string& path, int target_rate_hz) {
    auto read = read_audio(path, target_rate_hz);
    if (!read) {
        return read.error();
    }
    return std::move(read->samples);
}

base::Result<AudioRead> read_audio(const std::string& path, int target_rate_hz) {
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

    const int container = info.format & SF_FORMAT_TYPEMASK;
    AudioRead out;
    out.warning =
            container == SF_FORMAT_OGG ? ogg_end_warning(path) : truncation_warning(file.get());
    const auto channels = static_cast<std::size_t>(info.channels);
    std::vector<float>& mono = out.samples;
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
    // FLAC's STREAMINFO holds the stream's length, and libsndfile stops quietly at a cut that
    // falls between two frames (one inside a frame is the read error above).
    if (out.warning.empty() && container == SF_FORMAT_FLAC
        && info.frames > static_cast<sf_count_t>(mono.size())) {
        out.warning = fmt::format(
                "the header declares {} samples but the file holds {}: cut short; what is there "
                "was read",
                info.frames, mono.size());
    }
    if (info.samplerate == target_rate_hz) {
        return out;
    }
    auto resampled = dsp::resample(mono, info.samplerate, target_rate_hz);
    if (!resampled) {
        return base::Error{resampled.error().code,
                           fmt::format("{}: {}", path, resampled.error().message)};
    }
    mono = std::move(*resampled);
    return out;
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
