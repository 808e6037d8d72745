#include "service/call_directory.hpp"

#include <gtest/gtest.h>

namespace dvd::service {
namespace {

TEST(CallDirectory, GrantFindRevoke) {
    CallDirectory directory;
    directory.grant(StreamGrant{.call_id = "c1", .call_control_id = "v3:a", .stream_auth_token = "t"});
    ASSERT_TRUE(directory.find("v3:a"));
    EXPECT_EQ(directory.find("v3:a")->call_id, "c1");
    EXPECT_FALSE(directory.find("v3:b"));
    directory.update_progress(
            "v3:a", pipeline::ScorerCheckpoint{.windows = 2, .llr_sum = 1.5, .speech_frames = 300},
            7, 4000, "c3RhdGU=");
    EXPECT_EQ(directory.find("v3:a")->next_seq, 7);
    EXPECT_EQ(directory.find("v3:a")->checkpoint.windows, 2);
    EXPECT_EQ(directory.find("v3:a")->audio_offset_ms, 4000);
    EXPECT_EQ(directory.find("v3:a")->indicator_state, "c3RhdGU=");
    directory.revoke("v3:a");
    EXPECT_FALSE(directory.find("v3:a"));
    EXPECT_EQ(directory.size(), 0u);
}

}  // namespace
}  // namespace dvd::service
