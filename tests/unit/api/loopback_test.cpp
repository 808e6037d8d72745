// The media and API routes behind the real net::Server on 127.0.0.1:0: a Telnyx-like WebSocket
// client streams a call, a bad stream is closed while a good one goes on, and the JSON API and
// the relay answer over real HTTP.
#include <chrono>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "api/api_service.hpp"
#include "http/http_client.hpp"
#include "media/media_routes.hpp"
#include "net/ws_client.hpp"
#include "unit/media/media_test_support.hpp"

namespace dvd::api {
namespace {

using Json = nlohmann::json;
using namespace std::chrono_literals;
using media::test::media_frame;
using media::test::start_frame;
using media::test::stop_frame;

constexpr const char* kApiToken = "loopback-token-0123456789";

class LoopbackTest : public ::testing::Test {
protected:
    void SetUp() override {
        h_.add_call("call-ws", "v3:ws", "ws-secret");
        h_.add_call("call-bad", "v3:bad", "");
        auto reader =
                store::SqliteStore::open(h_.db_path(), store::StoreOptions{.read_only = true});
        ASSERT_TRUE(reader) << reader.error().message;
        api_ = std::make_unique<ApiService>(ApiOptions{.api_token = kApiToken, .version = "test"},
                                            std::move(*reader),
                                            ApiDeps{.model = media::test::test_model().model,
                                                    .tables = media::test::test_model().tables,
                                                    .archive = h_.archive,
                                                    .metrics = h_.metrics});
        net::Router router;
        media::add_media_routes(router, h_.deps, relay_);
        add_api_routes(router, *api_);
        server_ = std::make_unique<net::Server>(
                net::ServerOptions{.bind_address = "127.0.0.1", .port = 0, .workers = 2},
                std::move(router));
        auto started = server_->start();
        ASSERT_TRUE(started) << started.error().message;
        base_ = "127.0.0.1:" + std::to_string(server_->port());
    }

    void TearDown() override {
        client_ = http::HttpClient{};  // drop the keep-alive connection first
        if (server_) {
            server_->stop(1s);
        }
    }

    http::HttpResponse http(std::string method, std::string path, std::string body = {},
                            bool with_token = true) {
        http::HttpRequest request;
        request.method = std::move(method);
        request.url = "http://" + base_ + path;
        request.body = std::move(body);
        if (with_token) {
            request.headers.add("Authorization", std::string("Bearer ") + kApiToken);
        }
        if (!request.body.empty()) {
            request.headers.add("Content-Type", "application/json");
        }
        auto response = client_.send(request);
        EXPECT_TRUE(response) << response.error().message;
        return response ? *response : http::HttpResponse{};
    }

    /// Receives until the server closes; returns the close info.
    static net::WsCloseInfo until_closed(net::WsClient& client) {
        for (int i = 0; i < 1000; ++i) {
            auto message = client.receive(10s);
            if (!message) {
                break;
            }
            if (!*message) {
                ADD_FAILURE() << "no close within 10 s";
                break;
            }
        }
        return client.close_info().value_or(net::WsCloseInfo{0, "none", false});
    }

    media::test::Harness h_;
    media::MediaRelay relay_{h_.deps};
    std::unique_ptr<ApiService> api_;
    std::unique_ptr<net::Server> server_;
    std::string base_;
    http::HttpClient client_;
};

TEST_F(LoopbackTest, StreamsACallOverAWebSocketWhileABadStreamIsClosed) {
    auto good = net::WsClient::connect("ws://" + base_ + "/media?call=1",
                                       {{"x-telnyx-streaming-auth-token", "ws-secret"}}, 5s);
    ASSERT_TRUE(good) << good.error().message;
    auto bad = net::WsClient::connect("ws://" + base_ + "/webhooks/media", {}, 5s);
    ASSERT_TRUE(bad) << bad.error().message;

    ASSERT_TRUE(good->send_text(start_frame("v3:ws", "s-ws")));
    ASSERT_TRUE(bad->send_text(start_frame("v3:bad", "s-bad")));
    const auto payloads = media::test::pcmu_frames(media::test::sample_speech());
    std::uint64_t seq = 2;
    for (std::size_t i = 0; i < payloads.size(); ++i) {
        ASSERT_TRUE(good->send_text(media_frame("s-ws", seq++, payloads[i])));
        if (i == payloads.size() / 2) {
            ASSERT_TRUE(bad->send_text("{garbage"));
        }
    }
    const auto bad_close = until_closed(*bad);
    EXPECT_EQ(bad_close.code, 1007);
    EXPECT_EQ(bad_close.reason.rfind("malformed frame", 0), 0u) << bad_close.reason;

    ASSERT_TRUE(good->send_text(stop_frame("v3:ws", "s-ws", seq)));
    const auto good_close = until_closed(*good);
    EXPECT_EQ(good_close.code, 1000);
    EXPECT_EQ(good_close.reason, "stop");
    ASSERT_TRUE(h_.sink.wait_ended(2));
    h_.sync();

    const auto listed = http("GET", "/calls?status=streaming");
    ASSERT_EQ(listed.status, 200) << listed.body;
    EXPECT_EQ(Json::parse(listed.body)["total"], 2);
    const auto one = http("GET", "/calls/v3:ws");
    ASSERT_EQ(one.status, 200);
    const Json call = Json::parse(one.body);
    EXPECT_GE(call["timeline"].size(), 3u);
    EXPECT_FALSE(call["score"].is_null());
    const auto analyzed = http("POST", "/calls/call-ws/analyze");
    ASSERT_EQ(analyzed.status, 200) << analyzed.body;
    EXPECT_EQ(Json::parse(analyzed.body)["windows"].size(), call["timeline"].size());
}

TEST_F(LoopbackTest, UnknownCallAndBadTokenAreClosedWith1008) {
    auto unknown = net::WsClient::connect("ws://" + base_ + "/media", {}, 5s);
    ASSERT_TRUE(unknown);
    ASSERT_TRUE(unknown->send_text(start_frame("v3:nobody", "s-1")));
    const auto closed = until_closed(*unknown);
    EXPECT_EQ(closed.code, 1008);
    EXPECT_EQ(closed.reason, "unknown call");

    auto wrong = net::WsClient::connect("ws://" + base_ + "/media",
                                        {{"x-telnyx-streaming-auth-token", "nope"}}, 5s);
    ASSERT_TRUE(wrong);
    ASSERT_TRUE(wrong->send_text(start_frame("v3:ws", "s-2")));
    const auto refused = until_closed(*wrong);
    EXPECT_EQ(refused.code, 1008);
    EXPECT_EQ(refused.reason, "bad stream token");
}

TEST_F(LoopbackTest, ApiAndRelayOverHttp) {
    const auto health = http("GET", "/health", {}, false);
    ASSERT_EQ(health.status, 200);
    EXPECT_EQ(Json::parse(health.body)["status"], "ok");
    const auto refused = http("GET", "/calls", {}, false);
    EXPECT_EQ(refused.status, 401);
    EXPECT_TRUE(refused.headers.contains("www-authenticate"));
    const auto metrics = http("GET", "/metrics");
    EXPECT_EQ(metrics.status, 200);
    EXPECT_NE(metrics.body.find("dvd_media_frames_total"), std::string::npos);
    EXPECT_EQ(http("POST", "/calls", R"({"to":"+13125550142"})").status, 503);
    EXPECT_EQ(http("GET", "/calls/none").status, 404);

    http::HttpRequest relay;
    relay.method = "POST";
    relay.url = "http://" + base_ + "/webhooks/media";
    relay.headers = {{"Content-Type", "application/json"}};
    relay.body = "[" + start_frame("v3:bad", "s-relay") + ","
                 + media_frame("s-relay", 2, std::vector<std::uint8_t>(160, 0xFF)) + "]";
    auto started = client_.send(relay);
    ASSERT_TRUE(started);
    EXPECT_EQ(started->status, 200) << started->body;
    relay.body = stop_frame("v3:bad", "s-relay", 3);
    auto stopped = client_.send(relay);
    ASSERT_TRUE(stopped);
    EXPECT_EQ(stopped->status, 200) << stopped->body;
    EXPECT_EQ(Json::parse(stopped->body)["ended"].size(), 1u);
}

}  // namespace
}  // namespace dvd::api
