#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <variant>

#include "base/result.hpp"
#include "net/http_types.hpp"
#include "net/server.hpp"
#include "protocol/signature.hpp"
#include "protocol/webhook.hpp"
#include "service/metrics.hpp"

namespace dvd::calls {

class CallController;

/// How `POST /webhooks/voice` authenticates Telnyx.
struct WebhookOptions {
    /// TELNYX_PUBLIC_KEY: base64 of the 32-byte Ed25519 key. When set, every webhook must carry a
    /// valid signature (even with skip_verification).
    std::string public_key_base64{};
    /// `--insecure-skip-verify`: accept unsigned webhooks when no public key is configured.
    bool skip_verification = false;
    std::chrono::seconds tolerance{protocol::kDefaultSignatureTolerance};
    /// Wall clock in Unix seconds; empty: std::chrono::system_clock.
    std::function<std::int64_t()> now_s{};
};

/// A webhook that passed the checks.
struct AcceptedWebhook {
    protocol::WebhookEvent event{};
    /// scheme://host[:port] this request was addressed to: X-Forwarded-Proto (first value, else
    /// "http") + X-Forwarded-Host (first value, else Host). Empty when no usable host was sent.
    std::string public_base_url{};
};

/// Either the refusal to send (401 bad/missing/stale signature, 400 malformed JSON or envelope)
/// or the accepted event.
using WebhookVerdict = std::variant<net::Response, AcceptedWebhook>;

/// The checks of one `POST /webhooks/voice`, prepared once (the public key decoded and
/// validated). Immutable: safe to share between worker threads.
class WebhookChecker {
public:
    /// InvalidArgument when no public key is set and skip_verification is off (the server must
    /// not start like that), or the public key is not a valid Ed25519 key (message says which).
    [[nodiscard]] static base::Result<WebhookChecker> create(WebhookOptions options);

    /// Pure apart from the injected clock: verifies the signature over the untouched body
    /// (headers telnyx-signature-ed25519 + telnyx-timestamp), then parses the envelope.
    /// 401 `{"error":{"code":"invalid_signature",...}}`, 400
    /// `{"error":{"code":"malformed_webhook"}}`.
    [[nodiscard]] WebhookVerdict check(const net::Request& request) const;

    [[nodiscard]] bool verifies_signatures() const noexcept { return verifier_.has_value(); }

private:
    WebhookChecker(WebhookOptions options, std::optional<protocol::WebhookVerifier> verifier)
        : options_(std::move(options)), verifier_(std::move(verifier)) {}

    WebhookOptions options_;
    std::optional<protocol::WebhookVerifier> verifier_;
};

/// One-shot form of WebhookChecker::create + check (tests). An invalid configuration gives a
/// 500 response.
[[nodiscard]] WebhookVerdict check_webhook(const net::Request& request,
                                           const WebhookOptions& options);

/// The public base URL of a request (see AcceptedWebhook::public_base_url).
[[nodiscard]] std::string public_base_url(const net::Request& request);

/// Adds `POST /webhooks/voice`: check (counting bad_signature / malformed in `metrics`), then
/// `controller.submit_webhook`. The handler never blocks its worker. Fails like
/// WebhookChecker::create. `controller` and `metrics` must outlive the router's server.
[[nodiscard]] base::Result<void> add_webhook_routes(net::Router& router, CallController& controller,
                                                    WebhookOptions options,
                                                    service::Metrics& metrics);

}  // namespace dvd::calls
