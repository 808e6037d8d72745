#include <array>
#include <utility>

#include "base/check.hpp"
#include "net/route_match.hpp"

namespace dvd::net {
namespace {

[[nodiscard]] bool is_param(std::string_view segment) noexcept {
    return segment.size() >= 2 && segment.front() == '{' && segment.back() == '}';
}

/// Pattern segments as written ("{id}" kept verbatim); the pattern must start with '/'.
[[nodiscard]] std::vector<std::string> split_pattern(std::string_view pattern) {
    DVD_CHECK(!pattern.empty() && pattern.front() == '/',
              "a route pattern is an absolute path such as /calls/{id}");
    std::vector<std::string> segments;
    if (pattern == "/") {
        return segments;
    }
    std::string_view rest = pattern.substr(1);
    for (;;) {
        const std::size_t slash = rest.find('/');
        segments.emplace_back(rest.substr(0, slash));
        if (slash == std::string_view::npos) {
            break;
        }
        rest = rest.substr(slash + 1);
    }
    return segments;
}

[[nodiscard]] bool pattern_matches(const std::vector<std::string>& pattern,
                                   const std::vector<std::string>& segments) {
    if (pattern.size() != segments.size()) {
        return false;
    }
    for (std::size_t i = 0; i < pattern.size(); ++i) {
        // A parameter takes a non-empty segment: "/calls/" is not "/calls/{id}" with id "".
        const bool matches =
                is_param(pattern[i]) ? !segments[i].empty() : pattern[i] == segments[i];
        if (!matches) {
            return false;
        }
    }
    return true;
}

/// True when `a` is more specific than `b` (both match the same path, so equal length).
[[nodiscard]] bool more_specific(const std::vector<std::string>& a,
                                 const std::vector<std::string>& b) {
    for (std::size_t i = 0; i < a.size() && i < b.size(); ++i) {
        const bool a_param = is_param(a[i]);
        const bool b_param = is_param(b[i]);
        if (a_param != b_param) {
            return !a_param;
        }
    }
    return false;
}

[[nodiscard]] std::vector<Field> bind_params(const std::vector<std::string>& pattern,
                                             const std::vector<std::string>& segments) {
    std::vector<Field> params;
    for (std::size_t i = 0; i < pattern.size(); ++i) {
        if (is_param(pattern[i])) {
            params.emplace_back(pattern[i].substr(1, pattern[i].size() - 2), segments[i]);
        }
    }
    return params;
}

/// Most specific route of `method` matching `segments`; nullptr when none.
[[nodiscard]] const Router::Route* best_route(const Router& router, Method method,
                                              const std::vector<std::string>& segments) {
    const Router::Route* best = nullptr;
    for (const auto& route : router.routes()) {
        if (route.method != method || !pattern_matches(route.segments, segments)) {
            continue;
        }
        if (best == nullptr || more_specific(route.segments, best->segments)) {
            best = &route;
        }
    }
    return best;
}

[[nodiscard]] const Router::WsRoute* best_ws_route(const Router& router,
                                                   const std::vector<std::string>& segments) {
    const Router::WsRoute* best = nullptr;
    for (const auto& route : router.ws_routes()) {
        if (!pattern_matches(route.segments, segments)) {
            continue;
        }
        if (best == nullptr || more_specific(route.segments, best->segments)) {
            best = &route;
        }
    }
    return best;
}

}  // namespace

void Router::add(Method method, std::string pattern, HttpHandler handler) {
    DVD_CHECK(method != Method::Other, "routes are added for a known method");
    DVD_CHECK(static_cast<bool>(handler), "a route needs a handler");
    routes_.push_back(Route{method, split_pattern(pattern), std::move(handler)});
}

void Router::add_websocket(std::string pattern, WsAcceptor acceptor) {
    DVD_CHECK(static_cast<bool>(acceptor), "a WebSocket route needs an acceptor");
    ws_routes_.push_back(WsRoute{split_pattern(pattern), std::move(acceptor)});
}

std::optional<std::vector<std::string>> split_path(std::string_view path) {
    if (path.empty() || path.front() != '/') {
        return std::nullopt;
    }
    std::vector<std::string> segments;
    if (path == "/") {
        return segments;
    }
    std::string_view rest = path.substr(1);
    for (;;) {
        const std::size_t slash = rest.find('/');
        auto decoded = percent_decode(rest.substr(0, slash), false);
        if (!decoded) {
            return std::nullopt;
        }
        segments.push_back(std::move(*decoded));
        if (slash == std::string_view::npos) {
            break;
        }
        rest = rest.substr(slash + 1);
    }
    return segments;
}

std::optional<ParsedTarget> parse_target(std::string_view target) {
    if (target.starts_with("http://") || target.starts_with("https://")) {
        const std::size_t authority = target.find("//") + 2;
        const std::size_t path_start = target.find_first_of("/?", authority);
        if (path_start == std::string_view::npos) {
            target = "/";
        } else if (target[path_start] == '?') {
            return std::nullopt;  // "http://host?x" has no path; not worth supporting
        } else {
            target = target.substr(path_start);
        }
    }
    const std::size_t question = target.find('?');
    const std::string_view raw_path = target.substr(0, question);
    const std::string_view raw_query =
            question == std::string_view::npos ? std::string_view{} : target.substr(question + 1);
    auto segments = split_path(raw_path);
    if (!segments) {
        return std::nullopt;
    }
    auto path = percent_decode(raw_path, false);
    auto query = parse_query(raw_query);
    if (!path || !query) {
        return std::nullopt;
    }
    return ParsedTarget{std::move(*path), std::move(*segments), std::move(*query)};
}

RouteMatch match_route(const Router& router, Method method,
                       const std::vector<std::string>& segments) {
    RouteMatch match;
    const Router::Route* route = best_route(router, method, segments);
    if (route == nullptr && method == Method::Head) {
        route = best_route(router, Method::Get, segments);
    }
    if (route != nullptr) {
        match.kind = RouteMatch::Kind::Handler;
        match.handler = &route->handler;
        match.path_params = bind_params(route->segments, segments);
        return match;
    }

    // No route for this method: does the path exist at all?
    static constexpr std::array kOrder{Method::Get,   Method::Head,   Method::Post,   Method::Put,
                                       Method::Patch, Method::Delete, Method::Options};
    std::array<bool, kOrder.size()> allowed{};
    bool any = false;
    for (const auto& candidate : router.routes()) {
        if (!pattern_matches(candidate.segments, segments)) {
            continue;
        }
        any = true;
        for (std::size_t i = 0; i < kOrder.size(); ++i) {
            if (kOrder[i] == candidate.method) {
                allowed[i] = true;
            }
        }
    }
    const bool websocket = best_ws_route(router, segments) != nullptr;
    if (!any && !websocket) {
        match.kind = RouteMatch::Kind::NotFound;
        return match;
    }
    if (!any && (method == Method::Get || method == Method::Head)) {
        match.kind = RouteMatch::Kind::UpgradeRequired;
        return match;
    }
    allowed[0] = allowed[0] || websocket;   // a WebSocket path is reached with GET
    allowed[1] = allowed[1] || allowed[0];  // HEAD is served by the GET route
    match.kind = RouteMatch::Kind::MethodNotAllowed;
    for (std::size_t i = 0; i < kOrder.size(); ++i) {
        if (allowed[i]) {
            if (!match.allow.empty()) {
                match.allow += ", ";
            }
            match.allow += to_string(kOrder[i]);
        }
    }
    return match;
}

std::optional<WsRouteMatch> match_websocket(const Router& router,
                                            const std::vector<std::string>& segments) {
    const Router::WsRoute* route = best_ws_route(router, segments);
    if (route == nullptr) {
        return std::nullopt;
    }
    return WsRouteMatch{&route->acceptor, bind_params(route->segments, segments)};
}

}  // namespace dvd::net
