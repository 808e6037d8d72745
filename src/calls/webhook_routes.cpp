// Everything of the calls layer that needs the net server's objects (Router, Responder): kept in
// its own translation unit so that the rest links without the server.
#include <functional>
#include <memory>
#include <utility>
#include <variant>

#include "base/log.hpp"
#include "calls/call_controller.hpp"
#include "calls/webhook_endpoint.hpp"

namespace dvd::calls {

void CallController::submit_webhook(protocol::WebhookEvent event, std::string raw_body,
                                    std::string public_base_url, net::Responder responder) {
    auto shared = std::make_shared<net::Responder>(std::move(responder));
    std::function<void(net::Response)> reply = [shared](net::Response response) {
        std::move(*shared).send(std::move(response));
    };
    submit_webhook(std::move(event), std::move(raw_body), std::move(public_base_url),
                   std::move(reply));
}

base::Result<void> add_webhook_routes(net::Router& router, CallController& controller,
                                      WebhookOptions options, service::Metrics& metrics) {
    auto checker = WebhookChecker::create(std::move(options));
    if (!checker) {
        return checker.error();
    }
    if (!checker->verifies_signatures()) {
        DVD_LOG(Webhook, Warn,
                "webhook signatures are NOT verified (--insecure-skip-verify): anyone who can "
                "reach /webhooks/voice can drive calls");
    }
    auto shared = std::make_shared<const WebhookChecker>(std::move(*checker));
    router.add(net::Method::Post, "/webhooks/voice",
               [shared, &controller, &metrics](net::Request request, net::Responder responder) {
                   auto verdict = shared->check(request);
                   if (auto* refusal = std::get_if<net::Response>(&verdict)) {
                       if (refusal->status == 401) {
                           metrics.webhooks_bad_signature.add();
                       } else {
                           metrics.webhooks_malformed.add();
                       }
                       std::move(responder).send(std::move(*refusal));
                       return;
                   }
                   auto& accepted = std::get<AcceptedWebhook>(verdict);
                   controller.submit_webhook(std::move(accepted.event), std::move(request.body),
                                             std::move(accepted.public_base_url),
                                             std::move(responder));
               });
    return {};
}

}  // namespace dvd::calls
