#include "calls/webhook_endpoint.hpp"

#include <algorithm>
#include <chrono>
#include <utility>

#include <fmt/format.h>

#include "base/log.hpp"

namespace dvd::calls {
namespace {

std::string_view trim(std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) {
        text.remove_prefix(1);
    }
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) {
        text.remove_suffix(1);
    }
    return text;
}

/// The first element of a comma-separated header value (proxies append theirs).
std::string_view first_value(std::string_view value) {
    return trim(value.substr(0, value.find(',')));
}

/// A host[:port] we are willing to put into a URL we hand to Telnyx: DNS names, IPv4, bracketed
/// IPv6, and a port; nothing that could add a path, user info or whitespace.
bool is_plain_host(std::string_view host) {
    if (host.empty() || host.size() > 255) {
        return false;
    }
    return std::all_of(host.begin(), host.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
               || c == '.' || c == '-' || c == ':' || c == '[' || c == ']' || c == '_';
    });
}

std::string lower(std::string_view text) {
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(), [](char c) {
        return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    });
    return out;
}

std::int64_t system_now_s() {
    return std::chrono::duration_cast<std::chrono::seconds>(
                   std::chrono::system_clock::now().time_since_epoch())
            .count();
}

}  // namespace

base::Result<WebhookChecker> WebhookChecker::create(WebhookOptions options) {
    if (options.public_key_base64.empty()) {
        if (!options.skip_verification) {
            return base::fail(base::Errc::InvalidArgument,
                              "TELNYX_PUBLIC_KEY is required to verify webhooks (or start with "
                              "--insecure-skip-verify)");
        }
        return WebhookChecker(std::move(options), std::nullopt);
    }
    auto verifier = protocol::WebhookVerifier::create(options.public_key_base64);
    if (!verifier) {
        return base::fail(base::Errc::InvalidArgument,
                          fmt::format("TELNYX_PUBLIC_KEY: {}", verifier.error().message));
    }
    return WebhookChecker(std::move(options), std::move(*verifier));
}

WebhookVerdict WebhookChecker::check(const net::Request& request) const {
    if (verifier_) {
        const std::int64_t now_s = options_.now_s ? options_.now_s() : system_now_s();
        const auto verified = verifier_->verify(
                request.header(protocol::kSignatureHeader),
                request.header(protocol::kTimestampHeader), request.body,
                std::chrono::sys_seconds{std::chrono::seconds{now_s}}, options_.tolerance);
        if (!verified) {
            DVD_LOG_RATE_LIMITED(Webhook, Warn, "webhook refused from {}: {}",
                                 request.remote_address, verified.error().message);
            return net::Response::json_error(401, "invalid_signature", verified.error().message);
        }
    }
    auto event = protocol::parse_webhook(request.body);
    if (!event) {
        DVD_LOG_RATE_LIMITED(Webhook, Warn, "malformed webhook from {}: {}", request.remote_address,
                             event.error().message);
        return net::Response::json_error(400, "malformed_webhook", event.error().message);
    }
    return AcceptedWebhook{.event = std::move(*event), .public_base_url = public_base_url(request)};
}

WebhookVerdict check_webhook(const net::Request& request, const WebhookOptions& options) {
    auto checker = WebhookChecker::create(options);
    if (!checker) {
        return net::Response::json_error(500, "misconfigured", checker.error().message);
    }
    return checker->check(request);
}

std::string public_base_url(const net::Request& request) {
    std::string scheme = "http";
    if (const auto proto = request.header("x-forwarded-proto")) {
        const std::string value = lower(first_value(*proto));
        if (value == "https" || value == "http") {
            scheme = value;
        }
    }
    std::string_view host;
    if (const auto forwarded = request.header("x-forwarded-host")) {
        host = first_value(*forwarded);
    }
    if (host.empty()) {
        if (const auto plain = request.header("host")) {
            host = trim(*plain);
        }
    }
    if (!is_plain_host(host)) {
        return {};
    }
    return fmt::format("{}://{}", scheme, host);
}

}  // namespace dvd::calls
