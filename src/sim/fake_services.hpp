#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "net/http_types.hpp"

namespace dvd::sim {

/// The fake third-party endpoints the simulator plays besides Telnyx's Call Control API.
enum class FakeTarget {
    Slack,      ///< a Slack incoming webhook (telnyx-protocol.md section 7)
    Json,       ///< a generic JSON webhook (SIEM/SOAR)
    Inference,  ///< an OpenAI-compatible chat completions endpoint (section 6)
};

/// "slack", "json", "inference".
[[nodiscard]] std::string_view to_string(FakeTarget target) noexcept;
[[nodiscard]] std::optional<FakeTarget> parse_fake_target(std::string_view name) noexcept;

/// One scripted reply. A script is a queue per target: each request takes the next reply; when
/// the queue is empty the default answer is used (Slack `200 ok`, JSON `200`, inference: a valid
/// analysis derived from the evidence, see `default_completion`).
struct FakeReply {
    int status = 200;
    /// The raw body. For the inference target with `content` set, ignored.
    std::string body{};
    /// Inference only: the assistant's content, wrapped in a chat completion (status 200 unless
    /// set otherwise). Garbage, schema violations, fences: anything.
    std::optional<std::string> content{};
    /// Inference only: `finish_reason` of the completion ("length" = cut off).
    std::string finish_reason = "stop";
    std::optional<int> retry_after_s{};  ///< sent as `Retry-After: <s>`
    /// Answer this late (without holding the simulator's network worker): for timeouts.
    std::chrono::milliseconds delay{0};
};

/// A request one fake endpoint received.
struct FakeRequest {
    FakeTarget target = FakeTarget::Slack;
    std::string path{};
    std::string body{};
    bool authorized = false;       ///< an `Authorization: Bearer ...` header was present
    int status = 0;                ///< what was answered
    std::int64_t received_at_ms = 0;  ///< wall clock, ms since the Unix epoch
};

/// The fake Slack incoming webhook, generic JSON webhook and chat-completions endpoint: records
/// every request and answers from a per-target script or with the documented default.
///   * Slack: a body that is not a JSON object is `400 invalid_payload`, one without `text` or
///     `blocks` `400 no_text` (Slack's answers, telnyx-protocol.md 7.2); else `200 ok`
///     (text/plain).
///   * JSON webhook: `200 {"status":"received"}`.
///   * Inference: a body that is not a chat-completions request (JSON object with `messages`) is
///     FastAPI's 422 `{"detail":[...]}`; else a chat completion whose content is
///     `default_completion` of the evidence.
/// Thread-safe (one mutex); never blocks.
class FakeServices {
public:
    /// Appends replies to the target's script.
    void script(FakeTarget target, std::vector<FakeReply> replies);

    /// Forgets every script and recorded request.
    void reset();

    [[nodiscard]] std::vector<FakeRequest> requests(FakeTarget target) const;

    /// Records the request and chooses its reply (`authorized` is set by the caller).
    [[nodiscard]] FakeReply handle(FakeTarget target, const net::Request& request,
                                   bool authorized, std::int64_t now_ms);

    /// The HTTP response of a reply for `target` (content type, Retry-After, completion body).
    [[nodiscard]] static net::Response to_response(FakeTarget target, const FakeReply& reply);

    /// A chat completion (OpenAI shape) whose first choice says `content`.
    [[nodiscard]] static std::string completion(std::string_view content,
                                                std::string_view finish_reason = "stop");

    /// The default analysis for a chat-completions request body, as the assistant's content (a
    /// valid risk-analysis JSON object). From the evidence of the last message
    /// ("Evidence (JSON): {...}"): probability p, threshold t, STIR/SHAKEN attestation and
    /// Telnyx's verdict. risk_level critical for p >= 0.95, high for p >= t, medium for p >= 0.5,
    /// else low; one level higher (at most critical) for attestation C/none or a Telnyx "fake";
    /// escalate for high and critical; recommended_action none/monitor/verify_identity/warn.
    [[nodiscard]] static std::string default_completion(std::string_view request_body);

    /// A script from JSON: an array of objects {"status", "body", "content", "finish_reason",
    /// "retry_after", "delay_ms"} (all optional). InvalidArgument otherwise.
    [[nodiscard]] static base::Result<std::vector<FakeReply>> parse_script(std::string_view json);

    /// The recorded requests as a JSON array of {"path", "status", "authorized",
    /// "received_at_ms", "body"} (body parsed when it is JSON, else a string).
    [[nodiscard]] static std::string requests_json(const std::vector<FakeRequest>& requests);

private:
    mutable std::mutex mutex_;
    std::map<FakeTarget, std::deque<FakeReply>> scripts_;  // guarded by mutex_
    std::vector<FakeRequest> requests_;                    // guarded by mutex_
};

}  // namespace dvd::sim
