// Durability and concurrency of SqliteStore across connections and processes.
#include <atomic>
#include <csignal>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/sqlite_store.hpp"
#include "store_test_support.hpp"

namespace dvd::store {
namespace {

using test::make_call;
using test::make_event;
using test::make_point;
using test::TempDir;

TEST(SqliteDurability, DataSurvivesCloseAndReopen) {
    TempDir dir;
    const std::string path = dir.file("dvd.db");
    {
        auto store = SqliteStore::open(path);
        ASSERT_TRUE(store) << store.error().message;
        ASSERT_TRUE((*store)->upsert_call(make_call("c1", 1)));
        std::vector<ScorePoint> points{make_point("c1", 0), make_point("c1", 1)};
        ASSERT_TRUE((*store)->append_score_points(points));
        ASSERT_TRUE((*store)->record_webhook_event(make_event("evt-1", 1)));
    }
    auto store = SqliteStore::open(path);
    ASSERT_TRUE(store) << store.error().message;
    EXPECT_EQ(test::ok((*store)->get_call("c1")), make_call("c1", 1));
    EXPECT_EQ((*store)->list_timeline("c1", -1, 10)->size(), 2U);
    EXPECT_FALSE(test::ok((*store)->record_webhook_event(make_event("evt-1", 2))));
}

/// Runs `body` in a forked child that ends without closing anything (no destructors, no
/// checkpoint): _exit(0), or SIGKILL when `kill_self`. Returns the child's wait status.
template <class Body>
int in_crashing_child(Body body, bool kill_self) {
    const pid_t pid = fork();
    if (pid == 0) {
        const int code = body();
        if (kill_self && code == 0) {
            raise(SIGKILL);
        }
        _exit(code);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    return status;
}

void crash_after_commit(bool kill_self) {
    TempDir dir;
    const std::string path = dir.file("dvd.db");
    {
        // The schema exists before the child starts, as in a service restart.
        auto store = SqliteStore::open(path);
        ASSERT_TRUE(store) << store.error().message;
    }
    const int status = in_crashing_child(
            [&path]() -> int {
                auto store = SqliteStore::open(path);
                if (!store) {
                    return 2;
                }
                if (!(*store)->upsert_call(make_call("committed", 7))) {
                    return 3;
                }
                std::vector<WriteOp> ops{make_point("committed", 0), make_point("committed", 1)};
                auto outcome = (*store)->write_batch(ops);
                if (!outcome || outcome->applied != 2) {
                    return 4;
                }
                // Leak the connection on purpose: a crash closes nothing.
                (void)store->release();
                return 0;
            },
            kill_self);
    if (kill_self) {
        ASSERT_TRUE(WIFSIGNALED(status)) << status;
        EXPECT_EQ(WTERMSIG(status), SIGKILL);
    } else {
        ASSERT_TRUE(WIFEXITED(status)) << status;
        ASSERT_EQ(WEXITSTATUS(status), 0);
    }
    // The child never checkpointed: its commits are only in the -wal file.
    EXPECT_TRUE(std::filesystem::exists(path + "-wal"));

    auto store = SqliteStore::open(path);
    ASSERT_TRUE(store) << store.error().message;
    auto call = (*store)->get_call("committed");
    ASSERT_TRUE(call) << call.error().message;
    ASSERT_TRUE(call->has_value()) << "a committed call was lost by the crash";
    EXPECT_EQ(**call, make_call("committed", 7));
    EXPECT_EQ((*store)->list_timeline("committed", -1, 10)->size(), 2U);
}

TEST(SqliteDurability, CommitSurvivesExitWithoutClose) {
    crash_after_commit(false);
}

TEST(SqliteDurability, CommitSurvivesSigkill) {
    crash_after_commit(true);
}

TEST(SqliteDurability, KillDuringWritesKeepsTransactionsWhole) {
    TempDir dir;
    const std::string path = dir.file("dvd.db");
    {
        auto store = SqliteStore::open(path);
        ASSERT_TRUE(store) << store.error().message;
    }
    constexpr int kPoints = 200;
    int pipe_fds[2];
    ASSERT_EQ(pipe(pipe_fds), 0);
    const pid_t pid = fork();
    if (pid == 0) {
        // Child: commits one call + kPoints points per transaction, forever, and reports each
        // commit on the pipe. The parent kills it at an arbitrary moment, usually mid-transaction.
        close(pipe_fds[0]);
        auto store = SqliteStore::open(path);
        if (!store) {
            _exit(2);
        }
        for (int i = 0;; ++i) {
            const std::string id = "c" + std::to_string(i);
            std::vector<WriteOp> ops{make_call(id, i)};
            for (int seq = 0; seq < kPoints; ++seq) {
                ops.emplace_back(make_point(id, seq));
            }
            if (!(*store)->write_batch(ops)) {
                _exit(3);
            }
            const char committed = 1;
            if (write(pipe_fds[1], &committed, 1) != 1) {
                _exit(4);
            }
        }
    }
    close(pipe_fds[1]);
    int acknowledged = 0;
    char byte = 0;
    while (acknowledged < 20 && read(pipe_fds[0], &byte, 1) == 1) {
        ++acknowledged;
    }
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    close(pipe_fds[0]);
    ASSERT_EQ(acknowledged, 20) << "the child stopped early, status " << status;
    ASSERT_TRUE(WIFSIGNALED(status)) << status;

    auto store = SqliteStore::open(path);
    ASSERT_TRUE(store) << store.error().message;
    const auto calls = test::ok((*store)->count_calls({}));
    EXPECT_GE(calls, acknowledged);  // every acknowledged commit is there
    for (int i = 0; i < calls; ++i) {
        // All or nothing: each call that exists has all its points.
        EXPECT_EQ((*store)->list_timeline("c" + std::to_string(i), -1, 1000)->size(),
                  static_cast<std::size_t>(kPoints))
                << i;
    }
}

TEST(SqliteConcurrency, ReaderSeesCommittedDataWhileWriterWrites) {
    TempDir dir;
    const std::string path = dir.file("dvd.db");
    auto writer = SqliteStore::open(path);
    ASSERT_TRUE(writer) << writer.error().message;
    auto reader = SqliteStore::open(path, StoreOptions{.read_only = true});
    ASSERT_TRUE(reader) << reader.error().message;

    std::atomic<bool> done{false};
    std::atomic<int> reader_errors{0};
    std::thread read_thread([&] {
        std::int64_t last = 0;
        while (!done.load()) {
            auto count = (*reader)->count_calls({});
            if (!count || *count < last) {
                reader_errors.fetch_add(1);  // failed, or went back in time
                continue;
            }
            last = *count;
        }
    });
    for (int i = 0; i < 200; ++i) {
        ASSERT_TRUE((*writer)->upsert_call(make_call("c" + std::to_string(i), i)));
    }
    done.store(true);
    read_thread.join();
    EXPECT_EQ(reader_errors.load(), 0);
    EXPECT_EQ(*(*reader)->count_calls({}), 200);
}

}  // namespace
}  // namespace dvd::store
