#include "sim/webhook_dispatcher.hpp"

#include <array>
#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "protocol/errc.hpp"
#include "protocol/webhook.hpp"
#include "support/loopback_server.hpp"

namespace dvd::sim {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using test::LoopbackServer;
using test::ScriptedResponse;

class WebhookDispatcherTest : public ::testing::Test {
protected:
    WebhookDispatcherTest() {
        std::array<std::uint8_t, 32> seed{};
        seed.fill(3);
        keys_ = protocol::ed25519_keypair_from_seed(seed).value();
        options_.first_retry_delay = 10ms;
        options_.max_retry_delay = 40ms;
        options_.threads = 1;
    }

    OutgoingWebhook webhook(std::string type, std::string call = "v3:call-1") {
        static int counter = 0;
        return OutgoingWebhook{std::move(type),
                               "event-" + std::to_string(++counter),
                               "2026-01-01T10:00:00.000000Z",
                               R"({"call_control_id":")" + call + "\"}",
                               server_.url("/webhooks/voice"),
                               std::move(call)};
    }

    void start() {
        dispatcher_ = std::make_unique<WebhookDispatcher>(
                options_, keys_, [this](const std::string& call, EventRecord record) {
                    const std::lock_guard lock(mutex_);
                    static_cast<void>(call);
                    done_.push_back(std::move(record));
                    changed_.notify_all();
                });
        dispatcher_->start();
    }

    std::vector<EventRecord> wait_for(std::size_t n) {
        std::unique_lock lock(mutex_);
        EXPECT_TRUE(changed_.wait_for(lock, 10s, [&] { return done_.size() >= n; }));
        return done_;
    }

    // Every request verifies with the public key and parses as a webhook.
    void expect_signed(const test::ReceivedRequest& request) {
        const auto verifier = protocol::WebhookVerifier::create(keys_.public_key_base64()).value();
        const auto now = std::chrono::time_point_cast<std::chrono::seconds>(
                std::chrono::system_clock::now());
        const auto ok = verifier.verify(request.header("telnyx-signature-ed25519"),
                                        request.header("telnyx-timestamp"), request.body, now);
        EXPECT_TRUE(ok.has_value()) << (ok ? "" : ok.error().message);
        EXPECT_EQ(request.header("user-agent"), "telnyx-webhooks");
        EXPECT_EQ(request.header("content-type"), "application/json");
        EXPECT_TRUE(protocol::parse_webhook(request.body).has_value());
    }

    LoopbackServer server_;
    protocol::Ed25519KeyPair keys_;
    DeliveryOptions options_;
    std::unique_ptr<WebhookDispatcher> dispatcher_;
    std::mutex mutex_;
    std::condition_variable changed_;
    std::vector<EventRecord> done_;
};

TEST_F(WebhookDispatcherTest, DeliversSignedEnvelopes) {
    server_.push({200, {}, "ok"});
    start();
    EXPECT_TRUE(dispatcher_->enqueue(webhook("call.initiated")));
    const auto done = wait_for(1);
    EXPECT_TRUE(done[0].delivered);
    EXPECT_EQ(done[0].attempts, 1);
    EXPECT_EQ(done[0].http_status, 200);
    const auto requests = server_.requests();
    ASSERT_EQ(requests.size(), 1U);
    EXPECT_EQ(requests[0].method, "POST");
    EXPECT_EQ(requests[0].target, "/webhooks/voice");
    expect_signed(requests[0]);
    const json body = json::parse(requests[0].body);
    EXPECT_EQ(body["meta"]["attempt"], 1);
    EXPECT_EQ(body["meta"]["delivered_to"], server_.url("/webhooks/voice"));
}

TEST_F(WebhookDispatcherTest, RetriesServerErrorsWithIncreasingAttemptNumbers) {
    server_.push({503, {}, "busy"});
    server_.push({429, {}, "slow down"});
    server_.push({200, {}, "ok"});
    start();
    EXPECT_TRUE(dispatcher_->enqueue(webhook("call.answered")));
    const auto done = wait_for(1);
    EXPECT_TRUE(done[0].delivered);
    EXPECT_EQ(done[0].attempts, 3);
    const auto requests = server_.requests();
    ASSERT_EQ(requests.size(), 3U);
    std::string id;
    for (std::size_t i = 0; i < requests.size(); ++i) {
        expect_signed(requests[i]);  // each attempt is signed afresh (its body differs)
        const json body = json::parse(requests[i].body);
        EXPECT_EQ(body["meta"]["attempt"], static_cast<int>(i) + 1);
        if (i == 0) {
            id = body["data"]["id"];
        }
        EXPECT_EQ(body["data"]["id"], id);  // the same event every time
    }
}

TEST_F(WebhookDispatcherTest, OtherClientErrorsAreNotRetried) {
    server_.push({401, {}, R"({"error":{"code":"bad_signature","message":"no"}})"});
    start();
    EXPECT_TRUE(dispatcher_->enqueue(webhook("call.hangup")));
    const auto done = wait_for(1);
    EXPECT_FALSE(done[0].delivered);
    EXPECT_EQ(done[0].attempts, 1);
    EXPECT_EQ(done[0].http_status, 401);
    EXPECT_EQ(server_.requests().size(), 1U);
}

TEST_F(WebhookDispatcherTest, GivesUpAfterMaxAttempts) {
    options_.max_attempts = 2;
    server_.push({500, {}, "e"});
    server_.push({500, {}, "e"});
    server_.push({200, {}, "never reached"});
    start();
    EXPECT_TRUE(dispatcher_->enqueue(webhook("call.hangup")));
    const auto done = wait_for(1);
    EXPECT_FALSE(done[0].delivered);
    EXPECT_EQ(done[0].attempts, 2);
    EXPECT_EQ(server_.requests().size(), 2U);
}

TEST_F(WebhookDispatcherTest, TransportErrorsAreRetriedThenReported) {
    options_.max_attempts = 2;
    start();
    OutgoingWebhook w = webhook("call.hangup");
    w.url = "http://127.0.0.1:1/webhooks/voice";  // nothing listens on port 1
    EXPECT_TRUE(dispatcher_->enqueue(w));
    const auto done = wait_for(1);
    EXPECT_FALSE(done[0].delivered);
    EXPECT_EQ(done[0].attempts, 2);
    EXPECT_EQ(done[0].http_status, 0);
    EXPECT_FALSE(done[0].error.empty());
}

TEST_F(WebhookDispatcherTest, DuplicateDeliverySendsTheSameEventTwice) {
    options_.duplicate_event_types = {"call.answered"};
    server_.push({200, {}, "ok"});
    server_.push({200, {}, "ok"});
    start();
    EXPECT_TRUE(dispatcher_->enqueue(webhook("call.answered")));
    const auto done = wait_for(1);
    EXPECT_TRUE(done[0].duplicated);
    const auto requests = server_.requests();
    ASSERT_EQ(requests.size(), 2U);
    EXPECT_EQ(json::parse(requests[0].body)["data"]["id"],
              json::parse(requests[1].body)["data"]["id"]);
    expect_signed(requests[1]);
}

TEST_F(WebhookDispatcherTest, HeldBackEventArrivesAfterTheNextOneOfItsCall) {
    options_.hold_back_event_types = {"call.initiated"};
    options_.hold_back_timeout = 10s;  // the next event releases it long before
    for (int i = 0; i < 3; ++i) {
        server_.push({200, {}, "ok"});
    }
    start();
    EXPECT_TRUE(dispatcher_->enqueue(webhook("call.initiated")));
    EXPECT_TRUE(dispatcher_->enqueue(webhook("call.answered")));
    const auto done = wait_for(2);
    EXPECT_EQ(done[0].event_type, "call.answered");
    EXPECT_EQ(done[1].event_type, "call.initiated");
    EXPECT_TRUE(done[1].held_back);
    const auto requests = server_.requests();
    ASSERT_EQ(requests.size(), 2U);
    EXPECT_EQ(json::parse(requests[0].body)["data"]["event_type"], "call.answered");
    EXPECT_EQ(json::parse(requests[1].body)["data"]["event_type"], "call.initiated");
}

TEST_F(WebhookDispatcherTest, HeldBackEventIsReleasedAfterItsTimeout) {
    options_.hold_back_event_types = {"call.hangup"};
    options_.hold_back_timeout = 20ms;
    server_.push({200, {}, "ok"});
    start();
    EXPECT_TRUE(dispatcher_->enqueue(webhook("call.hangup")));
    const auto done = wait_for(1);
    EXPECT_TRUE(done[0].delivered);
    EXPECT_TRUE(done[0].held_back);
}

TEST_F(WebhookDispatcherTest, StaleAndForgedSignaturesCanBeAskedFor) {
    options_.timestamp_offset = -600s;
    server_.push({200, {}, "ok"});
    start();
    EXPECT_TRUE(dispatcher_->enqueue(webhook("call.initiated")));
    wait_for(1);
    const auto request = server_.requests().at(0);
    const auto verifier = protocol::WebhookVerifier::create(keys_.public_key_base64()).value();
    const auto now =
            std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
    const auto result = verifier.verify(request.header("telnyx-signature-ed25519"),
                                        request.header("telnyx-timestamp"), request.body, now);
    ASSERT_FALSE(result.has_value());
    EXPECT_EQ(result.error().code, protocol::Errc::StaleTimestamp);
}

TEST_F(WebhookDispatcherTest, StopReportsWhatWasNeverSent) {
    options_.hold_back_event_types = {"call.initiated"};
    options_.hold_back_timeout = 60s;
    start();
    EXPECT_TRUE(dispatcher_->enqueue(webhook("call.initiated")));
    // Queued or already held by the lane: either way it was never sent.
    dispatcher_->stop();
    const auto done = wait_for(1);
    EXPECT_FALSE(done[0].delivered);
    EXPECT_EQ(done[0].error, "simulator stopped");
    EXPECT_TRUE(server_.requests().empty());
    dispatcher_->stop();                                         // idempotent
    EXPECT_FALSE(dispatcher_->enqueue(webhook("call.hangup")));  // refused, no callback
    EXPECT_EQ(wait_for(1).size(), 1U);
}

TEST(DeliveryOptions, Validate) {
    EXPECT_TRUE(validate(DeliveryOptions{}).has_value());
    DeliveryOptions bad;
    bad.threads = 0;
    EXPECT_FALSE(validate(bad).has_value());
    bad = DeliveryOptions{};
    bad.request_timeout = 0ms;
    EXPECT_FALSE(validate(bad).has_value());
}

}  // namespace
}  // namespace dvd::sim
