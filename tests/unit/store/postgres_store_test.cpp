// What PostgresStore adds to the store contract: opening and migrating a shared server's
// database, concurrency between connections, text PostgreSQL cannot hold, and a connection that
// is cut or a server that restarts under the service.
#include "store/postgres_store.hpp"

#include <atomic>
#include <chrono>
#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <libpq-fe.h>

#include "store/instance_lock.hpp"
#include "store/open_store.hpp"
#include "store/sqlite_migrations.hpp"
#include "store/store_writer.hpp"
#include "store_backends.hpp"
#include "store_test_support.hpp"

namespace dvd::store {
namespace {

using test::make_call;
using test::make_event;
using test::ok;

using test::has_code;

/// A plain libpq connection for what the store does not do (DDL, killing a session).
class RawConnection {
public:
    explicit RawConnection(const std::string& url) : conn_(PQconnectdb(url.c_str())) {
        if (PQstatus(conn_) != CONNECTION_OK) {
            ADD_FAILURE() << "connect: " << PQerrorMessage(conn_);
        }
    }

    ~RawConnection() { PQfinish(conn_); }

    RawConnection(const RawConnection&) = delete;
    RawConnection& operator=(const RawConnection&) = delete;

    void exec(const std::string& sql) {
        PGresult* result = PQexec(conn_, sql.c_str());
        const auto status = PQresultStatus(result);
        EXPECT_TRUE(status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK)
                << sql << ": " << PQerrorMessage(conn_);
        PQclear(result);
    }

private:
    PGconn* conn_;
};

class PostgresStoreTest : public ::testing::Test {
protected:
    std::unique_ptr<PostgresStore> open(const StoreOptions& options = {}) {
        auto opened = PostgresStore::open(db_.url(), options);
        if (!opened) {
            ADD_FAILURE() << opened.error().message;
            return nullptr;
        }
        return std::move(*opened);
    }

    test::TestDatabase db_{test::Backend::Postgres};
};

TEST_F(PostgresStoreTest, OpenCreatesTheSchemaOnceAndOpenStoreDispatchesOnTheScheme) {
    ASSERT_FALSE(db_.url().empty());
    auto first = open();
    ASSERT_NE(first, nullptr);
    EXPECT_EQ(ok(first->schema_version()), kSchemaVersion);
    ASSERT_TRUE(first->upsert_call(make_call("c1", 1)));

    auto again = open();  // a second open finds version 4 and changes nothing
    ASSERT_NE(again, nullptr);
    EXPECT_TRUE(ok(again->get_call("c1")).has_value());

    EXPECT_TRUE(is_postgres_url(db_.url()));
    auto through_url = open_store(db_.url());
    ASSERT_TRUE(through_url) << through_url.error().message;
    EXPECT_NE(dynamic_cast<PostgresStore*>(through_url->get()), nullptr);
    EXPECT_TRUE(ok((*through_url)->get_call("c1")).has_value());
}

TEST_F(PostgresStoreTest, AVersion4SchemaIsUpgradedToTheIndicatorState) {
    {
        auto first = open();
        ASSERT_NE(first, nullptr);
        ASSERT_TRUE(first->upsert_call(make_call("c1", 1)));
    }
    {
        // Back to version 4 as the service of 2026-11-27 left it.
        RawConnection raw(db_.url());
        raw.exec("ALTER TABLE calls DROP COLUMN indicator_state");
        raw.exec("UPDATE schema_version SET version = 4 WHERE id = 1");
    }
    auto upgraded = open();
    ASSERT_NE(upgraded, nullptr);
    EXPECT_EQ(ok(upgraded->schema_version()), 5);
    EXPECT_TRUE(ok(upgraded->get_call("c1")).has_value());
    EXPECT_EQ(ok(upgraded->get_indicator_state("c1")), "");
}

TEST_F(PostgresStoreTest, ConcurrentFirstOpensMigrateOnce) {
    constexpr int kOpeners = 4;
    std::vector<std::thread> threads;
    std::atomic<int> opened{0};
    std::vector<std::string> errors(kOpeners);
    for (int i = 0; i < kOpeners; ++i) {
        threads.emplace_back([&, i] {
            auto store = PostgresStore::open(db_.url());
            if (store) {
                opened.fetch_add(1);
            } else {
                errors[static_cast<std::size_t>(i)] = store.error().message;
            }
        });
    }
    for (auto& t : threads) {
        t.join();
    }
    EXPECT_EQ(opened.load(), kOpeners) << errors[0] << errors[1] << errors[2] << errors[3];
    auto store = open();
    ASSERT_NE(store, nullptr);
    EXPECT_EQ(ok(store->schema_version()), kSchemaVersion);
}

TEST_F(PostgresStoreTest, ReadOnlyConnectionsNeitherMigrateNorWrite) {
    auto early = PostgresStore::open(db_.url(), StoreOptions{.read_only = true});
    ASSERT_FALSE(early);
    EXPECT_TRUE(has_code(early.error(), base::Errc::Unsupported)) << early.error().message;
    EXPECT_NE(early.error().message.find("read-write first"), std::string::npos);

    auto writer = open();
    ASSERT_NE(writer, nullptr);
    ASSERT_TRUE(writer->upsert_call(make_call("c1", 1)));
    auto reader = open(StoreOptions{.read_only = true});
    ASSERT_NE(reader, nullptr);
    EXPECT_TRUE(ok(reader->get_call("c1")).has_value());
    const auto refused = reader->upsert_call(make_call("c2", 2));
    ASSERT_FALSE(refused);
    EXPECT_NE(refused.error().message.find("read-only"), std::string::npos)
            << refused.error().message;
}

TEST_F(PostgresStoreTest, NewerSchemaIsRefused) {
    ASSERT_NE(open(), nullptr);
    RawConnection raw(db_.url());
    raw.exec("UPDATE schema_version SET version = 99");
    auto store = PostgresStore::open(db_.url());
    ASSERT_FALSE(store);
    EXPECT_TRUE(has_code(store.error(), base::Errc::Unsupported));
    EXPECT_NE(store.error().message.find("version 99"), std::string::npos);
}

TEST_F(PostgresStoreTest, DoublesAndLargeIntegersRoundTripExactly) {
    auto store = open();
    ASSERT_NE(store, nullptr);
    for (const double value :
         {0.1 + 0.2, 1e-300, -2.5e300, 0.8929, -0.0, std::numeric_limits<double>::denorm_min(),
          std::numeric_limits<double>::infinity()}) {
        Call call = make_call("c1", std::numeric_limits<std::int64_t>::max() - 1);
        call.final_score = value;
        call.final_llr = -value;
        ASSERT_TRUE(store->upsert_call(call));
        const auto back = ok(store->get_call("c1")).value_or(Call{});
        EXPECT_EQ(back.final_score, value) << value;
        EXPECT_EQ(std::signbit(*back.final_score), std::signbit(value)) << value;
        EXPECT_EQ(back.final_llr, -value);
        EXPECT_EQ(back.started_at_ms, std::numeric_limits<std::int64_t>::max() - 1);
    }
}

TEST_F(PostgresStoreTest, TextPostgresCannotHoldIsInvalidForThatOpAlone) {
    auto store = open();
    ASSERT_NE(store, nullptr);
    WebhookEvent nul = make_event("evt-nul", 1);
    nul.body_json = std::string("{\"a\":\"x\0y\"}", 12);
    const auto refused = store->record_webhook_event(nul);
    ASSERT_FALSE(refused);
    EXPECT_TRUE(has_code(refused.error(), base::Errc::InvalidArgument)) << refused.error().message;
    EXPECT_NE(refused.error().message.find("NUL"), std::string::npos);

    WebhookEvent bad_utf8 = make_event("evt-utf8", 2);
    bad_utf8.body_json = "{\"a\":\"\xff\xfe\"}";
    const auto invalid = store->record_webhook_event(bad_utf8);
    ASSERT_FALSE(invalid);
    EXPECT_TRUE(has_code(invalid.error(), base::Errc::InvalidArgument)) << invalid.error().message;

    // In a batch the bad op is skipped and the transaction goes on (a savepoint per op).
    Call bad = make_call("c-bad", 1);
    bad.hangup_cause = "\xc3\x28";
    const std::vector<WriteOp> ops{make_call("c1", 1), bad, make_call("c2", 2)};
    const auto outcome = store->write_batch(ops);
    ASSERT_TRUE(outcome) << outcome.error().message;
    EXPECT_EQ(outcome->applied, 2U);
    EXPECT_EQ(outcome->failed, 1U);
    EXPECT_EQ(ok(store->count_calls({})), 2);
}

TEST_F(PostgresStoreTest, ACutConnectionIsReopenedAndReadsAreRetried) {
    auto store = open();
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->upsert_call(make_call("c1", 1)));
    RawConnection admin(db_.url());

    // A read on a connection the server cut: retried once on a new connection.
    admin.exec("SELECT pg_terminate_backend(" + std::to_string(ok(store->backend_pid())) + ")");
    const auto read = store->get_call("c1");
    ASSERT_TRUE(read) << read.error().message;
    EXPECT_TRUE(read->has_value());

    // A write is not retried (it may have committed): it fails as Io, and the next one works.
    admin.exec("SELECT pg_terminate_backend(" + std::to_string(ok(store->backend_pid())) + ")");
    const auto cut = store->upsert_call(make_call("c2", 2));
    ASSERT_FALSE(cut);
    EXPECT_TRUE(has_code(cut.error(), base::Errc::Io)) << cut.error().message;
    ASSERT_TRUE(store->upsert_call(make_call("c2", 2)));
    // Prepared statements were prepared again on the new session.
    EXPECT_EQ(ok(store->count_calls({})), 2);
}

TEST_F(PostgresStoreTest, TheStoreComesBackAfterAServerRestart) {
    auto store = open();
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->upsert_call(make_call("c1", 1)));
    std::string error;
    ASSERT_TRUE(dvd::test::shared_postgres_server()->restart(&error)) << error;
    const auto read = store->list_calls({});
    ASSERT_TRUE(read) << read.error().message;
    EXPECT_EQ(read->size(), 1U);
    ASSERT_TRUE(store->upsert_call(make_call("c2", 2)));
}

// The readiness probe's ping: it fails while the server is down, answers again once it is back
// (on a new connection), and refuses a schema that a newer build migrated.
TEST_F(PostgresStoreTest, PingFollowsTheServerAndTheSchema) {
    auto store = open();
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->ping()) << "fresh store";
    auto& server = *dvd::test::shared_postgres_server();
    std::string error;
    ASSERT_TRUE(server.halt(&error)) << error;
    const auto down = store->ping();
    ASSERT_TRUE(server.resume(&error)) << error;
    ASSERT_FALSE(down);
    EXPECT_TRUE(has_code(down.error(), base::Errc::Io)) << down.error().message;
    const auto back = store->ping();
    EXPECT_TRUE(back) << back.error().message;

    RawConnection(db_.url()).exec("UPDATE schema_version SET version = 99");
    const auto newer = store->ping();
    ASSERT_FALSE(newer);
    EXPECT_TRUE(has_code(newer.error(), base::Errc::Unsupported)) << newer.error().message;
}

// The service's score points go through the StoreWriter: a server restart between two batches
// costs a retry, not a point.
TEST_F(PostgresStoreTest, TheStoreWriterLosesNothingAcrossAServerRestart) {
    using namespace std::chrono_literals;
    auto store = open();
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->upsert_call(make_call("c1", 1)));
    StoreWriter writer(open(), {.max_batch_delay = 0ms});
    writer.start();
    const auto deadline = [] {
        return std::chrono::steady_clock::now() + 30s;
    };
    for (int seq = 0; seq < 50; ++seq) {
        ASSERT_TRUE(writer.try_push(test::make_point("c1", seq)));
    }
    ASSERT_TRUE(writer.flush(deadline()));
    std::string error;
    ASSERT_TRUE(dvd::test::shared_postgres_server()->restart(&error)) << error;
    for (int seq = 50; seq < 100; ++seq) {
        ASSERT_TRUE(writer.try_push(test::make_point("c1", seq)));
    }
    ASSERT_TRUE(writer.flush(deadline()));
    const auto stats = writer.stats();
    EXPECT_EQ(stats.written, 100U) << stats.last_error;
    EXPECT_EQ(stats.failed, 0U) << stats.last_error;
    EXPECT_EQ(ok(store->list_timeline("c1", -1, 1000)).size(), 100U);
    EXPECT_TRUE(writer.stop(deadline()));
}

// One service instance per database, PostgreSQL side: a session advisory lock.
constexpr InstanceLockOptions kShortLockWait{.wait = std::chrono::milliseconds(300),
                                             .poll = std::chrono::milliseconds(20)};
constexpr const char* kEndLockSession =
        "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' "
        "AND classid = 1685480497 AND objid = 1768846196 AND granted";

TEST_F(PostgresStoreTest, ASecondInstanceIsRefusedAndNamesTheFirst) {
    auto first = acquire_instance_lock(db_.url(), kShortLockWait);
    ASSERT_TRUE(first) << first.error().message;
    EXPECT_TRUE(ok((*first)->check()));
    auto second = acquire_instance_lock(db_.url(), kShortLockWait);
    ASSERT_FALSE(second);
    EXPECT_TRUE(has_code(second.error(), base::Errc::Unsupported));
    EXPECT_NE(second.error().message.find("another instance holds this database: server process"),
              std::string::npos)
            << second.error().message;
    EXPECT_NE(second.error().message.find("deepfake-voice-detector"), std::string::npos)
            << second.error().message;  // the holder's application name
    first->reset();  // its session ends, and the lock with it
    auto third = acquire_instance_lock(db_.url(), kShortLockWait);
    EXPECT_TRUE(third) << third.error().message;
}

// A cut session loses its lock: check() opens a new one and takes the lock again, unless a
// standby took it meanwhile; then this instance must stop.
TEST_F(PostgresStoreTest, ACutLockSessionIsRetakenUnlessAnotherInstanceTookIt) {
    auto held = acquire_instance_lock(db_.url(), kShortLockWait);
    ASSERT_TRUE(held) << held.error().message;
    RawConnection admin(db_.url());
    admin.exec(kEndLockSession);
    EXPECT_TRUE(ok((*held)->check()));  // re-taken on a new session
    auto standby = acquire_instance_lock(db_.url(), kShortLockWait);
    ASSERT_FALSE(standby);  // so the lock is really held again

    admin.exec(kEndLockSession);
    auto taker = acquire_instance_lock(db_.url(), kShortLockWait);
    ASSERT_TRUE(taker) << taker.error().message;
    const auto lost = (*held)->check();
    ASSERT_TRUE(lost) << lost.error().message;
    EXPECT_FALSE(*lost);
}

TEST_F(PostgresStoreTest, TheLockIsUnknownWhileTheServerIsDown) {
    auto held = acquire_instance_lock(db_.url(), kShortLockWait);
    ASSERT_TRUE(held) << held.error().message;
    auto& server = *dvd::test::shared_postgres_server();
    std::string error;
    ASSERT_TRUE(server.halt(&error)) << error;
    const auto down = (*held)->check();
    ASSERT_TRUE(server.resume(&error)) << error;
    ASSERT_FALSE(down);
    EXPECT_TRUE(has_code(down.error(), base::Errc::Io)) << down.error().message;
    EXPECT_TRUE(ok((*held)->check()));  // back, and nobody else took it
}

TEST(PostgresStoreOpen, AnUnreachableServerIsAnIoErrorThatHidesThePassword) {
    const auto store = open_store(
            "postgresql://dvd:s3cret-pw@/dvd?host=/nonexistent-dvd-socket-dir&connect_timeout=2");
    ASSERT_FALSE(store);
    EXPECT_TRUE(has_code(store.error(), base::Errc::Io)) << store.error().message;
    EXPECT_EQ(store.error().message.find("s3cret-pw"), std::string::npos) << store.error().message;
    EXPECT_NE(store.error().message.find("PostgreSQL"), std::string::npos);
}

}  // namespace
}  // namespace dvd::store
