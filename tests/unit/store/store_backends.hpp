#pragma once

// The store contract tests (store_contract_test.cpp, risk_columns_test.cpp,
// recording_archive_test.cpp) run on every backend: the same test bodies, instantiated with
// `backends_under_test()`, which store_backend_sqlite.cpp defines for dvd_store_tests and
// store_backend_postgres.cpp for dvd_store_postgres_tests (one throwaway PostgreSQL server for the
// whole binary, a fresh database per test).

#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "store/open_store.hpp"
#include "store/store.hpp"
#include "support/database_backends.hpp"
#include "support/temp_dir.hpp"

namespace dvd::store::test {

using dvd::test::Backend;
using dvd::test::backend_name;

/// The backends this test binary runs the contract on (defined by store_backend_sqlite.cpp or
/// store_backend_postgres.cpp).
std::vector<Backend> backends_under_test();

/// Where one test's database lives: a SQLite file in a private folder, or a new database on
/// the shared PostgreSQL server. Every `url()` names the same database, so a test can open
/// several connections to it.
class TestDatabase {
public:
    explicit TestDatabase(Backend backend) : backend_(backend) {
        if (backend_ == Backend::Sqlite) {
            url_ = dir_.file("dvd.db");
            return;
        }
        url_ = dvd::test::new_postgres_database();
    }

    Backend backend() const { return backend_; }

    /// The DATABASE_URL (empty when the database could not be made).
    const std::string& url() const { return url_; }

    /// A new connection (a test failure and nullptr when it cannot open).
    std::unique_ptr<Store> open(const StoreOptions& options = {}) const {
        if (url_.empty()) {
            return nullptr;
        }
        auto opened = open_store(url_, options);
        if (!opened) {
            ADD_FAILURE() << opened.error().message;
            return nullptr;
        }
        return std::move(*opened);
    }

private:
    Backend backend_;
    dvd::test::TempDir dir_;
    std::string url_;
};

/// Base of the contract fixtures: `store_` is a connection to a fresh database of the backend.
class StoreContractBase : public ::testing::TestWithParam<Backend> {
protected:
    void SetUp() override {
        store_ = db_.open();
        ASSERT_NE(store_, nullptr);
    }

    TestDatabase db_{GetParam()};
    std::unique_ptr<Store> store_;
};

}  // namespace dvd::store::test
