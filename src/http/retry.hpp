#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <random>
#include <string_view>

#include "base/result.hpp"
#include "http/http_client.hpp"

namespace dvd::http {

/// Limits of one `send_with_retries` call.
struct RetryOptions {
    /// Attempts in total, the first included (1 = no retry).
    int max_attempts = 4;
    /// Backoff cap before retry n is min(max_delay, base_delay * 2^(n-1)); the wait is drawn
    /// uniformly from [0, cap] ("full jitter").
    std::chrono::milliseconds base_delay{250};
    std::chrono::milliseconds max_delay{8'000};
    /// Longest server-requested wait (Retry-After, x-ratelimit-reset) honoured inside the call.
    /// A longer one ends the call (StopReason::ServerDelayTooLong) and is reported, so a caller
    /// with a durable queue (the alert outbox) can reschedule instead of blocking its thread.
    std::chrono::milliseconds max_server_delay{60'000};
    /// Retry transport failures that may be transient (`is_transient`): DNS, connect, TLS,
    /// timeout, broken transfer. Only safe for idempotent requests (or ones carrying an
    /// idempotency key such as Telnyx's command_id).
    bool retry_transport_errors = true;
};

/// InvalidArgument (naming the field) unless max_attempts >= 1, 0 <= base_delay <= max_delay and
/// max_server_delay >= 0.
[[nodiscard]] base::Result<void> validate(const RetryOptions& options);

/// Retry limits plus the random source of the full-jitter backoff ("Exponential Backoff And
/// Jitter", AWS Architecture Blog, 2015). The generator is seeded by the caller: a fixed seed in
/// tests, `std::random_device` in the service (so that processes do not retry in lock-step).
/// Holds mutable RNG state: one policy per thread.
class RetryPolicy {
public:
    /// Precondition: validate(options) succeeded (checked by DVD_CHECK).
    RetryPolicy(RetryOptions options, std::uint64_t seed);

    [[nodiscard]] const RetryOptions& options() const noexcept { return options_; }

    /// The jittered wait before retry number `retry` (1 = the second attempt).
    [[nodiscard]] std::chrono::milliseconds backoff_delay(int retry);

private:
    RetryOptions options_;
    std::mt19937_64 rng_;
};

/// The exponential backoff cap before retry `retry` (1 = the second attempt):
/// min(max_delay, base_delay * 2^(retry-1)), computed without overflow.
[[nodiscard]] std::chrono::milliseconds backoff_cap(int retry, std::chrono::milliseconds base_delay,
                                                    std::chrono::milliseconds max_delay) noexcept;

/// "Equal jitter": a wait drawn uniformly from [cap/2, cap] of `backoff_cap`: spread out, but
/// never an immediate re-send. For durable queues that retry from a database timestamp (the alert
/// outbox, the recording downloads).
[[nodiscard]] std::chrono::milliseconds equal_jitter_backoff(int retry,
                                                             std::chrono::milliseconds base_delay,
                                                             std::chrono::milliseconds max_delay,
                                                             std::mt19937_64& rng);

/// Waits between attempts and tells the wall-clock time (needed for an HTTP-date Retry-After).
/// Injected so that tests neither sleep nor read the clock.
class Sleeper {
public:
    virtual ~Sleeper() = default;

    /// Waits `duration`. Returns false when the wait was cut short to stop (shutdown): the retry
    /// loop then gives up with StopReason::Cancelled.
    virtual bool sleep_for(std::chrono::milliseconds duration) = 0;

    [[nodiscard]] virtual std::chrono::system_clock::time_point now() const = 0;
};

/// std::this_thread::sleep_for and the system clock; never cancelled.
class SystemSleeper final : public Sleeper {
public:
    bool sleep_for(std::chrono::milliseconds duration) override;
    [[nodiscard]] std::chrono::system_clock::time_point now() const override;
};

enum class RetryDecision { Final, Retry };

/// Decides from a response whether to retry it.
using Classifier = std::function<RetryDecision(const HttpResponse&)>;

/// The usual rule for APIs such as Telnyx and Slack: retry 408, 429 and 5xx; everything else
/// (2xx, 3xx, other 4xx) is final.
[[nodiscard]] RetryDecision retry_on_429_and_5xx(const HttpResponse& response) noexcept;

/// Why `send_with_retries` stopped.
enum class StopReason {
    Final,               ///< the classifier called the response final (success or not)
    NotRetryable,        ///< a transport error that retrying cannot fix (or retries disabled)
    AttemptsExhausted,   ///< the last allowed attempt still asked for a retry
    ServerDelayTooLong,  ///< the server asked to wait longer than max_server_delay
    Cancelled,           ///< the Sleeper refused to wait
};

struct RetryOutcome {
    /// The last response (any status), or the last transport error.
    base::Result<HttpResponse> response{HttpResponse{}};
    int attempts = 0;
    StopReason stop_reason = StopReason::Final;
    /// Total time spent waiting between attempts.
    std::chrono::milliseconds waited{0};
    /// The wait the last response asked for (Retry-After / rate-limit reset), when it asked.
    std::optional<std::chrono::milliseconds> server_delay{};
};

/// The wait a response asks for before the next attempt, if any:
///   * `Retry-After` (RFC 9110 section 10.2.3): delay-seconds or an HTTP-date (relative to
///     `now`; a date in the past means 0). Slack sends delay-seconds on 429.
///   * otherwise, on a 429 or with `x-ratelimit-remaining: 0`, Telnyx's `x-ratelimit-reset`,
///     "the time in seconds until the rate limit resets" (telnyx-protocol.md section 2.2, [RL]).
///     A value above 10^9 is read as a Unix time instead, as some gateways send.
/// Unparseable values are ignored.
[[nodiscard]] std::optional<std::chrono::milliseconds> requested_delay(
        const HttpResponse& response, std::chrono::system_clock::time_point now);

/// Sends `request` until `classify` calls a response final, a non-transient transport error
/// occurs, or `policy` runs out of attempts. Before each retry it waits for the server-requested
/// delay when there is one (exactly, up to max_server_delay), else for the jittered backoff.
/// Blocks the calling thread (through `sleeper`); never throws.
[[nodiscard]] RetryOutcome send_with_retries(HttpSender& client, const HttpRequest& request,
                                             RetryPolicy& policy, const Classifier& classify,
                                             Sleeper& sleeper);

[[nodiscard]] std::string_view to_string(StopReason reason) noexcept;

}  // namespace dvd::http
