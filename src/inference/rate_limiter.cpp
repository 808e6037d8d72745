#include "inference/rate_limiter.hpp"

#include "base/check.hpp"

namespace dvd::inference {

AnalysisRateLimiter::AnalysisRateLimiter(std::chrono::milliseconds min_interval, int max_per_call)
    : min_interval_(min_interval), max_per_call_(max_per_call) {
    DVD_CHECK(min_interval.count() >= 0 && max_per_call >= 1,
              "rate limiter needs min_interval >= 0 and max_per_call >= 1");
}

bool AnalysisRateLimiter::admit(std::string_view call_id,
                                std::chrono::steady_clock::time_point now) {
    auto [it, inserted] = calls_.try_emplace(std::string(call_id));
    Entry& entry = it->second;
    if (!inserted && (entry.count >= max_per_call_ || now - entry.last < min_interval_)) {
        return false;
    }
    ++entry.count;
    entry.last = now;
    return true;
}

void AnalysisRateLimiter::forget(std::string_view call_id) {
    calls_.erase(std::string(call_id));
}

}  // namespace dvd::inference
