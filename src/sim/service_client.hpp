#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.hpp"
#include "http/http_client.hpp"

namespace dvd::sim {

/// What the service's JSON API (docs/api.md, `GET /calls/{id}`) says about one call, reduced to
/// what the `simulate` summary prints. Fields the API reports as null stay empty.
struct ServiceCallView {
    std::string id;       ///< the service's own call id
    std::string status;   ///< e.g. "ended"
    std::string verdict;  ///< insufficient_speech | human | uncertain | synthetic; "" when null
    std::optional<double> score{};
    bool flagged = false;
    std::size_t alerts = 0;
    std::optional<double> speech_seconds{};
    /// The service's own copy of the call's latest recording (`recordings[-1].archive`): its
    /// status (pending, stored, failed, deleted, off; "" when the call has no recording yet),
    /// and when stored its size and SHA-256; else the copy's last error.
    std::string recording_copy{};
    std::optional<std::int64_t> recording_bytes{};
    std::string recording_sha256{};
    std::string recording_error{};
};

/// A blocking client of the service the simulator plays Telnyx for: `GET /health` and
/// `GET /calls/{call_control_id}` with `Authorization: Bearer <API_TOKEN>` when a token is given.
/// Never goes through a proxy. One thread (it owns an http::HttpClient).
class ServiceClient {
public:
    /// `base_url`: e.g. "http://127.0.0.1:5000" (a trailing '/' is ignored).
    explicit ServiceClient(std::string base_url, std::string api_token = {});

    /// Polls `GET /health` until it answers 200 or `timeout` passes. Errors: Io with the last
    /// failure ("connection refused", "HTTP 503").
    [[nodiscard]] base::Result<void> wait_healthy(std::chrono::milliseconds timeout);

    /// One `GET /calls/{id}`. Errors: Io (transport), NotFound (404), InvalidArgument (401 and
    /// other statuses, with the API's error message), Corrupt (the JSON does not parse).
    [[nodiscard]] base::Result<ServiceCallView> call(std::string_view call_control_id);

    /// Polls `call` until the service reports `status == "ended"` or `timeout` passes; then
    /// returns the last view (ended or not). Errors as for `call`.
    /// Polls until the service holds a copy of the call's recording or gave up on it (its
    /// status is no longer "" or pending), or `timeout` passes; returns the last view. The
    /// simulator serves the recording only while it runs, so `simulate` waits for this.
    [[nodiscard]] base::Result<ServiceCallView> recording_settled(
            std::string_view call_control_id, std::chrono::milliseconds timeout);

    [[nodiscard]] base::Result<ServiceCallView> ended_call(std::string_view call_control_id,
                                                           std::chrono::milliseconds timeout);

private:
    base::Result<http::HttpResponse> get(const std::string& path);
    // GET /calls/{id} every poll interval while `again(view)` holds, until `timeout`.
    base::Result<ServiceCallView> poll_call(
            std::string_view call_control_id, std::chrono::milliseconds timeout,
            const std::function<bool(const base::Result<ServiceCallView>&)>& again);

    std::string base_url_;
    std::string api_token_;
    std::unique_ptr<http::HttpClient> client_;
};

}  // namespace dvd::sim
