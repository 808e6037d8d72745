#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "protocol/name_value.hpp"

namespace dvd::protocol {

/// Builders for Telnyx Call Control command bodies (telnyx-protocol.md section 2) and parsers of
/// its replies. Pure: they produce method, path and JSON body; sending is someone else's job.
/// Every command carries a `command_id` (Telnyx ignores a repeat for the same call within 60 s),
/// so a retried command is never executed twice. Bodies list fields in the documented order with
/// `client_state` and `command_id` last; optional fields left unset are omitted, so Telnyx's
/// documented defaults apply.

/// Base URL the paths below are relative to.
inline constexpr std::string_view kTelnyxApiBase = "https://api.telnyx.com/v2";
/// `errors[].code` of "Call has already ended" (HTTP 422): the call is over, not a failure.
inline constexpr std::string_view kCallAlreadyEndedCode = "90018";

enum class StreamTrack { InboundTrack, OutboundTrack, BothTracks };
enum class StreamCodec { Default, Pcmu, Pcma, G722, Opus, AmrWb, L16 };
enum class BidirectionalMode { Mp3, Rtp };
enum class BidirectionalCodec { Pcmu, Pcma, G722, Opus, AmrWb, L16 };
enum class TargetLegs { Both, Self, Opposite };
enum class RecordFormat { Wav, Mp3 };
enum class RecordChannels { Single, Dual };
enum class RecordTrack { Both, Inbound, Outbound };
enum class WebhookMethod { Post, Get };
enum class SpeakPayloadType { Text, Ssml };
enum class ServiceLevel { Basic, Premium };
enum class StopPlayback { Current, All };
enum class AudioType { Mp3, Wav };

/// Media streaming fields shared by answer, dial and streaming_start (`stream_*`).
struct StreamOptions {
    std::string stream_url{};  ///< wss:// URL; required
    std::optional<StreamTrack> track{};
    std::optional<StreamCodec> codec{};
    std::optional<BidirectionalMode> bidirectional_mode{};
    std::optional<BidirectionalCodec> bidirectional_codec{};  ///< RTP mode only
    std::optional<TargetLegs> bidirectional_target_legs{};
};

/// Telnyx's own detector (`deepfake_detection` on answer and dial); results arrive as
/// `call.deepfake_detection.result` / `.error` webhooks.
struct DeepfakeDetectionOptions {
    bool enabled = true;
    std::optional<int64_t> rtp_timeout_s{};  ///< Telnyx default 30
    std::optional<int64_t> timeout_s{};      ///< Telnyx default 15
};

/// `record: "record-from-answer"` and its `record_*` fields (answer, dial).
struct RecordFromAnswer {
    std::optional<RecordChannels> channels{};
    std::optional<RecordFormat> format{};
    std::optional<int64_t> max_length_s{};  ///< 0..43200, 0 = unlimited
    std::optional<int64_t> timeout_s{};     ///< silence timeout, 0 = none
    std::optional<RecordTrack> track{};
    bool trim_silence = false;
    std::optional<std::string> custom_file_name{};
};

struct AnswerCommand {
    std::string command_id{};
    std::optional<std::string> client_state{};  ///< must be base64
    std::optional<StreamOptions> stream{};
    std::optional<DeepfakeDetectionOptions> deepfake_detection{};
    std::optional<RecordFromAnswer> record{};
    std::optional<bool> send_silence_when_idle{};
    std::optional<std::string> webhook_url{};
    std::optional<WebhookMethod> webhook_url_method{};
};

struct SpeakCommand {
    std::string command_id{};
    std::optional<std::string> client_state{};
    std::string payload{};  ///< text or SSML, 1..3000 characters
    std::string voice{};  ///< e.g. "Telnyx.KokoroTTS.af"; "male"/"female" need ServiceLevel::Basic
    std::optional<std::string> language{};
    std::optional<SpeakPayloadType> payload_type{};
    std::optional<ServiceLevel> service_level{};
    std::optional<StopPlayback> stop{};
    std::optional<TargetLegs> target_legs{};
};

struct StreamingStartCommand {
    std::string command_id{};
    std::optional<std::string> client_state{};
    StreamOptions stream{};
    std::optional<int64_t> bidirectional_sampling_rate_hz{};  ///< 8000/16000/22050/24000/48000
    std::optional<std::string> stream_auth_token{};  ///< <= 4000 chars; sent on the WS upgrade
    std::vector<NameValue> custom_parameters{};      ///< an array of {name, value} in the command
};

struct StreamingStopCommand {
    std::string command_id{};
    std::optional<std::string> client_state{};
    std::optional<std::string> stream_id{};  ///< absent: stop every stream of the call
};

struct RecordStartCommand {
    std::string command_id{};
    std::optional<std::string> client_state{};
    RecordFormat format = RecordFormat::Wav;           ///< required by Telnyx
    RecordChannels channels = RecordChannels::Single;  ///< required by Telnyx
    std::optional<bool> play_beep{};
    std::optional<int64_t> max_length_s{};  ///< 0..14400, 0 = unlimited
    std::optional<int64_t> timeout_s{};     ///< silence timeout (`timeout_secs`)
    std::optional<RecordTrack> recording_track{};
    bool trim_silence = false;
    std::optional<std::string> custom_file_name{};
};

struct RecordStopCommand {
    std::string command_id{};
    std::optional<std::string> client_state{};
    std::optional<std::string> recording_id{};
};

struct HangupCommand {
    std::string command_id{};
    std::optional<std::string> client_state{};
};

struct TransferCommand {
    std::string command_id{};
    std::optional<std::string> client_state{};
    std::string to{};  ///< E.164 or sip: URI; required
    std::optional<std::string> from{};
    std::optional<std::string> from_display_name{};  ///< <= 128 characters
    std::optional<int64_t> timeout_s{};              ///< `timeout_secs`, Telnyx default 30
    std::optional<int64_t> time_limit_s{};           ///< `time_limit_secs`, default 14400
    std::optional<std::string> audio_url{};
    std::optional<std::string> media_name{};
    std::optional<bool> early_media{};
    std::optional<std::string> target_leg_client_state{};
    std::optional<std::string> webhook_url{};
};

/// Exactly one of audio_url, media_name and playback_content (base64 of an MP3/WAV file).
struct PlaybackStartCommand {
    std::string command_id{};
    std::optional<std::string> client_state{};
    std::optional<std::string> audio_url{};
    std::optional<std::string> media_name{};
    std::optional<std::string> playback_content{};
    std::optional<AudioType> audio_type{};
    std::optional<int64_t> loop_count{};  ///< >= 1
    std::optional<bool> overlay{};
    std::optional<StopPlayback> stop{};
    std::optional<TargetLegs> target_legs{};
    std::optional<bool> cache_audio{};
};

/// `POST /v2/calls`: an outbound call. Its webhooks then follow the same flow as an inbound call.
struct DialCommand {
    std::string command_id{};
    std::optional<std::string> client_state{};
    std::string to{};                                ///< +E.164 or sip: URI; required
    std::string from{};                              ///< +E.164 caller id; required
    std::string connection_id{};                     ///< Call Control App id; required
    std::optional<std::string> from_display_name{};  ///< <= 128 characters
    std::optional<int64_t> timeout_s{};              ///< answer timeout, 5..600
    std::optional<int64_t> time_limit_s{};           ///< 1..14400
    std::optional<StreamOptions> stream{};
    std::optional<int64_t> bidirectional_sampling_rate_hz{};
    std::optional<DeepfakeDetectionOptions> deepfake_detection{};
    std::optional<RecordFromAnswer> record{};
    std::optional<bool> send_silence_when_idle{};
    std::optional<std::string> webhook_url{};
    std::optional<WebhookMethod> webhook_url_method{};
};

/// An HTTP request to send to kTelnyxApiBase + path with `Authorization: Bearer <key>` and
/// `Content-Type: application/json`.
struct CommandRequest {
    std::string method;  ///< "POST" for commands, "GET" for build_call_status
    std::string path;    ///< e.g. "/calls/v3:abc/actions/answer"
    std::string body;    ///< JSON ("" for a GET)
};

/// `/calls/{call_control_id}`. The id is percent-encoded except for unreserved characters and
/// ':' (kept raw, as Telnyx's SDK does: "v3:..." stays readable).
[[nodiscard]] std::string call_path(std::string_view call_control_id);

/// `/calls/{call_control_id}/actions/{action}`.
[[nodiscard]] std::string call_action_path(std::string_view call_control_id,
                                           std::string_view action);

/// Builders. Errc::InvalidCommand (with the field named) when a required field is empty, a
/// value is outside its documented range, `client_state` is not base64, or `call_control_id` is
/// empty.
[[nodiscard]] base::Result<CommandRequest> build_answer(std::string_view call_control_id,
                                                        const AnswerCommand& command);
[[nodiscard]] base::Result<CommandRequest> build_speak(std::string_view call_control_id,
                                                       const SpeakCommand& command);
[[nodiscard]] base::Result<CommandRequest> build_streaming_start(
        std::string_view call_control_id, const StreamingStartCommand& command);
[[nodiscard]] base::Result<CommandRequest> build_streaming_stop(
        std::string_view call_control_id, const StreamingStopCommand& command);
[[nodiscard]] base::Result<CommandRequest> build_record_start(std::string_view call_control_id,
                                                              const RecordStartCommand& command);
[[nodiscard]] base::Result<CommandRequest> build_record_stop(std::string_view call_control_id,
                                                             const RecordStopCommand& command);
[[nodiscard]] base::Result<CommandRequest> build_hangup(std::string_view call_control_id,
                                                        const HangupCommand& command);
[[nodiscard]] base::Result<CommandRequest> build_transfer(std::string_view call_control_id,
                                                          const TransferCommand& command);
[[nodiscard]] base::Result<CommandRequest> build_playback_start(
        std::string_view call_control_id, const PlaybackStartCommand& command);
/// `POST /calls`.
[[nodiscard]] base::Result<CommandRequest> build_dial(const DialCommand& command);

/// One entry of a Telnyx `errors` array. `code` is a string of digits in the current spec and an
/// integer in the 2025 one; both are read into the string.
struct ApiError {
    std::string code;
    std::string title;
    std::string detail;
    std::string source_pointer;  ///< `source.pointer`, e.g. "/call_control_id"
};

struct ApiErrorResponse {
    std::vector<ApiError> errors;

    [[nodiscard]] bool has_code(std::string_view code) const;

    /// True when Telnyx says the call has already ended (code 90018).
    [[nodiscard]] bool call_already_ended() const { return has_code(kCallAlreadyEndedCode); }
};

/// Parses `{"errors":[{"code":"90018","title":"...","detail":"...","source":{...}}]}`.
/// Errc::MalformedJson, Errc::MissingField (`errors` absent or empty, an entry without code),
/// Errc::WrongType.
[[nodiscard]] base::Result<ApiErrorResponse> parse_error_response(std::string_view body);

/// Success body of a call action: `{"data":{"result":"ok"}}` (+ `recording_id` after answer with
/// recording).
struct CommandResult {
    std::string result;
    std::string recording_id;
};

[[nodiscard]] base::Result<CommandResult> parse_command_result(std::string_view body);

/// Success body of `POST /v2/calls`: the new call's ids (`data.call_control_id` required).
struct DialResult {
    std::string call_control_id;
    std::string call_leg_id;
    std::string call_session_id;
};

[[nodiscard]] base::Result<DialResult> parse_dial_result(std::string_view body);

/// `GET /calls/{call_control_id}` ("Retrieve a call status"): whether Telnyx still has the call
/// up. Telnyx keeps a call's data for 10 minutes after it ended; later the call is unknown (404).
struct CallStatus {
    std::string call_control_id;
    bool is_alive = false;
    std::optional<std::int64_t> call_duration_s{};  ///< `call_duration`, seconds
    std::string start_time{};                       ///< RFC 3339, "" when absent
    std::string end_time{};                         ///< RFC 3339, "" when absent or still up
};

/// Errc::InvalidCommand for an empty id.
[[nodiscard]] base::Result<CommandRequest> build_call_status(std::string_view call_control_id);
/// MissingField / WrongType naming the field when `data.is_alive` is not a boolean.
[[nodiscard]] base::Result<CallStatus> parse_call_status(std::string_view body);

/// What to do with a Call Control reply.
enum class CommandOutcome {
    Ok,         ///< 2xx
    CallEnded,  ///< 422 with code 90018: treat as a normal end of the call
    Retry,      ///< 408, 429 or 5xx: retry with backoff (same command_id)
    Fail,       ///< any other status: do not retry
};

[[nodiscard]] CommandOutcome classify_command_response(int http_status, std::string_view body);

[[nodiscard]] std::string_view to_string(StreamTrack value) noexcept;
[[nodiscard]] std::string_view to_string(StreamCodec value) noexcept;
[[nodiscard]] std::string_view to_string(BidirectionalMode value) noexcept;
[[nodiscard]] std::string_view to_string(BidirectionalCodec value) noexcept;
[[nodiscard]] std::string_view to_string(TargetLegs value) noexcept;
[[nodiscard]] std::string_view to_string(RecordFormat value) noexcept;
[[nodiscard]] std::string_view to_string(RecordChannels value) noexcept;
[[nodiscard]] std::string_view to_string(RecordTrack value) noexcept;

}  // namespace dvd::protocol
