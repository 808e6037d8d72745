#pragma once

#include <chrono>
#include <thread>

namespace dvd::test {

/// Polls `predicate` every `poll` until it holds or `timeout` passes; returns its last value. For
/// state that another thread or process changes without a signal a test can wait on; the
/// timeout only bounds a failing test (no fixed sleeps in assertions).
template <class Predicate>
bool eventually(Predicate&& predicate,
                std::chrono::milliseconds timeout = std::chrono::milliseconds(10'000),
                std::chrono::milliseconds poll = std::chrono::milliseconds(20)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (predicate()) {
            return true;
        }
        std::this_thread::sleep_for(poll);
    }
    return predicate();
}

}  // namespace dvd::test
