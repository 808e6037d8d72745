#pragma once

#include <mutex>
#include <string>
#include <string_view>
#include <utility>

#include <fmt/format.h>

namespace dvd::base {

/// The components that log, one logger each (house style 3.9). Listed once here.
enum class LogComponent { Server, Net, Api, Webhook, Media, Calls, Telnyx, Store, Sim, Cli };

enum class LogLevel { Trace, Debug, Info, Warn, Error, Critical, Off };

[[nodiscard]] std::string_view to_string(LogComponent component) noexcept;
[[nodiscard]] std::string_view to_string(LogLevel level) noexcept;

/// Sets the level of every component (LOG_LEVEL). Thread-safe; takes effect at once.
void set_log_level(LogLevel level) noexcept;
[[nodiscard]] LogLevel log_level() noexcept;

/// True when a message at `level` would be written: checked before arguments are formatted.
[[nodiscard]] bool should_log(LogLevel level) noexcept;

/// Writes one line to stderr: `2026-11-26T14:35:13.123Z info  [calls] message key=value ...`.
/// Thread-safe. `message` is already formatted. Prefer the DVD_LOG macros.
void write_log(LogComponent component, LogLevel level, std::string_view message) noexcept;

/// Keeps at most `burst` messages per `period_ms` for one call site (DVD_LOG_RATE_LIMITED);
/// returns how many were suppressed since the last message let through, or -1 to suppress this
/// one. Thread-safe.
class LogRateLimiter {
public:
    constexpr LogRateLimiter(int burst, long long period_ms) : burst_(burst), period_ms_(period_ms) {}
    [[nodiscard]] long long admit() noexcept;

private:
    int burst_;
    long long period_ms_;
    std::mutex mutex_;
    // ---- guarded by mutex_ ----
    long long window_start_ms_ = 0;
    int in_window_ = 0;
    long long suppressed_ = 0;
};

namespace detail {
template <class... Args>
void log_formatted(LogComponent component, LogLevel level, fmt::format_string<Args...> format,
                   Args&&... args) noexcept {
    try {
        write_log(component, level, fmt::format(format, std::forward<Args>(args)...));
    } catch (...) {
        write_log(component, level, "<log line failed to format>");
    }
}
}  // namespace detail

}  // namespace dvd::base

/// DVD_LOG(Calls, Info, "call {} answered call_id={}", x, id): the level is checked before the
/// arguments are formatted. Put `call_id=<id>` on every line about a call.
#define DVD_LOG(component, level, ...)                                                           \
    do {                                                                                          \
        if (::dvd::base::should_log(::dvd::base::LogLevel::level)) {                             \
            ::dvd::base::detail::log_formatted(::dvd::base::LogComponent::component,             \
                                               ::dvd::base::LogLevel::level, __VA_ARGS__);       \
        }                                                                                         \
    } while (false)

/// Like DVD_LOG, for anything per stream or per message: at most 10 lines per 10 s per call
/// site; the next line let through says how many were suppressed.
#define DVD_LOG_RATE_LIMITED(component, level, ...)                                              \
    do {                                                                                          \
        if (::dvd::base::should_log(::dvd::base::LogLevel::level)) {                             \
            static ::dvd::base::LogRateLimiter dvd_log_limiter_{10, 10'000};                      \
            const long long dvd_suppressed_ = dvd_log_limiter_.admit();                           \
            if (dvd_suppressed_ >= 0) {                                                           \
                ::dvd::base::detail::log_formatted(::dvd::base::LogComponent::component,         \
                                                   ::dvd::base::LogLevel::level, __VA_ARGS__);   \
                if (dvd_suppressed_ > 0) {                                                        \
                    ::dvd::base::detail::log_formatted(                                           \
                            ::dvd::base::LogComponent::component, ::dvd::base::LogLevel::level,  \
                            "({} similar lines suppressed)", dvd_suppressed_);                   \
                }                                                                                 \
            }                                                                                     \
        }                                                                                         \
    } while (false)
