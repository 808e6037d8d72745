#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/result.hpp"
#include "protocol/name_value.hpp"

namespace dvd::protocol {

/// Telnyx media-streaming WebSocket frames (telnyx-protocol.md section 3). All are JSON text
/// frames; audio is base64 of one RTP payload without the RTP header. `sequence_number`,
/// `media.chunk` and `media.timestamp` are JSON *strings* holding decimal integers.

enum class MediaTrack { Inbound, Outbound };

/// `start.media_format`: encoding as sent (`PCMU`, `PCMA`, `G722`, `OPUS`, `L16`, `AMR-WB`...).
/// `sample_rate_hz` is the RTP clock rate Telnyx reports (G.722 says 8000 for 16 kHz audio).
struct MediaFormat {
    std::string encoding;
    int64_t sample_rate_hz = 0;
    int64_t channels = 1;
};

/// First frame. `auth_token` is `x-telnyx-streaming-auth-token` when Telnyx sends it in the frame
/// (accepted inside `connected` or at top level: the nesting is unconfirmed).
struct ConnectedMessage {
    std::string version;
    std::optional<std::string> auth_token;
};

struct StartMessage {
    std::optional<uint64_t> sequence_number;
    std::string stream_id;
    std::string user_id;
    std::string call_control_id;
    std::string call_session_id;
    std::string from;
    std::string to;
    std::vector<std::string> tags;
    std::optional<std::string> client_state;   ///< base64, as in webhooks
    std::vector<NameValue> custom_parameters;  ///< an object map on the wire
    MediaFormat media_format;
};

struct MediaMessage {
    uint64_t sequence_number = 0;
    std::string stream_id;
    MediaTrack track = MediaTrack::Inbound;  ///< `inbound` when the field is absent
    std::optional<uint64_t> chunk;
    std::optional<uint64_t> timestamp;
    std::vector<uint8_t> payload;  ///< decoded codec bytes
};

struct StopMessage {
    std::optional<uint64_t> sequence_number;
    std::string stream_id;
    std::string user_id;
    std::string call_control_id;
};

struct DtmfMessage {
    std::optional<uint64_t> sequence_number;
    std::string stream_id;
    std::string occurred_at;  ///< order DTMF by this, not by arrival
    std::string digit;
};

/// Telnyx echoes an application mark once the media queued before it has played.
struct MarkMessage {
    std::optional<uint64_t> sequence_number;
    std::string stream_id;
    std::string name;
};

/// `{"event":"error","payload":{"code":100003,...}}`: codes 100002 unknown_error,
/// 100003 malformed_frame, 100004 invalid_media, 100005 rate_limit_reached.
struct ErrorMessage {
    std::string stream_id;
    int64_t code = 0;
    std::string title;
    std::string detail;
};

/// Any frame Telnyx sends to the application.
using InboundMessage = std::variant<ConnectedMessage, StartMessage, MediaMessage, StopMessage,
                                    DtmfMessage, MarkMessage, ErrorMessage>;

struct MediaParseLimits {
    /// Whole text frame; larger frames are refused before parsing.
    std::size_t max_message_bytes = 64 * 1024;
    /// Decoded media payload. 20 ms is 160 bytes PCMU and 640 bytes L16 at 16 kHz; Telnyx does not
    /// document the packetisation, so leave room (its own docs sample is 792 bytes).
    std::size_t max_payload_bytes = 16 * 1024;
};

/// Parses one text frame from Telnyx. Errors (all values, never exceptions):
/// Errc::TooLarge (frame or decoded payload over the limits), Errc::MalformedJson,
/// Errc::MissingField / Errc::WrongType / Errc::BadValue (with the field path in the message),
/// Errc::BadBase64 (media payload), Errc::UnknownEvent (well-formed, unknown `event`: callers
/// may ignore such frames rather than close the stream).
/// Required: `event`; media: `sequence_number`, `media.payload`; start: `stream_id`,
/// `start.media_format.encoding`, `start.media_format.sample_rate`; dtmf: `dtmf.digit`;
/// mark: `mark.name`; error: `payload.code`.
[[nodiscard]] base::Result<InboundMessage> parse_inbound_message(
        std::string_view text, const MediaParseLimits& limits = {});

/// Parses the body of an HTTP relay of media-stream frames: one frame object, or a JSON array of
/// them (at most `max_messages`), each checked as by parse_inbound_message (the per-frame size
/// limit does not apply; bound the body at the HTTP layer). The first bad element fails the batch
/// with its code and "message [i]: ..." in the text.
[[nodiscard]] base::Result<std::vector<InboundMessage>> parse_inbound_batch(
        std::string_view body, const MediaParseLimits& limits = {},
        std::size_t max_messages = 1000);

/// Serialises a Telnyx -> application frame exactly as section 3.2 shows it (for the simulator
/// and for round-trip tests).
[[nodiscard]] std::string serialize_inbound_message(const InboundMessage& message);

/// Application -> Telnyx frames (section 3.4; `stream_id` is not needed).
/// `{"event":"media","media":{"payload":"<base64>"}}`: raw codec bytes in RTP mode, an MP3 file
/// in MP3 mode (at most one such message per second).
[[nodiscard]] std::string serialize_outbound_media(std::span<const uint8_t> payload);
/// `{"event":"mark","mark":{"name":"..."}}`
[[nodiscard]] std::string serialize_mark(std::string_view name);
/// `{"event":"clear"}`
[[nodiscard]] std::string serialize_clear();

/// Application -> Telnyx frames as typed values, for the simulator's side of the socket.
struct OutboundMedia {
    std::vector<uint8_t> payload;
};

struct OutboundMark {
    std::string name;
};

struct OutboundClear {};

using OutboundMessage = std::variant<OutboundMedia, OutboundMark, OutboundClear>;

/// Parses an application -> Telnyx frame; errors as for parse_inbound_message.
[[nodiscard]] base::Result<OutboundMessage> parse_outbound_message(
        std::string_view text, const MediaParseLimits& limits = {});

[[nodiscard]] std::string_view to_string(MediaTrack track) noexcept;

}  // namespace dvd::protocol
