#include "store/open_store.hpp"

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "store/sqlite_migrations.hpp"
#include "store_test_support.hpp"

namespace dvd::store {
namespace {

using test::TempDir;

using test::has_code;

TEST(SqlitePathFromUrl, AcceptsSqliteUrlsAndPlainPaths) {
    EXPECT_EQ(*sqlite_path_from_url("sqlite:///abs/path.db"), "/abs/path.db");
    EXPECT_EQ(*sqlite_path_from_url("sqlite://relative/path.db"), "relative/path.db");
    EXPECT_EQ(*sqlite_path_from_url("var/dvd.db"), "var/dvd.db");
    EXPECT_EQ(*sqlite_path_from_url("/tmp/x.db"), "/tmp/x.db");
    EXPECT_EQ(*sqlite_path_from_url(":memory:"), ":memory:");
    EXPECT_EQ(*sqlite_path_from_url("sqlite://:memory:"), ":memory:");
}

TEST(SqlitePathFromUrl, RefusesPostgresWithoutEchoingTheUrl) {
    for (const char* url : {"postgres://user:secret@db/dvd", "postgresql://user:secret@db/dvd"}) {
        auto path = sqlite_path_from_url(url);
        ASSERT_FALSE(path) << url;
        EXPECT_TRUE(has_code(path.error(), base::Errc::Unsupported));
        EXPECT_NE(path.error().message.find("PostgreSQL database, not a SQLite file"),
                  std::string::npos);
        EXPECT_EQ(path.error().message.find("secret"), std::string::npos);
    }
}

TEST(SqlitePathFromUrl, RefusesEmptyAndUnknown) {
    EXPECT_TRUE(has_code(sqlite_path_from_url("").error(), base::Errc::InvalidArgument));
    EXPECT_TRUE(has_code(sqlite_path_from_url("sqlite://").error(), base::Errc::InvalidArgument));
    EXPECT_TRUE(has_code(sqlite_path_from_url("sqlite:///").error(), base::Errc::InvalidArgument));
    EXPECT_TRUE(has_code(sqlite_path_from_url("mysql://h/db").error(), base::Errc::Unsupported));
}

TEST(OpenStore, PostgresUrlsGoToPostgres) {
    EXPECT_TRUE(is_postgres_url("postgresql://localhost/dvd"));
    EXPECT_TRUE(is_postgres_url("postgres://u:p@db:5432/dvd?sslmode=require"));
    EXPECT_FALSE(is_postgres_url("sqlite://./var/dvd.db"));
    EXPECT_FALSE(is_postgres_url("./postgres://x"));
    // Nothing listens there: the PostgreSQL store's own error (dvd_store_postgres_tests has the
    // working cases), not a SQLite file named "postgresql:".
    auto store = open_store("postgresql:///dvd?host=/nonexistent-dvd-socket-dir");
    ASSERT_FALSE(store);
    EXPECT_NE(store.error().message.find("store open (PostgreSQL)"), std::string::npos)
            << store.error().message;
}

TEST(OpenStore, CreatesTheParentFolderAndMigrates) {
    TempDir dir;
    const std::string path = dir.file("a/b/dvd.db");
    auto store = open_store("sqlite://" + path);  // path is absolute: sqlite:///tmp/...
    ASSERT_TRUE(store) << store.error().message;
    EXPECT_TRUE(std::filesystem::exists(path));
    auto* sqlite = dynamic_cast<SqliteStore*>(store->get());
    ASSERT_NE(sqlite, nullptr);
    EXPECT_EQ(*sqlite->schema_version(), kSchemaVersion);
    ASSERT_TRUE((*store)->upsert_call(test::make_call("c1", 1000)));
    EXPECT_TRUE(test::ok((*store)->get_call("c1")).has_value());
}

TEST(OpenStore, RelativeUrlIsRelativeToTheWorkingDirectory) {
    TempDir dir;
    const auto previous = std::filesystem::current_path();
    std::filesystem::current_path(dir.path());
    {
        auto store = open_store("sqlite://var/dvd.db");
        EXPECT_TRUE(store) << store.error().message;
    }
    std::filesystem::current_path(previous);
    EXPECT_TRUE(std::filesystem::exists(dir.path() / "var" / "dvd.db"));
}

TEST(OpenStore, InMemoryDatabaseWorks) {
    auto store = open_store(":memory:");
    ASSERT_TRUE(store) << store.error().message;
    ASSERT_TRUE((*store)->upsert_call(test::make_call("c1", 1)));
    EXPECT_EQ(*(*store)->count_calls({}), 1);
}

TEST(OpenStore, CorruptFileIsAClearError) {
    TempDir dir;
    const std::string path = dir.file("dvd.db");
    {
        std::ofstream out(path, std::ios::binary);
        for (int i = 0; i < 512; ++i) {
            out << "this is not an SQLite database. ";
        }
    }
    auto store = open_store(path);
    ASSERT_FALSE(store);
    EXPECT_TRUE(has_code(store.error(), base::Errc::Corrupt)) << store.error().message;
    EXPECT_NE(store.error().message.find("not a database"), std::string::npos)
            << store.error().message;
    EXPECT_NE(store.error().message.find(path), std::string::npos) << store.error().message;

    auto reader = open_store(path, StoreOptions{.read_only = true});
    ASSERT_FALSE(reader);
    EXPECT_TRUE(has_code(reader.error(), base::Errc::Corrupt)) << reader.error().message;
}

TEST(OpenStore, DamagedPagesAreReportedAsCorrupt) {
    TempDir dir;
    const std::string path = dir.file("dvd.db");
    {
        auto store = SqliteStore::open(path);
        ASSERT_TRUE(store) << store.error().message;
        for (int i = 0; i < 200; ++i) {
            ASSERT_TRUE((*store)->upsert_call(test::make_call("call-" + std::to_string(i), i)));
        }
    }
    // Keep page 1 (the header), overwrite every later page with garbage.
    const auto size = std::filesystem::file_size(path);
    ASSERT_GT(size, 8192U);
    {
        std::fstream file(path, std::ios::binary | std::ios::in | std::ios::out);
        file.seekp(4096);
        for (auto i = 4096U; i < size; ++i) {
            file.put(static_cast<char>(0xA5));
        }
    }
    auto store = SqliteStore::open(path);
    if (!store) {
        EXPECT_TRUE(has_code(store.error(), base::Errc::Corrupt)) << store.error().message;
        return;
    }
    auto calls = (*store)->list_calls({});
    ASSERT_FALSE(calls);
    EXPECT_TRUE(has_code(calls.error(), base::Errc::Corrupt)) << calls.error().message;
}

TEST(OpenStore, ReadOnlyNeedsAnExistingCurrentDatabase) {
    TempDir dir;
    const std::string path = dir.file("dvd.db");
    auto missing = open_store(path, StoreOptions{.read_only = true});
    ASSERT_FALSE(missing);
    EXPECT_TRUE(has_code(missing.error(), base::Errc::NotFound)) << missing.error().message;
    EXPECT_FALSE(std::filesystem::exists(path));

    auto writer = open_store(path);
    ASSERT_TRUE(writer) << writer.error().message;
    ASSERT_TRUE((*writer)->upsert_call(test::make_call("c1", 1)));
    auto reader = open_store(path, StoreOptions{.read_only = true});
    ASSERT_TRUE(reader) << reader.error().message;
    EXPECT_TRUE(test::ok((*reader)->get_call("c1")).has_value());

    // The reader sees the writer's later commits, and cannot write.
    ASSERT_TRUE((*writer)->upsert_call(test::make_call("c2", 2)));
    EXPECT_EQ(*(*reader)->count_calls({}), 2);
    auto write = (*reader)->upsert_call(test::make_call("c3", 3));
    ASSERT_FALSE(write);
    EXPECT_TRUE(has_code(write.error(), base::Errc::Io)) << write.error().message;
    EXPECT_NE(write.error().message.find("upsert_call"), std::string::npos);
}

}  // namespace
}  // namespace dvd::store
