#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "http/http_client.hpp"
#include "http/retry.hpp"
#include "protocol/webhook.hpp"

namespace dvd::calls::test {

using nlohmann::json;

inline constexpr std::string_view kDeliveredTo = "https://dvd.example/webhooks/voice";

/// A Telnyx webhook body as Telnyx sends it (envelope + payload). `payload` gets the
/// call_control_id and the usual common fields unless it already has them.
inline std::string webhook_body(std::string_view event_type, std::string_view event_id,
                                std::string_view call_control_id, json payload = json::object(),
                                std::string_view occurred_at = "2026-01-01T10:00:00.000000Z") {
    if (!call_control_id.empty() && !payload.contains("call_control_id")) {
        payload["call_control_id"] = call_control_id;
    }
    if (!payload.contains("call_leg_id")) {
        payload["call_leg_id"] = "leg-1";
    }
    if (!payload.contains("call_session_id")) {
        payload["call_session_id"] = "session-1";
    }
    if (!payload.contains("connection_id")) {
        payload["connection_id"] = "7267";
    }
    json body;
    body["data"] = {{"record_type", "event"},
                    {"event_type", event_type},
                    {"id", event_id},
                    {"occurred_at", occurred_at},
                    {"payload", payload}};
    body["meta"] = {{"attempt", 1}, {"delivered_to", kDeliveredTo}};
    return body.dump();
}

inline json inbound_payload() {
    return json{{"from", "+13125550100"},
                {"to", "+13125550199"},
                {"direction", "incoming"},
                {"state", "parked"},
                {"start_time", "2026-01-01T10:00:00.000000Z"},
                {"shaken_stir_attestation", "A"},
                {"shaken_stir_validated", true}};
}

/// Parses a body built above (the test fails loudly if it does not parse).
inline protocol::WebhookEvent parse(const std::string& body) {
    auto event = protocol::parse_webhook(body);
    if (!event) {
        throw std::runtime_error("test webhook does not parse: " + event.error().message);
    }
    return std::move(*event);
}

/// One request the fake Telnyx received.
struct SentRequest {
    std::string action;  ///< "answer", ..., or "dial" for POST /calls
    std::string url;
    std::string authorization;
    json body;
};

/// Plays Telnyx's Call Control API for every commands thread: records requests (thread-safe) and
/// answers scripted replies per action, else 200 `{"data":{"result":"ok"}}` (dial: new ids).
class FakeTelnyx {
public:
    void script(const std::string& action, int status, std::string body) {
        std::lock_guard lock(mutex_);
        scripted_[action].push_back(http::HttpResponse{.status = status, .body = std::move(body)});
    }

    /// Called (outside the lock, on the commands thread) before each reply is chosen.
    std::function<void(const std::string& action)> before_reply;

    base::Result<http::HttpResponse> send(const http::HttpRequest& request) {
        std::string action = request.url.substr(request.url.rfind('/') + 1);
        if (action == "calls") {
            action = "dial";
        }
        // GET /calls/{call_control_id}: scripted per call as "call_status:<call_control_id>".
        std::string script_key = action;
        if (request.method == "GET") {
            script_key = "call_status:" + action;
            action = "call_status";
        }
        if (before_reply) {
            before_reply(action);
        }
        std::lock_guard lock(mutex_);
        sent_.push_back(SentRequest{
                .action = action,
                .url = request.url,
                .authorization = std::string(request.headers.find("Authorization").value_or("")),
                .body = json::parse(request.body, nullptr, false)});
        auto& queue = scripted_[script_key];
        if (!queue.empty()) {
            auto response = queue.front();
            queue.pop_front();
            return response;
        }
        if (action == "dial") {
            return http::HttpResponse{
                    .status = 200,
                    .body = R"({"data":{"call_control_id":"v3:dialed","call_leg_id":"leg-d",)"
                            R"("call_session_id":"session-d","record_type":"call"}})"};
        }
        if (action == "call_status") {
            return http::HttpResponse{.status = 200,
                                      .body = R"({"data":{"is_alive":true,"record_type":"call"}})"};
        }
        return http::HttpResponse{.status = 200, .body = R"({"data":{"result":"ok"}})"};
    }

    std::vector<SentRequest> sent() const {
        std::lock_guard lock(mutex_);
        return sent_;
    }

    std::vector<SentRequest> sent(std::string_view action) const {
        std::lock_guard lock(mutex_);
        std::vector<SentRequest> out;
        for (const auto& r : sent_) {
            if (r.action == action) {
                out.push_back(r);
            }
        }
        return out;
    }

    std::vector<std::string> actions() const {
        std::lock_guard lock(mutex_);
        std::vector<std::string> out;
        for (const auto& r : sent_) {
            out.push_back(r.action);
        }
        return out;
    }

private:
    mutable std::mutex mutex_;
    std::vector<SentRequest> sent_;
    std::map<std::string, std::deque<http::HttpResponse>> scripted_;
};

class FakeSender final : public http::HttpSender {
public:
    explicit FakeSender(FakeTelnyx& telnyx) : telnyx_(telnyx) {}

    base::Result<http::HttpResponse> send(const http::HttpRequest& request) override {
        return telnyx_.send(request);
    }

private:
    FakeTelnyx& telnyx_;
};

/// A thread-safe Sleeper that records waits and never sleeps.
class RecordingSleeper final : public http::Sleeper {
public:
    bool sleep_for(std::chrono::milliseconds duration) override {
        std::lock_guard lock(mutex_);
        waits_.push_back(duration);
        return true;
    }

    [[nodiscard]] std::chrono::system_clock::time_point now() const override {
        return std::chrono::sys_days{std::chrono::year{2026} / std::chrono::January
                                     / std::chrono::day{1}};
    }

    std::vector<std::chrono::milliseconds> waits() const {
        std::lock_guard lock(mutex_);
        return waits_;
    }

private:
    mutable std::mutex mutex_;
    std::vector<std::chrono::milliseconds> waits_;
};

inline constexpr const char* kCallEndedBody =
        R"({"errors":[{"code":"90018","title":"Call has already ended",)"
        R"("detail":"This call is no longer active and can't receive commands."}]})";
inline constexpr const char* kUnauthorizedBody =
        R"({"errors":[{"code":"10009","title":"Authentication failed",)"
        R"("detail":"The required authentication headers were either invalid or not included."}]})";

}  // namespace dvd::calls::test
