#include <memory>
#include <utility>

#include "api/api_service.hpp"

namespace dvd::api {
namespace {

/// The Responder is move-only and the API's threads take copyable callbacks: share it.
Reply reply_to(net::Responder responder) {
    auto shared = std::make_shared<net::Responder>(std::move(responder));
    return [shared](net::Response response) {
        std::move(*shared).send(std::move(response));
    };
}

}  // namespace

void add_api_routes(net::Router& router, ApiService& service) {
    using net::Method;
    router.add(Method::Get, "/calls", [&service](net::Request request, net::Responder responder) {
        service.list_calls(std::move(request), reply_to(std::move(responder)));
    });
    router.add(Method::Post, "/calls", [&service](net::Request request, net::Responder responder) {
        service.create_call(std::move(request), reply_to(std::move(responder)));
    });
    router.add(Method::Get, "/calls/{id}",
               [&service](net::Request request, net::Responder responder) {
                   service.get_call(std::move(request), reply_to(std::move(responder)));
               });
    router.add(Method::Get, "/calls/{id}/recordings/{recording}/audio",
               [&service](net::Request request, net::Responder responder) {
                   service.recording_audio(std::move(request), reply_to(std::move(responder)));
               });
    router.add(Method::Post, "/calls/{id}/analyze",
               [&service](net::Request request, net::Responder responder) {
                   service.analyze_call(std::move(request), reply_to(std::move(responder)));
               });
    router.add(Method::Get, "/health", [&service](net::Request request, net::Responder responder) {
        service.health(request, reply_to(std::move(responder)));
    });
    router.add(Method::Get, "/ready", [&service](net::Request request, net::Responder responder) {
        service.ready(request, reply_to(std::move(responder)));
    });
    router.add(Method::Get, "/metrics", [&service](net::Request request, net::Responder responder) {
        service.metrics(request, reply_to(std::move(responder)));
    });
}

}  // namespace dvd::api
