#include "http/http_client.hpp"

#include <string>

#include <gtest/gtest.h>

#include "http/errc.hpp"
#include "support/loopback_server.hpp"

namespace dvd::http {
namespace {

using namespace std::chrono_literals;
using test::LoopbackServer;
using test::ScriptedResponse;

// Tests talk to 127.0.0.1 only: never through a proxy from the environment.
HttpClientOptions test_options() {
    HttpClientOptions options;
    options.proxy = "";
    return options;
}

// 200 with a chunked body of 50 'a' then 50 'b' (no Content-Length to refuse early).
ScriptedResponse chunked_a50_b50() {
    return {.raw = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n32\r\n" +
                   std::string(50, 'a') + "\r\n32\r\n" + std::string(50, 'b') +
                   "\r\n0\r\n\r\n"};
}

void expect_error(const base::Result<HttpResponse>& r, Errc code) {
    ASSERT_FALSE(r) << "status " << r->status;
    EXPECT_EQ(r.error().code, make_error_code(code)) << r.error().message;
    EXPECT_FALSE(r.error().message.empty());
}

TEST(HttpClient, GetReturnsStatusHeadersAndBody) {
    LoopbackServer server;
    server.push({.status = 200, .headers = {{"X-Request-Id", "abc"}}, .body = "hello"});
    HttpClient client(test_options());

    const auto r = client.send({.method = "GET", .url = server.url("/health?verbose=1")});

    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "hello");
    EXPECT_EQ(r->headers.find("x-request-id"), "abc");
    EXPECT_EQ(r->headers.find("CONTENT-LENGTH"), "5");
    const auto requests = server.requests();
    ASSERT_EQ(requests.size(), 1u);
    EXPECT_EQ(requests[0].method, "GET");
    EXPECT_EQ(requests[0].target, "/health?verbose=1");
    EXPECT_EQ(requests[0].header("User-Agent"), "deepfake-voice-detector/0.1");
    EXPECT_TRUE(requests[0].body.empty());
}

TEST(HttpClient, PostSendsExactBodyAndHeadersWithoutExpectContinue) {
    LoopbackServer server;
    server.push({.status = 201, .body = "{}"});
    HttpClient client(test_options());
    const std::string body(4000, 'x');  // large enough for libcurl's default Expect: 100-continue

    const auto r = client.send(
            {.method = "POST",
             .url = server.url("/v2/things"),
             .headers = {{"Authorization", "Bearer KEY123"}, {"Content-Type", "application/json"}},
             .body = body});

    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->status, 201);
    const auto requests = server.requests();
    ASSERT_EQ(requests.size(), 1u);
    EXPECT_EQ(requests[0].method, "POST");
    EXPECT_EQ(requests[0].body, body);
    EXPECT_EQ(requests[0].header("authorization"), "Bearer KEY123");
    EXPECT_EQ(requests[0].header("content-type"), "application/json");
    EXPECT_EQ(requests[0].header("content-length"), "4000");
    EXPECT_FALSE(requests[0].header("expect"));
}

TEST(HttpClient, BodyWithoutContentTypeGetsNoFormDefault) {
    LoopbackServer server;
    server.push({});
    HttpClient client(test_options());
    ASSERT_TRUE(client.send({.method = "PUT", .url = server.url("/x"), .body = "raw"}));
    const auto requests = server.requests();
    ASSERT_EQ(requests.size(), 1u);
    EXPECT_EQ(requests[0].method, "PUT");
    EXPECT_EQ(requests[0].body, "raw");
    EXPECT_FALSE(requests[0].header("content-type"));
}

TEST(HttpClient, PostWithEmptyBodySendsContentLengthZero) {
    LoopbackServer server;
    server.push({});
    HttpClient client(test_options());
    ASSERT_TRUE(client.send({.method = "POST", .url = server.url("/empty")}));
    const auto requests = server.requests();
    ASSERT_EQ(requests.size(), 1u);
    EXPECT_EQ(requests[0].header("content-length"), "0");
}

TEST(HttpClient, CustomMethodWithoutBody) {
    LoopbackServer server;
    server.push({.status = 204});
    HttpClient client(test_options());
    const auto r = client.send({.method = "DELETE", .url = server.url("/calls/1")});
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->status, 204);
    EXPECT_EQ(server.requests().at(0).method, "DELETE");
}

TEST(HttpClient, ErrorStatusIsAResponseNotAnError) {
    LoopbackServer server;
    server.push({.status = 500, .body = "boom"});
    HttpClient client(test_options());
    const auto r = client.send({.url = server.url("/")});
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->status, 500);
    EXPECT_EQ(r->body, "boom");
}

TEST(HttpClient, ReusesItsConnectionAcrossRequests) {
    LoopbackServer server;
    server.push({.body = "1"});
    server.push({.body = "2"});
    server.push({.body = "3"});
    HttpClient client(test_options());
    for (const char* expected : {"1", "2", "3"}) {
        const auto r = client.send({.url = server.url("/")});
        ASSERT_TRUE(r) << r.error().message;
        EXPECT_EQ(r->body, expected);
    }
    EXPECT_EQ(server.connections_accepted(), 1);
}

TEST(HttpClient, InterimResponseHeadersAreDropped) {
    LoopbackServer server;
    server.push({.raw = "HTTP/1.1 100 Continue\r\nX-Interim: yes\r\n\r\n"
                        "HTTP/1.1 200 OK\r\nX-Final: yes\r\nContent-Length: 2\r\n\r\nok"});
    HttpClient client(test_options());
    const auto r = client.send({.method = "POST", .url = server.url("/"), .body = "b"});
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "ok");
    EXPECT_TRUE(r->headers.contains("x-final"));
    EXPECT_FALSE(r->headers.contains("x-interim"));
}

TEST(HttpClient, FoldedResponseHeaderIsJoinedWithoutLosingRepeats) {
    LoopbackServer server;
    server.push({.raw = "HTTP/1.1 200 OK\r\nX-A: 1\r\nX-A: 2\r\n  continued\r\n"
                        "Content-Length: 0\r\n\r\n"});
    HttpClient client(test_options());
    const auto r = client.send({.url = server.url("/")});
    ASSERT_TRUE(r) << r.error().message;
    ASSERT_EQ(r->headers.size(), 3u);
    EXPECT_EQ(r->headers.entries()[0].value, "1");
    EXPECT_EQ(r->headers.entries()[1].value, "2 continued");
}

TEST(HttpClient, ConnectionRefusedIsAnErrorValue) {
    HttpClient client(test_options());
    const auto port = LoopbackServer::closed_port();
    const auto r =
            client.send({.url = "http://127.0.0.1:" + std::to_string(port) + "/secret/path"});
    expect_error(r, Errc::Connect);
    EXPECT_NE(r.error().message.find("GET http://127.0.0.1:"), std::string::npos)
            << r.error().message;
    EXPECT_EQ(r.error().message.find("/secret/path"), std::string::npos)
            << "error messages must not repeat the URL path: " << r.error().message;
}

TEST(HttpClient, TimeoutIsAnErrorValue) {
    LoopbackServer server;
    server.push({.action = ScriptedResponse::Action::Hang});
    HttpClient client(test_options());
    const auto start = std::chrono::steady_clock::now();
    const auto r = client.send({.url = server.url("/slow"), .timeout = 200ms});
    const auto elapsed = std::chrono::steady_clock::now() - start;
    expect_error(r, Errc::Timeout);
    EXPECT_LT(elapsed, 5s);
}

TEST(HttpClient, ConnectionClosedWithoutReplyIsATransferError) {
    LoopbackServer server;
    server.push({.action = ScriptedResponse::Action::Close});
    HttpClient client(test_options());
    expect_error(client.send({.url = server.url("/")}), Errc::Transfer);
}

TEST(HttpClient, BodyOverTheLimitWithContentLengthIsRefused) {
    LoopbackServer server;
    server.push({.body = std::string(100, 'a')});
    auto options = test_options();
    options.max_response_body_bytes = 64;
    HttpClient client(options);
    const auto r = client.send({.url = server.url("/")});
    expect_error(r, Errc::BodyTooLarge);
    EXPECT_NE(r.error().message.find("64"), std::string::npos) << r.error().message;
}

TEST(HttpClient, ChunkedBodyOverTheLimitIsRefused) {
    LoopbackServer server;
    server.push(chunked_a50_b50());
    auto options = test_options();
    options.max_response_body_bytes = 64;
    HttpClient client(options);
    expect_error(client.send({.url = server.url("/")}), Errc::BodyTooLarge);
}

TEST(HttpClient, BodyExactlyAtTheLimitIsAccepted) {
    LoopbackServer server;
    server.push({.body = std::string(64, 'a')});
    auto options = test_options();
    options.max_response_body_bytes = 64;
    HttpClient client(options);
    const auto r = client.send({.url = server.url("/")});
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->body.size(), 64u);
}

TEST(HttpClient, ZeroBodyLimitMeansNoLimit) {
    LoopbackServer server;
    server.push({.body = std::string(5000, 'z')});
    auto options = test_options();
    options.max_response_body_bytes = 0;
    HttpClient client(options);
    const auto r = client.send({.url = server.url("/")});
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->body.size(), 5000u);
}

TEST(HttpClient, BodySinkReceivesA2xxBodyBeyondTheBufferLimit) {
    LoopbackServer server;
    server.push(chunked_a50_b50());
    auto options = test_options();
    options.max_response_body_bytes = 64;
    HttpClient client(options);
    std::string sunk;
    const auto r = client.send({.url = server.url("/"), .body_sink = [&](std::string_view chunk) {
                                    sunk.append(chunk);
                                    return true;
                                }});
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->status, 200);
    EXPECT_TRUE(r->body.empty());
    EXPECT_EQ(sunk, std::string(50, 'a') + std::string(50, 'b'));
}

TEST(HttpClient, BodySinkDoesNotReceiveAnErrorBody) {
    LoopbackServer server;
    server.push({.status = 403, .body = "<Error><Code>AccessDenied</Code></Error>"});
    HttpClient client(test_options());
    bool called = false;
    const auto r = client.send({.url = server.url("/"), .body_sink = [&](std::string_view) {
                                    called = true;
                                    return true;
                                }});
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->status, 403);
    EXPECT_FALSE(called);
    EXPECT_EQ(r->body, "<Error><Code>AccessDenied</Code></Error>");
}

TEST(HttpClient, BodySinkRefusalAbortsWithSinkFailed) {
    LoopbackServer server;
    server.push({.body = std::string(100, 'a')});
    server.push({.body = "next"});
    HttpClient client(test_options());
    const auto r = client.send(
            {.url = server.url("/"), .body_sink = [](std::string_view) { return false; }});
    expect_error(r, Errc::SinkFailed);
    EXPECT_FALSE(is_transient(Errc::SinkFailed));
    const auto next = client.send({.url = server.url("/")});
    ASSERT_TRUE(next) << next.error().message;
    EXPECT_EQ(next->body, "next");
}

TEST(HttpClient, ClientStillWorksAfterAnError) {
    LoopbackServer server;
    server.push({.action = ScriptedResponse::Action::Close});
    server.push({.body = "fine"});
    HttpClient client(test_options());
    EXPECT_FALSE(client.send({.url = server.url("/")}));
    const auto r = client.send({.url = server.url("/")});
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->body, "fine");
}

TEST(HttpClient, MovedClientKeepsWorking) {
    LoopbackServer server;
    server.push({.body = "moved"});
    HttpClient first(test_options());
    HttpClient second(std::move(first));
    const auto r = second.send({.url = server.url("/")});
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->body, "moved");
}

TEST(HttpClient, InvalidRequestsAreRefusedBeforeSending) {
    LoopbackServer server;
    HttpClient client(test_options());
    expect_error(client.send({.method = "GE T", .url = server.url("/")}), Errc::InvalidRequest);
    expect_error(client.send({.url = "ftp://127.0.0.1/file"}), Errc::InvalidRequest);
    expect_error(client.send({.url = "http:///nohost"}), Errc::InvalidRequest);
    expect_error(client.send({.url = server.url("/a b")}), Errc::InvalidRequest);
    expect_error(client.send({.url = server.url("/"), .headers = {{"X-A", "1\r\nX-Injected: 2"}}}),
                 Errc::InvalidRequest);
    expect_error(client.send({.url = server.url("/"), .headers = {{"Bad Name", "1"}}}),
                 Errc::InvalidRequest);
    expect_error(client.send({.url = server.url("/"), .timeout = 0ms}), Errc::InvalidRequest);
    EXPECT_TRUE(server.requests().empty());
}

TEST(HttpClient, ValidateAcceptsAnOrdinaryRequest) {
    EXPECT_TRUE(validate({.method = "POST",
                          .url = "HTTPS://api.telnyx.com/v2/calls",
                          .headers = {{"Authorization", "Bearer k"}, {"X-Empty", ""}}}));
}

}  // namespace
}  // namespace dvd::http
