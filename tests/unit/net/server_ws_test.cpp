#include <atomic>
#include <future>
#include <map>
#include <stdexcept>

#include <gtest/gtest.h>

#include "net/server.hpp"
#include "net/ws_client.hpp"
#include "unit/net/http_test_client.hpp"
#include "unit/net/server_test_support.hpp"

namespace dvd::net::test {
namespace {

/// What the server-side handlers saw, for the test thread to check.
struct Recorder {
    std::mutex mutex;
    std::vector<int> workers;
    std::vector<WsHandle> handles;
    std::vector<WsCloseInfo> closes;
    std::vector<std::string> upgrade_queries;

    std::size_t close_count() {
        std::lock_guard lock(mutex);
        return closes.size();
    }
};

/// Echoes text; a few commands exercise the session's edges.
class EchoHandler final : public WsHandler {
public:
    explicit EchoHandler(Recorder& recorder) : recorder_(recorder) {}

    void on_open(WsConnection& connection) override {
        std::lock_guard lock(recorder_.mutex);
        recorder_.workers.push_back(connection.worker());
        recorder_.handles.push_back(connection.handle());
    }

    void on_text(WsConnection& connection, std::string_view message) override {
        if (message == "throw") {
            throw std::runtime_error("handler exploded");
        }
        if (message == "close") {
            connection.send_text("bye");
            connection.close(CloseCode::Normal, "done");
            return;
        }
        if (message == "flood") {
            for (int i = 0; i < 100; ++i) {
                connection.send_text("f" + std::to_string(i));
            }
            return;
        }
        connection.send_text(std::string(message));
    }

    void on_close(const WsCloseInfo& info) override {
        std::lock_guard lock(recorder_.mutex);
        recorder_.closes.push_back(info);
    }

private:
    Recorder& recorder_;
};

class ServerWsTest : public ServerFixture {
protected:
    Router make_router() {
        Router router;
        router.add_websocket("/echo", [this](const Request& request) -> WsAcceptResult {
            {
                std::lock_guard lock(recorder_.mutex);
                recorder_.upgrade_queries.push_back(
                        std::string(request.query_param("call").value_or("-")));
            }
            return std::make_unique<EchoHandler>(recorder_);
        });
        router.add_websocket("/private", [this](const Request& request) -> WsAcceptResult {
            if (request.header("X-Telnyx-Streaming-Auth-Token") != "secret") {
                return Response::json_error(401, "unauthorized", "bad stream token");
            }
            return std::make_unique<EchoHandler>(recorder_);
        });
        return router;
    }

    std::string url(std::string_view path) const {
        return "ws://127.0.0.1:" + std::to_string(server_->port()) + std::string(path);
    }

    WsClient connect(std::string_view path, const std::vector<Field>& headers = {}) {
        auto client = WsClient::connect(url(path), headers, 5s);
        EXPECT_TRUE(client.has_value()) << (client ? "" : client.error().message);
        return std::move(client.value());
    }

    /// Receives one message; "" on error or timeout (with a test failure).
    static std::string receive(WsClient& client) {
        auto message = client.receive(5s);
        EXPECT_TRUE(message.has_value()) << (message ? "" : message.error().message);
        if (!message || !message->has_value()) {
            ADD_FAILURE() << "no message";
            return "";
        }
        return **message;
    }

    /// Expects the server to end the session; returns the close code the client saw.
    static int expect_closed(WsClient& client) {
        for (int i = 0; i < 200; ++i) {
            auto message = client.receive(5s);
            if (!message) {
                return client.close_info() ? client.close_info()->code : -1;
            }
            if (!message->has_value()) {
                ADD_FAILURE() << "timed out waiting for the close";
                return -2;
            }
        }
        ADD_FAILURE() << "the session did not close";
        return -3;
    }

    Recorder recorder_;
};

TEST_F(ServerWsTest, EchoRoundTripThroughWsClient) {
    start(make_router());
    WsClient client = connect("/echo?call=c%201");
    ASSERT_TRUE(client.send_text("hello").has_value());
    EXPECT_EQ(receive(client), "hello");
    const std::string big(60 * 1024, 'b');
    ASSERT_TRUE(client.send_text(big).has_value());
    EXPECT_EQ(receive(client), big);
    ASSERT_TRUE(client.close(CloseCode::Normal, "bye").has_value());
    ASSERT_TRUE(eventually([this] { return recorder_.close_count() == 1; }));
    std::lock_guard lock(recorder_.mutex);
    EXPECT_EQ(recorder_.upgrade_queries, std::vector<std::string>{"c 1"});
    EXPECT_EQ(recorder_.closes[0].code, 1000);
    EXPECT_EQ(recorder_.closes[0].reason, "bye");
    EXPECT_TRUE(recorder_.closes[0].by_peer);
    // The server counts after the close or reply went out: the client can see it first.
    EXPECT_TRUE(eventually([this] { return server_->stats().ws_messages_received == 2U; }))
            << server_->stats().ws_messages_received;
}

TEST_F(ServerWsTest, RefusalIsSeenByWsClientAsAnErrorWith401) {
    start(make_router());
    auto refused = WsClient::connect(url("/private"), {}, 5s);
    ASSERT_FALSE(refused.has_value());
    EXPECT_NE(refused.error().message.find("upgrade refused: HTTP 401"), std::string::npos)
            << refused.error().message;
    EXPECT_NE(refused.error().message.find("bad stream token"), std::string::npos);
    // The server counts after the close or reply went out: the client can see it first.
    EXPECT_TRUE(eventually([this] { return server_->stats().ws_sessions_refused == 1U; }))
            << server_->stats().ws_sessions_refused;

    WsClient client = connect("/private", {{"x-telnyx-streaming-auth-token", "secret"}});
    ASSERT_TRUE(client.send_text("in").has_value());
    EXPECT_EQ(receive(client), "in");
}

TEST_F(ServerWsTest, MessageTooBigCloses1009AndOtherSessionsGoOn) {
    ServerOptions options = test_options();
    options.max_ws_message_bytes = 1024;
    start(make_router(), options);
    WsClient other = connect("/echo");
    WsClient client = connect("/echo");
    ASSERT_TRUE(client.send_text(std::string(1024, 'a')).has_value());
    EXPECT_EQ(receive(client).size(), 1024U) << "exactly the limit is fine";
    ASSERT_TRUE(client.send_text(std::string(4000, 'a')).has_value());
    EXPECT_EQ(expect_closed(client), 1009);
    // The server counts after the close or reply went out: the client can see it first.
    EXPECT_TRUE(eventually([this] { return server_->stats().ws_messages_too_big == 1U; }))
            << server_->stats().ws_messages_too_big;

    ASSERT_TRUE(other.send_text("still fine").has_value());
    EXPECT_EQ(receive(other), "still fine");
    ASSERT_TRUE(eventually([this] { return recorder_.close_count() == 1; }));
    std::lock_guard lock(recorder_.mutex);
    EXPECT_EQ(recorder_.closes[0].code, 1009);
    EXPECT_FALSE(recorder_.closes[0].by_peer);
}

TEST_F(ServerWsTest, HandlerThrowsCloses1011OnlyThatSession) {
    start(make_router());
    WsClient other = connect("/echo");
    WsClient client = connect("/echo");
    ASSERT_TRUE(client.send_text("throw").has_value());
    EXPECT_EQ(expect_closed(client), 1011);
    // The server counts after the close or reply went out: the client can see it first.
    EXPECT_TRUE(eventually([this] { return server_->stats().handler_exceptions == 1U; }))
            << server_->stats().handler_exceptions;
    ASSERT_TRUE(other.send_text("alive").has_value());
    EXPECT_EQ(receive(other), "alive");
}

TEST_F(ServerWsTest, BinaryFramesCloseWith1003ByDefault) {
    start(make_router());
    WsClient client = connect("/echo");
    ASSERT_TRUE(client.send_binary(std::string("\x00\x01\x02", 3)).has_value());
    EXPECT_EQ(expect_closed(client), 1003);
    EXPECT_EQ(client.close_info()->reason, "binary frames are not supported");
}

TEST_F(ServerWsTest, HandlerCloseFlushesQueuedMessagesFirst) {
    start(make_router());
    WsClient client = connect("/echo");
    ASSERT_TRUE(client.send_text("close").has_value());
    EXPECT_EQ(receive(client), "bye");
    EXPECT_EQ(expect_closed(client), 1000);
    EXPECT_EQ(client.close_info()->reason, "done");
}

TEST_F(ServerWsTest, ADroppedClientIsSeenAsAPeerThatVanished) {
    start(make_router());
    WsClient client = connect("/echo");
    ASSERT_TRUE(client.send_text("hello").has_value());
    EXPECT_EQ(receive(client), "hello");
    client.drop();
    ASSERT_TRUE(eventually([this] { return recorder_.close_count() == 1U; }));
    {
        std::lock_guard lock(recorder_.mutex);
        EXPECT_EQ(recorder_.closes.front().code, 1006);
        EXPECT_TRUE(recorder_.closes.front().by_peer);
    }
    EXPECT_FALSE(client.send_text("after").has_value());
    ASSERT_TRUE(client.close_info().has_value());
    EXPECT_EQ(client.close_info()->reason, "dropped");
}

TEST_F(ServerWsTest, FullSendQueueCloses1008) {
    ServerOptions options = test_options();
    options.max_ws_send_queue = 8;
    start(make_router(), options);
    WsClient client = connect("/echo");
    ASSERT_TRUE(client.send_text("flood").has_value());
    EXPECT_EQ(expect_closed(client), 1008);
    // The server counts after the close or reply went out: the client can see it first.
    EXPECT_TRUE(eventually([this] { return server_->stats().ws_send_queue_overflows == 1U; }))
            << server_->stats().ws_send_queue_overflows;
}

TEST_F(ServerWsTest, FiftyConcurrentSessionsSpreadOverBothWorkers) {
    start(make_router());
    std::vector<WsClient> clients;
    for (int i = 0; i < 50; ++i) {
        clients.push_back(connect("/echo"));
    }
    for (int i = 0; i < 50; ++i) {
        ASSERT_TRUE(clients[static_cast<std::size_t>(i)]
                            .send_text("message " + std::to_string(i))
                            .has_value());
    }
    for (int i = 0; i < 50; ++i) {
        EXPECT_EQ(receive(clients[static_cast<std::size_t>(i)]), "message " + std::to_string(i));
    }
    EXPECT_EQ(server_->stats().ws_sessions_active, 50U);
    std::map<int, int> per_worker;
    {
        std::lock_guard lock(recorder_.mutex);
        for (const int worker : recorder_.workers) {
            ++per_worker[worker];
        }
    }
    // The acceptor hands connections out round-robin.
    EXPECT_EQ(per_worker, (std::map<int, int>{{0, 25}, {1, 25}}));
}

TEST_F(ServerWsTest, SessionCapPerWorkerRefusesWith503) {
    ServerOptions options = test_options();
    options.max_ws_sessions_per_worker = 1;
    start(make_router(), options);
    WsClient first = connect("/echo");
    WsClient second = connect("/echo");
    auto third = WsClient::connect(url("/echo"), {}, 5s);
    ASSERT_FALSE(third.has_value());
    EXPECT_NE(third.error().message.find("HTTP 503"), std::string::npos);
}

TEST_F(ServerWsTest, HandleSendsFromAnotherThreadAndGoesStaleAfterTheEnd) {
    start(make_router());
    WsClient client = connect("/echo");
    ASSERT_TRUE(eventually([this] {
        std::lock_guard lock(recorder_.mutex);
        return !recorder_.handles.empty();
    }));
    WsHandle handle;
    {
        std::lock_guard lock(recorder_.mutex);
        handle = recorder_.handles.front();
    }
    spawn([handle] { EXPECT_TRUE(handle.send_text("pushed")); });
    EXPECT_EQ(receive(client), "pushed");
    EXPECT_TRUE(handle.close(CloseCode::PolicyViolation, "revoked"));
    EXPECT_EQ(expect_closed(client), 1008);
    EXPECT_TRUE(eventually([&handle] { return !handle.send_text("late"); }));
    EXPECT_FALSE(WsHandle{}.send_text("never"));
}

TEST_F(ServerWsTest, IdleSessionIsClosed) {
    ServerOptions options = test_options();
    options.ws_idle_timeout = 300ms;
    start(make_router(), options);
    WsClient client = connect("/echo");
    expect_closed(client);
    ASSERT_TRUE(eventually([this] { return recorder_.close_count() == 1; }));
    std::lock_guard lock(recorder_.mutex);
    EXPECT_EQ(recorder_.closes[0].reason, "idle timeout");
    EXPECT_EQ(recorder_.closes[0].code, 1006);
    EXPECT_TRUE(recorder_.closes[0].timed_out);
    EXPECT_FALSE(recorder_.closes[0].by_peer);
}

TEST_F(ServerWsTest, StopClosesSessionsWith1001AndJoins) {
    start(make_router());
    std::vector<WsClient> clients;
    for (int i = 0; i < 4; ++i) {
        clients.push_back(connect("/echo"));
        ASSERT_TRUE(clients.back().send_text("x").has_value());
        EXPECT_EQ(receive(clients.back()), "x");
    }
    auto stopped = std::async(std::launch::async, [this] { server_->stop(5s); });
    for (auto& client : clients) {
        EXPECT_EQ(expect_closed(client), 1001);
        EXPECT_EQ(client.close_info()->reason, "server shutting down");
    }
    ASSERT_EQ(stopped.wait_for(10s), std::future_status::ready);
    EXPECT_EQ(recorder_.close_count(), 4U);
    std::lock_guard lock(recorder_.mutex);
    for (const auto& info : recorder_.closes) {
        EXPECT_EQ(info.code, 1001);
        EXPECT_FALSE(info.by_peer);
    }
    EXPECT_EQ(server_->stats().ws_sessions_active, 0U);
}

TEST_F(ServerWsTest, StopForceClosesAPeerThatNeverAnswers) {
    start(make_router());
    WsClient client = connect("/echo");  // never reads: the close handshake cannot finish
    ASSERT_TRUE(eventually([this] { return server_->stats().ws_sessions_active == 1; }));
    server_->stop(200ms);
    EXPECT_EQ(recorder_.close_count(), 1U) << "on_close still runs, on the worker";
}

TEST(WsClient, ReportsConnectFailuresAndBadUrls) {
    EXPECT_FALSE(WsClient::connect("http://127.0.0.1:1/x", {}, 1s).has_value());
    EXPECT_FALSE(WsClient::connect("ws://127.0.0.1:notaport/x", {}, 1s).has_value());
    EXPECT_FALSE(WsClient::connect("ws://[::1/x", {}, 1s).has_value());
    // Port 1 on loopback: nothing listens there.
    const auto refused = WsClient::connect("ws://127.0.0.1:1/x", {}, 2s);
    ASSERT_FALSE(refused.has_value());
    EXPECT_NE(refused.error().message.find("cannot connect"), std::string::npos)
            << refused.error().message;
}

TEST_F(ServerWsTest, ReceiveTimeoutKeepsTheReadPending) {
    start(make_router());
    WsClient client = connect("/echo");
    auto nothing = client.receive(50ms);
    ASSERT_TRUE(nothing.has_value());
    EXPECT_FALSE(nothing->has_value());
    ASSERT_TRUE(client.send_text("after a timeout").has_value());
    EXPECT_EQ(receive(client), "after a timeout");
}

TEST_F(ServerWsTest, UpgradeOnAnHttpOnlyPathIsNotFound) {
    start(make_router());
    auto missing = WsClient::connect(url("/nowhere"), {}, 5s);
    ASSERT_FALSE(missing.has_value());
    EXPECT_NE(missing.error().message.find("HTTP 404"), std::string::npos);
}

}  // namespace
}  // namespace dvd::net::test
