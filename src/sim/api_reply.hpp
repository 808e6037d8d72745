#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace dvd::sim {

/// One entry of a Telnyx `errors` array (telnyx-protocol.md section 2.2). `code` is a string of
/// digits, as in the current spec.
struct TelnyxError {
    std::string code;
    std::string title;
    std::string detail;
    std::string pointer{};   ///< `source.pointer` (JSON pointer into the body), "" for none
    std::string meta_url{};  ///< `meta.url`, "" for none

    bool operator==(const TelnyxError&) const = default;
};

/// What the simulated Call Control API answers: an HTTP status and a JSON body.
struct ApiReply {
    int status = 200;
    std::string body;
};

/// `{"errors":[...]}` as Telnyx renders it.
[[nodiscard]] std::string render_errors(const std::vector<TelnyxError>& errors);

[[nodiscard]] ApiReply error_reply(int status, const std::vector<TelnyxError>& errors);

/// The first `errors[].code` of a refusal (status >= 400), "" otherwise.
[[nodiscard]] std::string first_error_code(const ApiReply& reply);

/// `{"data":{"result":"ok"}}`, plus `recording_id` when not empty (answer with
/// record-from-answer).
[[nodiscard]] ApiReply ok_reply(std::string_view recording_id = {});

/// The documented errors the simulator gives (section 2.2 codes; the API error catalogue for
/// 10003/10005/10015/10016).
namespace errors {
/// 401 10009 "Authentication failed".
[[nodiscard]] TelnyxError authentication_failed();
/// 404 10005 "Resource not found": no call with that call_control_id.
[[nodiscard]] TelnyxError call_not_found(std::string_view call_control_id);
/// 422 90018 "Call has already ended".
[[nodiscard]] TelnyxError call_ended();
/// 422 90034 "Call not answered yet".
[[nodiscard]] TelnyxError call_not_answered();
/// 422 90045 "Media Streaming is used": a second streaming_start while a stream runs.
[[nodiscard]] TelnyxError streaming_in_use();
/// 404 10005 for an action path the API does not have.
[[nodiscard]] TelnyxError unknown_action(std::string_view action);
/// 400 10015 "Bad Request": the body is not a JSON object.
[[nodiscard]] TelnyxError malformed_body(std::string_view why);
}  // namespace errors

}  // namespace dvd::sim
