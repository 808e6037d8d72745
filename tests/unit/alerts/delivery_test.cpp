#include "alerts/delivery.hpp"

#include <string>

#include <gtest/gtest.h>

#include "http/errc.hpp"

namespace dvd::alerts {
namespace {

using namespace std::chrono_literals;
using store::AlertChannel;

const auto kNow = std::chrono::system_clock::time_point{std::chrono::sys_days{
        std::chrono::year{2026} / std::chrono::January / std::chrono::day{1}}};

base::Result<http::HttpResponse> reply(int status, std::string body, http::Headers headers = {}) {
    return http::HttpResponse{
            .status = status, .headers = std::move(headers), .body = std::move(body)};
}

DeliveryResult slack(const base::Result<http::HttpResponse>& response) {
    return classify_delivery(AlertChannel::Slack, response, kNow);
}

DeliveryResult json_hook(const base::Result<http::HttpResponse>& response) {
    return classify_delivery(AlertChannel::Json, response, kNow);
}

TEST(ClassifyDelivery, SlackCountsOnly200OkAsDelivered) {
    EXPECT_EQ(slack(reply(200, "ok")).verdict, DeliveryVerdict::Delivered);
    EXPECT_EQ(slack(reply(200, "ok\n")).verdict, DeliveryVerdict::Delivered);
    const auto empty = slack(reply(200, ""));
    EXPECT_EQ(empty.verdict, DeliveryVerdict::Failed);
    EXPECT_EQ(empty.reason, "unexpected reply: HTTP 200");
    EXPECT_EQ(slack(reply(200, "<html>login</html>")).verdict, DeliveryVerdict::Failed);
    EXPECT_EQ(slack(reply(204, "")).verdict, DeliveryVerdict::Failed);
}

TEST(ClassifyDelivery, SlackClientErrorsAreFinalWithSlacksReason) {
    const struct {
        int status;
        const char* body;
    } cases[] = {{400, "invalid_payload"},    {400, "no_text"},    {403, "invalid_token"},
                 {403, "action_prohibited"},  {404, "no_service"}, {404, "channel_not_found"},
                 {410, "channel_is_archived"}};

    for (const auto& c : cases) {
        const auto result = slack(reply(c.status, c.body));
        EXPECT_EQ(result.verdict, DeliveryVerdict::Failed) << c.body;
        EXPECT_EQ(result.http_status, c.status);
        EXPECT_EQ(result.reason, "HTTP " + std::to_string(c.status) + " " + c.body);
        EXPECT_FALSE(result.server_delay);
    }
}

TEST(ClassifyDelivery, RateLimitAndServerErrorsAreRetried) {
    const auto limited = slack(reply(429, "rate_limited", {{"Retry-After", "7"}}));
    EXPECT_EQ(limited.verdict, DeliveryVerdict::Retry);
    EXPECT_EQ(limited.server_delay, std::optional<std::chrono::milliseconds>(7s));
    EXPECT_EQ(limited.reason, "HTTP 429 rate_limited");

    const auto rollup = slack(reply(500, "rollup_error"));
    EXPECT_EQ(rollup.verdict, DeliveryVerdict::Retry);
    EXPECT_FALSE(rollup.server_delay);
    EXPECT_EQ(slack(reply(503, "")).verdict, DeliveryVerdict::Retry);
    EXPECT_EQ(slack(reply(408, "")).verdict, DeliveryVerdict::Retry);
}

TEST(ClassifyDelivery, RetryAfterMayBeAnHttpDate) {
    const auto result = slack(reply(429, "", {{"Retry-After", "Thu, 01 Jan 2026 00:00:30 GMT"}}));
    EXPECT_EQ(result.server_delay, std::optional<std::chrono::milliseconds>(30s));
}

TEST(ClassifyDelivery, JsonWebhookAcceptsAny2xx) {
    EXPECT_EQ(json_hook(reply(200, "")).verdict, DeliveryVerdict::Delivered);
    EXPECT_EQ(json_hook(reply(202, "{\"queued\":true}")).verdict, DeliveryVerdict::Delivered);
    EXPECT_EQ(json_hook(reply(204, "")).verdict, DeliveryVerdict::Delivered);
    EXPECT_EQ(json_hook(reply(400, "bad")).verdict, DeliveryVerdict::Failed);
    EXPECT_EQ(json_hook(reply(301, "")).verdict, DeliveryVerdict::Failed);
    EXPECT_EQ(json_hook(reply(502, "")).verdict, DeliveryVerdict::Retry);
}

TEST(ClassifyDelivery, TransientTransportErrorsAreRetriedOthersFail) {
    const auto refused = slack(http::fail(http::Errc::Connect, "Connection refused"));
    EXPECT_EQ(refused.verdict, DeliveryVerdict::Retry);
    EXPECT_EQ(refused.http_status, 0);
    EXPECT_EQ(refused.reason, "transport: Connection refused");
    EXPECT_EQ(slack(http::fail(http::Errc::Timeout, "timeout")).verdict, DeliveryVerdict::Retry);
    EXPECT_EQ(slack(http::fail(http::Errc::InvalidRequest, "bad url")).verdict,
              DeliveryVerdict::Failed);
    EXPECT_EQ(slack(base::fail(base::Errc::Runtime, "other")).verdict, DeliveryVerdict::Failed);
}

TEST(ClassifyDelivery, ReasonIsOnePrintableBoundedLine) {
    const auto result = slack(reply(400, "line1\nline2\r\t" + std::string(500, 'x')));
    EXPECT_EQ(result.reason.find('\n'), std::string::npos);
    EXPECT_TRUE(result.reason.starts_with("HTTP 400 line1 line2"));
    EXPECT_LE(result.reason.size(), 220U);
}

}  // namespace
}  // namespace dvd::alerts
