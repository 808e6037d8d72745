#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/name_value.hpp"
#include "sim/api_reply.hpp"

namespace dvd::sim {

/// The Call Control commands the simulator serves: `POST /v2/calls/{id}/actions/{action}` and
/// `POST /v2/calls` (Dial).
enum class Action {
    Answer,
    Speak,
    StreamingStart,
    StreamingStop,
    RecordStart,
    RecordStop,
    Hangup,
    Transfer,
    PlaybackStart,
    Dial,
};

/// The path segment of a call action ("answer", "streaming_start", ...); nullopt for any other
/// (and for "dial", which has its own path).
[[nodiscard]] std::optional<Action> parse_action(std::string_view action) noexcept;

/// The path name ("answer", ...); "dial" for Dial.
[[nodiscard]] std::string_view to_string(Action action) noexcept;

/// Media streaming asked for by answer, dial or streaming_start (telnyx-protocol.md 2.3, 2.5).
struct StreamRequest {
    std::string url;                      ///< ws:// or wss://
    std::string track = "inbound_track";  ///< inbound_track | outbound_track | both_tracks
    std::string codec = "default";        ///< as sent: PCMU, PCMA, L16, G722, OPUS, AMR-WB, default
    std::optional<std::string> auth_token{};
    std::vector<protocol::NameValue> custom_parameters{};
};

/// A recording asked for by record_start or by `record: "record-from-answer"` (answer, dial).
struct RecordRequest {
    std::string format = "mp3";     ///< wav | mp3 (answer/dial default mp3)
    std::string channels = "dual";  ///< single | dual (answer/dial default dual)
};

/// A command whose body passed validation, reduced to what the simulated call needs.
struct ValidatedCommand {
    Action action = Action::Hangup;
    std::string command_id{};  ///< "" when the body had none (Telnyx then cannot de-duplicate)
    std::optional<std::string> client_state{};
    std::optional<StreamRequest> stream{};     ///< answer/dial with stream_url, streaming_start
    std::optional<RecordRequest> record{};     ///< record_start, or answer/dial record-from-answer
    std::optional<std::string> webhook_url{};  ///< answer/dial/transfer override
    std::string speak_payload{};
    std::string voice{};
    std::string to{};                           ///< dial, transfer
    std::string from{};                         ///< dial, transfer
    std::string connection_id{};                ///< dial
    std::optional<std::string> stream_id{};     ///< streaming_stop
    std::optional<std::string> recording_id{};  ///< record_stop
    std::string playback_source{};    ///< playback_start: the URL, media name or "content"
    bool deepfake_detection = false;  ///< answer/dial deepfake_detection.enabled
    std::vector<std::string> ignored_fields{};  ///< top-level fields the docs do not list
};

/// The verdict on one body: a command, or the HTTP status and Telnyx `errors` to answer.
struct Validation {
    std::optional<ValidatedCommand> command{};
    int status = 200;  ///< 400 body is not a JSON object; 422 field errors
    std::vector<TelnyxError> errors{};
};

/// Validates a command body against the fields telnyx-protocol.md section 2 documents for
/// `action`: JSON types, required fields, enumerations, ranges, lengths, URL and phone formats,
/// base64 `client_state`. Every problem is reported (one `errors[]` entry each, with
/// `source.pointer`), codes: 10004 missing required parameter, 10015 wrong type / not base64 /
/// not well-formed, 10032 invalid enumerated value, 10033 value outside of range, 10003 invalid
/// URL, 10016 not +E.164. Fields the docs do not list are ignored (listed in `ignored_fields`),
/// as Telnyx ignores them. An empty body counts as `{}`. Pure and thread-safe.
[[nodiscard]] Validation validate_command(Action action, std::string_view body);

}  // namespace dvd::sim
