#include "codec/media_decoder.hpp"

#include <algorithm>
#include <cmath>
#include <array>
#include <limits>
#include <string>

#include <fmt/format.h>
#include <opus/opus.h>

#include "dsp/g711.hpp"

namespace dvd::codec {
namespace {

constexpr int64_t kTargetRateHz = 8000;  // MediaDecoder::kOutputRateHz as an integer
constexpr int64_t kMinL16RateHz = 8000;
constexpr int64_t kMaxL16RateHz = 48000;
constexpr float kInt16Scale = 1.0F / 32768.0F;
// The longest Opus packet is 120 ms (RFC 6716 section 3.2.1): 960 samples at 8 kHz.
constexpr int kOpusMaxFrameSamples = 960;

// libopus's float output is not clipped: a corrupt or hostile packet decodes to any magnitude
// (found by tests/fuzz media_decode). Clip to full scale, as its 16-bit output saturates, so that
// every encoding gives the detector samples in [-1, 1].
void clip_to_full_scale(std::vector<float>& samples) {
    for (float& s : samples) {
        s = std::isnan(s) ? 0.0F : std::clamp(s, -1.0F, 1.0F);
    }
}
constexpr std::size_t kDefaultPacketMs = 20;

bool iequals(std::string_view a, std::string_view b) noexcept {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               const auto lower = [](char c) {
                   return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
               };
               return lower(x) == lower(y);
           });
}

}  // namespace

base::Result<Encoding> parse_encoding(std::string_view name) {
    struct Name {
        std::string_view name;
        Encoding encoding;
    };

    static constexpr std::array kNames{Name{"PCMU", Encoding::Pcmu}, Name{"PCMA", Encoding::Pcma},
                                       Name{"L16", Encoding::L16}, Name{"G722", Encoding::G722},
                                       Name{"OPUS", Encoding::Opus}};
    for (const auto& entry : kNames) {
        if (iequals(entry.name, name)) {
            return entry.encoding;
        }
    }
    return base::fail(base::Errc::Unsupported,
                      fmt::format("media encoding \"{}\" is not supported (PCMU, PCMA, L16, G722, "
                                  "OPUS are)",
                                  name.substr(0, 32)));
}

std::string_view to_string(Encoding encoding) noexcept {
    switch (encoding) {
        case Encoding::Pcmu:
            return "PCMU";
        case Encoding::Pcma:
            return "PCMA";
        case Encoding::L16:
            return "L16";
        case Encoding::G722:
            return "G722";
        case Encoding::Opus:
            return "OPUS";
    }
    return "";
}

void MediaDecoder::OpusDeleter::operator()(OpusDecoder* decoder) const noexcept {
    opus_decoder_destroy(decoder);
}

MediaDecoder::MediaDecoder(Encoding encoding, int64_t audio_rate_hz)
    : encoding_(encoding),
      audio_rate_hz_(audio_rate_hz),
      last_packet_samples_(static_cast<std::size_t>(audio_rate_hz) * kDefaultPacketMs / 1000) {}

MediaDecoder::~MediaDecoder() = default;
MediaDecoder::MediaDecoder(MediaDecoder&&) noexcept = default;
MediaDecoder& MediaDecoder::operator=(MediaDecoder&&) noexcept = default;

base::Result<MediaDecoder> MediaDecoder::create(std::string_view encoding, int64_t sample_rate_hz,
                                                int64_t channels) {
    auto parsed = parse_encoding(encoding);
    if (!parsed) {
        return parsed.error();
    }
    return create(*parsed, sample_rate_hz, channels);
}

base::Result<MediaDecoder> MediaDecoder::create(Encoding encoding, int64_t sample_rate_hz,
                                                int64_t channels) {
    const auto name = to_string(encoding);
    if (sample_rate_hz <= 0 || channels <= 0) {
        return base::fail(base::Errc::InvalidArgument,
                          fmt::format("{}: sample rate {} Hz and {} channels must be positive",
                                      name, sample_rate_hz, channels));
    }
    if (channels != 1 && encoding != Encoding::Opus) {
        return base::fail(base::Errc::Unsupported,
                          fmt::format("{}: {} channels, only mono is supported", name, channels));
    }
    int64_t audio_rate_hz = sample_rate_hz;
    switch (encoding) {
        case Encoding::Pcmu:
        case Encoding::Pcma:
            if (sample_rate_hz != kTargetRateHz) {
                return base::fail(
                        base::Errc::Unsupported,
                        fmt::format("{} at {} Hz: G.711 is 8000 Hz", name, sample_rate_hz));
            }
            break;
        case Encoding::L16:
            if (sample_rate_hz < kMinL16RateHz || sample_rate_hz > kMaxL16RateHz) {
                return base::fail(base::Errc::Unsupported,
                                  fmt::format("L16 at {} Hz: supported rates are {}..{} Hz",
                                              sample_rate_hz, kMinL16RateHz, kMaxL16RateHz));
            }
            break;
        case Encoding::G722:
            audio_rate_hz = G722Decoder::kSampleRateHz;
            break;
        case Encoding::Opus:
            audio_rate_hz = kTargetRateHz;
            break;
    }
    MediaDecoder decoder(encoding, audio_rate_hz);
    if (audio_rate_hz != kTargetRateHz) {
        auto resampler = dsp::Resampler::create(static_cast<double>(audio_rate_hz), kOutputRateHz,
                                                dsp::ResampleQuality::High);
        if (!resampler) {
            return resampler.error();
        }
        decoder.resampler_.emplace(std::move(*resampler));
    }
    if (encoding == Encoding::G722) {
        auto g722 = G722Decoder::create();
        if (!g722) {
            return g722.error();
        }
        decoder.g722_.emplace(std::move(*g722));
    }
    if (encoding == Encoding::Opus) {
        int error = OPUS_OK;
        // Decoding straight at 8 kHz mono: libopus band-limits and downmixes internally.
        decoder.opus_.reset(opus_decoder_create(static_cast<opus_int32>(kTargetRateHz), 1, &error));
        if (error != OPUS_OK || !decoder.opus_) {
            return base::fail(
                    base::Errc::Runtime,
                    fmt::format("OPUS: opus_decoder_create failed: {}", opus_strerror(error)));
        }
        decoder.audio_.reserve(kOpusMaxFrameSamples);
    }
    return decoder;
}

void MediaDecoder::emit(std::span<const float> audio, std::vector<float>& out_append) {
    if (resampler_) {
        resampler_->process(audio, out_append);
    } else {
        out_append.insert(out_append.end(), audio.begin(), audio.end());
    }
}

base::Result<void> MediaDecoder::decode(std::span<const uint8_t> payload,
                                        std::vector<float>& out_append) {
    if (payload.empty()) {
        return {};
    }
    switch (encoding_) {
        case Encoding::Pcmu: {
            const std::size_t old_size = out_append.size();
            out_append.resize(old_size + payload.size());
            dsp::decode_mulaw(payload, std::span<float>(out_append).subspan(old_size));
            last_packet_samples_ = payload.size();
            return {};
        }
        case Encoding::Pcma: {
            const std::size_t old_size = out_append.size();
            out_append.resize(old_size + payload.size());
            dsp::decode_alaw(payload, std::span<float>(out_append).subspan(old_size));
            last_packet_samples_ = payload.size();
            return {};
        }
        case Encoding::L16: {
            if (payload.size() % 2 != 0) {
                return base::fail(base::Errc::Corrupt,
                                  fmt::format("L16 payload of {} bytes is not whole 16-bit "
                                              "samples",
                                              payload.size()));
            }
            audio_.resize(payload.size() / 2);
            for (std::size_t i = 0; i < audio_.size(); ++i) {
                // Big-endian (network order), RFC 2586.
                const auto sample = static_cast<int16_t>(
                        static_cast<uint16_t>((payload[2 * i] << 8) | payload[2 * i + 1]));
                audio_[i] = static_cast<float>(sample) * kInt16Scale;
            }
            last_packet_samples_ = audio_.size();
            emit(audio_, out_append);
            return {};
        }
        case Encoding::G722: {
            pcm16_.clear();
            g722_->decode(payload, pcm16_);
            audio_.resize(pcm16_.size());
            std::transform(pcm16_.begin(), pcm16_.end(), audio_.begin(),
                           [](int16_t s) { return static_cast<float>(s) * kInt16Scale; });
            last_packet_samples_ = audio_.size();
            emit(audio_, out_append);
            return {};
        }
        case Encoding::Opus: {
            if (payload.size() > static_cast<std::size_t>(std::numeric_limits<opus_int32>::max())) {
                return base::fail(base::Errc::Corrupt, "OPUS: packet too large");
            }
            audio_.resize(kOpusMaxFrameSamples);
            const int samples = opus_decode_float(opus_.get(), payload.data(),
                                                  static_cast<opus_int32>(payload.size()),
                                                  audio_.data(), kOpusMaxFrameSamples, 0);
            if (samples < 0) {
                return base::fail(base::Errc::Corrupt,
                                  fmt::format("OPUS: cannot decode a {}-byte packet: {}",
                                              payload.size(), opus_strerror(samples)));
            }
            audio_.resize(static_cast<std::size_t>(samples));
            clip_to_full_scale(audio_);
            last_packet_samples_ = audio_.size();
            emit(audio_, out_append);
            return {};
        }
    }
    return {};
}

void MediaDecoder::conceal(std::size_t lost_packets, std::vector<float>& out_append) {
    const std::size_t packets = std::min(lost_packets, kMaxConcealPackets);
    for (std::size_t p = 0; p < packets; ++p) {
        if (encoding_ == Encoding::Opus) {
            audio_.resize(kOpusMaxFrameSamples);
            // A null packet asks libopus for concealment of `frame_size` samples.
            const int frame = static_cast<int>(
                    std::min<std::size_t>(last_packet_samples_, kOpusMaxFrameSamples));
            const int samples = opus_decode_float(opus_.get(), nullptr, 0, audio_.data(), frame, 0);
            audio_.resize(samples > 0 ? static_cast<std::size_t>(samples) : 0U);
            if (audio_.empty()) {
                audio_.assign(static_cast<std::size_t>(frame), 0.0F);
            }
            clip_to_full_scale(audio_);
        } else {
            audio_.assign(last_packet_samples_, 0.0F);
        }
        emit(audio_, out_append);
    }
}

void MediaDecoder::flush(std::vector<float>& out_append) {
    if (resampler_) {
        resampler_->flush(out_append);
    }
}

}  // namespace dvd::codec
