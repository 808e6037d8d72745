#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <unordered_map>

namespace dvd::inference {

/// Per-call limit on risk analyses (issue 4: "rate-limited per call"): at most `max_per_call`
/// analyses per call, at least `min_interval` apart. Triggers (threshold crossing, POST
/// /calls/{id}/analyze, hang-up) ask `admit` first.
///
/// Threads: one owner thread (the one that schedules analyses); not synchronised. Memory grows by
/// one entry per call until `forget` (call it at hang-up, after the last analysis).
class AnalysisRateLimiter {
public:
    AnalysisRateLimiter(std::chrono::milliseconds min_interval, int max_per_call);

    /// True (and counted) when the call may be analysed at `now`.
    bool admit(std::string_view call_id, std::chrono::steady_clock::time_point now);

    /// Drops the state of one call.
    void forget(std::string_view call_id);

    [[nodiscard]] std::size_t tracked_calls() const noexcept { return calls_.size(); }

private:
    struct Entry {
        int count = 0;
        std::chrono::steady_clock::time_point last{};
    };

    std::chrono::milliseconds min_interval_;
    int max_per_call_;
    std::unordered_map<std::string, Entry> calls_;
};

}  // namespace dvd::inference
