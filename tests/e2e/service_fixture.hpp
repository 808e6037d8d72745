#pragma once

// The fixture of the end-to-end tests that run `deepfake-voice-detector serve` as a process: a
// temp folder per test, the service process (stopped with SIGTERM at the end, its log printed
// when the test failed), an HTTP client for its JSON API, and free loopback ports.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "http/http_client.hpp"
#include "support/child_process.hpp"
#include "support/database_backends.hpp"

namespace dvd::test {

inline const std::filesystem::path kSourceDir = DVD_SOURCE_DIR;

/// The database backends this binary runs its database-backed scenarios on (defined by
/// e2e_backend_sqlite.cpp or e2e_backend_postgres.cpp).
std::vector<Backend> e2e_backends();

struct HttpReply {
    int status = 0;  ///< 0 when no reply came
    std::string body;
    http::Headers headers{};
    [[nodiscard]] nlohmann::json parsed() const { return nlohmann::json::parse(body, nullptr, false); }
};

/// A free TCP port on 127.0.0.1 (a tiny race with other processes; fine for a test).
inline int free_loopback_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
    ::close(fd);
    return ntohs(address.sin_port);
}

class ServiceFixture : public ::testing::Test {
protected:
    void SetUp() override {
        std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
        for (char& c : name) {
            c = c == '/' ? '_' : c;
        }
        dir_ = std::filesystem::temp_directory_path() /
               ("dvd_e2e_" + std::to_string(::getpid()) + "_" + name);
        std::filesystem::remove_all(dir_);
        std::filesystem::create_directories(dir_);
    }

    void TearDown() override {
        using namespace std::chrono_literals;
        if (service_ && service_->running()) {
            service_->signal(SIGTERM);
            service_->wait_exit(15s);
        }
        if (HasFailure() && service_) {
            std::cerr << "---- service log ----\n" << service_->log() << "\n";
        }
        service_.reset();
        std::filesystem::remove_all(dir_);
    }

    /// `serve --port 0 --ready-file ...` with `args` appended and the test's database and model;
    /// waits for the ready file and reads the port (and the rest into `ready_`).
    void start_service(std::vector<std::string> args,
                       std::vector<std::pair<std::string, std::string>> env) {
        using namespace std::chrono_literals;
        const auto ready = dir_ / "ready.json";
        std::filesystem::remove(ready);
        args.insert(args.begin(), {"serve", "--port", "0", "--workers", "2", "--ready-file",
                                   ready.string()});
        env.emplace_back("DATABASE_URL", database_url());
        env.emplace_back("LOG_LEVEL", "info");
        env.emplace_back("DVD_MODEL", (kSourceDir / "models/detector.json").string());
        service_ = std::make_unique<ChildProcess>(DVD_EXECUTABLE, args, env, dir_ / "service.log",
                                                  dir_);
        ASSERT_TRUE(eventually([&] { return std::filesystem::exists(ready); }, 60s))
                << service_->log();
        std::ifstream in(ready);
        ready_ = nlohmann::json::parse(in);
        port_ = ready_["port"].get<int>();
    }

    /// One HTTP exchange; `target` is a path on the service ("/calls") or an absolute URL.
    HttpReply request(const std::string& method, const std::string& target, std::string body = {},
                      http::Headers headers = {}) {
        using namespace std::chrono_literals;
        http::HttpRequest request;
        request.method = method;
        request.url = target.rfind("http", 0) == 0
                              ? target
                              : "http://127.0.0.1:" + std::to_string(port_) + target;
        request.body = std::move(body);
        request.headers = std::move(headers);
        if (!request.body.empty()) {
            request.headers.set("Content-Type", "application/json");
        }
        request.timeout = 10s;
        auto response = client_.send(request);
        if (!response) {
            return {};
        }
        return {response->status, response->body, response->headers};
    }

    /// The service's DATABASE_URL: `database_url_` when a test set one (a PostgreSQL database),
    /// else a SQLite file in the test's folder.
    std::string database_url() const {
        return database_url_.empty() ? "sqlite://" + (dir_ / "dvd.db").string() : database_url_;
    }

    nlohmann::json calls() { return request("GET", "/calls?limit=100").parsed(); }

    /// At least `count` calls exist and every one has ended.
    bool all_ended(std::size_t count) {
        const nlohmann::json list = calls();
        if (!list.contains("calls") || list["calls"].size() < count) {
            return false;
        }
        for (const nlohmann::json& call : list["calls"]) {
            if (call["status"] != "ended") {
                return false;
            }
        }
        return true;
    }

    std::filesystem::path dir_;
    std::string database_url_;
    std::unique_ptr<ChildProcess> service_;
    nlohmann::json ready_;
    int port_ = 0;
    http::HttpClient client_;
};

}  // namespace dvd::test
