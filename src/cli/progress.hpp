#pragma once

#include <chrono>
#include <cstdio>
#include <string>

#include <unistd.h>

namespace dvd::cli {

/// Progress lines on stderr: rewritten in place on a terminal; in a log, at most one line every
/// few seconds plus the final one. Not thread-safe: call from one thread at a time.
class Progress {
public:
    Progress() : tty_(::isatty(STDERR_FILENO) == 1) {}

    void update(const std::string& text, bool final = false) {
        const auto now = std::chrono::steady_clock::now();
        if (!final && !tty_ && now - last_ < std::chrono::seconds(5)) {
            return;
        }
        last_ = now;
        std::fprintf(stderr, tty_ ? "\r%s%s" : "%s%s", text.c_str(), tty_ && !final ? "" : "\n");
        std::fflush(stderr);
    }

private:
    bool tty_;
    std::chrono::steady_clock::time_point last_{};
};

}  // namespace dvd::cli
