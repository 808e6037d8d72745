#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>

#include "net/http_types.hpp"
#include "net/server.hpp"
#include "web/live_hub.hpp"
#include "web/static_site.hpp"
#include "web/stream_tickets.hpp"

namespace dvd::web {

/// How the dashboard is served.
struct WebOptions {
    /// The built dashboard (web/dist); see locate_dist_dir. Read once, when the routes are added.
    std::filesystem::path dist_dir{};
    /// API_TOKEN; empty: `GET /events` is open like the API. The static files never need it
    /// (they hold no data; the page asks for the token and stores it for the browser session).
    std::string api_token{};
    StaticSiteLimits limits{};
    StreamTicketOptions stream_tickets{};  ///< one-time tickets for `GET /events?ticket=`
};

/// What add_web_routes found in dist_dir (for the start-up log).
struct WebSiteStatus {
    bool loaded = false;
    std::size_t assets = 0;
    std::size_t bytes = 0;
    std::string problem{};  ///< why not loaded ("... index.html not found ...")
};

/// Registers the dashboard's routes; every handler runs on the network worker and answers from
/// memory (no disk, no lock except the hub's):
///   GET /               index.html (no-cache, CSP); 503 HTML page "dashboard not built" when
///                       dist_dir has no index.html
///   GET /index.html     the same
///   GET /assets/{name}  a built asset (content type by extension; content-hashed names cached
///                       a year, others no-cache; ETag + If-None-Match -> 304); 404 otherwise,
///                       including any name that is not a plain file name
///   GET /dashboard/session  always 200 `{"token_required", "authenticated", "threshold"}`
///                       (threshold null unless authenticated), so the page can decide to show
///                       its login form without provoking a 401
///   POST /events/ticket 200 `{"ticket", "expires_in_s"}` (no-store): a one-time ticket for
///                       /events (StreamTickets), for `Authorization: Bearer` holders; 401 else
///   GET /events         server-sent events from `hub` (see LiveHub); `?ticket=` (an
///                       EventSource cannot send headers, and a token in the URL would reach
///                       access logs) or `Authorization: Bearer`; 401 JSON error +
///                       WWW-Authenticate when API_TOKEN is set and neither is valid (the API
///                       token itself is not accepted in the query); 503 + Retry-After when
///                       LiveHubOptions::max_subscribers are connected
/// HEAD works on each GET route (net). `hub` must outlive the server.
WebSiteStatus add_web_routes(net::Router& router, const WebOptions& options, LiveHub& hub);

/// True when `request` carries `token` as `Authorization: Bearer <token>`, compared in constant
/// time. Always true when `token` is empty.
[[nodiscard]] bool request_has_token(const net::Request& request, std::string_view token);

/// Where the dashboard is: `configured` when not empty (--web-dir); else `web/dist` under the
/// working directory when it holds an index.html; else `../../web/dist` beside the executable
/// (`executable`: build/bin/deepfake-voice-detector -> <repo>/web/dist) when that does; else
/// `web/dist` (then `/` explains that the dashboard is not built).
[[nodiscard]] std::filesystem::path locate_dist_dir(const std::filesystem::path& configured,
                                                    const std::filesystem::path& executable);

/// The running program's path (/proc/self/exe); empty when unknown.
[[nodiscard]] std::filesystem::path current_executable();

}  // namespace dvd::web
