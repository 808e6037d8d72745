#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "codec/g722_decoder.hpp"
#include "dsp/resampler.hpp"

struct OpusDecoder;  // libopus (opus/opus.h); kept out of this header

namespace dvd::codec {

/// Telnyx media-stream encodings we decode (`start.media_format.encoding`).
enum class Encoding {
    Pcmu,  ///< G.711 mu-law, 8 kHz, 1 byte per sample
    Pcma,  ///< G.711 A-law, 8 kHz
    L16,   ///< 16-bit linear PCM, big-endian (network order, RFC 2586), usually 16 kHz
    G722,  ///< G.722 64 kbit/s; 16 kHz audio although the RTP clock says 8000
    Opus,  ///< Opus (RFC 6716); any RTP clock, decoded straight to 8 kHz by libopus
};

/// Maps an encoding name (case-insensitive: "PCMU", "pcma", "L16", "G722", "OPUS"...) to the
/// enum. Errc::Unsupported for names we know but do not decode (AMR-WB) and for unknown names.
[[nodiscard]] base::Result<Encoding> parse_encoding(std::string_view name);

[[nodiscard]] std::string_view to_string(Encoding encoding) noexcept;

/// Decodes one media stream's RTP payloads to 8 kHz mono float samples (full scale +-1.0; Opus
/// output is clipped to it, whatever a packet holds), the input of the detector. One per stream, created from the `start` frame's media_format.
/// L16 and G.722 are resampled 16 kHz -> 8 kHz with dsp::Resampler (libsoxr), which delays its
/// output slightly: call flush() at the end of the stream. Output is identical however the
/// payloads are split (as long as the bytes and their order are the same).
/// Thread ownership: one thread at a time (the stream's worker). Movable, not copyable.
class MediaDecoder {
public:
    static constexpr double kOutputRateHz = 8000.0;

    /// `sample_rate_hz`/`channels` as announced in media_format. Errors:
    /// Errc::Unsupported for more than one channel (except Opus, which is downmixed), PCMU/PCMA
    /// not at 8000 Hz, or L16 outside 8000..48000 Hz; Errc::InvalidArgument for a rate <= 0;
    /// Errc::Runtime when libopus/spandsp/libsoxr fail to initialise.
    [[nodiscard]] static base::Result<MediaDecoder> create(Encoding encoding,
                                                           int64_t sample_rate_hz,
                                                           int64_t channels = 1);
    /// Same, from the encoding name (see parse_encoding).
    [[nodiscard]] static base::Result<MediaDecoder> create(std::string_view encoding,
                                                           int64_t sample_rate_hz,
                                                           int64_t channels = 1);

    ~MediaDecoder();
    MediaDecoder(MediaDecoder&&) noexcept;
    MediaDecoder& operator=(MediaDecoder&&) noexcept;
    MediaDecoder(const MediaDecoder&) = delete;
    MediaDecoder& operator=(const MediaDecoder&) = delete;

    /// Decodes one RTP payload and appends the 8 kHz samples that are ready to `out_append`.
    /// An empty payload appends nothing. Errc::Corrupt for a payload that cannot be audio of
    /// this encoding (an odd byte count for L16, an invalid Opus packet); then nothing is
    /// appended and the decoder stays usable for the next payload.
    [[nodiscard]] base::Result<void> decode(std::span<const uint8_t> payload,
                                            std::vector<float>& out_append);

    /// Fills `lost_packets` lost payloads (a jitter-buffer gap) so the timeline keeps its length:
    /// Opus uses libopus packet-loss concealment, the others append silence. Each lost packet
    /// lasts as long as the last decoded one (20 ms before any). At most kMaxConcealPackets are
    /// filled; a longer gap is a break in the stream, not something to paper over.
    void conceal(std::size_t lost_packets, std::vector<float>& out_append);

    /// End of stream: appends the resampler's delayed tail. The decoder must not be fed after.
    void flush(std::vector<float>& out_append);

    static constexpr std::size_t kMaxConcealPackets = 50;  ///< 1 s of 20 ms packets

    Encoding encoding() const { return encoding_; }

    /// Rate of the decoded audio before resampling (16000 for G.722 whatever was announced).
    int64_t audio_rate_hz() const { return audio_rate_hz_; }

private:
    struct OpusDeleter {
        void operator()(OpusDecoder* decoder) const noexcept;
    };

    MediaDecoder(Encoding encoding, int64_t audio_rate_hz);
    void emit(std::span<const float> audio, std::vector<float>& out_append);

    Encoding encoding_;
    int64_t audio_rate_hz_;
    std::optional<dsp::Resampler> resampler_;  // when audio_rate_hz_ != 8000
    std::optional<G722Decoder> g722_;
    std::unique_ptr<OpusDecoder, OpusDeleter> opus_;
    std::size_t last_packet_samples_;  // at audio_rate_hz_, for conceal()
    std::vector<int16_t> pcm16_;       // scratch, reused
    std::vector<float> audio_;         // scratch at audio_rate_hz_, reused
};

}  // namespace dvd::codec
