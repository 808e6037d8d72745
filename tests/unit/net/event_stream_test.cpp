#include <gtest/gtest.h>

#include "net/server.hpp"
#include "unit/net/http_test_client.hpp"
#include "unit/net/server_test_support.hpp"

namespace dvd::net::test {
namespace {

class EventStreamTest : public ServerFixture {
protected:
    Router make_router() {
        Router router;
        router.add(Method::Get, "/events", [this](Request request, Responder responder) {
            auto stream = std::move(responder).start_event_stream();
            // Sent on the worker before the connection drains: only the queue limit applies.
            const int burst = std::stoi(std::string(request.query_param("burst").value_or("0")));
            int accepted = 0;
            for (int i = 0; i < burst; ++i) {
                accepted += stream->send("burst", std::to_string(i)) ? 1 : 0;
            }
            std::lock_guard lock(mutex_);
            burst_accepted_ = accepted;
            streams_.push_back(std::move(stream));
        });
        return router;
    }

    std::shared_ptr<Responder::EventStream> stream(std::size_t index) {
        EXPECT_TRUE(eventually([this, index] {
            std::lock_guard lock(mutex_);
            return streams_.size() > index;
        }));
        std::lock_guard lock(mutex_);
        return streams_.size() > index ? streams_[index] : nullptr;
    }

    RawConnection open_stream(std::string_view target = "/events") {
        auto connection = RawConnection::open(server_->port());
        EXPECT_TRUE(connection.has_value());
        EXPECT_TRUE(connection->write(make_request("GET", target)));
        EXPECT_TRUE(connection->read_until("\r\n\r\n"));
        EXPECT_EQ(connection->received().rfind("HTTP/1.1 200 OK\r\n", 0), 0U);
        EXPECT_NE(connection->received().find("Content-Type: text/event-stream\r\n"),
                  std::string::npos);
        connection->consume_through("\r\n\r\n");  // events may have come in the same read
        return std::move(*connection);
    }

    std::mutex mutex_;
    std::vector<std::shared_ptr<Responder::EventStream>> streams_;
    int burst_accepted_ = -1;
};

TEST_F(EventStreamTest, ClientReceivesEventsSentFromAnyThread) {
    start(make_router());
    RawConnection connection = open_stream();
    const auto events = stream(0);
    ASSERT_NE(events, nullptr);
    EXPECT_TRUE(events->is_open());
    spawn([events] {
        EXPECT_TRUE(events->send("score", R"({"call_id":"c1","score":0.91})"));
        EXPECT_TRUE(events->send("", "line one\nline two"));
    });
    EXPECT_TRUE(
            connection.read_until("event: score\ndata: {\"call_id\":\"c1\",\"score\":0.91}\n\n"
                                  "data: line one\ndata: line two\n\n"))
            << connection.received();
    events->close();
    EXPECT_TRUE(connection.wait_closed());
    EXPECT_FALSE(events->is_open());
    EXPECT_FALSE(events->send("late", "x"));
}

TEST_F(EventStreamTest, NoticesTheClientLeaving) {
    start(make_router());
    RawConnection connection = open_stream();
    const auto events = stream(0);
    ASSERT_NE(events, nullptr);
    ASSERT_TRUE(eventually([this] { return server_->stats().event_streams_active == 1; }));
    connection.close();
    EXPECT_TRUE(eventually([&events] { return !events->is_open(); }));
    EXPECT_FALSE(events->send("score", "1"));
    EXPECT_TRUE(eventually([this] { return server_->stats().event_streams_active == 0; }));
}

TEST_F(EventStreamTest, QueueIsBounded) {
    ServerOptions options = test_options();
    options.max_ws_send_queue = 4;
    start(make_router(), options);
    RawConnection connection = open_stream("/events?burst=10");
    ASSERT_NE(stream(0), nullptr);
    {
        std::lock_guard lock(mutex_);
        EXPECT_EQ(burst_accepted_, 4);
    }
    EXPECT_TRUE(connection.read_until("data: 3\n\n"));
    EXPECT_EQ(connection.received().find("data: 4\n"), std::string::npos);
}

TEST_F(EventStreamTest, StopEndsTheStream) {
    start(make_router());
    RawConnection connection = open_stream();
    const auto events = stream(0);
    ASSERT_NE(events, nullptr);
    server_->stop(5s);
    EXPECT_TRUE(connection.wait_closed());
    EXPECT_FALSE(events->is_open());
}

}  // namespace
}  // namespace dvd::net::test
