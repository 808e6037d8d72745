#include "base/log.hpp"

#include <gtest/gtest.h>

namespace dvd::base {
namespace {

class LogLevelGuard {
public:
    LogLevelGuard() : saved_(log_level()) {}
    ~LogLevelGuard() { set_log_level(saved_); }
    LogLevelGuard(const LogLevelGuard&) = delete;
    LogLevelGuard& operator=(const LogLevelGuard&) = delete;

private:
    LogLevel saved_;
};

TEST(Log, LevelFiltersBeforeFormatting) {
    LogLevelGuard guard;
    set_log_level(LogLevel::Warn);
    EXPECT_FALSE(should_log(LogLevel::Info));
    EXPECT_TRUE(should_log(LogLevel::Warn));
    EXPECT_TRUE(should_log(LogLevel::Error));
    int formatted = 0;
    auto count = [&formatted] {
        ++formatted;
        return 1;
    };
    DVD_LOG(Calls, Info, "not written {}", count());
    EXPECT_EQ(formatted, 0) << "arguments of a filtered line must not be evaluated";
    DVD_LOG(Calls, Error, "written by the log test {}", count());
    EXPECT_EQ(formatted, 1);
}

TEST(Log, OffWritesNothing) {
    LogLevelGuard guard;
    set_log_level(LogLevel::Off);
    EXPECT_FALSE(should_log(LogLevel::Critical));
    EXPECT_FALSE(should_log(LogLevel::Off));
}

TEST(Log, RateLimiterAdmitsBurstThenCountsSuppressed) {
    LogRateLimiter limiter{3, 3'600'000};
    EXPECT_EQ(limiter.admit(), 0);
    EXPECT_EQ(limiter.admit(), 0);
    EXPECT_EQ(limiter.admit(), 0);
    EXPECT_EQ(limiter.admit(), -1);
    EXPECT_EQ(limiter.admit(), -1);
}

TEST(Log, RateLimiterReportsSuppressedInNextWindow) {
    LogRateLimiter limiter{1, 0};  // every call starts a new window
    EXPECT_EQ(limiter.admit(), 0);
    LogRateLimiter strict{1, 3'600'000};
    EXPECT_EQ(strict.admit(), 0);
    EXPECT_EQ(strict.admit(), -1);
}

TEST(Log, NamesAreLowercase) {
    EXPECT_EQ(to_string(LogComponent::Webhook), "webhook");
    EXPECT_EQ(to_string(LogLevel::Warn), "warn");
}

}  // namespace
}  // namespace dvd::base
