// One service instance per database, SQLite side: a lock file the kernel releases with the
// process. The PostgreSQL side is in postgres_store_test.cpp.
#include "store/instance_lock.hpp"

#include <csignal>
#include <chrono>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store_test_support.hpp"

namespace dvd::store {
namespace {

using namespace std::chrono_literals;
using test::has_code;
using test::TempDir;

constexpr InstanceLockOptions kShortWait{.wait = 300ms, .poll = 20ms};

TEST(SqliteInstanceLock, ASecondHolderIsRefusedAndNamesTheFirst) {
    TempDir dir;
    const std::string url = "sqlite://" + dir.file("sub/dvd.db");
    auto first = acquire_instance_lock(url, kShortWait);
    ASSERT_TRUE(first) << first.error().message;
    EXPECT_TRUE(std::filesystem::exists(dir.file("sub/dvd.db.lock")));  // folder made too
    EXPECT_TRUE(test::ok((*first)->check()));
    EXPECT_NE((*first)->describe().find("dvd.db.lock"), std::string::npos);

    const auto started = std::chrono::steady_clock::now();
    auto second = acquire_instance_lock(url, kShortWait);
    ASSERT_FALSE(second);
    EXPECT_GE(std::chrono::steady_clock::now() - started, 300ms);  // it waited for the first
    EXPECT_TRUE(has_code(second.error(), base::Errc::Unsupported));
    EXPECT_NE(second.error().message.find("another instance holds this database"),
              std::string::npos)
            << second.error().message;
    EXPECT_NE(second.error().message.find("process " + std::to_string(::getpid())),
              std::string::npos)
            << second.error().message;

    first->reset();  // released
    auto third = acquire_instance_lock(url, kShortWait);
    EXPECT_TRUE(third) << third.error().message;
}

// However the holder ends (here: killed), the kernel drops its lock.
TEST(SqliteInstanceLock, AKilledHolderReleasesIt) {
    TempDir dir;
    const std::string url = dir.file("dvd.db");  // a plain path works as well
    int ready[2];
    ASSERT_EQ(::pipe(ready), 0);
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        auto held = acquire_instance_lock(url, kShortWait);
        const char byte = held ? 'y' : 'n';
        static_cast<void>(::write(ready[1], &byte, 1));
        ::pause();
        ::_exit(0);
    }
    char byte = 0;
    ASSERT_EQ(::read(ready[0], &byte, 1), 1);
    ASSERT_EQ(byte, 'y');
    EXPECT_FALSE(acquire_instance_lock(url, kShortWait));
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
    ::close(ready[0]);
    ::close(ready[1]);
    auto after = acquire_instance_lock(url, kShortWait);
    EXPECT_TRUE(after) << after.error().message;
}

TEST(SqliteInstanceLock, AnInMemoryDatabaseNeedsNoLockAndGetsNone) {
    auto memory = acquire_instance_lock(":memory:", kShortWait);
    ASSERT_FALSE(memory);
    EXPECT_TRUE(has_code(memory.error(), base::Errc::InvalidArgument));
}

}  // namespace
}  // namespace dvd::store
