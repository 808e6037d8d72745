#include "sim/command_validation.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "protocol/base64.hpp"

namespace dvd::sim {
namespace {

using Json = nlohmann::json;

enum class Kind {
    String,
    Enum,  ///< a string from `values`
    Bool,
    Integer,     ///< within [min, max]
    IntegerIn,   ///< one of `numbers`
    Base64,      ///< padded standard base64 (client_state, playback_content)
    WsUrl,       ///< ws:// or wss://
    HttpUrl,     ///< http:// or https://
    Phone,       ///< +E.164 or a sip: URI
    Object,      ///< any object (documented, not checked further)
    NameValues,  ///< array of {"name": string, "value": string}
    Loop,        ///< integer >= 1 or the string "infinity"
    Deepfake,    ///< {"enabled": bool (required), "rtp_timeout": int, "timeout": int}
};

struct FieldSpec {
    std::string_view name;
    Kind kind = Kind::String;
    bool required = false;
    std::vector<std::string_view> values{};
    int64_t min = std::numeric_limits<int64_t>::min();
    int64_t max = std::numeric_limits<int64_t>::max();
    std::size_t max_chars = 0;  ///< 0: no limit
    std::vector<int64_t> numbers{};
};

constexpr std::size_t kMaxUrlChars = 2000;  // API error catalogue, code 10003
constexpr int64_t kMaxTimeLimitS = 14400;

FieldSpec field(std::string_view name, Kind kind) {
    return FieldSpec{name, kind};
}

FieldSpec required(std::string_view name, Kind kind) {
    return FieldSpec{name, kind, true};
}

FieldSpec one_of(std::string_view name, std::initializer_list<std::string_view> values,
                 bool is_required = false) {
    FieldSpec f{name, Kind::Enum, is_required};
    f.values = values;
    return f;
}

FieldSpec integer(std::string_view name, int64_t min, int64_t max) {
    FieldSpec f{name, Kind::Integer};
    f.min = min;
    f.max = max;
    return f;
}

FieldSpec text(std::string_view name, std::size_t max_chars, bool is_required = false) {
    FieldSpec f{name, Kind::String, is_required};
    f.max_chars = max_chars;
    return f;
}

using Specs = std::vector<FieldSpec>;

void append(Specs& to, const Specs& from) {
    to.insert(to.end(), from.begin(), from.end());
}

Specs common_fields() {
    return {field("client_state", Kind::Base64), field("command_id", Kind::String)};
}

Specs stream_fields() {
    return {field("stream_url", Kind::WsUrl),
            one_of("stream_track", {"inbound_track", "outbound_track", "both_tracks"}),
            one_of("stream_codec", {"PCMU", "PCMA", "G722", "OPUS", "AMR-WB", "L16", "default"}),
            one_of("stream_bidirectional_mode", {"mp3", "rtp"}),
            one_of("stream_bidirectional_codec", {"PCMU", "PCMA", "G722", "OPUS", "AMR-WB", "L16"}),
            one_of("stream_bidirectional_target_legs", {"both", "self", "opposite"})};
}

FieldSpec sampling_rate_field() {
    FieldSpec f{"stream_bidirectional_sampling_rate", Kind::IntegerIn};
    f.numbers = {8000, 16000, 22050, 24000, 48000};
    return f;
}

Specs record_from_answer_fields() {
    return {one_of("record", {"record-from-answer"}),
            one_of("record_channels", {"single", "dual"}),
            one_of("record_format", {"wav", "mp3"}),
            integer("record_max_length", 0, 43200),
            integer("record_timeout_secs", 0, std::numeric_limits<int64_t>::max()),
            one_of("record_track", {"both", "inbound", "outbound"}),
            one_of("record_trim", {"trim-silence"}),
            field("record_custom_file_name", Kind::String)};
}

Specs webhook_fields() {
    return {text("webhook_url", kMaxUrlChars), one_of("webhook_url_method", {"POST", "GET"}),
            field("webhook_urls", Kind::Object), one_of("webhook_urls_method", {"POST", "GET"}),
            field("webhook_retries_policies", Kind::Object)};
}

Specs answer_fields() {
    Specs s = {field("billing_group_id", Kind::String),
               field("custom_headers", Kind::NameValues),
               field("preferred_codecs", Kind::String),
               field("sip_headers", Kind::NameValues),
               field("sound_modifications", Kind::Object),
               field("send_silence_when_idle", Kind::Bool),
               field("transcription", Kind::Bool),
               field("transcription_config", Kind::Object),
               field("deepfake_detection", Kind::Deepfake),
               field("assistant", Kind::Object),
               field("conversation_relay_config", Kind::Object)};
    append(s, stream_fields());
    append(s, record_from_answer_fields());
    append(s, webhook_fields());
    append(s, common_fields());
    return s;
}

Specs speak_fields() {
    Specs s = {text("payload", 3000, true),
               required("voice", Kind::String),
               field("language", Kind::String),
               one_of("payload_type", {"text", "ssml"}),
               one_of("service_level", {"basic", "premium"}),
               one_of("stop", {"current", "all"}),
               one_of("target_legs", {"self", "opposite", "both"}),
               field("loop", Kind::Loop),
               field("voice_settings", Kind::Object)};
    append(s, common_fields());
    return s;
}

Specs streaming_start_fields() {
    Specs s = stream_fields();
    s.push_back(sampling_rate_field());
    s.push_back(text("stream_auth_token", 4000));
    s.push_back(field("custom_parameters", Kind::NameValues));
    s.push_back(field("enable_dialogflow", Kind::Bool));
    s.push_back(field("dialogflow_config", Kind::Object));
    append(s, common_fields());
    return s;
}

Specs streaming_stop_fields() {
    Specs s = {field("stream_id", Kind::String)};
    append(s, common_fields());
    return s;
}

Specs record_start_fields() {
    Specs s = {one_of("format", {"wav", "mp3"}, true),
               one_of("channels", {"single", "dual"}, true),
               field("play_beep", Kind::Bool),
               integer("max_length", 0, 14400),
               integer("timeout_secs", 0, std::numeric_limits<int64_t>::max()),
               one_of("recording_track", {"both", "inbound", "outbound"}),
               one_of("trim", {"trim-silence"}),
               field("custom_file_name", Kind::String),
               field("transcription", Kind::Bool),
               field("transcription_engine", Kind::String),
               field("transcription_language", Kind::String)};
    append(s, common_fields());
    return s;
}

Specs record_stop_fields() {
    Specs s = {field("recording_id", Kind::String)};
    append(s, common_fields());
    return s;
}

Specs hangup_fields() {
    Specs s = {field("custom_headers", Kind::NameValues)};
    append(s, common_fields());
    return s;
}

Specs transfer_fields() {
    Specs s = {required("to", Kind::Phone),
               field("from", Kind::Phone),
               text("from_display_name", 128),
               integer("timeout_secs", 1, 600),
               integer("time_limit_secs", 1, kMaxTimeLimitS),
               field("audio_url", Kind::HttpUrl),
               field("media_name", Kind::String),
               field("early_media", Kind::Bool),
               one_of("answering_machine_detection", {"premium", "detect", "detect_beep",
                                                      "detect_words", "greeting_end", "disabled"}),
               field("answering_machine_detection_config", Kind::Object),
               field("target_leg_client_state", Kind::Base64),
               field("park_after_unbridge", Kind::String),
               one_of("mute_dtmf", {"none", "both", "self", "opposite"}),
               field("custom_headers", Kind::NameValues),
               field("sip_headers", Kind::NameValues),
               field("sip_auth_username", Kind::String),
               field("sip_auth_password", Kind::String),
               one_of("sip_transport_protocol", {"UDP", "TCP", "TLS"})};
    append(s, record_from_answer_fields());
    append(s, webhook_fields());
    append(s, common_fields());
    return s;
}

Specs playback_start_fields() {
    Specs s = {field("audio_url", Kind::HttpUrl),
               field("media_name", Kind::String),
               field("playback_content", Kind::Base64),
               one_of("audio_type", {"mp3", "wav"}),
               field("loop", Kind::Loop),
               field("overlay", Kind::Bool),
               one_of("stop", {"current", "all"}),
               one_of("target_legs", {"self", "opposite", "both"}),
               field("cache_audio", Kind::Bool)};
    append(s, common_fields());
    return s;
}

Specs dial_fields() {
    Specs s = {required("to", Kind::Phone),
               required("from", Kind::Phone),
               required("connection_id", Kind::String),
               text("from_display_name", 128),
               integer("timeout_secs", 5, 600),
               integer("time_limit_secs", 1, kMaxTimeLimitS),
               sampling_rate_field(),
               text("stream_auth_token", 4000),
               field("custom_parameters", Kind::NameValues),
               field("deepfake_detection", Kind::Deepfake),
               field("send_silence_when_idle", Kind::Bool),
               field("custom_headers", Kind::NameValues),
               field("sip_headers", Kind::NameValues),
               one_of("answering_machine_detection", {"premium", "detect", "detect_beep",
                                                      "detect_words", "greeting_end", "disabled"}),
               field("answering_machine_detection_config", Kind::Object),
               field("audio_url", Kind::HttpUrl),
               field("media_name", Kind::String),
               field("billing_group_id", Kind::String),
               field("preferred_codecs", Kind::String),
               field("transcription", Kind::Bool),
               field("transcription_config", Kind::Object)};
    append(s, stream_fields());
    append(s, record_from_answer_fields());
    append(s, webhook_fields());
    append(s, common_fields());
    return s;
}

const Specs& specs_for(Action action) {
    static const std::array<Specs, 10> kSpecs = {answer_fields(),          speak_fields(),
                                                 streaming_start_fields(), streaming_stop_fields(),
                                                 record_start_fields(),    record_stop_fields(),
                                                 hangup_fields(),          transfer_fields(),
                                                 playback_start_fields(),  dial_fields()};
    return kSpecs[static_cast<std::size_t>(action)];
}

std::size_t char_count(std::string_view text) noexcept {
    return static_cast<std::size_t>(std::count_if(text.begin(), text.end(), [](char c) {
        return (static_cast<unsigned char>(c) & 0xC0U) != 0x80U;
    }));
}

bool is_e164(std::string_view s) noexcept {
    // "+" then 7..15 digits, the first not 0 (ITU-T E.164 numbers are at most 15 digits).
    if (s.size() < 8 || s.size() > 16 || s[0] != '+' || s[1] < '1' || s[1] > '9') {
        return false;
    }
    return std::all_of(s.begin() + 1, s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool is_sip_uri(std::string_view s) noexcept {
    return (s.starts_with("sip:") || s.starts_with("sips:"))
           && s.find('@') != std::string_view::npos
           && s.find_first_of(" \t\r\n") == std::string_view::npos;
}

bool has_url_scheme(std::string_view s, std::initializer_list<std::string_view> schemes) {
    for (const std::string_view scheme : schemes) {
        if (s.starts_with(scheme) && s.size() > scheme.size()) {
            const std::string_view rest = s.substr(scheme.size());
            return rest.front() != '/' && rest.find_first_of(" \t\r\n") == std::string_view::npos;
        }
    }
    return false;
}

std::string_view json_type_name(Kind kind) noexcept {
    switch (kind) {
        case Kind::Bool:
            return "a boolean";
        case Kind::Integer:
        case Kind::IntegerIn:
            return "an integer";
        case Kind::Object:
        case Kind::Deepfake:
            return "an object";
        case Kind::NameValues:
            return "an array of {name, value} objects";
        case Kind::Loop:
            return "an integer or \"infinity\"";
        default:
            return "a string";
    }
}

std::optional<int64_t> as_integer(const Json& v) {
    if (v.is_number_integer()) {
        return v.get<int64_t>();
    }
    if (v.is_number_unsigned()) {
        const auto u = v.get<uint64_t>();
        if (u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
            return static_cast<int64_t>(u);
        }
    }
    return std::nullopt;
}

class Checker {
public:
    void missing(std::string_view pointer_name) {
        add("10004", "Missing required parameter",
            fmt::format("The '{}' parameter is required.", pointer_name), pointer_name);
    }

    void wrong_type(std::string_view name, std::string_view expected) {
        add("10015", "Bad Request", fmt::format("The '{}' parameter must be {}.", name, expected),
            name);
    }

    void bad_enum(const FieldSpec& spec, std::string_view name) {
        std::string allowed;
        for (const std::string_view v : spec.values) {
            allowed += allowed.empty() ? "" : ", ";
            allowed += v;
        }
        add("10032", "Invalid enumerated value",
            fmt::format("The '{}' parameter must be one of: {}.", name, allowed), name);
    }

    void out_of_range(std::string_view name, std::string_view why) {
        add("10033", "Value outside of range", fmt::format("The '{}' parameter {}.", name, why),
            name);
    }

    void bad_url(std::string_view name, std::string_view schemes) {
        add("10003", "Invalid URL",
            fmt::format("The '{}' parameter must be a {} URL of at most {} characters.", name,
                        schemes, kMaxUrlChars),
            name);
    }

    void bad_phone(std::string_view name) {
        add("10016", "Phone number must be in +E.164 format",
            fmt::format("The '{}' parameter must be a +E.164 number or a sip: URI.", name), name);
    }

    void bad_base64(std::string_view name) {
        add("10015", "Bad Request",
            fmt::format("The '{}' parameter must be a valid Base-64 encoded string.", name), name);
    }

    void check(const FieldSpec& spec, const Json& value, const std::string& name);

    std::vector<TelnyxError> errors;

private:
    // `name` is a JSON pointer path without the leading '/', e.g. "deepfake_detection/enabled".
    void add(std::string code, std::string title, std::string detail, std::string_view name) {
        errors.push_back(TelnyxError{std::move(code), std::move(title), std::move(detail),
                                     "/" + std::string(name)});
    }

    void check_name_values(const Json& value, const std::string& name);
    void check_deepfake(const Json& value, const std::string& name);
};

void Checker::check(const FieldSpec& spec, const Json& value, const std::string& name) {
    switch (spec.kind) {
        case Kind::String:
        case Kind::Enum:
        case Kind::Base64:
        case Kind::WsUrl:
        case Kind::HttpUrl:
        case Kind::Phone: {
            if (!value.is_string()) {
                wrong_type(name, json_type_name(spec.kind));
                return;
            }
            const auto& s = value.get_ref<const std::string&>();
            if (spec.required && s.empty()) {
                missing(name);
                return;
            }
            if (spec.max_chars > 0 && char_count(s) > spec.max_chars) {
                out_of_range(name, fmt::format("is longer than {} characters", spec.max_chars));
            }
            if (spec.kind == Kind::Enum
                && std::find(spec.values.begin(), spec.values.end(), s) == spec.values.end()) {
                bad_enum(spec, name);
            } else if (spec.kind == Kind::Base64
                       && (s.empty() || !protocol::decode_base64(s).has_value())) {
                bad_base64(name);
            } else if (spec.kind == Kind::WsUrl
                       && (s.size() > kMaxUrlChars || !has_url_scheme(s, {"ws://", "wss://"}))) {
                bad_url(name, "ws:// or wss://");
            } else if (spec.kind == Kind::HttpUrl
                       && (s.size() > kMaxUrlChars
                           || !has_url_scheme(s, {"http://", "https://"}))) {
                bad_url(name, "http:// or https://");
            } else if (spec.kind == Kind::Phone && !is_e164(s) && !is_sip_uri(s)) {
                bad_phone(name);
            }
            return;
        }
        case Kind::Bool:
            if (!value.is_boolean()) {
                wrong_type(name, json_type_name(spec.kind));
            }
            return;
        case Kind::Integer:
        case Kind::IntegerIn: {
            const auto n = as_integer(value);
            if (!n) {
                wrong_type(name, json_type_name(spec.kind));
            } else if (spec.kind == Kind::Integer && (*n < spec.min || *n > spec.max)) {
                out_of_range(name,
                             spec.max == std::numeric_limits<int64_t>::max()
                                     ? fmt::format("must be at least {}", spec.min)
                                     : fmt::format("must be in [{}, {}]", spec.min, spec.max));
            } else if (spec.kind == Kind::IntegerIn
                       && std::find(spec.numbers.begin(), spec.numbers.end(), *n)
                                  == spec.numbers.end()) {
                out_of_range(name, fmt::format("must be one of {}", fmt::join(spec.numbers, ", ")));
            }
            return;
        }
        case Kind::Loop: {
            if (value.is_string()) {
                if (value.get_ref<const std::string&>() != "infinity") {
                    out_of_range(name, "must be an integer >= 1 or \"infinity\"");
                }
            } else if (const auto n = as_integer(value); !n) {
                wrong_type(name, json_type_name(spec.kind));
            } else if (*n < 1) {
                out_of_range(name, "must be at least 1");
            }
            return;
        }
        case Kind::Object:
            if (!value.is_object()) {
                wrong_type(name, json_type_name(spec.kind));
            }
            return;
        case Kind::NameValues:
            check_name_values(value, name);
            return;
        case Kind::Deepfake:
            check_deepfake(value, name);
            return;
    }
}

void Checker::check_name_values(const Json& value, const std::string& name) {
    if (!value.is_array()) {
        wrong_type(name, json_type_name(Kind::NameValues));
        return;
    }
    for (std::size_t i = 0; i < value.size(); ++i) {
        const Json& item = value[i];
        const std::string at = fmt::format("{}/{}", name, i);
        if (!item.is_object()) {
            wrong_type(at, "an object");
            continue;
        }
        for (const std::string_view key : {"name", "value"}) {
            const std::string path = fmt::format("{}/{}", at, key);
            const auto it = item.find(std::string(key));
            if (it == item.end() || it->is_null()) {
                missing(path);
            } else if (!it->is_string()) {
                wrong_type(path, "a string");
            } else if (key == "name" && it->get_ref<const std::string&>().empty()) {
                missing(path);
            }
        }
    }
}

void Checker::check_deepfake(const Json& value, const std::string& name) {
    if (!value.is_object()) {
        wrong_type(name, json_type_name(Kind::Deepfake));
        return;
    }
    const auto enabled = value.find("enabled");
    if (enabled == value.end() || enabled->is_null()) {
        missing(name + "/enabled");
    } else if (!enabled->is_boolean()) {
        wrong_type(name + "/enabled", "a boolean");
    }
    for (const std::string_view key : {"rtp_timeout", "timeout"}) {
        const auto it = value.find(std::string(key));
        if (it != value.end() && !it->is_null()) {
            const auto n = as_integer(*it);
            const std::string path = fmt::format("{}/{}", name, key);
            if (!n) {
                wrong_type(path, "an integer");
            } else if (*n < 1 || *n > kMaxTimeLimitS) {
                out_of_range(path, fmt::format("must be in [1, {}]", kMaxTimeLimitS));
            }
        }
    }
}

std::optional<std::string> string_at(const Json& root, std::string_view key) {
    const auto it = root.find(std::string(key));
    if (it == root.end() || !it->is_string()) {
        return std::nullopt;
    }
    return it->get<std::string>();
}

std::vector<protocol::NameValue> name_values_at(const Json& root, std::string_view key) {
    std::vector<protocol::NameValue> out;
    const auto it = root.find(std::string(key));
    if (it != root.end() && it->is_array()) {
        for (const Json& item : *it) {
            out.push_back(protocol::NameValue{item.at("name").get<std::string>(),
                                              item.at("value").get<std::string>()});
        }
    }
    return out;
}

// Fills the command from a body that passed validation (types are known to be right).
ValidatedCommand extract(Action action, const Json& root) {
    ValidatedCommand c;
    c.action = action;
    c.command_id = string_at(root, "command_id").value_or("");
    c.client_state = string_at(root, "client_state");
    if (const auto url = string_at(root, "stream_url")) {
        StreamRequest s;
        s.url = *url;
        s.track = string_at(root, "stream_track").value_or("inbound_track");
        s.codec = string_at(root, "stream_codec").value_or("default");
        s.auth_token = string_at(root, "stream_auth_token");
        s.custom_parameters = name_values_at(root, "custom_parameters");
        c.stream = std::move(s);
    }
    if (action == Action::RecordStart) {
        c.record = RecordRequest{string_at(root, "format").value_or("wav"),
                                 string_at(root, "channels").value_or("single")};
    } else if (string_at(root, "record") == "record-from-answer") {
        c.record = RecordRequest{string_at(root, "record_format").value_or("mp3"),
                                 string_at(root, "record_channels").value_or("dual")};
    }
    c.webhook_url = string_at(root, "webhook_url");
    c.speak_payload = string_at(root, "payload").value_or("");
    c.voice = string_at(root, "voice").value_or("");
    c.to = string_at(root, "to").value_or("");
    c.from = string_at(root, "from").value_or("");
    c.connection_id = string_at(root, "connection_id").value_or("");
    c.stream_id = string_at(root, "stream_id");
    c.recording_id = string_at(root, "recording_id");
    if (action == Action::PlaybackStart) {
        c.playback_source = string_at(root, "audio_url")
                                    .value_or(string_at(root, "media_name").value_or("content"));
    }
    if (const auto it = root.find("deepfake_detection"); it != root.end() && it->is_object()) {
        c.deepfake_detection = it->value("enabled", false);
    }
    return c;
}

}  // namespace

std::optional<Action> parse_action(std::string_view action) noexcept {
    for (int i = 0; i <= static_cast<int>(Action::PlaybackStart); ++i) {
        const auto a = static_cast<Action>(i);
        if (to_string(a) == action) {
            return a;
        }
    }
    return std::nullopt;
}

std::string_view to_string(Action action) noexcept {
    switch (action) {
        case Action::Answer:
            return "answer";
        case Action::Speak:
            return "speak";
        case Action::StreamingStart:
            return "streaming_start";
        case Action::StreamingStop:
            return "streaming_stop";
        case Action::RecordStart:
            return "record_start";
        case Action::RecordStop:
            return "record_stop";
        case Action::Hangup:
            return "hangup";
        case Action::Transfer:
            return "transfer";
        case Action::PlaybackStart:
            return "playback_start";
        case Action::Dial:
            return "dial";
    }
    return "";
}

Validation validate_command(Action action, std::string_view body) {
    Validation out;
    const bool blank = body.find_first_not_of(" \t\r\n") == std::string_view::npos;
    Json root = blank ? Json::object() : Json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (root.is_discarded() || !root.is_object()) {
        out.status = 400;
        out.errors.push_back(errors::malformed_body(root.is_discarded()
                                                            ? "the body is not valid JSON"
                                                            : "the body must be a JSON object"));
        return out;
    }
    const Specs& specs = specs_for(action);
    Checker checker;
    for (const FieldSpec& spec : specs) {
        const auto it = root.find(std::string(spec.name));
        if (it == root.end() || it->is_null()) {
            if (spec.required) {
                checker.missing(spec.name);
            }
            continue;
        }
        checker.check(spec, *it, std::string(spec.name));
    }
    if (action == Action::StreamingStart && root.find("stream_url") == root.end()) {
        // Telnyx could fall back to a URL configured on the application; the simulator has none.
        checker.missing("stream_url");
    }
    if (action == Action::PlaybackStart) {
        int sources = 0;
        for (const char* key : {"audio_url", "media_name", "playback_content"}) {
            sources += root.contains(key) && !root[key].is_null() ? 1 : 0;
        }
        if (sources == 0) {
            checker.missing("audio_url");
        } else if (sources > 1) {
            checker.wrong_type("audio_url",
                               "the only source: give one of audio_url, media_name and "
                               "playback_content");
        }
    }
    if (!checker.errors.empty()) {
        out.status = 422;
        out.errors = std::move(checker.errors);
        return out;
    }
    ValidatedCommand command = extract(action, root);
    for (const auto& item : root.items()) {
        const bool known = std::any_of(specs.begin(), specs.end(),
                                       [&](const FieldSpec& s) { return s.name == item.key(); });
        if (!known) {
            command.ignored_fields.push_back(item.key());
        }
    }
    out.command = std::move(command);
    return out;
}

}  // namespace dvd::sim
