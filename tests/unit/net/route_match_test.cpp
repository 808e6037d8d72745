#include "net/route_match.hpp"

#include <gtest/gtest.h>

namespace dvd::net {
namespace {

/// A router whose handlers answer their own name, so a test can tell which route matched.
HttpHandler named(std::string name) {
    return [name = std::move(name)](Request, Responder responder) {
        std::move(responder).send(Response::text(200, name));
    };
}

/// Which route `match` points at, by calling it with a callback Responder.
std::string matched_name(const RouteMatch& match) {
    if (match.kind != RouteMatch::Kind::Handler || match.handler == nullptr) {
        return "<none>";
    }
    std::string body;
    (*match.handler)(Request{}, Responder::from_callback([&body](Response r) { body = r.body; }));
    return body;
}

std::vector<std::string> segments(std::string_view path) {
    return split_path(path).value();
}

class RouteMatchTest : public ::testing::Test {
protected:
    RouteMatchTest() {
        router_.add(Method::Get, "/calls", named("list"));
        router_.add(Method::Post, "/calls", named("dial"));
        router_.add(Method::Get, "/calls/{id}", named("get"));
        router_.add(Method::Get, "/calls/active", named("active"));
        router_.add(Method::Post, "/calls/{id}/analyze", named("analyze"));
        router_.add(Method::Get, "/", named("root"));
        router_.add_websocket("/media", [](const Request&) -> WsAcceptResult {
            return Response::json_error(401, "unauthorized", "no");
        });
        router_.add_websocket("/streams/{stream}", [](const Request&) -> WsAcceptResult {
            return Response::json_error(401, "unauthorized", "no");
        });
    }

    Router router_;
};

TEST_F(RouteMatchTest, LiteralSegmentBeatsParameter) {
    EXPECT_EQ(matched_name(match_route(router_, Method::Get, segments("/calls/active"))), "active");
    const RouteMatch by_id = match_route(router_, Method::Get, segments("/calls/abc-123"));
    EXPECT_EQ(matched_name(by_id), "get");
    EXPECT_EQ(by_id.path_params, (std::vector<Field>{{"id", "abc-123"}}));
}

TEST_F(RouteMatchTest, ParametersAreDecodedPerSegment) {
    const RouteMatch match =
            match_route(router_, Method::Post, segments("/calls/a%2Fb%20c/analyze"));
    EXPECT_EQ(matched_name(match), "analyze");
    EXPECT_EQ(match.path_params, (std::vector<Field>{{"id", "a/b c"}}));
}

TEST_F(RouteMatchTest, UnknownPathIsNotFound) {
    EXPECT_EQ(match_route(router_, Method::Get, segments("/nope")).kind,
              RouteMatch::Kind::NotFound);
    EXPECT_EQ(match_route(router_, Method::Get, segments("/calls/a/b")).kind,
              RouteMatch::Kind::NotFound);
    EXPECT_EQ(match_route(router_, Method::Get, segments("/calls/")).kind,
              RouteMatch::Kind::NotFound)
            << "a trailing slash is a different (empty) segment";
}

TEST_F(RouteMatchTest, KnownPathOtherMethodIsMethodNotAllowedWithAllow) {
    const RouteMatch match = match_route(router_, Method::Delete, segments("/calls"));
    EXPECT_EQ(match.kind, RouteMatch::Kind::MethodNotAllowed);
    EXPECT_EQ(match.allow, "GET, HEAD, POST");
    const RouteMatch analyze = match_route(router_, Method::Get, segments("/calls/x/analyze"));
    EXPECT_EQ(analyze.kind, RouteMatch::Kind::MethodNotAllowed);
    EXPECT_EQ(analyze.allow, "POST");
}

TEST_F(RouteMatchTest, HeadUsesTheGetRoute) {
    EXPECT_EQ(matched_name(match_route(router_, Method::Head, segments("/calls"))), "list");
    EXPECT_EQ(matched_name(match_route(router_, Method::Head, segments("/"))), "root");
}

TEST_F(RouteMatchTest, ExplicitHeadRouteWins) {
    router_.add(Method::Head, "/calls", named("head"));
    EXPECT_EQ(matched_name(match_route(router_, Method::Head, segments("/calls"))), "head");
}

TEST_F(RouteMatchTest, WebSocketPaths) {
    EXPECT_EQ(match_route(router_, Method::Get, segments("/media")).kind,
              RouteMatch::Kind::UpgradeRequired);
    const RouteMatch post = match_route(router_, Method::Post, segments("/media"));
    EXPECT_EQ(post.kind, RouteMatch::Kind::MethodNotAllowed);
    EXPECT_EQ(post.allow, "GET, HEAD");
    const auto ws = match_websocket(router_, segments("/streams/s1"));
    ASSERT_TRUE(ws.has_value());
    EXPECT_EQ(ws->path_params, (std::vector<Field>{{"stream", "s1"}}));
    EXPECT_FALSE(match_websocket(router_, segments("/calls")).has_value());
}

TEST(SplitPath, Segments) {
    EXPECT_EQ(split_path("/"), std::vector<std::string>{});
    EXPECT_EQ(split_path("/a/b"), (std::vector<std::string>{"a", "b"}));
    EXPECT_EQ(split_path("/a/"), (std::vector<std::string>{"a", ""}));
    EXPECT_EQ(split_path("/a%2Fb"), (std::vector<std::string>{"a/b"}));
    EXPECT_EQ(split_path("a/b"), std::nullopt);
    EXPECT_EQ(split_path(""), std::nullopt);
    EXPECT_EQ(split_path("/%zz"), std::nullopt);
}

TEST(ParseTarget, OriginAndAbsoluteForms) {
    const auto origin = parse_target("/calls/a%20b?limit=5&status=active&q=x+y");
    ASSERT_TRUE(origin.has_value());
    EXPECT_EQ(origin->path, "/calls/a b");
    EXPECT_EQ(origin->segments, (std::vector<std::string>{"calls", "a b"}));
    EXPECT_EQ(origin->query,
              (std::vector<Field>{{"limit", "5"}, {"status", "active"}, {"q", "x y"}}));

    const auto absolute = parse_target("http://example.test:5000/health?x=1");
    ASSERT_TRUE(absolute.has_value());
    EXPECT_EQ(absolute->path, "/health");
    EXPECT_EQ(absolute->query, (std::vector<Field>{{"x", "1"}}));
    EXPECT_EQ(parse_target("http://example.test")->path, "/");

    EXPECT_EQ(parse_target("*"), std::nullopt);
    EXPECT_EQ(parse_target("calls"), std::nullopt);
    EXPECT_EQ(parse_target("/a?b=%zz"), std::nullopt);
    EXPECT_EQ(parse_target("/%"), std::nullopt);
}

TEST(CallbackResponder, SendsOnceAndAnswers500WhenDropped) {
    std::vector<Response> seen;
    {
        Responder responder = Responder::from_callback([&seen](Response r) { seen.push_back(r); });
        std::move(responder).send(Response::text(202, "ok"));
    }
    {
        Responder dropped = Responder::from_callback([&seen](Response r) { seen.push_back(r); });
    }
    ASSERT_EQ(seen.size(), 2U);
    EXPECT_EQ(seen[0].status, 202);
    EXPECT_EQ(seen[1].status, 500);
    EXPECT_NE(seen[1].body.find("dropped"), std::string::npos);
}

}  // namespace
}  // namespace dvd::net
