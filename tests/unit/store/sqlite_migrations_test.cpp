#include "store/sqlite_migrations.hpp"

#include <memory>
#include <string>

#include <gtest/gtest.h>
#include <sqlite3.h>

#include "store/sqlite_store.hpp"
#include "store_test_support.hpp"

namespace dvd::store {
namespace {

using test::TempDir;

/// A raw SQLite connection for building databases the way an older build left them.
class RawDb {
public:
    explicit RawDb(const std::string& path) {
        if (sqlite3_open(path.c_str(), &db_) != SQLITE_OK) {
            ADD_FAILURE() << "cannot open " << path;
        }
    }

    ~RawDb() { sqlite3_close(db_); }

    RawDb(const RawDb&) = delete;
    RawDb& operator=(const RawDb&) = delete;

    void exec(std::string_view sql) {
        const std::string text(sql);
        char* message = nullptr;
        if (sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
            ADD_FAILURE() << (message != nullptr ? message : "?") << " in: " << text;
        }
        sqlite3_free(message);
    }

    std::int64_t scalar(const std::string& sql) {
        sqlite3_stmt* stmt = nullptr;
        std::int64_t value = -1;
        if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK
            && sqlite3_step(stmt) == SQLITE_ROW) {
            value = sqlite3_column_int64(stmt, 0);
        } else {
            ADD_FAILURE() << sqlite3_errmsg(db_) << " in: " << sql;
        }
        sqlite3_finalize(stmt);
        return value;
    }

private:
    sqlite3* db_ = nullptr;
};

/// Builds a version-1 database as build 1 would have: schema_version table + migration 1.
void make_version_1(const std::string& path) {
    RawDb db(path);
    db.exec("CREATE TABLE schema_version (id INTEGER PRIMARY KEY CHECK (id = 1), "
            "version INTEGER NOT NULL) STRICT");
    db.exec(sqlite_migrations()[0]);
    db.exec("INSERT INTO schema_version (id, version) VALUES (1, 1)");
    db.exec("INSERT INTO calls (id, call_control_id, direction, from_number, to_number, state, "
            "started_at_ms, final_score, flagged, created_at_ms, updated_at_ms) VALUES "
            "('old-call', 'v3:old', 'inbound', '+1555', '+1666', 'ended', 1000, 0.9, 1, 1000, "
            "2000)");
    db.exec("INSERT INTO score_points VALUES ('old-call', 0, 0, 1.5, 0.8, 1.2, 0.9, 2.0, "
            "'synthetic')");
    db.exec("INSERT INTO webhook_events (event_id, event_type, received_at_ms, body_json) VALUES "
            "('evt-1', 'call.hangup', 3000, '{}')");
}

TEST(SqliteMigrations, ListLengthIsTheSchemaVersion) {
    EXPECT_EQ(sqlite_migrations().size(), static_cast<std::size_t>(kSchemaVersion));
    EXPECT_GE(kSchemaVersion, 2);
}

TEST(SqliteMigrations, EmptyDatabaseIsMigratedToCurrent) {
    TempDir dir;
    const std::string path = dir.file("dvd.db");
    {
        auto store = SqliteStore::open(path);
        ASSERT_TRUE(store) << store.error().message;
        EXPECT_EQ(*(*store)->schema_version(), kSchemaVersion);
    }
    RawDb db(path);
    for (const char* table :
         {"calls", "webhook_events", "score_points", "recordings", "alerts", "command_log"}) {
        EXPECT_EQ(db.scalar(std::string("SELECT count(*) FROM sqlite_master WHERE type = 'table' "
                                        "AND name = '")
                            + table + "'"),
                  1)
                << table;
    }
    EXPECT_EQ(db.scalar("SELECT version FROM schema_version"), kSchemaVersion);
    EXPECT_EQ(db.scalar("SELECT count(*) FROM schema_version"), 1);
}

TEST(SqliteMigrations, ReopeningACurrentDatabaseChangesNothing) {
    TempDir dir;
    const std::string path = dir.file("dvd.db");
    for (int i = 0; i < 3; ++i) {
        auto store = SqliteStore::open(path);
        ASSERT_TRUE(store) << store.error().message;
        ASSERT_TRUE((*store)->upsert_call(test::make_call("c" + std::to_string(i), i)));
        EXPECT_EQ(*(*store)->schema_version(), kSchemaVersion);
        EXPECT_EQ(*(*store)->count_calls({}), i + 1);
    }
}

TEST(SqliteMigrations, Version1IsUpgradedKeepingItsData) {
    TempDir dir;
    const std::string path = dir.file("dvd.db");
    make_version_1(path);

    auto store = SqliteStore::open(path);
    ASSERT_TRUE(store) << store.error().message;
    EXPECT_EQ(*(*store)->schema_version(), kSchemaVersion);

    auto call = (*store)->get_call("old-call");
    ASSERT_TRUE(call) << call.error().message;
    ASSERT_TRUE(call->has_value());
    EXPECT_EQ((*call)->call_control_id, "v3:old");
    EXPECT_EQ((*call)->state, CallState::Ended);
    EXPECT_EQ((*call)->final_score, 0.9);
    EXPECT_TRUE((*call)->flagged);
    EXPECT_EQ((*call)->created_at_ms, 1000);
    // Columns added by version 2 read as "not known".
    EXPECT_EQ((*call)->telnyx_deepfake_result, "");
    EXPECT_FALSE((*call)->telnyx_deepfake_score.has_value());

    auto timeline = (*store)->list_timeline("old-call", -1, 100);
    ASSERT_TRUE(timeline);
    ASSERT_EQ(timeline->size(), 1U);
    EXPECT_EQ((*timeline)[0].verdict, "synthetic");
    EXPECT_FALSE(test::ok((*store)->record_webhook_event(test::make_event("evt-1", 5))));

    // Tables of version 2 work on the upgraded file.
    Alert alert;
    alert.call_id = "old-call";
    alert.payload_json = "{}";
    auto created = (*store)->create_alert_if_absent(alert);
    ASSERT_TRUE(created) << created.error().message;
    EXPECT_TRUE(created->created);
    CommandLog entry;
    entry.call_id = "old-call";
    entry.command = "hangup";
    EXPECT_TRUE((*store)->append_command_log(entry));
}

TEST(SqliteMigrations, FailedUpgradeLeavesTheFileAsItWas) {
    TempDir dir;
    const std::string path = dir.file("dvd.db");
    make_version_1(path);
    {
        // Something in the way of migration 2: a table named like one it creates.
        RawDb db(path);
        db.exec("CREATE TABLE alerts (x INTEGER)");
    }
    auto store = SqliteStore::open(path);
    ASSERT_FALSE(store);
    EXPECT_NE(store.error().message.find("migration to schema version 2"), std::string::npos)
            << store.error().message;

    RawDb db(path);
    EXPECT_EQ(db.scalar("SELECT version FROM schema_version"), 1);
    EXPECT_EQ(db.scalar("SELECT count(*) FROM pragma_table_info('calls') "
                        "WHERE name = 'telnyx_deepfake_score'"),
              0);
    EXPECT_EQ(db.scalar("SELECT count(*) FROM calls"), 1);
}

TEST(SqliteMigrations, NewerSchemaIsRefused) {
    TempDir dir;
    const std::string path = dir.file("dvd.db");
    {
        auto store = SqliteStore::open(path);
        ASSERT_TRUE(store) << store.error().message;
    }
    {
        RawDb db(path);
        db.exec("UPDATE schema_version SET version = " + std::to_string(kSchemaVersion + 5));
    }
    for (bool read_only : {false, true}) {
        auto store = SqliteStore::open(path, StoreOptions{.read_only = read_only});
        ASSERT_FALSE(store);
        EXPECT_EQ(store.error().code, base::make_error_code(base::Errc::Unsupported));
        EXPECT_NE(store.error().message.find("newer than this build"), std::string::npos)
                << store.error().message;
    }
    RawDb db(path);
    EXPECT_EQ(db.scalar("SELECT version FROM schema_version"), kSchemaVersion + 5);
}

// The readiness probe's ping on a connection opened before a newer build migrated the file.
TEST(SqliteMigrations, PingRefusesASchemaMigratedUnderAnOpenConnection) {
    TempDir dir;
    const std::string path = dir.file("dvd.db");
    auto writable = SqliteStore::open(path);
    ASSERT_TRUE(writable) << writable.error().message;
    auto reader = SqliteStore::open(path, StoreOptions{.read_only = true});
    ASSERT_TRUE(reader) << reader.error().message;
    EXPECT_TRUE((*reader)->ping());
    RawDb(path).exec("UPDATE schema_version SET version = " + std::to_string(kSchemaVersion + 1));
    const auto pinged = (*reader)->ping();
    ASSERT_FALSE(pinged);
    EXPECT_EQ(pinged.error().code, base::make_error_code(base::Errc::Unsupported));
}

TEST(SqliteMigrations, ReadOnlyConnectionDoesNotMigrate) {
    TempDir dir;
    const std::string path = dir.file("dvd.db");
    make_version_1(path);
    auto reader = SqliteStore::open(path, StoreOptions{.read_only = true});
    ASSERT_FALSE(reader);
    EXPECT_NE(reader.error().message.find("open it read-write first"), std::string::npos)
            << reader.error().message;
    RawDb db(path);
    EXPECT_EQ(db.scalar("SELECT version FROM schema_version"), 1);
}

TEST(SqliteMigrations, WalModeAndForeignKeysAreOn) {
    TempDir dir;
    const std::string path = dir.file("dvd.db");
    auto store = SqliteStore::open(path);
    ASSERT_TRUE(store) << store.error().message;
    RawDb db(path);
    EXPECT_EQ(db.scalar("SELECT count(*) FROM pragma_journal_mode WHERE journal_mode = 'wal'"), 1);
    // Foreign keys are per connection: the store's own connection refuses an orphan point.
    ScorePoint orphan = test::make_point("no-such-call", 0);
    auto r = (*store)->append_score_points({&orphan, 1});
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("FOREIGN KEY"), std::string::npos) << r.error().message;
}

TEST(SqliteMigrationsV3, Version2DatabaseIsUpgradedKeepingItsData) {
    TempDir dir;
    const std::string path = dir.file("dvd.db");
    ASSERT_NO_FATAL_FAILURE(test::write_database_at_version(
            path, 2,
            "INSERT INTO calls (id, direction, state, started_at_ms, created_at_ms, "
            "updated_at_ms) VALUES ('old', 'inbound', 'ended', 1, 1, 1);"
            "INSERT INTO score_points VALUES ('old', 0, 0, 1, 0.5, 0, 0.5, 0, 'uncertain');"
            "INSERT INTO recordings (call_id, recording_id, saved_at_ms) VALUES "
            "('old', 'r', 1);"));
    auto store = SqliteStore::open(path);
    ASSERT_TRUE(store) << store.error().message;
    EXPECT_EQ(test::ok((*store)->schema_version()), kSchemaVersion);
    const auto old = test::ok((*store)->get_call("old"));
    ASSERT_TRUE(old);
    EXPECT_EQ(old->escalation, "");
    EXPECT_EQ(old->indicators_json, "");
    EXPECT_EQ(test::ok((*store)->list_timeline("old", -1, 5)).at(0).indicators_json, "");
    EXPECT_FALSE(test::ok((*store)->list_recordings("old")).at(0).kept);
    EXPECT_TRUE(test::ok((*store)->list_analyses("old")).empty());
}

TEST(SqliteMigrationsV4, Version3RecordingsBecomePendingCopies) {
    TempDir dir;
    const std::string path = dir.file("dvd.db");
    ASSERT_NO_FATAL_FAILURE(test::write_database_at_version(
            path, 3,
            "INSERT INTO calls (id, direction, state, started_at_ms, created_at_ms, "
            "updated_at_ms) VALUES ('old', 'inbound', 'ended', 1, 1, 1);"
            "INSERT INTO recordings (call_id, recording_id, wav_url, saved_at_ms, kept) "
            "VALUES ('old', 'r', 'https://example.invalid/r.wav', 1, 1);"));
    auto store = SqliteStore::open(path);
    ASSERT_TRUE(store) << store.error().message;
    EXPECT_EQ(test::ok((*store)->schema_version()), kSchemaVersion);
    const auto old = test::ok((*store)->list_recordings("old")).at(0);
    EXPECT_TRUE(old.kept);
    EXPECT_EQ(old.archive, RecordingArchive{});
    EXPECT_EQ(test::ok((*store)->list_due_recording_archives(1, 5)).size(), 1u);
}

TEST(SqliteMigrationsV5, Version4CallsGainAnEmptyIndicatorState) {
    TempDir dir;
    const std::string path = dir.file("dvd.db");
    ASSERT_NO_FATAL_FAILURE(test::write_database_at_version(
            path, 4,
            "INSERT INTO calls (id, direction, state, started_at_ms, created_at_ms, "
            "updated_at_ms) VALUES ('live', 'inbound', 'streaming', 1, 1, 1);"));
    auto store = SqliteStore::open(path);
    ASSERT_TRUE(store) << store.error().message;
    EXPECT_EQ(test::ok((*store)->schema_version()), 5);
    EXPECT_EQ(test::ok((*store)->get_indicator_state("live")), "");
    ASSERT_TRUE((*store)->update_call_score(
            CallScoreUpdate{.call_id = "live", .indicator_state = "c3RhdGU="}));
    EXPECT_EQ(test::ok((*store)->get_indicator_state("live")), "c3RhdGU=");
}

}  // namespace
}  // namespace dvd::store
