#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <future>
#include <set>
#include <stdexcept>
#include <string>

#include <gtest/gtest.h>
#include <pthread.h>

#include "net/server.hpp"
#include "unit/net/http_test_client.hpp"
#include "unit/net/server_test_support.hpp"

namespace dvd::net::test {
namespace {

std::string thread_name() {
    char name[32] = {};
    pthread_getname_np(pthread_self(), name, sizeof(name));
    return name;
}

class ServerHttpTest : public ServerFixture {
protected:
    /// The routes every test here uses.
    Router make_router() {
        Router router;
        router.add(Method::Post, "/echo", [](Request request, Responder responder) {
            Response response =
                    Response::text(200, std::move(request.body), "application/octet-stream");
            response.headers.emplace_back("X-Worker", std::to_string(request.worker));
            std::move(responder).send(std::move(response));
        });
        router.add(Method::Get, "/info/{id}", [](Request request, Responder responder) {
            std::string text = "id=" + std::string(request.path_param("id"));
            text += " path=" + request.path;
            text += " q=" + std::string(request.query_param("q").value_or("-"));
            text += " h=" + std::string(request.header("X-Test").value_or("-"));
            text += " method=" + request.method_name;
            text += " remote=" + request.remote_address;
            text += " thread=" + thread_name();
            std::move(responder).send(Response::text(200, std::move(text)));
        });
        router.add(Method::Get, "/later", [this](Request, Responder responder) {
            spawn([responder = std::move(responder)]() mutable {
                std::this_thread::sleep_for(50ms);  // a slow backend, not a wait for correctness
                std::move(responder).send(Response::text(200, "later"));
            });
        });
        router.add(Method::Get, "/drop", [](Request, Responder) {});
        router.add(Method::Get, "/drop-elsewhere", [this](Request, Responder responder) {
            spawn([responder = std::move(responder)]() mutable {
                Responder gone = std::move(responder);
            });
        });
        router.add(Method::Get, "/throw",
                   [](Request, Responder) { throw std::runtime_error("handler exploded"); });
        router.add(Method::Get, "/hold", [this](Request, Responder responder) {
            std::lock_guard lock(held_mutex_);
            held_.push_back(std::move(responder));
            held_count_.fetch_add(1);
        });
        return router;
    }

    /// Answers the first held Responder (from the test thread).
    void release_held(Response response) {
        ASSERT_TRUE(eventually([this] { return held_count_.load() > 0; }));
        std::lock_guard lock(held_mutex_);
        std::move(held_.front()).send(std::move(response));
        held_.erase(held_.begin());
    }

    std::mutex held_mutex_;
    std::vector<Responder> held_;
    std::atomic<int> held_count_{0};
};

TEST_F(ServerHttpTest, PostBodyRoundTripsByteExact) {
    start(make_router());
    std::string body;
    for (int i = 0; i < 70000; ++i) {
        body += static_cast<char>(i % 256);  // includes NUL, CR, LF and high bytes
    }
    const auto reply = send_request(server_->port(), "POST", "/echo", body);
    ASSERT_TRUE(reply.has_value());
    EXPECT_EQ(reply->status, 200);
    EXPECT_EQ(reply->body, body);
    EXPECT_EQ(reply->header("content-type"), "application/octet-stream");
    EXPECT_EQ(reply->header("server"), "deepfake-voice-detector");
    EXPECT_TRUE(reply->header("date").has_value());
}

TEST_F(ServerHttpTest, RequestFieldsReachTheHandler) {
    start(make_router());
    const auto reply = send_request(server_->port(), "GET", "/info/call%201?q=a+b&q=2", {},
                                    {{"X-Test", "Value"}});
    ASSERT_TRUE(reply.has_value());
    EXPECT_EQ(reply->status, 200);
    EXPECT_NE(reply->body.find("id=call 1 path=/info/call 1 q=a b h=Value method=GET "
                               "remote=127.0.0.1 thread=worker-"),
              std::string::npos)
            << reply->body;
}

TEST_F(ServerHttpTest, KeepAliveServesSeveralRequestsOnOneConnection) {
    start(make_router());
    auto connection = RawConnection::open(server_->port());
    ASSERT_TRUE(connection.has_value());
    std::string worker;
    for (int i = 0; i < 5; ++i) {
        const std::string body = "request " + std::to_string(i);
        ASSERT_TRUE(connection->write(make_request("POST", "/echo", body)));
        const auto reply = connection->read_reply();
        ASSERT_TRUE(reply.has_value()) << "request " << i;
        EXPECT_EQ(reply->body, body);
        const std::string this_worker = reply->header("x-worker").value_or("?");
        if (i > 0) {
            EXPECT_EQ(this_worker, worker) << "a connection stays on its worker";
        }
        worker = this_worker;
    }
    EXPECT_EQ(server_->stats().connections_accepted, 1U);
    EXPECT_EQ(server_->stats().requests, 5U);
}

TEST_F(ServerHttpTest, PipelinedRequestsAreAnsweredInOrder) {
    start(make_router());
    auto connection = RawConnection::open(server_->port());
    ASSERT_TRUE(connection.has_value());
    ASSERT_TRUE(connection->write(make_request("POST", "/echo", "one")
                                  + make_request("GET", "/later")
                                  + make_request("POST", "/echo", "three")));
    EXPECT_EQ(connection->read_reply().value_or(HttpReply{}).body, "one");
    EXPECT_EQ(connection->read_reply().value_or(HttpReply{}).body, "later");
    EXPECT_EQ(connection->read_reply().value_or(HttpReply{}).body, "three");
}

TEST_F(ServerHttpTest, BodyOverTheLimitIs413AndTheConnectionCloses) {
    ServerOptions options = test_options();
    options.max_body_bytes = 1024;
    start(make_router(), options);
    auto connection = RawConnection::open(server_->port());
    ASSERT_TRUE(connection.has_value());
    connection->write(make_request("POST", "/echo", std::string(256 * 1024, 'x')));
    const auto reply = connection->read_reply();
    ASSERT_TRUE(reply.has_value());
    EXPECT_EQ(reply->status, 413);
    EXPECT_EQ(reply->header("content-type"), "application/json");
    EXPECT_NE(reply->body.find(R"("code":"payload_too_large")"), std::string::npos);
    EXPECT_EQ(reply->header("connection"), "close");
    EXPECT_TRUE(connection->wait_closed());
    // Within the limit still works.
    const auto small = send_request(server_->port(), "POST", "/echo", std::string(1024, 'y'));
    ASSERT_TRUE(small.has_value());
    EXPECT_EQ(small->status, 200);
    EXPECT_EQ(server_->stats().responses_4xx, 1U);
}

TEST_F(ServerHttpTest, ExpectContinueGetsContinueThenTheAnswer) {
    ServerOptions options = test_options();
    options.max_body_bytes = 1024;
    start(make_router(), options);
    auto connection = RawConnection::open(server_->port());
    ASSERT_TRUE(connection.has_value());
    const std::string head =
            "POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
            "Content-Length: 5\r\n\r\n";
    ASSERT_TRUE(connection->write(head));
    ASSERT_TRUE(connection->read_until("HTTP/1.1 100 Continue\r\n\r\n"));
    connection->consume_through("HTTP/1.1 100 Continue\r\n\r\n");
    ASSERT_TRUE(connection->write("hello"));
    const auto reply = connection->read_reply();
    ASSERT_TRUE(reply.has_value());
    EXPECT_EQ(reply->body, "hello");

    // Too large: 413 at once, no 100 Continue.
    auto second = RawConnection::open(server_->port());
    ASSERT_TRUE(second.has_value());
    ASSERT_TRUE(
            second->write("POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                          "Content-Length: 5000\r\n\r\n"));
    const auto refused = second->read_reply();
    ASSERT_TRUE(refused.has_value());
    EXPECT_EQ(refused->status, 413);
}

TEST_F(ServerHttpTest, HeadersOverTheLimitAre431) {
    ServerOptions options = test_options();
    options.max_header_bytes = 1024;
    start(make_router(), options);
    auto connection = RawConnection::open(server_->port());
    ASSERT_TRUE(connection.has_value());
    connection->write(make_request("GET", "/info/1", {}, {{"X-Big", std::string(4096, 'h')}}));
    const auto reply = connection->read_reply();
    ASSERT_TRUE(reply.has_value());
    EXPECT_EQ(reply->status, 431);
    EXPECT_NE(reply->body.find(R"("code":"headers_too_large")"), std::string::npos);
    EXPECT_TRUE(connection->wait_closed());
}

TEST_F(ServerHttpTest, MalformedRequestIs400AndClosesOnlyThatConnection) {
    start(make_router());
    for (const std::string garbage :
         {"GARBAGE\r\n\r\n", "GET / HTTX/1.1\r\n\r\n", "GET /x HTTP/1.1\r\nBad Header\r\n\r\n",
          "POST /echo HTTP/1.1\r\nContent-Length: nope\r\n\r\n", "\x16\x03\x01\x02\x00\x01"}) {
        auto connection = RawConnection::open(server_->port());
        ASSERT_TRUE(connection.has_value());
        connection->write(garbage + "\r\n\r\n");
        const auto reply = connection->read_reply();
        ASSERT_TRUE(reply.has_value()) << garbage;
        EXPECT_EQ(reply->status, 400) << garbage;
        EXPECT_NE(reply->body.find(R"("code":"bad_request")"), std::string::npos);
        EXPECT_TRUE(connection->wait_closed()) << garbage;
    }
    // A bad escape in the target is a 400 too, but the request itself was well framed, so the
    // connection stays usable.
    auto connection = RawConnection::open(server_->port());
    ASSERT_TRUE(connection.has_value());
    connection->write(make_request("GET", "/info/%zz"));
    EXPECT_EQ(connection->read_reply().value_or(HttpReply{}).status, 400);
    connection->write(make_request("POST", "/echo", "still here"));
    EXPECT_EQ(connection->read_reply().value_or(HttpReply{}).body, "still here");
}

TEST_F(ServerHttpTest, NotFoundMethodNotAllowedAndHead) {
    Router router = make_router();
    router.add(Method::Get, "/fixed", [](Request, Responder responder) {
        std::move(responder).send(Response::text(200, "the same body for GET and HEAD"));
    });
    router.add_websocket("/ws", [](const Request&) -> WsAcceptResult {
        return Response::json_error(401, "unauthorized", "no");
    });
    start(std::move(router));
    const auto missing = send_request(server_->port(), "GET", "/nope");
    ASSERT_TRUE(missing.has_value());
    EXPECT_EQ(missing->status, 404);
    EXPECT_EQ(missing->body, R"({"error":{"code":"not_found","message":"no route for /nope"}})");

    const auto wrong = send_request(server_->port(), "DELETE", "/echo");
    ASSERT_TRUE(wrong.has_value());
    EXPECT_EQ(wrong->status, 405);
    EXPECT_EQ(wrong->header("allow"), "POST");
    EXPECT_NE(wrong->body.find(R"("code":"method_not_allowed")"), std::string::npos);

    const auto get = send_request(server_->port(), "GET", "/fixed");
    const auto head = send_request(server_->port(), "HEAD", "/fixed");
    ASSERT_TRUE(get.has_value());
    ASSERT_TRUE(head.has_value());
    EXPECT_EQ(head->status, 200);
    EXPECT_EQ(head->body, "");
    EXPECT_EQ(get->body, "the same body for GET and HEAD");
    EXPECT_EQ(head->header("content-length"), std::to_string(get->body.size()));

    const auto plain = send_request(server_->port(), "GET", "/ws");
    ASSERT_TRUE(plain.has_value());
    EXPECT_EQ(plain->status, 426);
    EXPECT_EQ(plain->header("upgrade"), "websocket");
}

TEST_F(ServerHttpTest, FileResponsesStreamFromDiskAndAMissingFileIs404) {
    const auto path = std::filesystem::temp_directory_path() /
                      ("dvd-net-file-" + std::to_string(::getpid()) + ".bin");
    std::string content(300'000, '\0');
    for (std::size_t i = 0; i < content.size(); ++i) {
        content[i] = static_cast<char>(i * 7 + 3);
    }
    {
        std::ofstream out(path, std::ios::binary);
        out << content;
    }
    Router router = make_router();
    router.add(Method::Get, "/file", [path](Request, Responder responder) {
        std::move(responder).send(Response::file(path.string(), "audio/wav"));
    });
    router.add(Method::Get, "/gone", [](Request, Responder responder) {
        std::move(responder).send(Response::file("/nonexistent/dvd/file.wav", "audio/wav"));
    });
    start(std::move(router));
    const auto get = send_request(server_->port(), "GET", "/file");
    ASSERT_TRUE(get.has_value());
    EXPECT_EQ(get->status, 200);
    EXPECT_EQ(get->header("content-type"), "audio/wav");
    EXPECT_EQ(get->body, content);
    const auto head = send_request(server_->port(), "HEAD", "/file");
    ASSERT_TRUE(head.has_value());
    EXPECT_EQ(head->body, "");
    EXPECT_EQ(head->header("content-length"), std::to_string(content.size()));
    const auto gone = send_request(server_->port(), "GET", "/gone");
    ASSERT_TRUE(gone.has_value());
    EXPECT_EQ(gone->status, 404);
    EXPECT_NE(gone->body.find(R"("code":"not_found")"), std::string::npos);
    std::filesystem::remove(path);
}

TEST_F(ServerHttpTest, ResponderSentFromAnotherThreadAfterADelay) {
    start(make_router());
    auto connection = RawConnection::open(server_->port());
    ASSERT_TRUE(connection.has_value());
    for (int i = 0; i < 3; ++i) {
        connection->write(make_request("GET", "/later"));
        const auto reply = connection->read_reply();
        ASSERT_TRUE(reply.has_value());
        EXPECT_EQ(reply->status, 200);
        EXPECT_EQ(reply->body, "later");
    }
}

TEST_F(ServerHttpTest, DroppedResponderAnswers500) {
    start(make_router());
    auto connection = RawConnection::open(server_->port());
    ASSERT_TRUE(connection.has_value());
    for (const char* path : {"/drop", "/drop-elsewhere"}) {
        connection->write(make_request("GET", path));
        const auto reply = connection->read_reply();
        ASSERT_TRUE(reply.has_value()) << path;
        EXPECT_EQ(reply->status, 500) << path;
        EXPECT_NE(reply->body.find("handler dropped the request"), std::string::npos);
    }
    EXPECT_EQ(server_->stats().responses_5xx, 2U);
}

TEST_F(ServerHttpTest, HandlerThrowsGives500AndTheServerKeepsServing) {
    start(make_router());
    for (int i = 0; i < 3; ++i) {
        const auto reply = send_request(server_->port(), "GET", "/throw");
        ASSERT_TRUE(reply.has_value());
        EXPECT_EQ(reply->status, 500);
        EXPECT_EQ(reply->body,
                  R"({"error":{"code":"internal_error","message":"the request handler failed"}})");
    }
    const auto fine = send_request(server_->port(), "POST", "/echo", "ok");
    ASSERT_TRUE(fine.has_value());
    EXPECT_EQ(fine->body, "ok");
    EXPECT_EQ(server_->stats().handler_exceptions, 3U);
}

TEST_F(ServerHttpTest, ConnectionsAreSpreadOverTheWorkers) {
    start(make_router());
    std::set<std::string> workers;
    for (int i = 0; i < 6; ++i) {
        const auto reply = send_request(server_->port(), "POST", "/echo", "x");
        ASSERT_TRUE(reply.has_value());
        workers.insert(reply->header("x-worker").value_or("?"));
    }
    EXPECT_EQ(workers, (std::set<std::string>{"0", "1"}));
}

TEST_F(ServerHttpTest, PostRunsOnTheNamedWorker) {
    start(make_router());
    for (int worker = 0; worker < server_->worker_count(); ++worker) {
        std::promise<std::string> name;
        server_->post(worker, [&name] { name.set_value(thread_name()); });
        EXPECT_EQ(name.get_future().get(), "worker-" + std::to_string(worker));
    }
}

TEST_F(ServerHttpTest, SecondServerOnTheSamePortFailsToStart) {
    start(make_router());
    ServerOptions options = test_options();
    options.port = server_->port();
    Server second(options, Router{});
    const auto started = second.start();
    ASSERT_FALSE(started.has_value());
    EXPECT_NE(started.error().message.find("bind"), std::string::npos) << started.error().message;
}

TEST_F(ServerHttpTest, InvalidOptionsAreRefused) {
    ServerOptions options = test_options();
    options.max_ws_send_queue = 0;
    EXPECT_FALSE(validate(options).has_value());
    options = test_options();
    options.bind_address = "not an address";
    Server server(options, Router{});
    EXPECT_FALSE(server.start().has_value());
    EXPECT_TRUE(validate(test_options()).has_value());
}

TEST_F(ServerHttpTest, StopLetsAnInFlightRequestFinishThenCloses) {
    start(make_router());
    auto busy = RawConnection::open(server_->port());
    auto idle = RawConnection::open(server_->port());
    ASSERT_TRUE(busy.has_value());
    ASSERT_TRUE(idle.has_value());
    ASSERT_TRUE(idle->write(make_request("POST", "/echo", "idle")));
    ASSERT_TRUE(idle->read_reply().has_value());
    ASSERT_TRUE(busy->write(make_request("GET", "/hold")));
    ASSERT_TRUE(eventually([this] { return held_count_.load() == 1; }));

    auto stopped = std::async(std::launch::async, [this] { server_->stop(10s); });
    EXPECT_TRUE(idle->wait_closed()) << "an idle keep-alive connection closes at once";
    release_held(Response::text(200, "finished"));
    const auto reply = busy->read_reply();
    ASSERT_TRUE(reply.has_value());
    EXPECT_EQ(reply->body, "finished");
    EXPECT_EQ(reply->header("connection"), "close");
    EXPECT_EQ(stopped.wait_for(10s), std::future_status::ready);
    EXPECT_FALSE(RawConnection::open(server_->port()).has_value()) << "no longer listening";
}

TEST_F(ServerHttpTest, ResponderOutlivingTheServerIsHarmless) {
    start(make_router());
    auto busy = RawConnection::open(server_->port());
    ASSERT_TRUE(busy.has_value());
    ASSERT_TRUE(busy->write(make_request("GET", "/hold")));
    ASSERT_TRUE(eventually([this] { return held_count_.load() == 1; }));
    server_->stop(50ms);  // the grace passes; the connection is closed under the handler
    EXPECT_TRUE(busy->wait_closed());
    server_.reset();
    std::lock_guard lock(held_mutex_);
    std::move(held_.front()).send(Response::text(200, "too late"));  // goes nowhere
    held_.clear();
}

}  // namespace
}  // namespace dvd::net::test
