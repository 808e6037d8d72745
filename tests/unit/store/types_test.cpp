#include "store/types.hpp"

#include <gtest/gtest.h>

namespace dvd::store {
namespace {

TEST(StoreTypes, NamesRoundTrip) {
    for (auto state : {CallState::Initiated, CallState::Answered, CallState::Streaming,
                       CallState::Ended, CallState::Failed}) {
        auto parsed = parse_call_state(to_string(state));
        ASSERT_TRUE(parsed) << to_string(state);
        EXPECT_EQ(*parsed, state);
    }
    for (auto direction : {CallDirection::Inbound, CallDirection::Outbound}) {
        EXPECT_EQ(*parse_call_direction(to_string(direction)), direction);
    }
    for (auto channel : {AlertChannel::Slack, AlertChannel::Json}) {
        EXPECT_EQ(*parse_alert_channel(to_string(channel)), channel);
    }
    for (auto status : {AlertStatus::Pending, AlertStatus::Sent, AlertStatus::Failed}) {
        EXPECT_EQ(*parse_alert_status(to_string(status)), status);
    }
    EXPECT_EQ(to_string(CallState::Streaming), "streaming");
    EXPECT_EQ(to_string(AlertChannel::Slack), "slack");
}

TEST(StoreTypes, UnknownNamesAreInvalidArgument) {
    auto state = parse_call_state("hangup");
    ASSERT_FALSE(state);
    EXPECT_EQ(state.error().code, base::make_error_code(base::Errc::InvalidArgument));
    EXPECT_NE(state.error().message.find("hangup"), std::string::npos);
    EXPECT_FALSE(parse_call_direction("incoming"));
    EXPECT_FALSE(parse_alert_channel("email"));
    EXPECT_FALSE(parse_alert_status(""));
}

TEST(StoreTypes, TerminalStates) {
    EXPECT_TRUE(is_terminal(CallState::Ended));
    EXPECT_TRUE(is_terminal(CallState::Failed));
    EXPECT_FALSE(is_terminal(CallState::Initiated));
    EXPECT_FALSE(is_terminal(CallState::Answered));
    EXPECT_FALSE(is_terminal(CallState::Streaming));
}

}  // namespace
}  // namespace dvd::store
