#include "protocol/call_control.hpp"

#include <algorithm>
#include <initializer_list>
#include <limits>
#include <type_traits>
#include <utility>

#include <fmt/format.h>

#include "protocol/base64.hpp"
#include "protocol/errc.hpp"
#include "protocol/json_util.hpp"

namespace dvd::protocol {
namespace {

using detail::Json;
using detail::OrderedJson;

constexpr std::size_t kMaxSpeakPayloadChars = 3000;
constexpr std::size_t kMaxStreamAuthTokenChars = 4000;
constexpr std::size_t kMaxDisplayNameChars = 128;
constexpr int64_t kMaxAnswerRecordLengthS = 43200;
constexpr int64_t kMaxRecordStartLengthS = 14400;
constexpr int64_t kMaxTimeLimitS = 14400;
constexpr int64_t kMinDialTimeoutS = 5;
constexpr int64_t kMaxDialTimeoutS = 600;
constexpr std::initializer_list<int64_t> kBidirectionalRatesHz = {8000, 16000, 22050, 24000, 48000};

// Counts UTF-8 code points (Telnyx limits are in characters).
std::size_t char_count(std::string_view text) noexcept {
    return static_cast<std::size_t>(std::count_if(text.begin(), text.end(), [](char c) {
        return (static_cast<unsigned char>(c) & 0xC0U) != 0x80U;
    }));
}

base::Error invalid(std::string message) {
    return fail(Errc::InvalidCommand, std::move(message));
}

// Collects the first validation error, like FieldReader does for parsing.
class Validator {
public:
    void require(bool condition, std::string_view message) {
        if (!condition && !error_) {
            error_ = invalid(std::string(message));
        }
    }

    void non_empty(const std::string& value, std::string_view field) {
        if (value.empty() && !error_) {
            error_ = invalid(fmt::format("'{}' is required", field));
        }
    }

    void range(const std::optional<int64_t>& value, std::string_view field, int64_t min,
               int64_t max) {
        if (value && (*value < min || *value > max) && !error_) {
            error_ = invalid(
                    fmt::format("'{}' must be in [{}, {}], got {}", field, min, max, *value));
        }
    }

    void max_chars(const std::optional<std::string>& value, std::string_view field,
                   std::size_t max) {
        if (value && char_count(*value) > max && !error_) {
            error_ = invalid(fmt::format("'{}' is longer than {} characters", field, max));
        }
    }

    void common(std::string_view call_control_id, const std::string& command_id,
                const std::optional<std::string>& client_state) {
        require(!call_control_id.empty(), "'call_control_id' is required");
        non_empty(command_id, "command_id");
        if (client_state) {
            require(!client_state->empty() && decode_base64(*client_state).has_value(),
                    "'client_state' must be a non-empty base64 string");
        }
    }

    void stream(const StreamOptions& options) {
        non_empty(options.stream_url, "stream_url");
        require(options.stream_url.empty() || options.stream_url.starts_with("wss://")
                        || options.stream_url.starts_with("ws://"),
                "'stream_url' must be a ws:// or wss:// URL");
    }

    void sampling_rate(const std::optional<int64_t>& rate) {
        if (rate) {
            require(std::find(kBidirectionalRatesHz.begin(), kBidirectionalRatesHz.end(), *rate)
                            != kBidirectionalRatesHz.end(),
                    "'stream_bidirectional_sampling_rate' must be 8000, 16000, 22050, 24000 or "
                    "48000");
        }
    }

    void deepfake(const std::optional<DeepfakeDetectionOptions>& options) {
        if (options) {
            range(options->rtp_timeout_s, "deepfake_detection.rtp_timeout", 1, kMaxTimeLimitS);
            range(options->timeout_s, "deepfake_detection.timeout", 1, kMaxTimeLimitS);
        }
    }

    void record(const std::optional<RecordFromAnswer>& options) {
        if (options) {
            range(options->max_length_s, "record_max_length", 0, kMaxAnswerRecordLengthS);
            range(options->timeout_s, "record_timeout_secs", 0, kMaxTimeLimitS);
        }
    }

    [[nodiscard]] base::Result<void> result() const {
        if (error_) {
            return *error_;
        }
        return {};
    }

private:
    std::optional<base::Error> error_;
};

template <class T>
void put(OrderedJson& j, std::string_view key, const std::optional<T>& value) {
    if (value) {
        if constexpr (std::is_enum_v<T>) {
            j[std::string(key)] = std::string(to_string(*value));
        } else {
            j[std::string(key)] = *value;
        }
    }
}

std::string_view method_name(WebhookMethod method) noexcept {
    return method == WebhookMethod::Post ? "POST" : "GET";
}

void put_method(OrderedJson& j, const std::optional<WebhookMethod>& method) {
    if (method) {
        j["webhook_url_method"] = std::string(method_name(*method));
    }
}

void put_stream(OrderedJson& j, const StreamOptions& s) {
    j["stream_url"] = s.stream_url;
    put(j, "stream_track", s.track);
    put(j, "stream_codec", s.codec);
    put(j, "stream_bidirectional_mode", s.bidirectional_mode);
    put(j, "stream_bidirectional_codec", s.bidirectional_codec);
    put(j, "stream_bidirectional_target_legs", s.bidirectional_target_legs);
}

void put_deepfake(OrderedJson& j, const std::optional<DeepfakeDetectionOptions>& d) {
    if (d) {
        OrderedJson options{{"enabled", d->enabled}};
        put(options, "rtp_timeout", d->rtp_timeout_s);
        put(options, "timeout", d->timeout_s);
        j["deepfake_detection"] = std::move(options);
    }
}

void put_record_from_answer(OrderedJson& j, const std::optional<RecordFromAnswer>& r) {
    if (r) {
        j["record"] = "record-from-answer";
        put(j, "record_channels", r->channels);
        put(j, "record_format", r->format);
        put(j, "record_max_length", r->max_length_s);
        put(j, "record_timeout_secs", r->timeout_s);
        put(j, "record_track", r->track);
        if (r->trim_silence) {
            j["record_trim"] = "trim-silence";
        }
        put(j, "record_custom_file_name", r->custom_file_name);
    }
}

void put_common(OrderedJson& j, const std::optional<std::string>& client_state,
                const std::string& command_id) {
    put(j, "client_state", client_state);
    j["command_id"] = command_id;
}

base::Result<CommandRequest> finish(const Validator& v, std::string path, const OrderedJson& j) {
    if (auto ok = v.result(); !ok) {
        return ok.error();
    }
    return CommandRequest{"POST", std::move(path), detail::dump(j)};
}

bool is_unreserved(char c) noexcept {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'
           || c == '.' || c == '_' || c == '~';
}

}  // namespace

std::string call_path(std::string_view call_control_id) {
    std::string path = "/calls/";
    for (const char c : call_control_id) {
        if (is_unreserved(c) || c == ':') {
            path.push_back(c);
        } else {
            path += fmt::format("%{:02X}", static_cast<unsigned char>(c));
        }
    }
    return path;
}

std::string call_action_path(std::string_view call_control_id, std::string_view action) {
    std::string path = call_path(call_control_id);
    path += "/actions/";
    path += action;
    return path;
}

base::Result<CommandRequest> build_call_status(std::string_view call_control_id) {
    if (call_control_id.empty()) {
        return fail(Errc::InvalidCommand, "call_control_id is empty");
    }
    return CommandRequest{"GET", call_path(call_control_id), ""};
}

base::Result<CallStatus> parse_call_status(std::string_view body) {
    auto root = detail::parse_object(body, "call status");
    if (!root) {
        return root.error();
    }
    detail::FieldReader r;
    const Json& data = r.object(*root, "data", "data");
    CallStatus status;
    status.call_control_id =
            r.optional_string(data, "call_control_id", "data.call_control_id").value_or("");
    status.call_duration_s = r.optional_integer(data, "call_duration", "data.call_duration", 0,
                                                std::numeric_limits<std::int64_t>::max());
    status.start_time = r.optional_string(data, "start_time", "data.start_time").value_or("");
    status.end_time = r.optional_string(data, "end_time", "data.end_time").value_or("");
    if (!r.ok()) {
        return r.error();
    }
    const auto alive = data.find("is_alive");
    if (alive == data.end() || alive->is_null()) {
        return fail(Errc::MissingField, "missing field 'data.is_alive'");
    }
    if (!alive->is_boolean()) {
        return fail(Errc::WrongType, "field 'data.is_alive' must be a boolean");
    }
    status.is_alive = alive->get<bool>();
    return status;
}

base::Result<CommandRequest> build_answer(std::string_view call_control_id,
                                          const AnswerCommand& c) {
    Validator v;
    v.common(call_control_id, c.command_id, c.client_state);
    OrderedJson j = OrderedJson::object();
    if (c.stream) {
        v.stream(*c.stream);
        put_stream(j, *c.stream);
    }
    v.deepfake(c.deepfake_detection);
    put_deepfake(j, c.deepfake_detection);
    v.record(c.record);
    put_record_from_answer(j, c.record);
    put(j, "send_silence_when_idle", c.send_silence_when_idle);
    put(j, "webhook_url", c.webhook_url);
    put_method(j, c.webhook_url_method);
    put_common(j, c.client_state, c.command_id);
    return finish(v, call_action_path(call_control_id, "answer"), j);
}

base::Result<CommandRequest> build_speak(std::string_view call_control_id, const SpeakCommand& c) {
    Validator v;
    v.common(call_control_id, c.command_id, c.client_state);
    v.non_empty(c.payload, "payload");
    v.max_chars(c.payload, "payload", kMaxSpeakPayloadChars);
    v.non_empty(c.voice, "voice");
    // Gender voices exist only at the basic service level (section 8, #7).
    v.require(!(c.voice == "male" || c.voice == "female") || c.service_level == ServiceLevel::Basic,
              "voice 'male'/'female' needs service_level 'basic'");
    v.require(c.service_level != ServiceLevel::Basic || c.payload_type != SpeakPayloadType::Ssml,
              "service_level 'basic' supports only payload_type 'text'");
    OrderedJson j{{"payload", c.payload}, {"voice", c.voice}};
    put(j, "language", c.language);
    if (c.payload_type) {
        j["payload_type"] = *c.payload_type == SpeakPayloadType::Text ? "text" : "ssml";
    }
    if (c.service_level) {
        j["service_level"] = *c.service_level == ServiceLevel::Basic ? "basic" : "premium";
    }
    if (c.stop) {
        j["stop"] = *c.stop == StopPlayback::Current ? "current" : "all";
    }
    put(j, "target_legs", c.target_legs);
    put_common(j, c.client_state, c.command_id);
    return finish(v, call_action_path(call_control_id, "speak"), j);
}

base::Result<CommandRequest> build_streaming_start(std::string_view call_control_id,
                                                   const StreamingStartCommand& c) {
    Validator v;
    v.common(call_control_id, c.command_id, c.client_state);
    v.stream(c.stream);
    v.sampling_rate(c.bidirectional_sampling_rate_hz);
    v.max_chars(c.stream_auth_token, "stream_auth_token", kMaxStreamAuthTokenChars);
    OrderedJson j = OrderedJson::object();
    put_stream(j, c.stream);
    put(j, "stream_bidirectional_sampling_rate", c.bidirectional_sampling_rate_hz);
    put(j, "stream_auth_token", c.stream_auth_token);
    if (!c.custom_parameters.empty()) {
        OrderedJson params = OrderedJson::array();
        for (const auto& p : c.custom_parameters) {
            v.non_empty(p.name, "custom_parameters[].name");
            params.push_back(OrderedJson{{"name", p.name}, {"value", p.value}});
        }
        j["custom_parameters"] = std::move(params);
    }
    put_common(j, c.client_state, c.command_id);
    return finish(v, call_action_path(call_control_id, "streaming_start"), j);
}

base::Result<CommandRequest> build_streaming_stop(std::string_view call_control_id,
                                                  const StreamingStopCommand& c) {
    Validator v;
    v.common(call_control_id, c.command_id, c.client_state);
    OrderedJson j = OrderedJson::object();
    put(j, "stream_id", c.stream_id);
    put_common(j, c.client_state, c.command_id);
    return finish(v, call_action_path(call_control_id, "streaming_stop"), j);
}

base::Result<CommandRequest> build_record_start(std::string_view call_control_id,
                                                const RecordStartCommand& c) {
    Validator v;
    v.common(call_control_id, c.command_id, c.client_state);
    v.range(c.max_length_s, "max_length", 0, kMaxRecordStartLengthS);
    v.range(c.timeout_s, "timeout_secs", 0, kMaxTimeLimitS);
    OrderedJson j{{"format", to_string(c.format)}, {"channels", to_string(c.channels)}};
    put(j, "play_beep", c.play_beep);
    put(j, "max_length", c.max_length_s);
    put(j, "timeout_secs", c.timeout_s);
    put(j, "recording_track", c.recording_track);
    if (c.trim_silence) {
        j["trim"] = "trim-silence";
    }
    put(j, "custom_file_name", c.custom_file_name);
    put_common(j, c.client_state, c.command_id);
    return finish(v, call_action_path(call_control_id, "record_start"), j);
}

base::Result<CommandRequest> build_record_stop(std::string_view call_control_id,
                                               const RecordStopCommand& c) {
    Validator v;
    v.common(call_control_id, c.command_id, c.client_state);
    OrderedJson j = OrderedJson::object();
    put(j, "recording_id", c.recording_id);
    put_common(j, c.client_state, c.command_id);
    return finish(v, call_action_path(call_control_id, "record_stop"), j);
}

base::Result<CommandRequest> build_hangup(std::string_view call_control_id,
                                          const HangupCommand& c) {
    Validator v;
    v.common(call_control_id, c.command_id, c.client_state);
    OrderedJson j = OrderedJson::object();
    put_common(j, c.client_state, c.command_id);
    return finish(v, call_action_path(call_control_id, "hangup"), j);
}

base::Result<CommandRequest> build_transfer(std::string_view call_control_id,
                                            const TransferCommand& c) {
    Validator v;
    v.common(call_control_id, c.command_id, c.client_state);
    v.non_empty(c.to, "to");
    v.max_chars(c.from_display_name, "from_display_name", kMaxDisplayNameChars);
    v.range(c.timeout_s, "timeout_secs", 1, kMaxDialTimeoutS);
    v.range(c.time_limit_s, "time_limit_secs", 1, kMaxTimeLimitS);
    v.require(!(c.audio_url && c.media_name), "'audio_url' and 'media_name' are exclusive");
    if (c.target_leg_client_state) {
        v.require(decode_base64(*c.target_leg_client_state).has_value(),
                  "'target_leg_client_state' must be base64");
    }
    OrderedJson j{{"to", c.to}};
    put(j, "from", c.from);
    put(j, "from_display_name", c.from_display_name);
    put(j, "timeout_secs", c.timeout_s);
    put(j, "time_limit_secs", c.time_limit_s);
    put(j, "audio_url", c.audio_url);
    put(j, "media_name", c.media_name);
    put(j, "early_media", c.early_media);
    put(j, "target_leg_client_state", c.target_leg_client_state);
    put(j, "webhook_url", c.webhook_url);
    put_common(j, c.client_state, c.command_id);
    return finish(v, call_action_path(call_control_id, "transfer"), j);
}

base::Result<CommandRequest> build_playback_start(std::string_view call_control_id,
                                                  const PlaybackStartCommand& c) {
    Validator v;
    v.common(call_control_id, c.command_id, c.client_state);
    const int sources =
            (c.audio_url ? 1 : 0) + (c.media_name ? 1 : 0) + (c.playback_content ? 1 : 0);
    v.require(sources == 1,
              "exactly one of 'audio_url', 'media_name', 'playback_content' is required");
    if (c.playback_content) {
        v.require(decode_base64(*c.playback_content).has_value(),
                  "'playback_content' must be base64");
    }
    v.range(c.loop_count, "loop", 1, std::numeric_limits<int32_t>::max());
    OrderedJson j = OrderedJson::object();
    put(j, "audio_url", c.audio_url);
    put(j, "media_name", c.media_name);
    put(j, "playback_content", c.playback_content);
    if (c.audio_type) {
        j["audio_type"] = *c.audio_type == AudioType::Mp3 ? "mp3" : "wav";
    }
    put(j, "loop", c.loop_count);
    put(j, "overlay", c.overlay);
    if (c.stop) {
        j["stop"] = *c.stop == StopPlayback::Current ? "current" : "all";
    }
    put(j, "target_legs", c.target_legs);
    put(j, "cache_audio", c.cache_audio);
    put_common(j, c.client_state, c.command_id);
    return finish(v, call_action_path(call_control_id, "playback_start"), j);
}

base::Result<CommandRequest> build_dial(const DialCommand& c) {
    Validator v;
    v.non_empty(c.command_id, "command_id");
    if (c.client_state) {
        v.require(!c.client_state->empty() && decode_base64(*c.client_state).has_value(),
                  "'client_state' must be a non-empty base64 string");
    }
    v.non_empty(c.to, "to");
    v.non_empty(c.from, "from");
    v.non_empty(c.connection_id, "connection_id");
    v.max_chars(c.from_display_name, "from_display_name", kMaxDisplayNameChars);
    v.range(c.timeout_s, "timeout_secs", kMinDialTimeoutS, kMaxDialTimeoutS);
    v.range(c.time_limit_s, "time_limit_secs", 1, kMaxTimeLimitS);
    v.sampling_rate(c.bidirectional_sampling_rate_hz);
    v.deepfake(c.deepfake_detection);
    v.record(c.record);
    OrderedJson j{{"to", c.to}, {"from", c.from}};
    put(j, "from_display_name", c.from_display_name);
    j["connection_id"] = c.connection_id;
    put(j, "timeout_secs", c.timeout_s);
    put(j, "time_limit_secs", c.time_limit_s);
    if (c.stream) {
        v.stream(*c.stream);
        put_stream(j, *c.stream);
    }
    put(j, "stream_bidirectional_sampling_rate", c.bidirectional_sampling_rate_hz);
    put_deepfake(j, c.deepfake_detection);
    put_record_from_answer(j, c.record);
    put(j, "send_silence_when_idle", c.send_silence_when_idle);
    put(j, "webhook_url", c.webhook_url);
    put_method(j, c.webhook_url_method);
    put_common(j, c.client_state, c.command_id);
    return finish(v, "/calls", j);
}

bool ApiErrorResponse::has_code(std::string_view code) const {
    return std::any_of(errors.begin(), errors.end(),
                       [code](const ApiError& e) { return e.code == code; });
}

base::Result<ApiErrorResponse> parse_error_response(std::string_view body) {
    auto root = detail::parse_object(body, "error response");
    if (!root) {
        return root.error();
    }
    const Json* errors = detail::member(*root, "errors");
    if (errors == nullptr) {
        return fail(Errc::MissingField, "missing field 'errors'");
    }
    if (!errors->is_array()) {
        return fail(Errc::WrongType, "field 'errors' must be an array");
    }
    if (errors->empty()) {
        return fail(Errc::MissingField, "field 'errors' is empty");
    }
    ApiErrorResponse response;
    detail::FieldReader r;
    for (const Json& entry : *errors) {
        if (!entry.is_object()) {
            return fail(Errc::WrongType, "field 'errors[]' must be objects");
        }
        ApiError e;
        const Json* code = detail::member(entry, "code");
        if (code == nullptr) {
            return fail(Errc::MissingField, "missing field 'errors[].code'");
        }
        if (code->is_string()) {
            e.code = code->get<std::string>();
        } else if (code->is_number_integer() || code->is_number_unsigned()) {
            e.code = detail::dump(*code);
        } else {
            return fail(Errc::WrongType, "field 'errors[].code' must be a string or an integer");
        }
        e.title = r.optional_string(entry, "title", "errors[].title").value_or("");
        e.detail = r.optional_string(entry, "detail", "errors[].detail").value_or("");
        if (const Json* source = r.optional_object(entry, "source", "errors[].source")) {
            e.source_pointer =
                    r.optional_string(*source, "pointer", "errors[].source.pointer").value_or("");
        }
        response.errors.push_back(std::move(e));
    }
    if (!r.ok()) {
        return r.error();
    }
    return response;
}

base::Result<CommandResult> parse_command_result(std::string_view body) {
    auto root = detail::parse_object(body, "command result");
    if (!root) {
        return root.error();
    }
    detail::FieldReader r;
    const Json& data = r.object(*root, "data", "data");
    CommandResult result;
    result.result = r.string(data, "result", "data.result");
    result.recording_id = r.optional_string(data, "recording_id", "data.recording_id").value_or("");
    if (!r.ok()) {
        return r.error();
    }
    return result;
}

base::Result<DialResult> parse_dial_result(std::string_view body) {
    auto root = detail::parse_object(body, "dial result");
    if (!root) {
        return root.error();
    }
    detail::FieldReader r;
    const Json& data = r.object(*root, "data", "data");
    DialResult result;
    result.call_control_id = r.string(data, "call_control_id", "data.call_control_id");
    result.call_leg_id = r.optional_string(data, "call_leg_id", "data.call_leg_id").value_or("");
    result.call_session_id =
            r.optional_string(data, "call_session_id", "data.call_session_id").value_or("");
    if (!r.ok()) {
        return r.error();
    }
    if (result.call_control_id.empty()) {
        return fail(Errc::MissingField, "field 'data.call_control_id' is empty");
    }
    return result;
}

CommandOutcome classify_command_response(int http_status, std::string_view body) {
    if (http_status >= 200 && http_status < 300) {
        return CommandOutcome::Ok;
    }
    if (http_status == 422) {
        if (auto errors = parse_error_response(body); errors && errors->call_already_ended()) {
            return CommandOutcome::CallEnded;
        }
    }
    if (http_status == 408 || http_status == 429 || (http_status >= 500 && http_status < 600)) {
        return CommandOutcome::Retry;
    }
    return CommandOutcome::Fail;
}

std::string_view to_string(StreamTrack value) noexcept {
    switch (value) {
        case StreamTrack::InboundTrack:
            return "inbound_track";
        case StreamTrack::OutboundTrack:
            return "outbound_track";
        case StreamTrack::BothTracks:
            return "both_tracks";
    }
    return "";
}

std::string_view to_string(StreamCodec value) noexcept {
    switch (value) {
        case StreamCodec::Default:
            return "default";
        case StreamCodec::Pcmu:
            return "PCMU";
        case StreamCodec::Pcma:
            return "PCMA";
        case StreamCodec::G722:
            return "G722";
        case StreamCodec::Opus:
            return "OPUS";
        case StreamCodec::AmrWb:
            return "AMR-WB";
        case StreamCodec::L16:
            return "L16";
    }
    return "";
}

std::string_view to_string(BidirectionalMode value) noexcept {
    return value == BidirectionalMode::Mp3 ? "mp3" : "rtp";
}

std::string_view to_string(BidirectionalCodec value) noexcept {
    switch (value) {
        case BidirectionalCodec::Pcmu:
            return "PCMU";
        case BidirectionalCodec::Pcma:
            return "PCMA";
        case BidirectionalCodec::G722:
            return "G722";
        case BidirectionalCodec::Opus:
            return "OPUS";
        case BidirectionalCodec::AmrWb:
            return "AMR-WB";
        case BidirectionalCodec::L16:
            return "L16";
    }
    return "";
}

std::string_view to_string(TargetLegs value) noexcept {
    switch (value) {
        case TargetLegs::Both:
            return "both";
        case TargetLegs::Self:
            return "self";
        case TargetLegs::Opposite:
            return "opposite";
    }
    return "";
}

std::string_view to_string(RecordFormat value) noexcept {
    return value == RecordFormat::Wav ? "wav" : "mp3";
}

std::string_view to_string(RecordChannels value) noexcept {
    return value == RecordChannels::Single ? "single" : "dual";
}

std::string_view to_string(RecordTrack value) noexcept {
    switch (value) {
        case RecordTrack::Both:
            return "both";
        case RecordTrack::Inbound:
            return "inbound";
        case RecordTrack::Outbound:
            return "outbound";
    }
    return "";
}

}  // namespace dvd::protocol
