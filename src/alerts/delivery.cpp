#include "alerts/delivery.hpp"

#include <fmt/format.h>

#include "http/errc.hpp"
#include "http/retry.hpp"

namespace dvd::alerts {
namespace {

constexpr std::size_t kMaxReasonBytes = 200;

std::string_view trim(std::string_view text) noexcept {
    const auto first = text.find_first_not_of(" \t\r\n");
    if (first == std::string_view::npos) {
        return {};
    }
    return text.substr(first, text.find_last_not_of(" \t\r\n") - first + 1);
}

// The start of a reply body as one printable line (bodies are untrusted; they go into logs and
// the database).
std::string body_excerpt(std::string_view body) {
    body = trim(body);
    std::string out;
    for (const char c : body.substr(0, kMaxReasonBytes)) {
        const auto u = static_cast<unsigned char>(c);
        out += (u < 0x20U || u == 0x7FU) ? ' ' : c;
    }
    return out;
}

std::string status_reason(const http::HttpResponse& response) {
    const std::string excerpt = body_excerpt(response.body);
    return excerpt.empty() ? fmt::format("HTTP {}", response.status)
                           : fmt::format("HTTP {} {}", response.status, excerpt);
}

bool is_retryable_status(int status) {
    return http::retry_on_429_and_5xx(http::HttpResponse{.status = status})
           == http::RetryDecision::Retry;
}

}  // namespace

std::string_view to_string(DeliveryVerdict verdict) noexcept {
    switch (verdict) {
        case DeliveryVerdict::Delivered:
            return "delivered";
        case DeliveryVerdict::Retry:
            return "retry";
        case DeliveryVerdict::Failed:
            return "failed";
    }
    return "unknown";
}

DeliveryResult classify_delivery(store::AlertChannel channel,
                                 const base::Result<http::HttpResponse>& response,
                                 std::chrono::system_clock::time_point now) {
    DeliveryResult result;
    if (!response) {
        const auto& error = response.error();
        const bool transient = error.code.category() == http::error_category()
                               && http::is_transient(static_cast<http::Errc>(error.code.value()));
        result.verdict = transient ? DeliveryVerdict::Retry : DeliveryVerdict::Failed;
        result.reason = "transport: " + body_excerpt(error.message);
        return result;
    }
    const http::HttpResponse& reply = *response;
    result.http_status = reply.status;
    result.reason = status_reason(reply);
    if (is_retryable_status(reply.status)) {
        result.verdict = DeliveryVerdict::Retry;
        result.server_delay = http::requested_delay(reply, now);
        return result;
    }
    const bool success = channel == store::AlertChannel::Slack
                                 ? reply.status == 200 && trim(reply.body) == "ok"
                                 : reply.status >= 200 && reply.status <= 299;
    if (success) {
        result.verdict = DeliveryVerdict::Delivered;
        return result;
    }
    result.verdict = DeliveryVerdict::Failed;
    if (reply.status >= 200 && reply.status <= 299) {
        result.reason = "unexpected reply: " + result.reason;
    }
    return result;
}

}  // namespace dvd::alerts
