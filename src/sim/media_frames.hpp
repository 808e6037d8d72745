#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "protocol/media_message.hpp"
#include "protocol/name_value.hpp"

namespace dvd::sim {

/// The encodings the simulator can put on a media stream.
enum class StreamEncoding {
    Pcmu,  ///< G.711 mu-law, 8 kHz, 160 bytes per 20 ms
    Pcma,  ///< G.711 A-law, 8 kHz, 160 bytes per 20 ms
    L16,   ///< 16-bit big-endian linear PCM at 16 kHz, 640 bytes per 20 ms
};

/// What a stream carries, decided from the command's `stream_codec`.
struct EncodingChoice {
    StreamEncoding encoding = StreamEncoding::Pcmu;
    std::string name = "PCMU";  ///< `start.media_format.encoding`
    std::int64_t sample_rate_hz = 8000;
    std::string note{};  ///< why the requested codec was not used ("" when it was)
};

/// PCMU for "default"/absent (the simulated call's codec), PCMA, L16 (16 kHz). G722, OPUS and
/// AMR-WB fall back to PCMU with a note, as Telnyx does "when transcoding is not possible"
/// (telnyx-protocol.md section 2.5).
[[nodiscard]] EncodingChoice choose_encoding(std::string_view stream_codec);

/// Telnyx streams one RTP payload per frame; with the usual 20 ms ptime (section 3.3).
inline constexpr std::chrono::milliseconds kFrameDuration{20};

/// Encoded bytes in one 20 ms payload.
[[nodiscard]] std::size_t frame_bytes(StreamEncoding encoding) noexcept;

/// Encodes 8 kHz mono float samples (full scale +-1.0, clipped) to consecutive 20 ms payloads;
/// the last one is padded with silence. L16 is first resampled to 16 kHz (dsp::Resampler).
/// Errors: those of the resampler (Errc::Runtime). Pure; allocates the result.
[[nodiscard]] base::Result<std::vector<std::vector<std::uint8_t>>> encode_payloads(
        std::span<const float> samples_8k, StreamEncoding encoding);

/// One 20 ms payload of silence.
[[nodiscard]] std::vector<std::uint8_t> silence_payload(StreamEncoding encoding);

/// When media frame `index` (0-based) is due, counted from the first media frame: index x 20 ms
/// / speed. Precondition: speed > 0.
[[nodiscard]] std::chrono::nanoseconds frame_offset(std::size_t index, double speed);

/// Who a stream belongs to: the fields of the `start` frame.
struct StreamIdentity {
    std::string stream_id;
    std::string call_control_id;
    std::string call_session_id;
    std::string user_id;
    std::string from;
    std::string to;
    std::optional<std::string> client_state{};
    std::vector<protocol::NameValue> custom_parameters{};
    std::optional<std::string> auth_token{};  ///< also sent inside the `connected` frame
    EncodingChoice encoding{};
};

/// Writes the frames of one stream as Telnyx does (section 3.2): `connected` (no sequence
/// number), then `start`, `media`..., `stop`, `mark` echoes, all numbered by one
/// `sequence_number` counter starting at 1; `media.chunk` counts per track from 1 and
/// `media.timestamp` is the track's media time in milliseconds (chunk - 1) x 20. One thread.
class FrameWriter {
public:
    explicit FrameWriter(StreamIdentity identity) : identity_(std::move(identity)) {}

    [[nodiscard]] std::string connected();
    [[nodiscard]] std::string start();
    [[nodiscard]] std::string media(protocol::MediaTrack track,
                                    std::span<const std::uint8_t> payload);
    [[nodiscard]] std::string stop();
    [[nodiscard]] std::string mark(std::string_view name);

    [[nodiscard]] const StreamIdentity& identity() const { return identity_; }

private:
    StreamIdentity identity_;
    std::uint64_t sequence_ = 1;
    std::uint64_t inbound_chunks_ = 0;
    std::uint64_t outbound_chunks_ = 0;
};

}  // namespace dvd::sim
