#include "sim/timer_queue.hpp"

#include <condition_variable>
#include <mutex>
#include <vector>

#include <gtest/gtest.h>

namespace dvd::sim {
namespace {

using namespace std::chrono_literals;

TEST(TimerQueue, RunsTasksInDueOrder) {
    TimerQueue timers("test-timers");
    timers.start();
    std::mutex mutex;
    std::condition_variable cv;
    std::vector<int> order;
    const auto record = [&](int n) {
        return [&, n] {
            const std::lock_guard lock(mutex);
            order.push_back(n);
            cv.notify_all();
        };
    };
    timers.schedule(60ms, record(3));
    timers.schedule(30ms, record(2));
    timers.schedule(0ms, record(1));
    std::unique_lock lock(mutex);
    ASSERT_TRUE(cv.wait_for(lock, 5s, [&] { return order.size() == 3; }));
    EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
}

TEST(TimerQueue, StopDropsWhatIsPending) {
    TimerQueue timers("test-timers");
    timers.start();
    bool ran = false;
    timers.schedule(1h, [&] { ran = true; });
    EXPECT_EQ(timers.pending(), 1U);
    timers.stop();
    EXPECT_EQ(timers.pending(), 0U);
    timers.schedule(0ms, [&] { ran = true; });  // after stop: dropped
    EXPECT_EQ(timers.pending(), 0U);
    EXPECT_FALSE(ran);
    timers.stop();  // idempotent
}

}  // namespace
}  // namespace dvd::sim
