#include "http/retry.hpp"

#include <algorithm>
#include <charconv>
#include <thread>
#include <utility>

#include "base/check.hpp"
#include "http/errc.hpp"
#include "http/http_date.hpp"

namespace dvd::http {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// Larger server delays are clamped here before converting to milliseconds (no overflow).
constexpr std::int64_t kMaxDelaySeconds = std::int64_t{1} << 31;
// x-ratelimit-reset values above this are Unix times, not delta seconds (10^9 s ~ 31 years).
constexpr std::int64_t kUnixTimeThreshold = 1'000'000'000;

std::string_view trim(std::string_view text) noexcept {
    const auto first = text.find_first_not_of(" \t");
    if (first == std::string_view::npos) {
        return {};
    }
    return text.substr(first, text.find_last_not_of(" \t") - first + 1);
}

// A non-negative decimal integer (digits only), clamped to kMaxDelaySeconds.
std::optional<std::int64_t> parse_seconds(std::string_view text) noexcept {
    text = trim(text);
    if (text.empty()
        || !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        return std::nullopt;
    }
    std::int64_t value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec == std::errc::result_out_of_range) {
        return kMaxDelaySeconds;
    }
    if (ec != std::errc{} || end != text.data() + text.size()) {
        return std::nullopt;
    }
    return std::min(value, kMaxDelaySeconds);
}

milliseconds until(std::chrono::sys_seconds when, std::chrono::system_clock::time_point now) {
    const auto delta = std::chrono::duration_cast<milliseconds>(when - now);
    return std::clamp(delta, milliseconds{0}, milliseconds{seconds{kMaxDelaySeconds}});
}

}  // namespace

base::Result<void> validate(const RetryOptions& options) {
    if (options.max_attempts < 1) {
        return base::fail(base::Errc::InvalidArgument, "retry max_attempts must be >= 1");
    }
    if (options.base_delay.count() < 0 || options.max_delay < options.base_delay) {
        return base::fail(base::Errc::InvalidArgument,
                          "retry base_delay must be >= 0 and <= max_delay");
    }
    if (options.max_server_delay.count() < 0) {
        return base::fail(base::Errc::InvalidArgument, "retry max_server_delay must be >= 0");
    }
    return {};
}

RetryPolicy::RetryPolicy(RetryOptions options, std::uint64_t seed) : options_(options), rng_(seed) {
    DVD_CHECK(validate(options_).has_value(), "RetryOptions must be validated first");
}

milliseconds backoff_cap(int retry, milliseconds base_delay, milliseconds max_delay) noexcept {
    // base * 2^(retry-1), doubling only while below the cap (no overflow).
    std::int64_t cap = base_delay.count();
    for (int i = 1; i < retry && cap < max_delay.count(); ++i) {
        cap *= 2;
    }
    return milliseconds{std::min(cap, max_delay.count())};
}

milliseconds equal_jitter_backoff(int retry, milliseconds base_delay, milliseconds max_delay,
                                  std::mt19937_64& rng) {
    const std::int64_t cap = backoff_cap(retry, base_delay, max_delay).count();
    std::uniform_int_distribution<std::int64_t> uniform(cap / 2, cap);
    return milliseconds{uniform(rng)};
}

milliseconds RetryPolicy::backoff_delay(int retry) {
    DVD_ASSERT(retry >= 1, "retry numbers start at 1");
    std::uniform_int_distribution<std::int64_t> uniform(
            0, backoff_cap(retry, options_.base_delay, options_.max_delay).count());
    return milliseconds{uniform(rng_)};
}

bool SystemSleeper::sleep_for(milliseconds duration) {
    std::this_thread::sleep_for(duration);
    return true;
}

std::chrono::system_clock::time_point SystemSleeper::now() const {
    return std::chrono::system_clock::now();
}

RetryDecision retry_on_429_and_5xx(const HttpResponse& response) noexcept {
    const int status = response.status;
    if (status == 408 || status == 429 || (status >= 500 && status <= 599)) {
        return RetryDecision::Retry;
    }
    return RetryDecision::Final;
}

std::optional<milliseconds> requested_delay(const HttpResponse& response,
                                            std::chrono::system_clock::time_point now) {
    if (const auto retry_after = response.headers.find("Retry-After")) {
        if (const auto delta = parse_seconds(*retry_after)) {
            return milliseconds{seconds{*delta}};
        }
        if (const auto date = parse_http_date(trim(*retry_after))) {
            return until(*date, now);
        }
    }
    const auto remaining = response.headers.find("x-ratelimit-remaining");
    const bool limited =
            response.status == 429 || (remaining && parse_seconds(*remaining) == std::int64_t{0});
    if (const auto reset = response.headers.find("x-ratelimit-reset"); limited && reset) {
        if (const auto value = parse_seconds(*reset)) {
            if (*value > kUnixTimeThreshold) {
                return until(std::chrono::sys_seconds{seconds{*value}}, now);
            }
            return milliseconds{seconds{*value}};
        }
    }
    return std::nullopt;
}

RetryOutcome send_with_retries(HttpSender& client, const HttpRequest& request, RetryPolicy& policy,
                               const Classifier& classify, Sleeper& sleeper) {
    const RetryOptions& options = policy.options();
    RetryOutcome outcome;
    for (int attempt = 1;; ++attempt) {
        outcome.attempts = attempt;
        outcome.response = client.send(request);
        outcome.server_delay.reset();

        std::optional<milliseconds> wait;
        if (!outcome.response) {
            const auto& code = outcome.response.error().code;
            const bool transient = code.category() == error_category()
                                   && is_transient(static_cast<Errc>(code.value()));
            if (!options.retry_transport_errors || !transient) {
                outcome.stop_reason = StopReason::NotRetryable;
                return outcome;
            }
        } else {
            if (classify(*outcome.response) == RetryDecision::Final) {
                outcome.stop_reason = StopReason::Final;
                return outcome;
            }
            outcome.server_delay = requested_delay(*outcome.response, sleeper.now());
            wait = outcome.server_delay;
        }
        if (attempt >= options.max_attempts) {
            outcome.stop_reason = StopReason::AttemptsExhausted;
            return outcome;
        }
        if (wait && *wait > options.max_server_delay) {
            outcome.stop_reason = StopReason::ServerDelayTooLong;
            return outcome;
        }
        const milliseconds delay = wait ? *wait : policy.backoff_delay(attempt);
        if (!sleeper.sleep_for(delay)) {
            outcome.stop_reason = StopReason::Cancelled;
            return outcome;
        }
        outcome.waited += delay;
    }
}

std::string_view to_string(StopReason reason) noexcept {
    switch (reason) {
        case StopReason::Final:
            return "final";
        case StopReason::NotRetryable:
            return "not_retryable";
        case StopReason::AttemptsExhausted:
            return "attempts_exhausted";
        case StopReason::ServerDelayTooLong:
            return "server_delay_too_long";
        case StopReason::Cancelled:
            return "cancelled";
    }
    return "unknown";
}

}  // namespace dvd::http
