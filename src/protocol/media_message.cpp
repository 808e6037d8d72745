#include "protocol/media_message.hpp"

#include <limits>
#include <utility>

#include <fmt/format.h>

#include "protocol/base64.hpp"
#include "protocol/errc.hpp"
#include "protocol/json_util.hpp"

namespace dvd::protocol {
namespace {

using detail::Json;
using detail::OrderedJson;

// Highest sample rate / channel count we accept from a start frame; anything above is nonsense.
constexpr int64_t kMaxSampleRateHz = 384000;
constexpr int64_t kMaxChannels = 8;

base::Result<std::vector<uint8_t>> decode_payload(std::string_view text, std::string_view path,
                                                  const MediaParseLimits& limits) {
    std::vector<uint8_t> bytes;
    auto decoded = decode_base64_into(text, bytes, limits.max_payload_bytes);
    if (!decoded) {
        return fail(decoded.error().code == Errc::TooLarge ? Errc::TooLarge : Errc::BadBase64,
                    fmt::format("{}: {}", path, decoded.error().message));
    }
    return bytes;
}

base::Result<InboundMessage> finish(detail::FieldReader& r, InboundMessage message) {
    if (!r.ok()) {
        return r.error();
    }
    return message;
}

base::Result<InboundMessage> parse_connected(const Json& root) {
    constexpr std::string_view kTokenKey = "x-telnyx-streaming-auth-token";
    detail::FieldReader r;
    ConnectedMessage m;
    m.version = r.optional_string(root, "version", "version").value_or("");
    if (const Json* nested = r.optional_object(root, "connected", "connected")) {
        m.auth_token = r.optional_string(*nested, kTokenKey, "connected." + std::string(kTokenKey));
    }
    if (!m.auth_token) {
        m.auth_token = r.optional_string(root, kTokenKey, kTokenKey);
    }
    return finish(r, std::move(m));
}

void read_custom_parameters(detail::FieldReader& r, const Json& start,
                            std::vector<NameValue>& out) {
    const Json* params = r.optional_object(start, "custom_parameters", "start.custom_parameters");
    if (params == nullptr) {
        return;
    }
    for (const auto& [name, value] : params->items()) {
        if (!value.is_string()) {
            r.set_error(
                    fail(Errc::WrongType,
                         fmt::format("field 'start.custom_parameters.{}' must be a string", name)));
            return;
        }
        out.push_back(NameValue{name, value.get<std::string>()});
    }
}

void read_tags(detail::FieldReader& r, const Json& start, std::vector<std::string>& out) {
    const Json* tags = detail::member(start, "tags");
    if (tags == nullptr) {
        return;
    }
    if (!tags->is_array()) {
        r.set_error(fail(Errc::WrongType, "field 'start.tags' must be an array"));
        return;
    }
    for (const Json& tag : *tags) {
        if (!tag.is_string()) {
            r.set_error(fail(Errc::WrongType, "field 'start.tags[]' must be strings"));
            return;
        }
        out.push_back(tag.get<std::string>());
    }
}

base::Result<InboundMessage> parse_start(const Json& root) {
    detail::FieldReader r;
    StartMessage m;
    m.sequence_number = r.optional_decimal_string(root, "sequence_number", "sequence_number");
    m.stream_id = r.string(root, "stream_id", "stream_id");
    const Json& start = r.object(root, "start", "start");
    m.user_id = r.optional_string(start, "user_id", "start.user_id").value_or("");
    m.call_control_id =
            r.optional_string(start, "call_control_id", "start.call_control_id").value_or("");
    m.call_session_id =
            r.optional_string(start, "call_session_id", "start.call_session_id").value_or("");
    m.from = r.optional_string(start, "from", "start.from").value_or("");
    m.to = r.optional_string(start, "to", "start.to").value_or("");
    m.client_state = r.optional_string(start, "client_state", "start.client_state");
    read_tags(r, start, m.tags);
    read_custom_parameters(r, start, m.custom_parameters);
    const Json& format = r.object(start, "media_format", "start.media_format");
    m.media_format.encoding = r.string(format, "encoding", "start.media_format.encoding");
    m.media_format.sample_rate_hz =
            r.integer(format, "sample_rate", "start.media_format.sample_rate", 1, kMaxSampleRateHz);
    m.media_format.channels =
            r.optional_integer(format, "channels", "start.media_format.channels", 1, kMaxChannels)
                    .value_or(1);
    if (r.ok() && m.media_format.encoding.empty()) {
        r.set_error(fail(Errc::BadValue, "field 'start.media_format.encoding' is empty"));
    }
    return finish(r, std::move(m));
}

base::Result<InboundMessage> parse_media(const Json& root, const MediaParseLimits& limits) {
    detail::FieldReader r;
    MediaMessage m;
    m.sequence_number = r.decimal_string(root, "sequence_number", "sequence_number");
    m.stream_id = r.optional_string(root, "stream_id", "stream_id").value_or("");
    const Json& media = r.object(root, "media", "media");
    const auto track = r.optional_string(media, "track", "media.track");
    if (track && *track == "outbound") {
        m.track = MediaTrack::Outbound;
    } else if (track && *track != "inbound") {
        r.set_error(fail(Errc::BadValue,
                         fmt::format("field 'media.track' must be inbound or outbound, got \"{}\"",
                                     track->substr(0, 32))));
    }
    m.chunk = r.optional_decimal_string(media, "chunk", "media.chunk");
    m.timestamp = r.optional_decimal_string(media, "timestamp", "media.timestamp");
    // A view, not a copy: the base64 text can be several kilobytes at 50 frames per second.
    std::string_view payload_text;
    if (auto text = detail::required_string(media, "payload", "media.payload")) {
        payload_text = *text;
    } else {
        r.set_error(text.error());
    }
    if (!r.ok()) {
        return r.error();
    }
    auto bytes = decode_payload(payload_text, "media.payload", limits);
    if (!bytes) {
        return bytes.error();
    }
    m.payload = std::move(*bytes);
    return InboundMessage{std::move(m)};
}

base::Result<InboundMessage> parse_stop(const Json& root) {
    detail::FieldReader r;
    StopMessage m;
    m.sequence_number = r.optional_decimal_string(root, "sequence_number", "sequence_number");
    m.stream_id = r.optional_string(root, "stream_id", "stream_id").value_or("");
    if (const Json* stop = r.optional_object(root, "stop", "stop")) {
        m.user_id = r.optional_string(*stop, "user_id", "stop.user_id").value_or("");
        m.call_control_id =
                r.optional_string(*stop, "call_control_id", "stop.call_control_id").value_or("");
    }
    return finish(r, std::move(m));
}

base::Result<InboundMessage> parse_dtmf(const Json& root) {
    detail::FieldReader r;
    DtmfMessage m;
    m.sequence_number = r.optional_decimal_string(root, "sequence_number", "sequence_number");
    m.stream_id = r.optional_string(root, "stream_id", "stream_id").value_or("");
    m.occurred_at = r.optional_string(root, "occurred_at", "occurred_at").value_or("");
    m.digit = r.string(r.object(root, "dtmf", "dtmf"), "digit", "dtmf.digit");
    return finish(r, std::move(m));
}

base::Result<InboundMessage> parse_mark(const Json& root) {
    detail::FieldReader r;
    MarkMessage m;
    m.sequence_number = r.optional_decimal_string(root, "sequence_number", "sequence_number");
    m.stream_id = r.optional_string(root, "stream_id", "stream_id").value_or("");
    m.name = r.string(r.object(root, "mark", "mark"), "name", "mark.name");
    return finish(r, std::move(m));
}

base::Result<InboundMessage> parse_error(const Json& root) {
    detail::FieldReader r;
    ErrorMessage m;
    m.stream_id = r.optional_string(root, "stream_id", "stream_id").value_or("");
    const Json& payload = r.object(root, "payload", "payload");
    m.code = r.integer(payload, "code", "payload.code", 0, std::numeric_limits<int64_t>::max());
    m.title = r.optional_string(payload, "title", "payload.title").value_or("");
    m.detail = r.optional_string(payload, "detail", "payload.detail").value_or("");
    return finish(r, std::move(m));
}

struct Frame {
    Json root;
    std::string event;
};

base::Result<Frame> parse_frame(std::string_view text, const MediaParseLimits& limits) {
    if (text.size() > limits.max_message_bytes) {
        return fail(Errc::TooLarge, fmt::format("frame of {} bytes exceeds the {} byte limit",
                                                text.size(), limits.max_message_bytes));
    }
    auto root = detail::parse_object(text, "media-stream frame");
    if (!root) {
        return root.error();
    }
    auto event = detail::required_string(*root, "event", "event");
    if (!event) {
        return event.error();
    }
    std::string name(*event);
    return Frame{std::move(*root), std::move(name)};
}

base::Error unknown_event(std::string_view name) {
    return fail(Errc::UnknownEvent, fmt::format("unknown event \"{}\"", name.substr(0, 64)));
}

void put_sequence(OrderedJson& j, const std::optional<uint64_t>& seq) {
    if (seq) {
        j["sequence_number"] = std::to_string(*seq);
    }
}

void put_stream_id(OrderedJson& j, const std::string& stream_id) {
    if (!stream_id.empty()) {
        j["stream_id"] = stream_id;
    }
}

struct InboundSerializer {
    OrderedJson operator()(const ConnectedMessage& m) const {
        OrderedJson j{{"event", "connected"}, {"version", m.version}};
        if (m.auth_token) {
            j["connected"] = OrderedJson{{"x-telnyx-streaming-auth-token", *m.auth_token}};
        }
        return j;
    }

    OrderedJson operator()(const StartMessage& m) const {
        OrderedJson j{{"event", "start"}};
        put_sequence(j, m.sequence_number);
        put_stream_id(j, m.stream_id);
        OrderedJson start{{"user_id", m.user_id},
                          {"call_control_id", m.call_control_id},
                          {"call_session_id", m.call_session_id},
                          {"from", m.from},
                          {"to", m.to},
                          {"tags", m.tags}};
        if (m.client_state) {
            start["client_state"] = *m.client_state;
        }
        OrderedJson params = OrderedJson::object();
        for (const auto& p : m.custom_parameters) {
            params[p.name] = p.value;
        }
        start["custom_parameters"] = std::move(params);
        start["media_format"] = OrderedJson{{"encoding", m.media_format.encoding},
                                            {"sample_rate", m.media_format.sample_rate_hz},
                                            {"channels", m.media_format.channels}};
        j["start"] = std::move(start);
        return j;
    }

    OrderedJson operator()(const MediaMessage& m) const {
        OrderedJson j{{"event", "media"}};
        put_sequence(j, m.sequence_number);
        put_stream_id(j, m.stream_id);
        OrderedJson media{{"track", to_string(m.track)}};
        if (m.chunk) {
            media["chunk"] = std::to_string(*m.chunk);
        }
        if (m.timestamp) {
            media["timestamp"] = std::to_string(*m.timestamp);
        }
        media["payload"] = encode_base64(m.payload);
        j["media"] = std::move(media);
        return j;
    }

    OrderedJson operator()(const StopMessage& m) const {
        OrderedJson j{{"event", "stop"}};
        put_sequence(j, m.sequence_number);
        put_stream_id(j, m.stream_id);
        j["stop"] = OrderedJson{{"user_id", m.user_id}, {"call_control_id", m.call_control_id}};
        return j;
    }

    OrderedJson operator()(const DtmfMessage& m) const {
        OrderedJson j{{"event", "dtmf"}};
        put_stream_id(j, m.stream_id);
        if (!m.occurred_at.empty()) {
            j["occurred_at"] = m.occurred_at;
        }
        put_sequence(j, m.sequence_number);
        j["dtmf"] = OrderedJson{{"digit", m.digit}};
        return j;
    }

    OrderedJson operator()(const MarkMessage& m) const {
        OrderedJson j{{"event", "mark"}};
        put_stream_id(j, m.stream_id);
        put_sequence(j, m.sequence_number);
        j["mark"] = OrderedJson{{"name", m.name}};
        return j;
    }

    OrderedJson operator()(const ErrorMessage& m) const {
        OrderedJson j{{"event", "error"}};
        j["payload"] = OrderedJson{{"code", m.code}, {"title", m.title}, {"detail", m.detail}};
        put_stream_id(j, m.stream_id);
        return j;
    }
};

base::Result<InboundMessage> parse_inbound_object(const Json& root, std::string_view event,
                                                  const MediaParseLimits& limits) {
    // Most frequent first: media arrives every 20 ms.
    if (event == "media") {
        return parse_media(root, limits);
    }
    if (event == "start") {
        return parse_start(root);
    }
    if (event == "connected") {
        return parse_connected(root);
    }
    if (event == "stop") {
        return parse_stop(root);
    }
    if (event == "dtmf") {
        return parse_dtmf(root);
    }
    if (event == "mark") {
        return parse_mark(root);
    }
    if (event == "error") {
        return parse_error(root);
    }
    return unknown_event(event);
}

}  // namespace

base::Result<InboundMessage> parse_inbound_message(std::string_view text,
                                                   const MediaParseLimits& limits) {
    auto frame = parse_frame(text, limits);
    if (!frame) {
        return frame.error();
    }
    return parse_inbound_object(frame->root, frame->event, limits);
}

base::Result<std::vector<InboundMessage>> parse_inbound_batch(std::string_view body,
                                                              const MediaParseLimits& limits,
                                                              std::size_t max_messages) {
    Json root = Json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (root.is_discarded()) {
        return fail(Errc::MalformedJson, "media batch is not valid JSON");
    }
    std::vector<InboundMessage> messages;
    if (root.is_object()) {
        root = Json::array({std::move(root)});
    }
    if (!root.is_array()) {
        return fail(Errc::MalformedJson, "media batch must be a JSON object or array");
    }
    if (root.size() > max_messages) {
        return fail(Errc::TooLarge,
                    fmt::format("media batch of {} messages exceeds the limit of {}", root.size(),
                                max_messages));
    }
    messages.reserve(root.size());
    for (std::size_t i = 0; i < root.size(); ++i) {
        const Json& item = root[i];
        auto event = item.is_object() ? detail::required_string(item, "event", "event")
                                      : base::Result<std::string_view>(
                                              fail(Errc::MalformedJson, "not a JSON object"));
        auto message = event ? parse_inbound_object(item, *event, limits)
                             : base::Result<InboundMessage>(event.error());
        if (!message) {
            return base::Error{message.error().code,
                               fmt::format("message [{}]: {}", i, message.error().message)};
        }
        messages.push_back(std::move(*message));
    }
    return messages;
}

std::string serialize_inbound_message(const InboundMessage& message) {
    return detail::dump(std::visit(InboundSerializer{}, message));
}

std::string serialize_outbound_media(std::span<const uint8_t> payload) {
    return detail::dump(OrderedJson{{"event", "media"},
                                    {"media", OrderedJson{{"payload", encode_base64(payload)}}}});
}

std::string serialize_mark(std::string_view name) {
    return detail::dump(
            OrderedJson{{"event", "mark"}, {"mark", OrderedJson{{"name", std::string(name)}}}});
}

std::string serialize_clear() {
    return R"({"event":"clear"})";
}

base::Result<OutboundMessage> parse_outbound_message(std::string_view text,
                                                     const MediaParseLimits& limits) {
    auto frame = parse_frame(text, limits);
    if (!frame) {
        return frame.error();
    }
    const Json& root = frame->root;
    const std::string& event = frame->event;
    detail::FieldReader r;
    if (event == "media") {
        const std::string text_payload =
                r.string(r.object(root, "media", "media"), "payload", "media.payload");
        if (!r.ok()) {
            return r.error();
        }
        auto payload = decode_payload(text_payload, "media.payload", limits);
        if (!payload) {
            return payload.error();
        }
        return OutboundMessage{OutboundMedia{std::move(*payload)}};
    }
    if (event == "mark") {
        std::string name = r.string(r.object(root, "mark", "mark"), "name", "mark.name");
        if (!r.ok()) {
            return r.error();
        }
        return OutboundMessage{OutboundMark{std::move(name)}};
    }
    if (event == "clear") {
        return OutboundMessage{OutboundClear{}};
    }
    return unknown_event(event);
}

std::string_view to_string(MediaTrack track) noexcept {
    return track == MediaTrack::Inbound ? "inbound" : "outbound";
}

}  // namespace dvd::protocol
