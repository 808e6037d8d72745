#pragma once

#include <cstdint>
#include <mutex>
#include <random>
#include <string>

namespace dvd::sim {

/// Makes the identifiers Telnyx hands out: UUIDv4 strings (event ids, call legs and sessions,
/// stream and recording ids), `v3:`-prefixed call_control_ids and numeric connection ids.
/// Seeded, so a test with a fixed seed sees the same ids every run. Thread-safe (one mutex).
class IdGenerator {
public:
    explicit IdGenerator(std::uint64_t seed) : rng_(seed) {}

    /// "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx" (RFC 9562 section 5.4 layout, lower-case hex).
    [[nodiscard]] std::string uuid();

    /// "v3:" + 54 URL-safe base64 characters, the shape of Telnyx's call_control_ids. Never
    /// contains '/', so it fits one path segment unescaped.
    [[nodiscard]] std::string call_control_id();

    /// 19 decimal digits, the shape of a Call Control application id.
    [[nodiscard]] std::string numeric_id();

private:
    std::mutex mutex_;
    std::mt19937_64 rng_;  // guarded by mutex_
};

}  // namespace dvd::sim
