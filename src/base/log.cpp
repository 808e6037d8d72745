#include "base/log.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace dvd::base {
namespace {

std::atomic<int> g_level{static_cast<int>(LogLevel::Info)};

spdlog::level::level_enum to_spdlog(LogLevel level) noexcept {
    switch (level) {
        case LogLevel::Trace: return spdlog::level::trace;
        case LogLevel::Debug: return spdlog::level::debug;
        case LogLevel::Info: return spdlog::level::info;
        case LogLevel::Warn: return spdlog::level::warn;
        case LogLevel::Error: return spdlog::level::err;
        case LogLevel::Critical: return spdlog::level::critical;
        case LogLevel::Off: return spdlog::level::off;
    }
    return spdlog::level::info;
}

// One stderr logger for the process; spdlog's sink mutex keeps lines whole. The component goes
// into the message, so one logger serves every component and the level lives in g_level.
spdlog::logger& logger() {
    static spdlog::logger instance = [] {
        auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
        spdlog::logger made("dvd", std::move(sink));
        made.set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %-5l %v", spdlog::pattern_time_type::utc);
        made.set_level(spdlog::level::trace);
        made.flush_on(spdlog::level::trace);
        return made;
    }();
    return instance;
}

}  // namespace

std::string_view to_string(LogComponent component) noexcept {
    switch (component) {
        case LogComponent::Server: return "server";
        case LogComponent::Net: return "net";
        case LogComponent::Api: return "api";
        case LogComponent::Webhook: return "webhook";
        case LogComponent::Media: return "media";
        case LogComponent::Calls: return "calls";
        case LogComponent::Telnyx: return "telnyx";
        case LogComponent::Store: return "store";
        case LogComponent::Sim: return "sim";
        case LogComponent::Cli: return "cli";
    }
    return "?";
}

std::string_view to_string(LogLevel level) noexcept {
    switch (level) {
        case LogLevel::Trace: return "trace";
        case LogLevel::Debug: return "debug";
        case LogLevel::Info: return "info";
        case LogLevel::Warn: return "warn";
        case LogLevel::Error: return "error";
        case LogLevel::Critical: return "critical";
        case LogLevel::Off: return "off";
    }
    return "?";
}

void set_log_level(LogLevel level) noexcept {
    g_level.store(static_cast<int>(level), std::memory_order_relaxed);
}

LogLevel log_level() noexcept {
    return static_cast<LogLevel>(g_level.load(std::memory_order_relaxed));
}

bool should_log(LogLevel level) noexcept {
    return level != LogLevel::Off &&
           static_cast<int>(level) >= g_level.load(std::memory_order_relaxed);
}

void write_log(LogComponent component, LogLevel level, std::string_view message) noexcept {
    try {
        logger().log(to_spdlog(level), "[{}] {}", to_string(component), message);
    } catch (...) {
        std::fputs("log write failed\n", stderr);
    }
}

long long LogRateLimiter::admit() noexcept {
    const long long now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::steady_clock::now().time_since_epoch())
                                     .count();
    std::lock_guard lock(mutex_);
    if (now_ms - window_start_ms_ >= period_ms_) {
        window_start_ms_ = now_ms;
        in_window_ = 0;
    }
    if (in_window_ >= burst_) {
        ++suppressed_;
        return -1;
    }
    ++in_window_;
    const long long suppressed = suppressed_;
    suppressed_ = 0;
    return suppressed;
}

}  // namespace dvd::base
