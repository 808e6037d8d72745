#include "web/stream_tickets.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

namespace dvd::web {
namespace {

using namespace std::chrono_literals;

class StreamTicketsTest : public ::testing::Test {
protected:
    StreamTickets make(StreamTicketOptions options = {}) {
        return StreamTickets(options, [this] { return now_; });
    }

    StreamTickets::Clock::time_point now_{};
};

TEST_F(StreamTicketsTest, ATicketIsRedeemedOnce) {
    StreamTickets tickets = make();
    const std::string a = tickets.issue();
    const std::string b = tickets.issue();
    EXPECT_NE(a, b);
    EXPECT_EQ(tickets.outstanding(), 2U);
    EXPECT_TRUE(tickets.redeem(b));
    EXPECT_FALSE(tickets.redeem(b));
    EXPECT_TRUE(tickets.redeem(a));
    EXPECT_EQ(tickets.outstanding(), 0U);
}

TEST_F(StreamTicketsTest, UnknownOrNearlyRightTicketsAreRefused) {
    StreamTickets tickets = make();
    std::string ticket = tickets.issue();
    EXPECT_FALSE(tickets.redeem(""));
    EXPECT_FALSE(tickets.redeem(ticket.substr(1)));
    std::string changed = ticket;
    changed.back() = changed.back() == 'A' ? 'B' : 'A';
    EXPECT_FALSE(tickets.redeem(changed));
    EXPECT_TRUE(tickets.redeem(ticket));
}

TEST_F(StreamTicketsTest, ATicketExpiresAfterItsTtl) {
    StreamTickets tickets = make(StreamTicketOptions{.ttl = 60s});
    const std::string early = tickets.issue();
    now_ += 30s;
    const std::string late = tickets.issue();
    now_ += 29s;
    EXPECT_TRUE(tickets.redeem(early));  // 59 s old
    now_ += 2s;
    EXPECT_EQ(tickets.outstanding(), 1U);
    now_ += 29s;  // `late` is now 60 s old
    EXPECT_FALSE(tickets.redeem(late));
    EXPECT_EQ(tickets.outstanding(), 0U);
}

TEST_F(StreamTicketsTest, OutstandingTicketsAreBounded) {
    StreamTickets tickets = make(StreamTicketOptions{.max_outstanding = 3});
    const std::string first = tickets.issue();
    std::string last;
    for (int i = 0; i < 3; ++i) {
        last = tickets.issue();
    }
    EXPECT_EQ(tickets.outstanding(), 3U);
    EXPECT_FALSE(tickets.redeem(first));  // dropped to make room
    EXPECT_TRUE(tickets.redeem(last));
}

}  // namespace
}  // namespace dvd::web
