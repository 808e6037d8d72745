// POST /webhooks/voice through the real net::Server on 127.0.0.1:0: signature check, reply after
// the de-dup commit, metrics. The Call Control side is the fake Telnyx.
#include <array>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <random>
#include <string>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "calls/call_controller.hpp"
#include "calls/webhook_endpoint.hpp"
#include "calls_test_util.hpp"
#include "http/http_client.hpp"
#include "net/server.hpp"
#include "protocol/signature.hpp"
#include "store/sqlite_store.hpp"

namespace dvd::calls {
namespace {

using namespace std::chrono_literals;
using test::webhook_body;

std::int64_t unix_now_s() {
    return std::chrono::duration_cast<std::chrono::seconds>(
                   std::chrono::system_clock::now().time_since_epoch())
            .count();
}

class WebhookRoutesTest : public ::testing::Test {
protected:
    WebhookRoutesTest() {
        std::array<std::uint8_t, 32> seed{};
        seed.fill(7);
        keys_ = protocol::ed25519_keypair_from_seed(seed).value();
        std::random_device device;
        dir_ = std::filesystem::temp_directory_path()
               / ("dvd_calls_routes_" + std::to_string(device()) + std::to_string(device()));
        std::filesystem::create_directories(dir_);
        const std::string db = (dir_ / "calls.db").string();

        CallControllerOptions options;
        options.api_base = "http://telnyx.test/v2";
        options.api_key = "KEYtest0123";
        controller_ = std::make_unique<CallController>(
                options,
                CallControllerDeps{
                        .store = store::SqliteStore::open(db).value(),
                        .directory = directory_,
                        .metrics = metrics_,
                        .make_sender =
                                [this] { return std::make_unique<test::FakeSender>(telnyx_); },
                        .sleeper = sleeper_,
                        .now_ms = {},
                        .seed = 7});
        EXPECT_TRUE(controller_->start().has_value());

        net::Router router;
        const auto added = add_webhook_routes(
                router, *controller_,
                WebhookOptions{.public_key_base64 = keys_.public_key_base64()}, metrics_);
        EXPECT_TRUE(added.has_value());
        server_ = std::make_unique<net::Server>(
                net::ServerOptions{.bind_address = "127.0.0.1", .port = 0, .workers = 1},
                std::move(router));
        const auto started = server_->start();
        EXPECT_TRUE(started.has_value()) << started.error().message;
    }

    ~WebhookRoutesTest() override {
        server_->stop(1s);
        controller_->stop(std::chrono::steady_clock::now() + 2s);
        std::error_code ignored;
        std::filesystem::remove_all(dir_, ignored);
    }

    http::HttpResponse post(const std::string& body, bool sign, std::int64_t timestamp_s,
                            http::Headers extra = {}) {
        http::HttpRequest request;
        request.method = "POST";
        request.url = fmt::format("http://127.0.0.1:{}/webhooks/voice", server_->port());
        request.headers = std::move(extra);
        request.headers.add("Content-Type", "application/json");
        if (sign) {
            const std::string timestamp = std::to_string(timestamp_s);
            request.headers.add("Telnyx-Timestamp", timestamp);
            request.headers.add("Telnyx-Signature-Ed25519",
                                protocol::sign_webhook(timestamp, body, keys_));
        }
        request.body = body;
        request.timeout = 5s;
        auto response = client_.send(request);
        EXPECT_TRUE(response.has_value()) << response.error().message;
        return response ? *response : http::HttpResponse{};
    }

    protocol::Ed25519KeyPair keys_;
    std::filesystem::path dir_;
    test::FakeTelnyx telnyx_;
    test::RecordingSleeper sleeper_;
    service::CallDirectory directory_;
    service::Metrics metrics_;
    std::unique_ptr<CallController> controller_;
    std::unique_ptr<net::Server> server_;
    http::HttpClient client_{http::HttpClientOptions{.proxy = ""}};
};

TEST_F(WebhookRoutesTest, SignedWebhookIsAcknowledgedAndActedOn) {
    const auto body = webhook_body("call.initiated", "evt-1", "v3:route", test::inbound_payload());
    const auto first = post(body, true, unix_now_s());
    EXPECT_EQ(first.status, 200);
    EXPECT_EQ(first.body, R"({"status":"ok"})");
    const auto again = post(body, true, unix_now_s());
    EXPECT_EQ(again.status, 200);
    EXPECT_EQ(again.body, R"({"status":"duplicate"})");
    ASSERT_TRUE(controller_->wait_idle(5s));
    EXPECT_EQ(telnyx_.sent("answer").size(), 1U);
    EXPECT_EQ(metrics_.webhooks_accepted.value(), 1U);
    EXPECT_EQ(metrics_.webhooks_duplicate.value(), 1U);
}

TEST_F(WebhookRoutesTest, StreamUrlComesFromTheForwardedHeaders) {
    post(webhook_body("call.initiated", "evt-1", "v3:route", test::inbound_payload()), true,
         unix_now_s());
    auto answered = webhook_body("call.answered", "evt-2", "v3:route");
    // No delivered_to fallback: the URL must come from the request's headers.
    answered.replace(answered.find(test::kDeliveredTo), test::kDeliveredTo.size(), "");
    const auto reply =
            post(answered, true, unix_now_s(),
                 {{"X-Forwarded-Proto", "https"}, {"X-Forwarded-Host", "abc.ngrok.app"}});
    EXPECT_EQ(reply.status, 200);
    ASSERT_TRUE(controller_->wait_idle(5s));
    ASSERT_EQ(telnyx_.sent("streaming_start").size(), 1U);
    EXPECT_EQ(telnyx_.sent("streaming_start")[0].body["stream_url"], "wss://abc.ngrok.app/media");
}

TEST_F(WebhookRoutesTest, ForgedStaleAndMalformedAreRefused) {
    const auto body = webhook_body("call.initiated", "evt-1", "v3:route", test::inbound_payload());
    EXPECT_EQ(post(body, true, unix_now_s()).status, 200);  // the genuine delivery
    EXPECT_EQ(post(body, false, 0).status, 401);
    EXPECT_EQ(post(body, true, unix_now_s() - 301).status, 401);
    // A valid signature of the genuine body on a different body.
    http::HttpRequest tampered;
    const std::string timestamp = std::to_string(unix_now_s());
    tampered.method = "POST";
    tampered.url = fmt::format("http://127.0.0.1:{}/webhooks/voice", server_->port());
    tampered.headers.add("Telnyx-Timestamp", timestamp);
    tampered.headers.add("Telnyx-Signature-Ed25519",
                         protocol::sign_webhook(timestamp, body, keys_));
    tampered.body = webhook_body("call.initiated", "evt-x", "v3:evil", test::inbound_payload());
    const auto refused = client_.send(tampered);
    ASSERT_TRUE(refused.has_value());
    EXPECT_EQ(refused->status, 401);
    EXPECT_NE(refused->body.find("invalid_signature"), std::string::npos);

    EXPECT_EQ(post("{oops", true, unix_now_s()).status, 400);
    EXPECT_EQ(metrics_.webhooks_bad_signature.value(), 3U);
    EXPECT_EQ(metrics_.webhooks_malformed.value(), 1U);
    ASSERT_TRUE(controller_->wait_idle(5s));
    EXPECT_EQ(telnyx_.sent("answer").size(), 1U);  // the genuine delivery only
}

}  // namespace
}  // namespace dvd::calls
