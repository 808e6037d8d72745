#include "sim/call_audio.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "audio/audio_file.hpp"

namespace dvd::sim {
namespace {

void put_le(std::string& out, std::uint32_t value, int bytes) {
    for (int i = 0; i < bytes; ++i) {
        out.push_back(static_cast<char>(value & 0xFFU));
        value >>= 8U;
    }
}

}  // namespace

base::Result<std::shared_ptr<const CallAudio>> load_call_audio(const std::string& path) {
    auto samples = audio::read_audio_file(path, 8000);
    if (!samples) {
        return samples.error();
    }
    auto audio = std::make_shared<CallAudio>();
    audio->label = path;
    audio->samples_8k = std::move(*samples);
    return std::shared_ptr<const CallAudio>(std::move(audio));
}

std::string wav_file_bytes(std::span<const float> samples, int rate_hz) {
    const auto data_bytes = static_cast<std::uint32_t>(samples.size() * 2);
    const auto rate = static_cast<std::uint32_t>(rate_hz);
    std::string out;
    out.reserve(44 + data_bytes);
    out += "RIFF";
    put_le(out, 36 + data_bytes, 4);
    out += "WAVEfmt ";
    put_le(out, 16, 4);        // fmt chunk size
    put_le(out, 1, 2);         // PCM
    put_le(out, 1, 2);         // mono
    put_le(out, rate, 4);      // sample rate
    put_le(out, rate * 2, 4);  // byte rate
    put_le(out, 2, 2);         // block align
    put_le(out, 16, 2);        // bits per sample
    out += "data";
    put_le(out, data_bytes, 4);
    for (const float x : samples) {
        const double scaled =
                std::clamp(std::round(static_cast<double>(x) * 32768.0), -32768.0, 32767.0);
        put_le(out, static_cast<std::uint16_t>(static_cast<std::int16_t>(scaled)), 2);
    }
    return out;
}

}  // namespace dvd::sim
