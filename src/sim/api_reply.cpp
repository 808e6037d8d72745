#include "sim/api_reply.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace dvd::sim {
namespace {

using OrderedJson = nlohmann::ordered_json;

std::string dump(const OrderedJson& j) {
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

std::string render_errors(const std::vector<TelnyxError>& errors) {
    OrderedJson list = OrderedJson::array();
    for (const TelnyxError& e : errors) {
        OrderedJson entry{{"code", e.code}, {"title", e.title}, {"detail", e.detail}};
        if (!e.pointer.empty()) {
            entry["source"] = OrderedJson{{"pointer", e.pointer}};
        }
        if (!e.meta_url.empty()) {
            entry["meta"] = OrderedJson{{"url", e.meta_url}};
        }
        list.push_back(std::move(entry));
    }
    return dump(OrderedJson{{"errors", std::move(list)}});
}

ApiReply error_reply(int status, const std::vector<TelnyxError>& errors) {
    return ApiReply{status, render_errors(errors)};
}

std::string first_error_code(const ApiReply& reply) {
    if (reply.status < 400) {
        return "";
    }
    const auto root = nlohmann::json::parse(reply.body, nullptr, /*allow_exceptions=*/false);
    if (!root.is_object() || !root.contains("errors") || !root["errors"].is_array()
        || root["errors"].empty() || !root["errors"][0].is_object()) {
        return "";
    }
    const auto& code = root["errors"][0].value("code", nlohmann::json());
    return code.is_string() ? code.get<std::string>() : std::string();
}

ApiReply ok_reply(std::string_view recording_id) {
    OrderedJson data{{"result", "ok"}};
    if (!recording_id.empty()) {
        data["recording_id"] = std::string(recording_id);
    }
    return ApiReply{200, dump(OrderedJson{{"data", std::move(data)}})};
}

namespace errors {

TelnyxError authentication_failed() {
    return {"10009", "Authentication failed",
            "The required authentication headers were either invalid or not included in the "
            "request.",
            "", "https://developers.telnyx.com/docs/overview/errors/10009"};
}

TelnyxError call_not_found(std::string_view call_control_id) {
    return {"10005", "Resource not found",
            fmt::format("No call with call_control_id '{}'.", call_control_id), "/call_control_id"};
}

TelnyxError call_ended() {
    return {"90018", "Call has already ended",
            "This call is no longer active and can't receive commands."};
}

TelnyxError call_not_answered() {
    return {"90034", "Call not answered yet", "This call must be answered before this command."};
}

TelnyxError streaming_in_use() {
    return {"90045", "Media Streaming is used", "A media stream is already active on this call."};
}

TelnyxError unknown_action(std::string_view action) {
    return {"10005", "Resource not found", fmt::format("Unknown call action '{}'.", action)};
}

TelnyxError malformed_body(std::string_view why) {
    return {"10015", "Bad Request",
            fmt::format("The request failed because it was not well-formed: {}", why), "/"};
}

}  // namespace errors

}  // namespace dvd::sim
