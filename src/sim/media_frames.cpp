#include "sim/media_frames.hpp"

#include <algorithm>
#include <cmath>
#include <utility>

#include <fmt/format.h>

#include "base/check.hpp"
#include "dsp/g711.hpp"
#include "dsp/resampler.hpp"

namespace dvd::sim {
namespace {

constexpr std::size_t kSamplesPerFrame8k = 160;   // 20 ms at 8 kHz
constexpr std::size_t kSamplesPerFrame16k = 320;  // 20 ms at 16 kHz
constexpr double kL16RateHz = 16000.0;
constexpr double kInputRateHz = 8000.0;

std::int16_t to_pcm16(float x) noexcept {
    const double scaled = std::round(static_cast<double>(x) * 32768.0);
    return static_cast<std::int16_t>(std::clamp(scaled, -32768.0, 32767.0));
}

}  // namespace

EncodingChoice choose_encoding(std::string_view stream_codec) {
    if (stream_codec == "PCMA") {
        return {StreamEncoding::Pcma, "PCMA", 8000, ""};
    }
    if (stream_codec == "L16") {
        return {StreamEncoding::L16, "L16", 16000, ""};
    }
    EncodingChoice choice{StreamEncoding::Pcmu, "PCMU", 8000, ""};
    if (!stream_codec.empty() && stream_codec != "PCMU" && stream_codec != "default") {
        choice.note = fmt::format(
                "stream_codec {} is not encoded by the simulator; streaming the call's PCMU",
                stream_codec);
    }
    return choice;
}

std::size_t frame_bytes(StreamEncoding encoding) noexcept {
    return encoding == StreamEncoding::L16 ? kSamplesPerFrame16k * 2 : kSamplesPerFrame8k;
}

base::Result<std::vector<std::vector<std::uint8_t>>> encode_payloads(
        std::span<const float> samples_8k, StreamEncoding encoding) {
    std::vector<float> resampled;
    std::span<const float> samples = samples_8k;
    std::size_t per_frame = kSamplesPerFrame8k;
    if (encoding == StreamEncoding::L16) {
        auto up = dsp::resample(samples_8k, kInputRateHz, kL16RateHz);
        if (!up) {
            return up.error();
        }
        resampled = std::move(*up);
        samples = resampled;
        per_frame = kSamplesPerFrame16k;
    }
    std::vector<std::vector<std::uint8_t>> frames;
    frames.reserve((samples.size() + per_frame - 1) / per_frame);
    for (std::size_t begin = 0; begin < samples.size(); begin += per_frame) {
        std::vector<std::uint8_t> payload = silence_payload(encoding);
        const std::size_t n = std::min(per_frame, samples.size() - begin);
        for (std::size_t i = 0; i < n; ++i) {
            const std::int16_t pcm = to_pcm16(samples[begin + i]);
            switch (encoding) {
                case StreamEncoding::Pcmu:
                    payload[i] = dsp::linear_to_mulaw(pcm);
                    break;
                case StreamEncoding::Pcma:
                    payload[i] = dsp::linear_to_alaw(pcm);
                    break;
                case StreamEncoding::L16: {
                    const auto u = static_cast<std::uint16_t>(pcm);
                    payload[2 * i] = static_cast<std::uint8_t>(u >> 8U);
                    payload[2 * i + 1] = static_cast<std::uint8_t>(u & 0xFFU);
                    break;
                }
            }
        }
        frames.push_back(std::move(payload));
    }
    return frames;
}

std::vector<std::uint8_t> silence_payload(StreamEncoding encoding) {
    switch (encoding) {
        case StreamEncoding::Pcmu:
            return std::vector<std::uint8_t>(kSamplesPerFrame8k, dsp::linear_to_mulaw(0));
        case StreamEncoding::Pcma:
            return std::vector<std::uint8_t>(kSamplesPerFrame8k, dsp::linear_to_alaw(0));
        case StreamEncoding::L16:
            return std::vector<std::uint8_t>(kSamplesPerFrame16k * 2, 0);
    }
    return {};
}

std::chrono::nanoseconds frame_offset(std::size_t index, double speed) {
    DVD_CHECK(speed > 0.0 && std::isfinite(speed), "speed must be positive and finite");
    const double ns = static_cast<double>(index)
                      * static_cast<double>(std::chrono::nanoseconds(kFrameDuration).count())
                      / speed;
    return std::chrono::nanoseconds(static_cast<std::int64_t>(std::llround(ns)));
}

std::string FrameWriter::connected() {
    protocol::ConnectedMessage m{"1.0.0", identity_.auth_token};
    return protocol::serialize_inbound_message(m);
}

std::string FrameWriter::start() {
    protocol::StartMessage m;
    m.sequence_number = sequence_++;
    m.stream_id = identity_.stream_id;
    m.user_id = identity_.user_id;
    m.call_control_id = identity_.call_control_id;
    m.call_session_id = identity_.call_session_id;
    m.from = identity_.from;
    m.to = identity_.to;
    m.client_state = identity_.client_state;
    m.custom_parameters = identity_.custom_parameters;
    m.media_format =
            protocol::MediaFormat{identity_.encoding.name, identity_.encoding.sample_rate_hz, 1};
    return protocol::serialize_inbound_message(m);
}

std::string FrameWriter::media(protocol::MediaTrack track, std::span<const std::uint8_t> payload) {
    std::uint64_t& chunks =
            track == protocol::MediaTrack::Inbound ? inbound_chunks_ : outbound_chunks_;
    ++chunks;
    protocol::MediaMessage m;
    m.sequence_number = sequence_++;
    m.stream_id = identity_.stream_id;
    m.track = track;
    m.chunk = chunks;
    m.timestamp = (chunks - 1) * static_cast<std::uint64_t>(kFrameDuration.count());
    m.payload.assign(payload.begin(), payload.end());
    return protocol::serialize_inbound_message(m);
}

std::string FrameWriter::stop() {
    protocol::StopMessage m;
    m.sequence_number = sequence_++;
    m.stream_id = identity_.stream_id;
    m.user_id = identity_.user_id;
    m.call_control_id = identity_.call_control_id;
    return protocol::serialize_inbound_message(m);
}

std::string FrameWriter::mark(std::string_view name) {
    protocol::MarkMessage m;
    m.sequence_number = sequence_++;
    m.stream_id = identity_.stream_id;
    m.name = std::string(name);
    return protocol::serialize_inbound_message(m);
}

}  // namespace dvd::sim
