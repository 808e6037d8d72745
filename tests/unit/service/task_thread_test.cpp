#include "service/task_thread.hpp"

#include <atomic>
#include <future>
#include <stdexcept>
#include <vector>

#include <gtest/gtest.h>

namespace dvd::service {
namespace {

TEST(TaskThread, RunsTasksInOrderOnItsOwnThread) {
    TaskThread thread("test-tasks", 100);
    std::vector<int> seen;
    std::promise<void> done;
    for (int i = 0; i < 10; ++i) {
        ASSERT_TRUE(thread.post([&seen, i, &thread] {
            EXPECT_TRUE(thread.in_this_thread());
            seen.push_back(i);
        }));
    }
    ASSERT_TRUE(thread.post([&done] { done.set_value(); }));
    done.get_future().wait();
    EXPECT_EQ(seen, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
    EXPECT_FALSE(thread.in_this_thread());
}

TEST(TaskThread, RefusesBeyondCapacity) {
    TaskThread thread("test-full", 2);
    std::promise<void> release;
    std::shared_future<void> gate = release.get_future().share();
    std::promise<void> started;
    ASSERT_TRUE(thread.post([gate, &started] {
        started.set_value();
        gate.wait();
    }));
    started.get_future().wait();  // the first task is running, the queue is empty
    EXPECT_TRUE(thread.post([] {}));
    EXPECT_TRUE(thread.post([] {}));
    EXPECT_FALSE(thread.post([] {})) << "a third queued task exceeds capacity 2";
    release.set_value();
}

TEST(TaskThread, StopRunsQueuedTasksThenRefuses) {
    std::atomic<int> ran{0};
    TaskThread thread("test-stop", 100);
    for (int i = 0; i < 20; ++i) {
        ASSERT_TRUE(thread.post([&ran] { ran.fetch_add(1); }));
    }
    thread.stop();
    EXPECT_EQ(ran.load(), 20);
    EXPECT_FALSE(thread.post([] {}));
}

TEST(TaskThread, ExceptionIsCountedAndTheThreadGoesOn) {
    TaskThread thread("test-throw", 10);
    std::promise<void> done;
    ASSERT_TRUE(thread.post([] { throw std::runtime_error("boom"); }));
    ASSERT_TRUE(thread.post([&done] { done.set_value(); }));
    done.get_future().wait();
    thread.stop();
    EXPECT_EQ(thread.exceptions(), 1u);
}

TEST(InflightTasks, CountsUntilRunAndNotWhenRefused) {
    TaskThread thread("test-inflight", 1);
    InflightTasks inflight;
    std::promise<void> release;
    std::shared_future<void> gate = release.get_future().share();
    std::promise<void> started;
    ASSERT_TRUE(inflight.post(thread, [gate, &started] {
        started.set_value();
        gate.wait();
    }));
    started.get_future().wait();
    ASSERT_TRUE(inflight.post(thread, [] { throw std::runtime_error("still uncounted"); }));
    EXPECT_FALSE(inflight.post(thread, [] {})) << "capacity 1: refused";
    EXPECT_EQ(inflight.count(), 2);
    EXPECT_FALSE(inflight.wait_idle(std::chrono::milliseconds(20)));
    release.set_value();
    EXPECT_TRUE(inflight.wait_idle(std::chrono::seconds(5)));
    EXPECT_EQ(inflight.count(), 0);
    thread.stop();
    EXPECT_EQ(thread.exceptions(), 1u);
}

}  // namespace
}  // namespace dvd::service
