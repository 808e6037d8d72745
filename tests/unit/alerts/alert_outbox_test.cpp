#include "alerts/alert_outbox.hpp"

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "base/log.hpp"
#include "store/open_store.hpp"
#include "support/eventually.hpp"
#include "support/loopback_server.hpp"
#include "support/temp_dir.hpp"

namespace dvd::alerts {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;
using std::chrono::system_clock;
using store::AlertChannel;
using store::AlertStatus;
using test::LoopbackServer;
using test::ScriptedResponse;

// 2026-01-01T00:00:00Z: the fake clock's start.
constexpr std::int64_t kStartMs = 1'767'225'600'000;
constexpr std::string_view kSlackPath = "/services/T000/B000/s3cr3tPath";
constexpr std::string_view kJsonPath = "/siem/hook/t0ken";

using dvd::test::TempDir;

store::Call make_call(const std::string& id) {
    store::Call call;
    call.id = id;
    call.call_control_id = "v3:ctl-" + id;
    call.from = "+13125550100";
    call.to = "+18005550199";
    call.started_at_ms = kStartMs;
    call.created_at_ms = kStartMs;
    call.updated_at_ms = kStartMs;
    return call;
}

AlertContent content() {
    AlertContent c;
    c.caller = "+13125550100";
    c.callee = "+18005550199";
    c.score = 0.91;
    c.llr = 2.3;
    c.verdict = "synthetic";
    c.threshold = 0.75;
    c.seconds_into_call = 42.0;
    return c;
}

ScriptedResponse slack_ok() {
    return {.status = 200, .body = "ok"};
}

using dvd::test::eventually;

class AlertOutboxTest : public ::testing::Test {
protected:
    void SetUp() override {
        auto opened = store::open_store(db_path_);
        ASSERT_TRUE(opened) << opened.error().message;
        db_ = std::move(*opened);
        ASSERT_TRUE(db_->upsert_call(make_call("c1")));
    }

    OutboxOptions options() const {
        OutboxOptions o;
        o.slack_webhook_url = server_.url(kSlackPath);
        o.request_timeout = 2s;
        o.base_backoff = 1'000ms;
        o.max_backoff = 60'000ms;
        return o;
    }

    // A new outbox with its own connection to the test database. The fake clock is used unless
    // `real_clock`.
    std::unique_ptr<AlertOutbox> make_outbox(const OutboxOptions& o, bool real_clock = false) {
        auto opened = store::open_store(db_path_);
        EXPECT_TRUE(opened);
        OutboxDeps deps;
        deps.store = std::move(*opened);
        deps.make_sender = [] {
            http::HttpClientOptions http_options;
            http_options.proxy = "";
            return std::make_unique<http::HttpClient>(http_options);
        };
        if (!real_clock) {
            deps.clock = [this] {
                return system_clock::time_point{milliseconds{now_ms_.load()}};
            };
        }
        deps.seed = 7;
        return std::make_unique<AlertOutbox>(o, std::move(deps));
    }

    std::vector<store::Alert> alerts(const std::string& call_id) {
        auto listed = db_->list_alerts(call_id);
        EXPECT_TRUE(listed);
        return listed ? *listed : std::vector<store::Alert>{};
    }

    void advance(milliseconds delta) { now_ms_ += delta.count(); }

    std::int64_t now_ms() const { return now_ms_.load(); }

    TempDir dir_;
    std::string db_path_ = dir_.file("dvd.db");
    LoopbackServer server_;
    std::unique_ptr<store::Store> db_;
    std::atomic<std::int64_t> now_ms_{kStartMs};
};

TEST_F(AlertOutboxTest, Slack200OkIsDeliveredAndRecorded) {
    server_.push(slack_ok());
    auto outbox = make_outbox(options());
    ASSERT_EQ(outbox->enqueue("c1", 1, content()), EnqueueStatus::Queued);
    const PassReport report = outbox->run_pass();

    EXPECT_EQ(report.created, 1);
    ASSERT_EQ(report.deliveries.size(), 1U);
    EXPECT_EQ(report.deliveries[0].result.verdict, DeliveryVerdict::Delivered);
    EXPECT_EQ(report.deliveries[0].status, AlertStatus::Sent);
    EXPECT_FALSE(report.next_due_ms);

    const auto requests = server_.requests();
    ASSERT_EQ(requests.size(), 1U);
    EXPECT_EQ(requests[0].method, "POST");
    EXPECT_EQ(requests[0].target, kSlackPath);
    EXPECT_EQ(requests[0].header("Content-Type"), "application/json");
    const auto body = nlohmann::json::parse(requests[0].body);
    EXPECT_TRUE(body.contains("text"));
    EXPECT_EQ(body["blocks"][0]["type"], "header");

    const auto rows = alerts("c1");
    ASSERT_EQ(rows.size(), 1U);
    EXPECT_EQ(rows[0].status, AlertStatus::Sent);
    EXPECT_EQ(rows[0].channel, AlertChannel::Slack);
    EXPECT_EQ(rows[0].level, 1);
    EXPECT_EQ(rows[0].attempts, 1);
    EXPECT_EQ(rows[0].sent_at_ms, std::optional<std::int64_t>(kStartMs));
    EXPECT_EQ(rows[0].payload_json, requests[0].body);
    EXPECT_EQ(outbox->stats().delivered, 1U);
}

TEST_F(AlertOutboxTest, ServerErrorIsRetriedWithJitteredBackoffThenDelivered) {
    server_.push({.status = 500, .body = "rollup_error"});
    server_.push(slack_ok());
    auto outbox = make_outbox(options());
    ASSERT_EQ(outbox->enqueue("c1", 1, content()), EnqueueStatus::Queued);

    EXPECT_FALSE(outbox->stats().failing);
    const PassReport first = outbox->run_pass();
    ASSERT_EQ(first.deliveries.size(), 1U);
    const DeliveryRecord& retry = first.deliveries[0];
    EXPECT_EQ(retry.result.verdict, DeliveryVerdict::Retry);
    EXPECT_TRUE(outbox->stats().failing);  // until a delivery succeeds
    EXPECT_EQ(retry.status, AlertStatus::Pending);
    ASSERT_TRUE(retry.retry_in);
    EXPECT_GE(*retry.retry_in, 500ms);  // equal jitter: [cap/2, cap], cap = base_backoff
    EXPECT_LE(*retry.retry_in, 1'000ms);
    auto rows = alerts("c1");
    ASSERT_EQ(rows.size(), 1U);
    EXPECT_EQ(rows[0].status, AlertStatus::Pending);
    EXPECT_EQ(rows[0].attempts, 1);
    EXPECT_EQ(rows[0].last_error, "HTTP 500 rollup_error");
    EXPECT_EQ(rows[0].next_attempt_at_ms, kStartMs + retry.retry_in->count());
    EXPECT_EQ(first.next_due_ms, std::optional<std::int64_t>(rows[0].next_attempt_at_ms));

    // Not due yet: nothing is sent.
    advance(*retry.retry_in - 1ms);
    EXPECT_TRUE(outbox->run_pass().deliveries.empty());
    EXPECT_EQ(server_.requests().size(), 1U);

    advance(1ms);
    const PassReport second = outbox->run_pass();
    ASSERT_EQ(second.deliveries.size(), 1U);
    EXPECT_EQ(second.deliveries[0].result.verdict, DeliveryVerdict::Delivered);
    EXPECT_FALSE(outbox->stats().failing);
    rows = alerts("c1");
    EXPECT_EQ(rows[0].status, AlertStatus::Sent);
    EXPECT_EQ(rows[0].attempts, 2);
    EXPECT_EQ(server_.requests().size(), 2U);
}

TEST_F(AlertOutboxTest, RateLimitHonoursRetryAfterExactly) {
    server_.push({.status = 429, .headers = {{"Retry-After", "7"}}, .body = "rate_limited"});
    server_.push(slack_ok());
    auto outbox = make_outbox(options());
    ASSERT_EQ(outbox->enqueue("c1", 1, content()), EnqueueStatus::Queued);

    const PassReport first = outbox->run_pass();
    ASSERT_EQ(first.deliveries.size(), 1U);
    EXPECT_EQ(first.deliveries[0].result.verdict, DeliveryVerdict::Retry);
    EXPECT_EQ(first.deliveries[0].retry_in, std::optional<milliseconds>(7'000ms));
    EXPECT_EQ(alerts("c1")[0].next_attempt_at_ms, kStartMs + 7'000);

    advance(6'999ms);
    EXPECT_TRUE(outbox->run_pass().deliveries.empty());
    advance(1ms);
    const PassReport second = outbox->run_pass();
    ASSERT_EQ(second.deliveries.size(), 1U);
    EXPECT_EQ(second.deliveries[0].result.verdict, DeliveryVerdict::Delivered);
    EXPECT_EQ(server_.requests().size(), 2U);
}

TEST_F(AlertOutboxTest, VeryLongRetryAfterIsCutToTheLimit) {
    server_.push({.status = 429, .headers = {{"Retry-After", "86400"}}});
    OutboxOptions o = options();
    o.max_retry_after = 60'000ms;
    auto outbox = make_outbox(o);
    ASSERT_EQ(outbox->enqueue("c1", 1, content()), EnqueueStatus::Queued);
    const PassReport report = outbox->run_pass();
    ASSERT_EQ(report.deliveries.size(), 1U);
    EXPECT_EQ(report.deliveries[0].retry_in, std::optional<milliseconds>(60'000ms));
}

TEST_F(AlertOutboxTest, BadRequestIsFinalAndRecordedWithSlacksReason) {
    server_.push({.status = 400, .body = "invalid_payload"});
    auto outbox = make_outbox(options());
    ASSERT_EQ(outbox->enqueue("c1", 1, content()), EnqueueStatus::Queued);
    const PassReport report = outbox->run_pass();
    ASSERT_EQ(report.deliveries.size(), 1U);
    EXPECT_EQ(report.deliveries[0].result.verdict, DeliveryVerdict::Failed);
    EXPECT_EQ(report.deliveries[0].status, AlertStatus::Failed);

    const auto rows = alerts("c1");
    ASSERT_EQ(rows.size(), 1U);
    EXPECT_EQ(rows[0].status, AlertStatus::Failed);
    EXPECT_EQ(rows[0].attempts, 1);
    EXPECT_EQ(rows[0].last_error, "HTTP 400 invalid_payload");
    EXPECT_FALSE(report.next_due_ms);

    advance(24h);
    EXPECT_TRUE(outbox->run_pass().deliveries.empty());
    EXPECT_EQ(server_.requests().size(), 1U);
    EXPECT_EQ(outbox->stats().failed, 1U);
    EXPECT_TRUE(outbox->stats().failing);  // a refusing webhook is a failing one
}

TEST_F(AlertOutboxTest, RetriesAreBoundedThenTheAlertFails) {
    OutboxOptions o = options();
    o.max_attempts = 3;
    for (int i = 0; i < 3; ++i) {
        server_.push({.status = 503});
    }
    auto outbox = make_outbox(o);
    ASSERT_EQ(outbox->enqueue("c1", 1, content()), EnqueueStatus::Queued);
    for (int i = 0; i < 3; ++i) {
        const PassReport report = outbox->run_pass();
        ASSERT_EQ(report.deliveries.size(), 1U) << "attempt " << i + 1;
        advance(5min);
    }
    EXPECT_TRUE(outbox->run_pass().deliveries.empty());
    const auto rows = alerts("c1");
    EXPECT_EQ(rows[0].status, AlertStatus::Failed);
    EXPECT_EQ(rows[0].attempts, 3);
    EXPECT_EQ(rows[0].last_error, "gave up after 3 attempts: HTTP 503");
    EXPECT_EQ(server_.requests().size(), 3U);
}

TEST_F(AlertOutboxTest, NetworkErrorsAreRetried) {
    OutboxOptions o = options();
    o.slack_webhook_url =
            "http://127.0.0.1:" + std::to_string(LoopbackServer::closed_port()) + "/services/x";
    auto outbox = make_outbox(o);
    ASSERT_EQ(outbox->enqueue("c1", 1, content()), EnqueueStatus::Queued);
    const PassReport report = outbox->run_pass();
    ASSERT_EQ(report.deliveries.size(), 1U);
    EXPECT_EQ(report.deliveries[0].result.verdict, DeliveryVerdict::Retry);
    EXPECT_EQ(report.deliveries[0].result.http_status, 0);
    EXPECT_TRUE(alerts("c1")[0].last_error.starts_with("transport: "));
}

TEST_F(AlertOutboxTest, SecondEnqueueOfTheSameCallAndLevelIsADuplicate) {
    server_.push(slack_ok());
    server_.push(slack_ok());
    auto outbox = make_outbox(options());
    ASSERT_EQ(outbox->enqueue("c1", 1, content()), EnqueueStatus::Queued);
    ASSERT_EQ(outbox->enqueue("c1", 1, content()), EnqueueStatus::Queued);
    const PassReport report = outbox->run_pass();
    EXPECT_EQ(report.created, 1);
    EXPECT_EQ(report.duplicates, 1);
    EXPECT_EQ(report.deliveries.size(), 1U);

    // Again after delivery: still one alert.
    ASSERT_EQ(outbox->enqueue("c1", 1, content()), EnqueueStatus::Queued);
    const PassReport later = outbox->run_pass();
    EXPECT_EQ(later.created, 0);
    EXPECT_EQ(later.duplicates, 1);
    EXPECT_TRUE(later.deliveries.empty());
    EXPECT_EQ(server_.requests().size(), 1U);
    EXPECT_EQ(alerts("c1").size(), 1U);

    // A higher escalation level is a new alert.
    ASSERT_EQ(outbox->enqueue("c1", 2, content()), EnqueueStatus::Queued);
    EXPECT_EQ(outbox->run_pass().deliveries.size(), 1U);
    EXPECT_EQ(alerts("c1").size(), 2U);
    EXPECT_EQ(outbox->stats().duplicates, 2U);
}

TEST_F(AlertOutboxTest, NoDuplicateAfterARestartOnTheSameDatabase) {
    server_.push(slack_ok());
    {
        auto first = make_outbox(options());
        ASSERT_EQ(first->enqueue("c1", 1, content()), EnqueueStatus::Queued);
        EXPECT_EQ(first->run_pass().deliveries.size(), 1U);
    }
    auto second = make_outbox(options());
    ASSERT_EQ(second->enqueue("c1", 1, content()), EnqueueStatus::Queued);
    const PassReport report = second->run_pass();
    EXPECT_EQ(report.created, 0);
    EXPECT_EQ(report.duplicates, 1);
    EXPECT_TRUE(report.deliveries.empty());
    EXPECT_EQ(server_.requests().size(), 1U);
}

TEST_F(AlertOutboxTest, PendingAlertFromBeforeARestartIsDeliveredAtStart) {
    server_.push({.status = 503});
    {
        auto first = make_outbox(options());
        ASSERT_EQ(first->enqueue("c1", 1, content()), EnqueueStatus::Queued);
        const PassReport report = first->run_pass();
        ASSERT_EQ(report.deliveries.size(), 1U);
        EXPECT_EQ(report.deliveries[0].status, AlertStatus::Pending);
    }
    advance(10min);  // the retry is due by the time the service is back
    server_.push(slack_ok());
    auto second = make_outbox(options());
    second->start();
    ASSERT_TRUE(eventually([&] { return server_.requests().size() == 2; }));
    ASSERT_TRUE(eventually([&] { return alerts("c1")[0].status == AlertStatus::Sent; }));
    second->stop();
    EXPECT_EQ(alerts("c1")[0].attempts, 2);
}

TEST_F(AlertOutboxTest, StopStoresQueuedAlertsForTheNextRun) {
    {
        auto first = make_outbox(options());
        ASSERT_EQ(first->enqueue("c1", 1, content()), EnqueueStatus::Queued);
        first->stop();  // never delivered: stored as pending
        EXPECT_EQ(first->enqueue("c1", 2, content()), EnqueueStatus::Stopped);
    }
    auto rows = alerts("c1");
    ASSERT_EQ(rows.size(), 1U);
    EXPECT_EQ(rows[0].status, AlertStatus::Pending);
    EXPECT_EQ(rows[0].attempts, 0);

    server_.push(slack_ok());
    auto second = make_outbox(options());
    const PassReport report = second->run_pass();
    ASSERT_EQ(report.deliveries.size(), 1U);
    EXPECT_EQ(report.deliveries[0].result.verdict, DeliveryVerdict::Delivered);
}

TEST_F(AlertOutboxTest, ThreadDeliversWithinOneSecondOfEnqueue) {
    server_.push(slack_ok());
    auto outbox = make_outbox(options(), /*real_clock=*/true);
    outbox->start();
    // Let the thread reach its idle wait first, so that the wake-up on enqueue is what we time.
    ASSERT_TRUE(eventually([&] { return outbox->stats().enqueued == 0; }));
    std::this_thread::sleep_for(50ms);
    const auto enqueued_at = std::chrono::steady_clock::now();
    ASSERT_EQ(outbox->enqueue("c1", 1, content()), EnqueueStatus::Queued);
    ASSERT_TRUE(eventually([&] { return outbox->stats().delivered == 1; }));
    const auto latency = std::chrono::steady_clock::now() - enqueued_at;
    EXPECT_LT(latency, 1s);
    std::printf("[          ] enqueue -> delivered: %.1f ms\n",
                std::chrono::duration<double, std::milli>(latency).count());
    outbox->stop();
    EXPECT_EQ(alerts("c1")[0].status, AlertStatus::Sent);
}

TEST_F(AlertOutboxTest, ThreadRetriesOnItsOwn) {
    server_.push({.status = 500, .body = "rollup_error"});
    server_.push(slack_ok());
    OutboxOptions o = options();
    o.base_backoff = 20ms;
    auto outbox = make_outbox(o, /*real_clock=*/true);
    outbox->start();
    ASSERT_EQ(outbox->enqueue("c1", 1, content()), EnqueueStatus::Queued);
    ASSERT_TRUE(eventually([&] { return outbox->stats().delivered == 1; }));
    outbox->stop();
    EXPECT_EQ(server_.requests().size(), 2U);
    EXPECT_EQ(outbox->stats().retried, 1U);
    EXPECT_EQ(alerts("c1")[0].attempts, 2);
}

TEST_F(AlertOutboxTest, JsonWebhookIsASecondChannel) {
    server_.push(slack_ok());
    server_.push({.status = 202, .body = "{\"accepted\":true}"});
    OutboxOptions o = options();
    o.json_webhook_url = server_.url(kJsonPath);
    auto outbox = make_outbox(o);
    ASSERT_EQ(outbox->enqueue("c1", 1, content()), EnqueueStatus::Queued);
    const PassReport report = outbox->run_pass();
    EXPECT_EQ(report.created, 2);
    ASSERT_EQ(report.deliveries.size(), 2U);
    EXPECT_EQ(report.deliveries[0].channel, AlertChannel::Slack);
    EXPECT_EQ(report.deliveries[1].channel, AlertChannel::Json);
    EXPECT_EQ(report.deliveries[1].result.verdict, DeliveryVerdict::Delivered);

    const auto requests = server_.requests();
    ASSERT_EQ(requests.size(), 2U);
    EXPECT_EQ(requests[1].target, kJsonPath);
    const auto body = nlohmann::json::parse(requests[1].body);
    EXPECT_EQ(body["schema_version"], 1);
    EXPECT_EQ(body["alert_key"], "c1:1");
    EXPECT_EQ(alerts("c1").size(), 2U);
}

TEST_F(AlertOutboxTest, OnlyTheJsonChannelWhenSlackIsNotConfigured) {
    server_.push({.status = 204});
    OutboxOptions o = options();
    o.slack_webhook_url.clear();
    o.json_webhook_url = server_.url(kJsonPath);
    auto outbox = make_outbox(o);
    ASSERT_EQ(outbox->enqueue("c1", 1, content()), EnqueueStatus::Queued);
    const PassReport report = outbox->run_pass();
    ASSERT_EQ(report.deliveries.size(), 1U);
    EXPECT_EQ(report.deliveries[0].channel, AlertChannel::Json);
    EXPECT_EQ(report.deliveries[0].result.verdict, DeliveryVerdict::Delivered);
}

TEST_F(AlertOutboxTest, PendingAlertOfAChannelNoLongerConfiguredFails) {
    {
        auto first = make_outbox(options());
        ASSERT_EQ(first->enqueue("c1", 1, content()), EnqueueStatus::Queued);
        first->stop();
    }
    OutboxOptions o = options();
    o.slack_webhook_url.clear();
    o.json_webhook_url = server_.url(kJsonPath);
    auto second = make_outbox(o);
    const PassReport report = second->run_pass();
    ASSERT_EQ(report.deliveries.size(), 1U);
    EXPECT_EQ(report.deliveries[0].result.reason, "channel not configured");
    EXPECT_EQ(alerts("c1")[0].status, AlertStatus::Failed);
    EXPECT_TRUE(server_.requests().empty());
}

TEST_F(AlertOutboxTest, AlertForACallNotYetStoredIsStoredOnceTheCallExists) {
    server_.push(slack_ok());
    OutboxOptions o = options();
    o.create_retry_delay = 100ms;
    auto outbox = make_outbox(o);
    ASSERT_EQ(outbox->enqueue("late", 1, content()), EnqueueStatus::Queued);
    const PassReport first = outbox->run_pass();
    EXPECT_EQ(first.created, 0);
    EXPECT_TRUE(first.deliveries.empty());

    ASSERT_TRUE(db_->upsert_call(make_call("late")));
    advance(100ms);
    const PassReport second = outbox->run_pass();
    EXPECT_EQ(second.created, 1);
    ASSERT_EQ(second.deliveries.size(), 1U);
    EXPECT_EQ(second.deliveries[0].result.verdict, DeliveryVerdict::Delivered);
}

TEST_F(AlertOutboxTest, AlertForACallThatNeverAppearsIsDroppedAfterTheLimit) {
    OutboxOptions o = options();
    o.max_create_attempts = 2;
    o.create_retry_delay = 100ms;
    auto outbox = make_outbox(o);
    ASSERT_EQ(outbox->enqueue("ghost", 1, content()), EnqueueStatus::Queued);
    (void)outbox->run_pass();
    advance(100ms);
    (void)outbox->run_pass();
    EXPECT_EQ(outbox->stats().dropped, 1U);
    EXPECT_TRUE(server_.requests().empty());
}

TEST_F(AlertOutboxTest, EnqueueRefusesWhatItCannotDo) {
    OutboxOptions none = options();
    none.slack_webhook_url.clear();
    auto silent = make_outbox(none);
    EXPECT_FALSE(silent->has_channels());
    EXPECT_EQ(silent->enqueue("c1", 1, content()), EnqueueStatus::NoChannels);

    OutboxOptions small = options();
    small.queue_capacity = 1;
    auto outbox = make_outbox(small);
    EXPECT_EQ(outbox->enqueue("", 1, content()), EnqueueStatus::Invalid);
    EXPECT_EQ(outbox->enqueue("c1", 0, content()), EnqueueStatus::Invalid);
    EXPECT_EQ(outbox->enqueue("c1", 1, content()), EnqueueStatus::Queued);
    EXPECT_EQ(outbox->enqueue("c1", 2, content()), EnqueueStatus::QueueFull);
    EXPECT_EQ(outbox->stats().dropped, 1U);
    EXPECT_EQ(to_string(EnqueueStatus::QueueFull), "queue_full");
}

TEST_F(AlertOutboxTest, NeverLogsOrStoresTheWebhookPath) {
    const auto saved = base::log_level();
    base::set_log_level(base::LogLevel::Trace);
    server_.push({.status = 500, .body = "rollup_error"});
    server_.push({.status = 404, .body = "no_service"});
    auto outbox = make_outbox(options());
    testing::internal::CaptureStderr();
    ASSERT_EQ(outbox->enqueue("c1", 1, content()), EnqueueStatus::Queued);
    (void)outbox->run_pass();
    advance(5min);
    (void)outbox->run_pass();
    const std::string log = testing::internal::GetCapturedStderr();
    base::set_log_level(saved);
    EXPECT_NE(log.find("call_id=c1"), std::string::npos) << log;
    EXPECT_EQ(log.find("s3cr3tPath"), std::string::npos) << log;
    EXPECT_EQ(log.find("/services/"), std::string::npos) << log;
    EXPECT_EQ(alerts("c1")[0].last_error, "HTTP 404 no_service");
}

TEST(OutboxOptions, ValidateNamesTheFieldNotTheSecret) {
    OutboxOptions o;
    EXPECT_TRUE(validate(o));
    o.slack_webhook_url = "ftp://hooks.example/services/SECRET";
    const auto result = validate(o);
    ASSERT_FALSE(result);
    EXPECT_NE(result.error().message.find("slack_webhook_url"), std::string::npos);
    EXPECT_EQ(result.error().message.find("SECRET"), std::string::npos);
    o = OutboxOptions{};
    o.max_backoff = 1ms;
    EXPECT_FALSE(validate(o));
    o = OutboxOptions{};
    o.max_attempts = 0;
    EXPECT_FALSE(validate(o));
}

TEST(OutboxOptions, ComeFromTheConfiguration) {
    config::Config config;
    config.alert_webhook = "https://hooks.slack.com/services/T/B/x";
    config.alert_webhook_json = "https://siem.example/hook";
    const OutboxOptions o = outbox_options(config);
    EXPECT_EQ(o.slack_webhook_url, config.alert_webhook);
    EXPECT_EQ(o.json_webhook_url, config.alert_webhook_json);
    EXPECT_TRUE(validate(o));
}

}  // namespace
}  // namespace dvd::alerts
