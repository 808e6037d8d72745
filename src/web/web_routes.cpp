#include "web/web_routes.hpp"

#include <cctype>
#include <memory>
#include <system_error>
#include <utility>

#include <fmt/format.h>

#include "base/log.hpp"
#include "service/secrets.hpp"

namespace dvd::web {
namespace {

// Scripts and styles only from the service itself (no inline script: the build emits none);
// recordings may live elsewhere (Telnyx's storage, the simulator's port), and the service's own
// copy plays from a blob: URL (fetched with the token, which an <audio src> cannot send).
constexpr std::string_view kContentSecurityPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; media-src 'self' blob: http: https:; connect-src 'self'; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

constexpr std::string_view kNotBuiltPage = R"(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Dashboard not built</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: sans-serif; max-width: 40rem; margin: 3rem auto; padding: 0 1rem">
<h1>The dashboard is not built</h1>
<p>The service is running (see <a href="/health">/health</a>), but it found no built dashboard
at <code>{}</code>.</p>
<p>Build it with <code>make build</code>, or by hand with
<code>cd web &amp;&amp; npm ci &amp;&amp; npm run build</code>, then restart the service
(or point <code>serve --web-dir</code> at a built <code>dist</code> folder).</p>
</body></html>
)";

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) {
        return false;
    }
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(a[i]))
            != std::tolower(static_cast<unsigned char>(b[i]))) {
            return false;
        }
    }
    return true;
}

std::string_view trim(std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) {
        text.remove_prefix(1);
    }
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) {
        text.remove_suffix(1);
    }
    return text;
}

// RFC 9110 section 13.1.2: If-None-Match is "*" or a list of (possibly weak) entity tags;
// the weak comparison applies.
bool etag_matches(const net::Request& request, std::string_view etag) {
    const auto header = request.header("if-none-match");
    if (!header) {
        return false;
    }
    std::string_view list = *header;
    while (!list.empty()) {
        const std::size_t comma = list.find(',');
        std::string_view tag = trim(list.substr(0, comma));
        list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
        if (tag == "*") {
            return true;
        }
        if (tag.substr(0, 2) == "W/") {
            tag.remove_prefix(2);
        }
        if (tag == etag) {
            return true;
        }
    }
    return false;
}

net::Response file_response(const net::Request& request, const StaticFile& file, bool page) {
    net::Response response;
    if (etag_matches(request, file.etag)) {
        response.status = 304;
        response.content_type.clear();
    } else {
        response.status = 200;
        response.content_type = file.content_type;
        response.body = file.body;
    }
    response.headers.emplace_back("ETag", file.etag);
    response.headers.emplace_back("Cache-Control", file.cache_control);
    response.headers.emplace_back("X-Content-Type-Options", "nosniff");
    if (page) {
        response.headers.emplace_back("Content-Security-Policy",
                                      std::string(kContentSecurityPolicy));
        response.headers.emplace_back("Referrer-Policy", "no-referrer");
        response.headers.emplace_back("X-Frame-Options", "DENY");
    }
    return response;
}

std::string html_escape(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (const char c : text) {
        switch (c) {
            case '&':
                out += "&amp;";
                break;
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '"':
                out += "&quot;";
                break;
            default:
                out += c;
                break;
        }
    }
    return out;
}

net::Response unauthorized(std::string_view message) {
    net::Response response = net::Response::json_error(401, "unauthorized", message);
    response.headers.emplace_back("WWW-Authenticate", "Bearer");
    return response;
}

}  // namespace

bool request_has_token(const net::Request& request, std::string_view token) {
    if (token.empty()) {
        return true;
    }
    if (const auto header = request.header("authorization")) {
        const std::string_view value = trim(*header);
        constexpr std::string_view kScheme = "bearer ";
        if (value.size() > kScheme.size() && iequals(value.substr(0, kScheme.size()), kScheme)
            && service::secrets_equal(trim(value.substr(kScheme.size())), token)) {
            return true;
        }
    }
    return false;
}

WebSiteStatus add_web_routes(net::Router& router, const WebOptions& options, LiveHub& hub) {
    WebSiteStatus status;
    std::shared_ptr<const StaticSite> site;
    auto loaded = StaticSite::load(options.dist_dir, options.limits);
    if (loaded) {
        site = *loaded;
        status.loaded = true;
        status.assets = site->asset_count();
        status.bytes = site->total_bytes();
        DVD_LOG(Api, Info, "dashboard: serving {} ({} assets, {} bytes) at /",
                options.dist_dir.string(), status.assets, status.bytes);
    } else {
        status.problem = loaded.error().message;
        DVD_LOG(Api, Warn,
                "dashboard: {}; GET / answers 503 until it is built (make build) and "
                "the service restarted",
                status.problem);
    }

    const std::string not_built_page =
            fmt::format(kNotBuiltPage, html_escape(options.dist_dir.string()));
    auto index = [site, not_built_page](net::Request request, net::Responder responder) {
        if (!site) {
            net::Response response =
                    net::Response::text(503, not_built_page, "text/html; charset=utf-8");
            response.headers.emplace_back("Cache-Control", "no-store");
            std::move(responder).send(std::move(response));
            return;
        }
        std::move(responder).send(file_response(request, site->index(), true));
    };
    router.add(net::Method::Get, "/", index);
    router.add(net::Method::Get, "/index.html", index);

    router.add(net::Method::Get, "/assets/{name}",
               [site](net::Request request, net::Responder responder) {
                   const StaticFile* file =
                           site ? site->asset(request.path_param("name")) : nullptr;
                   if (file == nullptr) {
                       std::move(responder).send(
                               net::Response::json_error(404, "not_found", "no such asset"));
                       return;
                   }
                   std::move(responder).send(file_response(request, *file, false));
               });

    router.add(net::Method::Get, "/dashboard/session",
               [&hub, token = options.api_token](net::Request request, net::Responder responder) {
                   const bool authenticated = request_has_token(request, token);
                   std::string body = fmt::format(
                           R"({{"token_required":{},"authenticated":{},"threshold":{}}})",
                           token.empty() ? "false" : "true", authenticated ? "true" : "false",
                           authenticated ? fmt::format("{}", hub.options().detection_threshold)
                                         : std::string("null"));
                   net::Response response = net::Response::json(200, std::move(body));
                   response.headers.emplace_back("Cache-Control", "no-store");
                   std::move(responder).send(std::move(response));
               });

    // One owner: the two routes below share the tickets; nothing else sees them.
    auto tickets = std::make_shared<StreamTickets>(options.stream_tickets);
    router.add(net::Method::Post, "/events/ticket",
               [tickets, token = options.api_token](net::Request request,
                                                    net::Responder responder) {
                   if (!request_has_token(request, token)) {
                       std::move(responder).send(unauthorized(
                               request.header("authorization").has_value()
                                       ? "invalid bearer token"
                                       : "a stream ticket needs an Authorization: Bearer token"));
                       return;
                   }
                   net::Response response = net::Response::json(
                           200, fmt::format(R"({{"ticket":"{}","expires_in_s":{}}})",
                                            tickets->issue(),
                                            tickets->options().ttl.count()));
                   response.headers.emplace_back("Cache-Control", "no-store");
                   std::move(responder).send(std::move(response));
               });

    router.add(net::Method::Get, "/events",
               [&hub, tickets, token = options.api_token](net::Request request,
                                                          net::Responder responder) {
                   const auto ticket = request.query_param("ticket");
                   // A ticket is spent by this request even if the hub then has no room.
                   const bool by_ticket = ticket.has_value() && tickets->redeem(*ticket);
                   if (!by_ticket && !request_has_token(request, token)) {
                       const bool presented =
                               request.header("authorization").has_value() || ticket.has_value();
                       std::move(responder).send(unauthorized(
                               presented ? (ticket ? "unknown, spent or expired stream ticket"
                                                   : "invalid bearer token")
                                         : "this stream needs ?ticket= (POST /events/ticket) or "
                                           "an Authorization: Bearer token"));
                       return;
                   }
                   if (!hub.has_room()) {
                       net::Response busy = net::Response::json_error(
                               503, "busy", "too many dashboards are connected");
                       busy.headers.emplace_back("Retry-After", "5");
                       std::move(responder).send(std::move(busy));
                       return;
                   }
                   hub.subscribe(std::move(responder).start_event_stream());
               });
    return status;
}

std::filesystem::path current_executable() {
    std::error_code error;
    std::filesystem::path path = std::filesystem::read_symlink("/proc/self/exe", error);
    return error ? std::filesystem::path{} : path;
}

std::filesystem::path locate_dist_dir(const std::filesystem::path& configured,
                                      const std::filesystem::path& executable) {
    if (!configured.empty()) {
        return configured;
    }
    std::error_code error;
    const std::filesystem::path in_working_dir = std::filesystem::path("web") / "dist";
    if (std::filesystem::is_regular_file(in_working_dir / "index.html", error)) {
        return in_working_dir;
    }
    if (!executable.empty()) {
        const std::filesystem::path beside =
                (executable.parent_path() / ".." / ".." / "web" / "dist").lexically_normal();
        if (std::filesystem::is_regular_file(beside / "index.html", error)) {
            return beside;
        }
    }
    return in_working_dir;
}

}  // namespace dvd::web
