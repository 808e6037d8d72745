#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.hpp"
#include "http/http_client.hpp"
#include "store/types.hpp"

namespace dvd::alerts {

/// What one delivery attempt means for the alert.
enum class DeliveryVerdict {
    Delivered,  ///< done: mark sent
    Retry,      ///< may succeed later: 408, 429, 5xx, transient transport errors
    Failed,     ///< retrying cannot help: other 4xx, unexpected replies, invalid requests
};

[[nodiscard]] std::string_view to_string(DeliveryVerdict verdict) noexcept;

/// One attempt, judged.
struct DeliveryResult {
    DeliveryVerdict verdict = DeliveryVerdict::Failed;
    int http_status = 0;  ///< 0: no HTTP response (transport error)
    /// For people and the alert row's last_error, e.g. "HTTP 400 invalid_payload",
    /// "HTTP 429 rate_limited", "transport: Connection refused". Never holds the webhook URL's
    /// path (libcurl's messages carry the origin only).
    std::string reason{};
    /// The wait the server asked for (Retry-After), when it asked.
    std::optional<std::chrono::milliseconds> server_delay{};
};

/// Judges the reply to one POST of an alert on `channel` (telnyx-protocol.md section 7.2):
///   * Slack: only HTTP 200 with the body `ok` (surrounding blanks ignored) is Delivered;
///     JSON webhook: any 2xx is Delivered;
///   * 408, 429 and 5xx: Retry, with the `Retry-After` delay (seconds or HTTP-date relative to
///     `now`) when given;
///   * transport errors: Retry when `http::is_transient`, else Failed;
///   * anything else (other 4xx, 1xx/3xx, a Slack 200 whose body is not `ok`, a Slack 2xx other
///     than 200): Failed, with the status and the first 200 printable bytes of the body
///     (Slack's reason, e.g. `invalid_payload`, `no_service`, `channel_is_archived`).
[[nodiscard]] DeliveryResult classify_delivery(store::AlertChannel channel,
                                               const base::Result<http::HttpResponse>& response,
                                               std::chrono::system_clock::time_point now);

}  // namespace dvd::alerts
