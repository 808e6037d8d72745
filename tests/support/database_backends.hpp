#pragma once

// The database backends a test can run on (the service's DATABASE_URL: a SQLite file or a
// PostgreSQL server). For PostgreSQL: one throwaway server per test binary
// (tests/support/postgres_server.hpp), started on first use and stopped at exit, and a fresh
// database on it per test.

#include <atomic>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "support/postgres_server.hpp"

namespace dvd::test {

enum class Backend { Sqlite, Postgres };

/// For INSTANTIATE_TEST_SUITE_P: "Sqlite" or "Postgres".
inline std::string backend_name(const ::testing::TestParamInfo<Backend>& info) {
    return info.param == Backend::Sqlite ? "Sqlite" : "Postgres";
}

/// The binary's server; a test failure (and nullptr) when it cannot start.
inline PostgresServer* shared_postgres_server() {
    static std::string error;
    static const std::unique_ptr<PostgresServer> server = PostgresServer::start(&error);
    if (!server) {
        ADD_FAILURE() << "cannot start a throwaway PostgreSQL server (tools/install-deps.sh "
                         "installs postgresql): "
                      << error;
    }
    return server.get();
}

/// The URL of a new, empty database on the binary's server ("" and a test failure when it
/// cannot be made).
inline std::string new_postgres_database() {
    static std::atomic<int> counter{0};
    auto* server = shared_postgres_server();
    if (server == nullptr) {
        return {};
    }
    const std::string name = "dvd_t" + std::to_string(++counter);
    std::string error;
    if (!server->create_database(name, &error)) {
        ADD_FAILURE() << "create database " << name << ": " << error;
        return {};
    }
    return server->url(name);
}

}  // namespace dvd::test
