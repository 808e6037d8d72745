#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "net/http_types.hpp"
#include "net/server.hpp"

namespace dvd::net {

/// Splits an origin-form path ("/calls/a%2Fb") into percent-decoded segments ({"calls", "a/b"}):
/// "/" gives no segment, a trailing '/' an empty last one. Splitting happens before decoding,
/// so an encoded '/' stays inside its segment. nullopt when the path does not start with '/' or
/// an escape is malformed. Pure; any thread.
[[nodiscard]] std::optional<std::vector<std::string>> split_path(std::string_view path);

/// A request target split into its parts.
struct ParsedTarget {
    std::string path{};                   ///< percent-decoded path, e.g. "/calls/a b"
    std::vector<std::string> segments{};  ///< see split_path
    std::vector<Field> query{};           ///< see parse_query
};

/// Parses an origin-form target ("/calls?limit=5") or an absolute-form one
/// ("http://host:5000/calls?limit=5": scheme and authority are dropped). nullopt for any other
/// form ("*", "calls") or a malformed escape; the server then answers 400. Pure; any thread.
[[nodiscard]] std::optional<ParsedTarget> parse_target(std::string_view target);

/// What the router decided for one plain (non-upgrade) HTTP request.
struct RouteMatch {
    enum class Kind {
        Handler,           ///< `handler` serves it (for HEAD possibly the GET route)
        NotFound,          ///< no route has this path: 404
        MethodNotAllowed,  ///< the path exists for other methods: 405 with `allow`
        UpgradeRequired,   ///< only a WebSocket route has this path: 426
    };
    Kind kind = Kind::NotFound;
    const HttpHandler* handler = nullptr;  ///< Kind::Handler only; points into the Router
    std::vector<Field> path_params{};      ///< Kind::Handler only
    std::string allow{};                   ///< Kind::MethodNotAllowed: "GET, HEAD, POST"
};

/// Routes `method` + decoded `segments`. Among the routes whose pattern matches, the most
/// specific wins: at the first segment where two patterns differ, a literal beats a `{param}`.
/// HEAD uses an explicit HEAD route, else the GET route. Pure; any thread.
[[nodiscard]] RouteMatch match_route(const Router& router, Method method,
                                     const std::vector<std::string>& segments);

/// A WebSocket route for an upgrade request, chosen with the same precedence.
struct WsRouteMatch {
    const WsAcceptor* acceptor = nullptr;  ///< points into the Router
    std::vector<Field> path_params{};
};

/// The WebSocket route whose pattern matches `segments`; nullopt when none does.
[[nodiscard]] std::optional<WsRouteMatch> match_websocket(const Router& router,
                                                          const std::vector<std::string>& segments);

}  // namespace dvd::net
