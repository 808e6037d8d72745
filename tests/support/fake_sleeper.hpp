#pragma once

#include <chrono>
#include <vector>

#include "http/retry.hpp"

namespace dvd::test {

/// A Sleeper that records the waits asked for and advances a fake clock instead of sleeping.
class FakeSleeper final : public http::Sleeper {
public:
    bool sleep_for(std::chrono::milliseconds duration) override {
        waits.push_back(duration);
        now_ += duration;
        return !cancel;
    }

    [[nodiscard]] std::chrono::system_clock::time_point now() const override { return now_; }

    std::vector<std::chrono::milliseconds> waits;
    bool cancel = false;

private:
    // 2026-01-01T00:00:00Z
    std::chrono::system_clock::time_point now_{std::chrono::sys_days{
            std::chrono::year{2026} / std::chrono::January / std::chrono::day{1}}};
};

}  // namespace dvd::test
