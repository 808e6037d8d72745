#include "http/retry.hpp"

#include <string>

#include <gtest/gtest.h>

#include "http/errc.hpp"
#include "http/http_date.hpp"
#include "support/fake_sleeper.hpp"
#include "support/loopback_server.hpp"

namespace dvd::http {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;
using test::FakeSleeper;
using test::LoopbackServer;

constexpr std::uint64_t kSeed = 42;

HttpClient test_client() {
    HttpClientOptions options;
    options.proxy = "";
    return HttpClient(options);
}

RetryOptions test_retry_options() {
    RetryOptions options;
    options.max_attempts = 4;
    options.base_delay = 100ms;
    options.max_delay = 1'000ms;
    options.max_server_delay = 60s;
    return options;
}

class RetryTest : public ::testing::Test {
protected:
    RetryOutcome send(const std::string& path = "/") {
        return send_with_retries(client_,
                                 {.method = "POST", .url = server_.url(path), .body = "{}"},
                                 policy_, retry_on_429_and_5xx, sleeper_);
    }

    LoopbackServer server_;
    HttpClient client_ = test_client();
    RetryPolicy policy_{test_retry_options(), kSeed};
    FakeSleeper sleeper_;
};

TEST_F(RetryTest, SuccessAtOnceNeedsOneAttemptAndNoWait) {
    server_.push({.status = 200, .body = "ok"});
    const auto outcome = send();
    ASSERT_TRUE(outcome.response) << outcome.response.error().message;
    EXPECT_EQ(outcome.response->status, 200);
    EXPECT_EQ(outcome.attempts, 1);
    EXPECT_EQ(outcome.stop_reason, StopReason::Final);
    EXPECT_TRUE(sleeper_.waits.empty());
    EXPECT_EQ(outcome.waited, 0ms);
}

TEST_F(RetryTest, ServerErrorThenSuccessIsRetriedWithJitteredBackoff) {
    server_.push({.status = 500, .body = "oops"});
    server_.push({.status = 200, .body = "ok"});
    const auto outcome = send();
    ASSERT_TRUE(outcome.response) << outcome.response.error().message;
    EXPECT_EQ(outcome.response->status, 200);
    EXPECT_EQ(outcome.attempts, 2);
    EXPECT_EQ(outcome.stop_reason, StopReason::Final);
    ASSERT_EQ(sleeper_.waits.size(), 1u);
    EXPECT_GE(sleeper_.waits[0], 0ms);
    EXPECT_LE(sleeper_.waits[0], 100ms);  // full jitter in [0, base_delay] before retry 1
    EXPECT_EQ(outcome.waited, sleeper_.waits[0]);
    const auto requests = server_.requests();
    ASSERT_EQ(requests.size(), 2u);
    EXPECT_EQ(requests[0].body, requests[1].body);
}

TEST_F(RetryTest, TooManyRequestsHonoursRetryAfterSeconds) {
    server_.push({.status = 429, .headers = {{"Retry-After", "3"}}, .body = "slow down"});
    server_.push({.status = 200});
    const auto outcome = send();
    ASSERT_TRUE(outcome.response);
    EXPECT_EQ(outcome.response->status, 200);
    EXPECT_EQ(outcome.attempts, 2);
    EXPECT_EQ(sleeper_.waits, std::vector<milliseconds>{3'000ms});
}

TEST_F(RetryTest, TooManyRequestsHonoursRetryAfterHttpDate) {
    const auto when = std::chrono::floor<std::chrono::seconds>(sleeper_.now()) + 7s;
    server_.push({.status = 429, .headers = {{"retry-after", format_http_date(when)}}});
    server_.push({.status = 200});
    const auto outcome = send();
    ASSERT_TRUE(outcome.response);
    EXPECT_EQ(outcome.response->status, 200);
    EXPECT_EQ(sleeper_.waits, std::vector<milliseconds>{7'000ms});
}

TEST_F(RetryTest, TooManyRequestsHonoursTelnyxRateLimitReset) {
    server_.push({.status = 429,
                  .headers = {{"x-ratelimit-limit", "100"},
                              {"x-ratelimit-remaining", "0"},
                              {"x-ratelimit-reset", "2"}},
                  .body = R"({"errors":[{"code":"10011","title":"Too many requests"}]})"});
    server_.push({.status = 200});
    const auto outcome = send();
    ASSERT_TRUE(outcome.response);
    EXPECT_EQ(outcome.response->status, 200);
    EXPECT_EQ(sleeper_.waits, std::vector<milliseconds>{2'000ms});
}

TEST_F(RetryTest, ServiceUnavailableWithRetryAfterWaitsForIt) {
    server_.push({.status = 503, .headers = {{"Retry-After", "1"}}});
    server_.push({.status = 200});
    const auto outcome = send();
    ASSERT_TRUE(outcome.response);
    EXPECT_EQ(sleeper_.waits, std::vector<milliseconds>{1'000ms});
}

TEST_F(RetryTest, ClientErrorIsNotRetried) {
    server_.push({.status = 400, .body = "invalid_payload"});
    server_.push({.status = 200});
    const auto outcome = send();
    ASSERT_TRUE(outcome.response);
    EXPECT_EQ(outcome.response->status, 400);
    EXPECT_EQ(outcome.response->body, "invalid_payload");
    EXPECT_EQ(outcome.attempts, 1);
    EXPECT_EQ(outcome.stop_reason, StopReason::Final);
    EXPECT_EQ(server_.requests().size(), 1u);
    EXPECT_TRUE(sleeper_.waits.empty());
}

TEST_F(RetryTest, PersistentServerErrorsExhaustTheAttempts) {
    for (int i = 0; i < 6; ++i) {
        server_.push({.status = 503});
    }
    const auto outcome = send();
    ASSERT_TRUE(outcome.response);
    EXPECT_EQ(outcome.response->status, 503);
    EXPECT_EQ(outcome.attempts, 4);
    EXPECT_EQ(outcome.stop_reason, StopReason::AttemptsExhausted);
    EXPECT_EQ(server_.requests().size(), 4u);
    ASSERT_EQ(sleeper_.waits.size(), 3u);
    const milliseconds caps[] = {100ms, 200ms, 400ms};
    for (std::size_t i = 0; i < 3; ++i) {
        EXPECT_LE(sleeper_.waits[i], caps[i]) << "retry " << i + 1;
    }
}

TEST_F(RetryTest, ServerDelayLongerThanTheLimitStopsAndIsReported) {
    server_.push({.status = 429, .headers = {{"Retry-After", "120"}}});
    const auto outcome = send();
    ASSERT_TRUE(outcome.response);
    EXPECT_EQ(outcome.response->status, 429);
    EXPECT_EQ(outcome.attempts, 1);
    EXPECT_EQ(outcome.stop_reason, StopReason::ServerDelayTooLong);
    EXPECT_EQ(outcome.server_delay, milliseconds{120'000});
    EXPECT_TRUE(sleeper_.waits.empty());
}

TEST_F(RetryTest, CancelledSleepStopsTheLoop) {
    server_.push({.status = 500});
    server_.push({.status = 200});
    sleeper_.cancel = true;
    const auto outcome = send();
    ASSERT_TRUE(outcome.response);
    EXPECT_EQ(outcome.response->status, 500);
    EXPECT_EQ(outcome.attempts, 1);
    EXPECT_EQ(outcome.stop_reason, StopReason::Cancelled);
    EXPECT_EQ(server_.requests().size(), 1u);
}

TEST_F(RetryTest, CustomClassifierDecides) {
    server_.push({.status = 200, .body = "not yet"});
    server_.push({.status = 200, .body = "ok"});
    const auto outcome = send_with_retries(
            client_, {.url = server_.url("/")}, policy_,
            [](const HttpResponse& r) {
                return r.body == "ok" ? RetryDecision::Final : RetryDecision::Retry;
            },
            sleeper_);
    ASSERT_TRUE(outcome.response);
    EXPECT_EQ(outcome.response->body, "ok");
    EXPECT_EQ(outcome.attempts, 2);
}

TEST(Retry, ConnectionRefusedIsRetriedThenReportedAsAnErrorValue) {
    HttpClient client = test_client();
    RetryPolicy policy(test_retry_options(), kSeed);
    FakeSleeper sleeper;
    const std::string url = "http://127.0.0.1:" + std::to_string(LoopbackServer::closed_port());
    const auto outcome =
            send_with_retries(client, {.url = url}, policy, retry_on_429_and_5xx, sleeper);
    ASSERT_FALSE(outcome.response);
    EXPECT_EQ(outcome.response.error().code, make_error_code(Errc::Connect));
    EXPECT_EQ(outcome.attempts, 4);
    EXPECT_EQ(outcome.stop_reason, StopReason::AttemptsExhausted);
    EXPECT_EQ(sleeper.waits.size(), 3u);
}

TEST(Retry, TransportErrorsAreFinalWhenRetriesOfThemAreOff) {
    HttpClient client = test_client();
    auto options = test_retry_options();
    options.retry_transport_errors = false;
    RetryPolicy policy(options, kSeed);
    FakeSleeper sleeper;
    const std::string url = "http://127.0.0.1:" + std::to_string(LoopbackServer::closed_port());
    const auto outcome =
            send_with_retries(client, {.url = url}, policy, retry_on_429_and_5xx, sleeper);
    ASSERT_FALSE(outcome.response);
    EXPECT_EQ(outcome.attempts, 1);
    EXPECT_EQ(outcome.stop_reason, StopReason::NotRetryable);
}

TEST(Retry, InvalidRequestIsNeverRetried) {
    HttpClient client = test_client();
    RetryPolicy policy(test_retry_options(), kSeed);
    FakeSleeper sleeper;
    const auto outcome =
            send_with_retries(client, {.url = "ftp://x/"}, policy, retry_on_429_and_5xx, sleeper);
    ASSERT_FALSE(outcome.response);
    EXPECT_EQ(outcome.response.error().code, make_error_code(Errc::InvalidRequest));
    EXPECT_EQ(outcome.attempts, 1);
    EXPECT_EQ(outcome.stop_reason, StopReason::NotRetryable);
}

TEST(Retry, TimeoutIsRetried) {
    LoopbackServer server;
    server.push({.action = test::ScriptedResponse::Action::Hang});
    server.push({.status = 200, .body = "late but fine"});
    HttpClient client = test_client();
    RetryPolicy policy(test_retry_options(), kSeed);
    FakeSleeper sleeper;
    const auto outcome = send_with_retries(client, {.url = server.url("/"), .timeout = 200ms},
                                           policy, retry_on_429_and_5xx, sleeper);
    ASSERT_TRUE(outcome.response) << outcome.response.error().message;
    EXPECT_EQ(outcome.response->body, "late but fine");
    EXPECT_EQ(outcome.attempts, 2);
}

TEST(RetryPolicy, BackoffIsFullJitterUnderADoublingCap) {
    RetryOptions options;
    options.base_delay = 100ms;
    options.max_delay = 1'000ms;
    RetryPolicy policy(options, kSeed);
    const milliseconds caps[] = {100ms, 200ms, 400ms, 800ms, 1'000ms, 1'000ms, 1'000ms};
    for (int round = 0; round < 200; ++round) {
        for (int retry = 1; retry <= 7; ++retry) {
            const auto d = policy.backoff_delay(retry);
            ASSERT_GE(d, 0ms);
            ASSERT_LE(d, caps[retry - 1]) << "retry " << retry;
        }
    }
    EXPECT_LE(policy.backoff_delay(1'000), 1'000ms);  // no overflow for huge retry numbers
}

TEST(RetryPolicy, SameSeedSameDelaysDifferentSeedDifferentDelays) {
    RetryPolicy a(RetryOptions{}, 7);
    RetryPolicy b(RetryOptions{}, 7);
    RetryPolicy c(RetryOptions{}, 8);
    bool differs = false;
    for (int retry = 1; retry <= 10; ++retry) {
        const auto da = a.backoff_delay(retry);
        EXPECT_EQ(da, b.backoff_delay(retry));
        differs = differs || da != c.backoff_delay(retry);
    }
    EXPECT_TRUE(differs);
}

TEST(RetryPolicy, SpreadsDelaysOverTheWholeRange) {
    RetryOptions options;
    options.base_delay = 1'000ms;
    options.max_delay = 1'000ms;
    RetryPolicy policy(options, kSeed);
    int low = 0;
    int high = 0;
    for (int i = 0; i < 1'000; ++i) {
        const auto d = policy.backoff_delay(1);
        low += d < 250ms ? 1 : 0;
        high += d > 750ms ? 1 : 0;
    }
    EXPECT_GT(low, 150);
    EXPECT_GT(high, 150);
}

TEST(RetryOptions, ValidateNamesTheBadField) {
    EXPECT_TRUE(validate(RetryOptions{}));
    RetryOptions zero_attempts;
    zero_attempts.max_attempts = 0;
    ASSERT_FALSE(validate(zero_attempts));
    EXPECT_NE(validate(zero_attempts).error().message.find("max_attempts"), std::string::npos);
    RetryOptions inverted;
    inverted.base_delay = 2s;
    inverted.max_delay = 1s;
    ASSERT_FALSE(validate(inverted));
    EXPECT_NE(validate(inverted).error().message.find("base_delay"), std::string::npos);
    RetryOptions negative;
    negative.max_server_delay = -1ms;
    EXPECT_FALSE(validate(negative));
}

class RequestedDelay : public ::testing::Test {
protected:
    std::chrono::system_clock::time_point now_ = FakeSleeper{}.now();
};

TEST_F(RequestedDelay, RetryAfterSecondsAndDates) {
    EXPECT_EQ(requested_delay({.status = 503, .headers = {{"Retry-After", " 5 "}}}, now_), 5s);
    EXPECT_EQ(requested_delay({.status = 429, .headers = {{"Retry-After", "0"}}}, now_), 0ms);
    const auto past = std::chrono::floor<std::chrono::seconds>(now_) - 30s;
    EXPECT_EQ(requested_delay({.status = 429, .headers = {{"Retry-After", format_http_date(past)}}},
                              now_),
              0ms);
}

TEST_F(RequestedDelay, GarbageAndNegativeValuesAreIgnored) {
    EXPECT_FALSE(requested_delay({.status = 429, .headers = {{"Retry-After", "soon"}}}, now_));
    EXPECT_FALSE(requested_delay({.status = 429, .headers = {{"Retry-After", "-5"}}}, now_));
    EXPECT_FALSE(requested_delay({.status = 429, .headers = {{"Retry-After", "1.5"}}}, now_));
    EXPECT_FALSE(requested_delay({.status = 429}, now_));
}

TEST_F(RequestedDelay, HugeRetryAfterIsClampedNotOverflowed) {
    const auto d = requested_delay(
            {.status = 429, .headers = {{"Retry-After", "99999999999999999999999"}}}, now_);
    ASSERT_TRUE(d);
    EXPECT_GT(*d, std::chrono::hours{24 * 365});
}

TEST_F(RequestedDelay, RateLimitResetOnlyWhenLimited) {
    // Not limited: a 503 with requests remaining says nothing about when to retry.
    EXPECT_FALSE(requested_delay(
            {.status = 503,
             .headers = {{"x-ratelimit-remaining", "5"}, {"x-ratelimit-reset", "9"}}},
            now_));
    EXPECT_EQ(requested_delay(
                      {.status = 503,
                       .headers = {{"X-RateLimit-Remaining", "0"}, {"X-RateLimit-Reset", "9"}}},
                      now_),
              9s);
    EXPECT_EQ(requested_delay({.status = 429, .headers = {{"x-ratelimit-reset", "4"}}}, now_), 4s);
}

TEST_F(RequestedDelay, RateLimitResetAsUnixTime) {
    const auto reset = std::chrono::floor<std::chrono::seconds>(now_) + 12s;
    const auto value = std::to_string(reset.time_since_epoch().count());
    EXPECT_EQ(requested_delay({.status = 429, .headers = {{"x-ratelimit-reset", value}}}, now_),
              12s);
}

TEST_F(RequestedDelay, RetryAfterWinsOverRateLimitReset) {
    EXPECT_EQ(requested_delay({.status = 429,
                               .headers = {{"x-ratelimit-reset", "30"}, {"Retry-After", "2"}}},
                              now_),
              2s);
}

TEST(Classifier, RetriesOnly408And429And5xx) {
    for (int status : {408, 429, 500, 502, 503, 504, 599}) {
        EXPECT_EQ(retry_on_429_and_5xx({.status = status}), RetryDecision::Retry) << status;
    }
    for (int status : {200, 201, 204, 301, 400, 401, 403, 404, 410, 422, 600}) {
        EXPECT_EQ(retry_on_429_and_5xx({.status = status}), RetryDecision::Final) << status;
    }
}

}  // namespace
}  // namespace dvd::http

namespace dvd::http {
namespace {

TEST(Backoff, CapDoublesFromTheBaseUpToTheMaximum) {
    using std::chrono::milliseconds;
    EXPECT_EQ(backoff_cap(1, milliseconds{1000}, milliseconds{60'000}), milliseconds{1000});
    EXPECT_EQ(backoff_cap(3, milliseconds{1000}, milliseconds{60'000}), milliseconds{4000});
    EXPECT_EQ(backoff_cap(7, milliseconds{1000}, milliseconds{60'000}), milliseconds{60'000});
    EXPECT_EQ(backoff_cap(1'000'000, milliseconds{1000}, milliseconds{60'000}),
              milliseconds{60'000});  // no overflow
}

TEST(Backoff, EqualJitterStaysInTheUpperHalfOfTheCap) {
    using std::chrono::milliseconds;
    std::mt19937_64 rng(11);
    for (int retry = 1; retry <= 10; ++retry) {
        const auto cap = backoff_cap(retry, milliseconds{1000}, milliseconds{30'000});
        for (int i = 0; i < 200; ++i) {
            const auto wait =
                    equal_jitter_backoff(retry, milliseconds{1000}, milliseconds{30'000}, rng);
            ASSERT_GE(wait, cap / 2);
            ASSERT_LE(wait, cap);
        }
    }
}

}  // namespace
}  // namespace dvd::http
