#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "net/server.hpp"
#include "support/eventually.hpp"

// Shared by the server tests: a started Server on 127.0.0.1:0 with two workers, helper threads
// that handlers may start (joined at the end), and a bounded wait for a condition.
namespace dvd::net::test {

using namespace std::chrono_literals;

using dvd::test::eventually;

inline ServerOptions test_options() {
    ServerOptions options;
    options.bind_address = "127.0.0.1";
    options.port = 0;
    options.workers = 2;
    options.http_idle_timeout = 5s;
    options.ws_idle_timeout = 10s;
    return options;
}

class ServerFixture : public ::testing::Test {
protected:
    /// Stops the server before the derived fixture's members (recorders the handlers write
    /// to) are destroyed.
    void TearDown() override {
        join_threads();
        if (server_) {
            server_->stop(1s);
        }
    }

    void start(Router router, ServerOptions options = test_options()) {
        server_ = std::make_unique<Server>(std::move(options), std::move(router));
        const auto started = server_->start();
        ASSERT_TRUE(started.has_value()) << started.error().message;
        ASSERT_NE(server_->port(), 0);
    }

    /// Starts `body` on a helper thread owned by the fixture.
    template <class Body>
    void spawn(Body&& body) {
        std::lock_guard lock(threads_mutex_);
        threads_.emplace_back(std::forward<Body>(body));
    }

    void join_threads() {
        std::vector<std::thread> threads;
        {
            std::lock_guard lock(threads_mutex_);
            threads.swap(threads_);
        }
        for (auto& thread : threads) {
            thread.join();
        }
    }

    std::unique_ptr<Server> server_;
    std::mutex threads_mutex_;
    std::vector<std::thread> threads_;
};

}  // namespace dvd::net::test
