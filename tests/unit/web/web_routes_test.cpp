#include "web/web_routes.hpp"

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "net/route_match.hpp"
#include "unit/net/http_test_client.hpp"
#include "unit/net/server_test_support.hpp"
#include "unit/web/web_test_support.hpp"

namespace dvd::web::test {
namespace {

using net::test::eventually;
using net::test::make_request;
using net::test::RawConnection;
using net::test::send_request;

constexpr std::string_view kToken = "0123456789abcdef-token";

std::optional<std::string> header_of(const net::Response& response, std::string_view name) {
    for (const auto& [key, value] : response.headers) {
        if (key == name) {
            return value;
        }
    }
    return std::nullopt;
}

/// Routes one request through `router` in-process and returns the response.
net::Response call(const net::Router& router, net::Method method, std::string target,
                   std::vector<net::Field> headers = {}) {
    auto parsed = net::parse_target(target);
    EXPECT_TRUE(parsed.has_value()) << target;
    const auto match = net::match_route(router, method, parsed->segments);
    if (match.kind != net::RouteMatch::Kind::Handler) {
        return net::Response::json_error(404, "no_route", target);
    }
    net::Request request;
    request.method = method;
    request.target = target;
    request.path = parsed->path;
    request.query = parsed->query;
    request.headers = std::move(headers);
    request.path_params = match.path_params;
    std::optional<net::Response> out;
    (*match.handler)(std::move(request), net::Responder::from_callback(
                                                 [&out](net::Response r) { out = std::move(r); }));
    EXPECT_TRUE(out.has_value());
    return out.value_or(net::Response{});
}

class WebRoutesTest : public ::testing::Test {
protected:
    void SetUp() override {
        dist_.write("index.html", "<!doctype html><title>Deepfake Voice Detector</title>");
        dist_.write("assets/app-ABCDEFGH.js", "export const x = 1;");
        dist_.write("assets/favicon.svg", "<svg xmlns='http://www.w3.org/2000/svg'/>");
        dist_.write("secret.txt", "not an asset");
    }

    WebOptions options(std::string token = {}) {
        WebOptions options;
        options.dist_dir = dist_.path();
        options.api_token = std::move(token);
        return options;
    }

    TempDir dist_;
    RecordingSink next_;
    LiveHub hub_{next_, LiveHubOptions{}};
};

TEST_F(WebRoutesTest, ServesTheIndexWithSecurityAndCacheHeaders) {
    net::Router router;
    const WebSiteStatus status = add_web_routes(router, options(std::string(kToken)), hub_);
    EXPECT_TRUE(status.loaded);
    EXPECT_EQ(status.assets, 2U);
    for (const char* target : {"/", "/index.html"}) {
        const net::Response response = call(router, net::Method::Get, target);
        EXPECT_EQ(response.status, 200) << "no token needed for the page itself";
        EXPECT_EQ(response.content_type, "text/html; charset=utf-8");
        EXPECT_NE(response.body.find("Deepfake Voice Detector"), std::string::npos);
        EXPECT_EQ(header_of(response, "Cache-Control"), "no-cache");
        EXPECT_EQ(header_of(response, "X-Content-Type-Options"), "nosniff");
        const auto csp = header_of(response, "Content-Security-Policy");
        ASSERT_TRUE(csp.has_value());
        EXPECT_NE(csp->find("script-src 'self'"), std::string::npos);
        EXPECT_NE(csp->find("frame-ancestors 'none'"), std::string::npos);
        EXPECT_TRUE(header_of(response, "ETag").has_value());
    }
}

TEST_F(WebRoutesTest, ConditionalRequestGets304) {
    net::Router router;
    add_web_routes(router, options(), hub_);
    const net::Response first = call(router, net::Method::Get, "/assets/app-ABCDEFGH.js");
    ASSERT_EQ(first.status, 200);
    const std::string etag = header_of(first, "ETag").value_or("");
    ASSERT_FALSE(etag.empty());
    EXPECT_EQ(header_of(first, "Cache-Control"), "public, max-age=31536000, immutable");
    EXPECT_EQ(first.content_type, "text/javascript; charset=utf-8");

    const net::Response again = call(router, net::Method::Get, "/assets/app-ABCDEFGH.js",
                                     {{"if-none-match", "\"other\", W/" + etag}});
    EXPECT_EQ(again.status, 304);
    EXPECT_TRUE(again.body.empty());
    EXPECT_EQ(header_of(again, "ETag"), etag);

    const net::Response changed = call(router, net::Method::Get, "/assets/app-ABCDEFGH.js",
                                       {{"if-none-match", "\"stale\""}});
    EXPECT_EQ(changed.status, 200);
}

TEST_F(WebRoutesTest, NoDirectoryTraversal) {
    net::Router router;
    add_web_routes(router, options(), hub_);
    for (const char* target :
         {"/assets/..%2Fsecret.txt", "/assets/%2E%2E%2Fsecret.txt",
          "/assets/..%2F..%2Fetc%2Fpasswd", "/assets/.hidden", "/assets/%2Fetc%2Fpasswd",
          "/assets/missing.js", "/assets/..", "/assets/..%5Csecret.txt"}) {
        const net::Response response = call(router, net::Method::Get, target);
        EXPECT_EQ(response.status, 404) << target;
        EXPECT_EQ(response.body.find("not an asset"), std::string::npos) << target;
    }
}

TEST_F(WebRoutesTest, MissingDistAnswers503PageAtTheRoot) {
    net::Router router;
    WebOptions missing = options();
    missing.dist_dir = dist_.path() / "nowhere";
    const WebSiteStatus status = add_web_routes(router, missing, hub_);
    EXPECT_FALSE(status.loaded);
    EXPECT_NE(status.problem.find("index.html"), std::string::npos);
    const net::Response page = call(router, net::Method::Get, "/");
    EXPECT_EQ(page.status, 503);
    EXPECT_EQ(page.content_type, "text/html; charset=utf-8");
    EXPECT_NE(page.body.find("not built"), std::string::npos);
    EXPECT_NE(page.body.find("make build"), std::string::npos);
    EXPECT_EQ(call(router, net::Method::Get, "/assets/app-ABCDEFGH.js").status, 404);
}

TEST_F(WebRoutesTest, EventsNeedTheTokenWhenOneIsConfigured) {
    net::Router router;
    add_web_routes(router, options(std::string(kToken)), hub_);
    const net::Response missing = call(router, net::Method::Get, "/events");
    EXPECT_EQ(missing.status, 401);
    EXPECT_EQ(header_of(missing, "WWW-Authenticate"), "Bearer");
    EXPECT_NE(missing.body.find("\"unauthorized\""), std::string::npos);
    EXPECT_EQ(call(router, net::Method::Get, "/events", {{"authorization", "Bearer wrong"}}).status,
              401);
    // The API token itself is refused in the query string, where access logs would keep it.
    EXPECT_EQ(call(router, net::Method::Get, "/events?token=" + std::string(kToken)).status, 401);
    // Accepted: from_callback closes the event stream at once and answers an empty 200.
    const net::Response by_header = call(router, net::Method::Get, "/events",
                                         {{"authorization", "bearer " + std::string(kToken)}});
    EXPECT_EQ(by_header.status, 200);
    EXPECT_EQ(by_header.content_type, "text/event-stream");
}

TEST_F(WebRoutesTest, AStreamTicketOpensTheStreamOnce) {
    net::Router router;
    add_web_routes(router, options(std::string(kToken)), hub_);
    const net::Response anonymous = call(router, net::Method::Post, "/events/ticket");
    EXPECT_EQ(anonymous.status, 401);
    EXPECT_NE(anonymous.body.find("Authorization: Bearer"), std::string::npos);
    EXPECT_EQ(call(router, net::Method::Post, "/events/ticket",
                   {{"authorization", "Bearer wrong"}}).status,
              401);

    const net::Response issued = call(router, net::Method::Post, "/events/ticket",
                                      {{"authorization", "Bearer " + std::string(kToken)}});
    ASSERT_EQ(issued.status, 200);
    EXPECT_EQ(header_of(issued, "Cache-Control"), "no-store");
    const auto body = nlohmann::json::parse(issued.body);
    EXPECT_EQ(body.at("expires_in_s"), 60);
    const std::string ticket = body.at("ticket");
    EXPECT_EQ(ticket.size(), 43U);

    const net::Response opened = call(router, net::Method::Get, "/events?ticket=" + ticket);
    EXPECT_EQ(opened.status, 200);
    EXPECT_EQ(opened.content_type, "text/event-stream");
    const net::Response again = call(router, net::Method::Get, "/events?ticket=" + ticket);
    EXPECT_EQ(again.status, 401);
    EXPECT_NE(again.body.find("spent or expired"), std::string::npos);
    EXPECT_EQ(call(router, net::Method::Get, "/events?ticket=forged").status, 401);
}

TEST_F(WebRoutesTest, SessionTellsWhetherATokenIsNeededWithout401) {
    net::Router router;
    add_web_routes(router, options(std::string(kToken)), hub_);
    const net::Response anonymous = call(router, net::Method::Get, "/dashboard/session");
    EXPECT_EQ(anonymous.status, 200);
    EXPECT_EQ(anonymous.body, R"({"token_required":true,"authenticated":false,"threshold":null})");
    EXPECT_EQ(header_of(anonymous, "Cache-Control"), "no-store");
    const net::Response wrong = call(router, net::Method::Get, "/dashboard/session",
                                     {{"authorization", "Bearer nope"}});
    EXPECT_EQ(wrong.status, 200);
    EXPECT_NE(wrong.body.find("\"authenticated\":false"), std::string::npos);
    const net::Response signed_in = call(router, net::Method::Get, "/dashboard/session",
                                         {{"authorization", "Bearer " + std::string(kToken)}});
    EXPECT_EQ(signed_in.body, R"({"token_required":true,"authenticated":true,"threshold":0.75})");

    net::Router open;
    add_web_routes(open, options(), hub_);
    EXPECT_EQ(call(open, net::Method::Get, "/dashboard/session").body,
              R"({"token_required":false,"authenticated":true,"threshold":0.75})");
}

TEST_F(WebRoutesTest, EventsAreOpenWithoutAToken) {
    net::Router router;
    add_web_routes(router, options(), hub_);
    EXPECT_EQ(call(router, net::Method::Get, "/events").status, 200);
}

TEST_F(WebRoutesTest, EventsAnswer503WhenTheHubIsFull) {
    RecordingSink next;
    LiveHubOptions hub_options;
    hub_options.max_subscribers = 1;
    LiveHub hub(next, hub_options);
    ASSERT_TRUE(hub.subscribe(std::make_shared<FakeEventStream>()));
    net::Router router;
    add_web_routes(router, options(), hub);
    const net::Response response = call(router, net::Method::Get, "/events");
    EXPECT_EQ(response.status, 503);
    EXPECT_EQ(header_of(response, "Retry-After"), "5");
}

TEST(RequestHasToken, BearerHeaderOnly) {
    net::Request request;
    EXPECT_TRUE(request_has_token(request, ""));
    EXPECT_FALSE(request_has_token(request, "secret-token"));
    request.headers = {{"authorization", "Bearer secret-token"}};
    EXPECT_TRUE(request_has_token(request, "secret-token"));
    request.headers = {{"authorization", "Basic secret-token"}};
    EXPECT_FALSE(request_has_token(request, "secret-token"));
    request.headers = {{"authorization", "Bearer secret-token-longer"}};
    EXPECT_FALSE(request_has_token(request, "secret-token"));
    // Never from the query string: access logs keep URLs.
    request.headers = {};
    request.query = {{"token", "secret-token"}};
    EXPECT_FALSE(request_has_token(request, "secret-token"));
}

TEST(LocateDistDir, ConfiguredWinsThenWorkingDirThenBesideTheExecutable) {
    TempDir root;
    EXPECT_EQ(locate_dist_dir("/somewhere/dist", "/x/build/bin/exe"), "/somewhere/dist");
    root.write("repo/web/dist/index.html", "x");
    root.write("repo/build/bin/exe", "");
    // The tests run in the build tree, which has no web/dist: the executable's repo is used.
    const auto found = locate_dist_dir({}, root.path() / "repo" / "build" / "bin" / "exe");
    if (!std::filesystem::exists(std::filesystem::path("web") / "dist" / "index.html")) {
        EXPECT_EQ(found, (root.path() / "repo" / "web" / "dist").lexically_normal());
        EXPECT_EQ(locate_dist_dir({}, root.path() / "elsewhere" / "bin" / "exe"),
                  std::filesystem::path("web") / "dist");
    }
    EXPECT_FALSE(current_executable().empty());
}

// The routes on a real server: the SSE wire format, auth on the wire, and the static files.
class WebServerTest : public net::test::ServerFixture {
protected:
    void SetUp() override {
        dist_.write("index.html", "<!doctype html><title>dashboard</title>");
        dist_.write("assets/app-ABCDEFGH.js", "export const x = 1;");
        net::Router router;
        WebOptions options;
        options.dist_dir = dist_.path();
        options.api_token = std::string(kToken);
        add_web_routes(router, options, hub_);
        start(std::move(router));
    }

    void TearDown() override {
        hub_.close_all();
        ServerFixture::TearDown();
    }

    TempDir dist_;
    RecordingSink next_;
    LiveHub hub_{next_, LiveHubOptions{}};
};

TEST_F(WebServerTest, StaticFilesOverTheWire) {
    const auto index = send_request(server_->port(), "GET", "/");
    ASSERT_TRUE(index.has_value());
    EXPECT_EQ(index->status, 200);
    EXPECT_EQ(index->header("content-type"), "text/html; charset=utf-8");
    EXPECT_EQ(index->body, "<!doctype html><title>dashboard</title>");
    const std::string etag = index->header("etag").value_or("");
    const auto again = send_request(server_->port(), "GET", "/", {}, {{"If-None-Match", etag}});
    ASSERT_TRUE(again.has_value());
    EXPECT_EQ(again->status, 304);
    EXPECT_TRUE(again->body.empty());
    const auto asset = send_request(server_->port(), "GET", "/assets/app-ABCDEFGH.js");
    ASSERT_TRUE(asset.has_value());
    EXPECT_EQ(asset->status, 200);
    EXPECT_EQ(asset->body, "export const x = 1;");
    const auto traversal = send_request(server_->port(), "GET", "/assets/..%2Findex.html");
    ASSERT_TRUE(traversal.has_value());
    EXPECT_EQ(traversal->status, 404);
}

TEST_F(WebServerTest, EventStreamDeliversSnapshotThenLiveScores) {
    const auto refused = send_request(server_->port(), "GET", "/events");
    ASSERT_TRUE(refused.has_value());
    EXPECT_EQ(refused->status, 401);

    hub_.on_stream_started(started_event("call-1", "s1"));
    auto connection = RawConnection::open(server_->port());
    ASSERT_TRUE(connection.has_value());
    const auto issued = send_request(server_->port(), "POST", "/events/ticket", {},
                                     {{"Authorization", "Bearer " + std::string(kToken)}});
    ASSERT_TRUE(issued.has_value());
    ASSERT_EQ(issued->status, 200);
    const std::string ticket = nlohmann::json::parse(issued->body).at("ticket");
    ASSERT_TRUE(connection->write(make_request("GET", "/events?ticket=" + ticket)));
    ASSERT_TRUE(connection->read_until("\r\n\r\n"));
    EXPECT_EQ(connection->received().rfind("HTTP/1.1 200 OK\r\n", 0), 0U);
    EXPECT_NE(connection->received().find("Content-Type: text/event-stream"), std::string::npos);
    ASSERT_TRUE(connection->read_until("event: snapshot\ndata: {\"threshold\":0.75"))
            << connection->received();
    ASSERT_TRUE(connection->read_until("\"call_id\":\"call-1\"")) << connection->received();
    ASSERT_TRUE(eventually([this] { return hub_.stats().subscribers == 1; }));

    spawn([this] { hub_.on_score_changed(score_event("call-1", 2500, 0.93, true)); });
    ASSERT_TRUE(connection->read_until("event: score\ndata: {\"call_id\":\"call-1\""))
            << connection->received();
    ASSERT_TRUE(connection->read_until("\"crossed_threshold\":true}\n\n"))
            << connection->received();
    EXPECT_EQ(next_.scores.size(), 1U);

    connection->close();
    // The hub notices the client leaving at its next event at the latest.
    EXPECT_TRUE(eventually([this] {
        hub_.on_score_changed(score_event("call-1", 3000, 0.93));
        return hub_.stats().subscribers == 0;
    }));
}

}  // namespace
}  // namespace dvd::web::test
