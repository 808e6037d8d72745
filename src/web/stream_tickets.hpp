#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>

namespace dvd::web {

/// Limits of the dashboard's stream tickets.
struct StreamTicketOptions {
    std::chrono::seconds ttl{60};       ///< a ticket not redeemed by then is worthless
    std::size_t max_outstanding = 256;  ///< beyond this, issuing drops the oldest ticket
};

/// One-time tickets for `GET /events`. A browser's EventSource cannot send an Authorization
/// header, and an API token in the query string ends up in proxy and server access logs. The page
/// therefore asks `POST /events/ticket` (with the Bearer token) for a ticket and opens
/// `/events?ticket=...`; a ticket works once, within `ttl`, so one found in a log is spent.
/// Thread-safe (one mutex; every call is short and never blocks on I/O). Tickets live in memory
/// only: after a restart the page simply asks for a new one.
class StreamTickets {
public:
    using Clock = std::chrono::steady_clock;

    explicit StreamTickets(StreamTicketOptions options = {},
                           std::function<Clock::time_point()> now = Clock::now);

    /// A fresh ticket (service::new_secret_token: 43 base64url characters).
    [[nodiscard]] std::string issue();

    /// True exactly once for a ticket issued less than `ttl` ago; false for an unknown, spent or
    /// expired one. Compared in constant time against each outstanding ticket.
    [[nodiscard]] bool redeem(std::string_view ticket);

    /// Tickets issued, not yet redeemed and not expired.
    [[nodiscard]] std::size_t outstanding() const;

    [[nodiscard]] const StreamTicketOptions& options() const { return options_; }

private:
    struct Ticket {
        std::string value;
        Clock::time_point issued;
    };

    void drop_expired_locked(Clock::time_point now);

    StreamTicketOptions options_;
    std::function<Clock::time_point()> now_;
    mutable std::mutex mutex_;
    std::deque<Ticket> tickets_;  ///< oldest first; guarded by mutex_
};

}  // namespace dvd::web
