#include "web/stream_tickets.hpp"

#include <algorithm>
#include <utility>

#include "service/secrets.hpp"

namespace dvd::web {

StreamTickets::StreamTickets(StreamTicketOptions options, std::function<Clock::time_point()> now)
    : options_(options), now_(std::move(now)) {
    options_.max_outstanding = std::max<std::size_t>(1, options_.max_outstanding);
}

void StreamTickets::drop_expired_locked(Clock::time_point now) {
    // Issued in time order with one ttl, so the expired ones are at the front.
    while (!tickets_.empty() && now - tickets_.front().issued >= options_.ttl) {
        tickets_.pop_front();
    }
}

std::string StreamTickets::issue() {
    std::string value = service::new_secret_token();
    const Clock::time_point now = now_();
    std::lock_guard lock(mutex_);
    drop_expired_locked(now);
    while (tickets_.size() >= options_.max_outstanding) {
        tickets_.pop_front();
    }
    tickets_.push_back(Ticket{value, now});
    return value;
}

bool StreamTickets::redeem(std::string_view ticket) {
    const Clock::time_point now = now_();
    std::lock_guard lock(mutex_);
    drop_expired_locked(now);
    // Every outstanding ticket is compared in full, so the time taken tells nothing about which
    // (if any) matched or how much of it did.
    auto found = tickets_.end();
    for (auto it = tickets_.begin(); it != tickets_.end(); ++it) {
        if (service::secrets_equal(it->value, ticket)) {
            found = it;
        }
    }
    if (found == tickets_.end()) {
        return false;
    }
    tickets_.erase(found);
    return true;
}

std::size_t StreamTickets::outstanding() const {
    const Clock::time_point now = now_();
    std::lock_guard lock(mutex_);
    return static_cast<std::size_t>(
            std::count_if(tickets_.begin(), tickets_.end(),
                          [&](const Ticket& t) { return now - t.issued < options_.ttl; }));
}

}  // namespace dvd::web
