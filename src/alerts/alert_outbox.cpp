#include "alerts/alert_outbox.hpp"

#include <algorithm>
#include <limits>
#include <utility>

#include <fmt/format.h>
#include <pthread.h>

#include "base/check.hpp"
#include "base/log.hpp"
#include "http/retry.hpp"

namespace dvd::alerts {
namespace {

using std::chrono::milliseconds;
using std::chrono::system_clock;

// After a failed store call the thread waits at least this long (no hot loop on a broken disk).
constexpr milliseconds kStoreErrorPause{1'000};

bool is_http_url(std::string_view url) {
    const bool scheme = url.starts_with("https://") || url.starts_with("http://");
    const bool blank = url.find_first_of(" \t\r\n") != std::string_view::npos;
    return scheme && !blank && url.size() > url.find("://") + 3;
}

base::Result<void> invalid(std::string_view what) {
    return base::fail(base::Errc::InvalidArgument, fmt::format("alert outbox: {}", what));
}

}  // namespace

base::Result<void> validate(const OutboxOptions& o) {
    // The URLs are secrets: messages name the field, never the value.
    if (!o.slack_webhook_url.empty() && !is_http_url(o.slack_webhook_url)) {
        return invalid("slack_webhook_url must be an http(s) URL");
    }
    if (!o.json_webhook_url.empty() && !is_http_url(o.json_webhook_url)) {
        return invalid("json_webhook_url must be an http(s) URL");
    }
    if (o.request_timeout.count() <= 0) {
        return invalid("request_timeout must be positive");
    }
    if (o.max_attempts < 1) {
        return invalid("max_attempts must be >= 1");
    }
    if (o.base_backoff.count() <= 0 || o.max_backoff < o.base_backoff) {
        return invalid("base_backoff must be positive and <= max_backoff");
    }
    if (o.max_retry_after.count() < 0) {
        return invalid("max_retry_after must be >= 0");
    }
    if (o.idle_poll.count() <= 0) {
        return invalid("idle_poll must be positive");
    }
    if (o.queue_capacity < 1) {
        return invalid("queue_capacity must be >= 1");
    }
    if (o.batch_limit < 1 || o.batch_limit > store::kMaxPageSize) {
        return invalid("batch_limit must be in 1..1000");
    }
    if (o.max_create_attempts < 1 || o.create_retry_delay.count() <= 0) {
        return invalid("max_create_attempts must be >= 1 and create_retry_delay positive");
    }
    return {};
}

OutboxOptions outbox_options(const config::Config& config) {
    OutboxOptions options;
    options.slack_webhook_url = config.alert_webhook;
    options.json_webhook_url = config.alert_webhook_json;
    return options;
}

std::string_view to_string(EnqueueStatus status) noexcept {
    switch (status) {
        case EnqueueStatus::Queued:
            return "queued";
        case EnqueueStatus::NoChannels:
            return "no_channels";
        case EnqueueStatus::QueueFull:
            return "queue_full";
        case EnqueueStatus::Invalid:
            return "invalid";
        case EnqueueStatus::Stopped:
            return "stopped";
    }
    return "unknown";
}

AlertOutbox::AlertOutbox(OutboxOptions options, OutboxDeps deps)
    : options_(std::move(options)),
      store_(std::move(deps.store)),
      make_sender_(std::move(deps.make_sender)),
      clock_(std::move(deps.clock)),
      rng_(deps.seed) {
    DVD_CHECK(validate(options_).has_value(), "OutboxOptions must be validated first");
    DVD_CHECK(store_ != nullptr, "the alert outbox needs its own store connection");
    if (!make_sender_) {
        make_sender_ = [] {
            return std::make_unique<http::HttpClient>();
        };
    }
    if (!clock_) {
        clock_ = [] {
            return system_clock::now();
        };
    }
}

AlertOutbox::~AlertOutbox() {
    stop();
}

void AlertOutbox::start() {
    {
        const std::lock_guard lock(mutex_);
        DVD_CHECK(!started_ && !stopping_, "AlertOutbox::start is called once, before stop");
        started_ = true;
    }
    thread_ = std::thread([this] { run(); });
}

void AlertOutbox::stop() {
    bool was_started = false;
    {
        const std::lock_guard lock(mutex_);
        stopping_ = true;
        was_started = started_;
    }
    wake_.notify_all();
    if (thread_.joinable()) {
        thread_.join();  // the thread stores what is still queued before it ends
    } else if (!was_started) {
        PassReport report;
        store_requests(report, /*final_flush=*/true);
    }
}

bool AlertOutbox::has_channels() const noexcept {
    return !options_.slack_webhook_url.empty() || !options_.json_webhook_url.empty();
}

EnqueueStatus AlertOutbox::enqueue(std::string_view call_id, int level, AlertContent content) {
    if (call_id.empty() || level < 1) {
        return EnqueueStatus::Invalid;
    }
    if (!has_channels()) {
        return EnqueueStatus::NoChannels;
    }
    content.call_id = std::string(call_id);
    content.level = level;
    Request request;
    request.call_id = content.call_id;
    request.level = level;
    if (!options_.slack_webhook_url.empty()) {
        request.payloads.emplace_back(store::AlertChannel::Slack, build_slack_message(content));
    }
    if (!options_.json_webhook_url.empty()) {
        request.payloads.emplace_back(store::AlertChannel::Json, build_json_alert(content));
    }
    {
        const std::lock_guard lock(mutex_);
        if (stopping_) {
            return EnqueueStatus::Stopped;
        }
        if (queue_.size() >= options_.queue_capacity) {
            dropped_.fetch_add(1, std::memory_order_relaxed);
            DVD_LOG_RATE_LIMITED(Calls, Error,
                                 "alert queue full, alert dropped call_id={} level={}",
                                 content.call_id, level);
            return EnqueueStatus::QueueFull;
        }
        queue_.push_back(std::move(request));
    }
    enqueued_.fetch_add(1, std::memory_order_relaxed);
    wake_.notify_one();
    return EnqueueStatus::Queued;
}

PassReport AlertOutbox::run_pass() {
    {
        const std::lock_guard lock(mutex_);
        DVD_CHECK(!started_, "run_pass is for an outbox whose thread is not started");
    }
    return pass();
}

OutboxStats AlertOutbox::stats() const {
    return OutboxStats{.enqueued = enqueued_.load(std::memory_order_relaxed),
                       .dropped = dropped_.load(std::memory_order_relaxed),
                       .created = created_.load(std::memory_order_relaxed),
                       .duplicates = duplicates_.load(std::memory_order_relaxed),
                       .delivered = delivered_.load(std::memory_order_relaxed),
                       .retried = retried_.load(std::memory_order_relaxed),
                       .failed = failed_.load(std::memory_order_relaxed),
                       .failing = failing_.load(std::memory_order_relaxed)};
}

void AlertOutbox::run() {
    pthread_setname_np(pthread_self(), "alerts");
    DVD_LOG(Calls, Info, "alert delivery started slack={} json={}",
            !options_.slack_webhook_url.empty(), !options_.json_webhook_url.empty());
    for (;;) {
        const PassReport report = pass();
        const auto now_time = now();
        milliseconds wait = options_.idle_poll;
        if (report.next_due_ms) {
            wait = std::min(wait, milliseconds{std::max<store::UnixMs>(
                                          0, *report.next_due_ms - store::to_unix_ms(now_time))});
        }
        for (const auto& request : retry_creates_) {
            wait = std::min(wait,
                            std::max(milliseconds{0}, std::chrono::duration_cast<milliseconds>(
                                                              request.not_before - now_time)));
        }
        if (report.store_error) {
            wait = std::max(wait, kStoreErrorPause);
        }
        std::unique_lock lock(mutex_);
        if (!stopping_ && queue_.empty() && wait.count() > 0) {
            wake_.wait_for(lock, wait, [this] { return stopping_ || !queue_.empty(); });
        }
        if (stopping_) {
            break;
        }
    }
    PassReport report;
    store_requests(report, /*final_flush=*/true);
    DVD_LOG(Calls, Info, "alert delivery stopped");
}

PassReport AlertOutbox::pass() {
    PassReport report;
    store_requests(report, /*final_flush=*/false);
    auto due = store_->list_due_alerts(store::to_unix_ms(now()), options_.batch_limit);
    if (!due) {
        report.store_error = true;
        DVD_LOG_RATE_LIMITED(Calls, Error, "alert outbox cannot read due alerts: {}",
                             due.error().message);
    } else {
        for (const auto& alert : *due) {
            deliver(alert, report);
        }
    }
    auto next = store_->list_due_alerts(store::kEndOfTime, 1);
    if (!next) {
        report.store_error = true;
    } else if (!next->empty()) {
        report.next_due_ms = next->front().next_attempt_at_ms;
    }
    return report;
}

void AlertOutbox::store_requests(PassReport& report, bool final_flush) {
    std::deque<Request> batch;
    {
        const std::lock_guard lock(mutex_);
        batch.swap(queue_);
    }
    const auto now_time = now();
    // Earlier requests whose call row was missing go first, when their time has come.
    for (auto it = retry_creates_.begin(); it != retry_creates_.end();) {
        if (final_flush || it->not_before <= now_time) {
            batch.push_front(std::move(*it));
            it = retry_creates_.erase(it);
        } else {
            ++it;
        }
    }
    const store::UnixMs now_ms = store::to_unix_ms(now_time);
    for (auto& request : batch) {
        std::string last_error;
        std::vector<std::pair<store::AlertChannel, std::string>> remaining;
        for (auto& [channel, payload] : request.payloads) {
            store::Alert alert;
            alert.call_id = request.call_id;
            alert.level = request.level;
            alert.channel = channel;
            alert.status = store::AlertStatus::Pending;
            alert.next_attempt_at_ms = now_ms;
            alert.payload_json = payload;
            alert.created_at_ms = now_ms;
            auto created = store_->create_alert_if_absent(alert);
            if (!created) {
                last_error = created.error().message;
                remaining.emplace_back(channel, std::move(payload));
            } else if (created->created) {
                ++report.created;
                created_.fetch_add(1, std::memory_order_relaxed);
                DVD_LOG(Calls, Info, "alert stored call_id={} level={} channel={} alert_id={}",
                        request.call_id, request.level, store::to_string(channel),
                        created->alert.id);
            } else {
                ++report.duplicates;
                duplicates_.fetch_add(1, std::memory_order_relaxed);
                DVD_LOG(Calls, Info,
                        "alert exists, duplicate ignored call_id={} level={} channel={} "
                        "alert_id={} status={}",
                        request.call_id, request.level, store::to_string(channel),
                        created->alert.id, store::to_string(created->alert.status));
            }
        }
        if (remaining.empty()) {
            continue;
        }
        request.payloads = std::move(remaining);
        ++request.create_attempts;
        if (final_flush || request.create_attempts >= options_.max_create_attempts) {
            dropped_.fetch_add(1, std::memory_order_relaxed);
            DVD_LOG(Calls, Error, "alert not stored, dropped call_id={} level={} attempts={}: {}",
                    request.call_id, request.level, request.create_attempts, last_error);
            continue;
        }
        DVD_LOG_RATE_LIMITED(Calls, Warn, "alert not stored yet call_id={} level={}: {}",
                             request.call_id, request.level, last_error);
        request.not_before = now_time + options_.create_retry_delay;
        retry_creates_.push_back(std::move(request));
    }
}

std::optional<std::string> AlertOutbox::url_for(store::AlertChannel channel) const {
    const std::string& url = channel == store::AlertChannel::Slack ? options_.slack_webhook_url
                                                                   : options_.json_webhook_url;
    if (url.empty()) {
        return std::nullopt;
    }
    return url;
}

void AlertOutbox::deliver(const store::Alert& alert, PassReport& report) {
    DeliveryRecord record;
    record.alert_id = alert.id;
    record.call_id = alert.call_id;
    record.level = alert.level;
    record.channel = alert.channel;
    record.attempts = alert.attempts + 1;
    const std::string_view channel_name = store::to_string(alert.channel);

    base::Result<void> marked;
    const auto url = url_for(alert.channel);
    if (!url) {
        // Stored by an earlier run whose configuration had this channel.
        record.result.verdict = DeliveryVerdict::Failed;
        record.result.reason = "channel not configured";
        record.attempts = alert.attempts;
        record.status = store::AlertStatus::Failed;
        failed_.fetch_add(1, std::memory_order_relaxed);
        marked = store_->mark_alert_failed(alert.id, record.result.reason);
        DVD_LOG(Calls, Warn, "alert failed call_id={} level={} channel={} alert_id={}: {}",
                alert.call_id, alert.level, channel_name, alert.id, record.result.reason);
    } else {
        const http::HttpRequest request{.method = "POST",
                                        .url = *url,
                                        .headers = {{"Content-Type", "application/json"}},
                                        .body = alert.payload_json,
                                        .timeout = options_.request_timeout};
        const auto response = sender().send(request);
        const auto now_time = now();
        record.result = classify_delivery(alert.channel, response, now_time);
        const DeliveryResult& result = record.result;
        failing_.store(result.verdict != DeliveryVerdict::Delivered, std::memory_order_relaxed);
        switch (result.verdict) {
            case DeliveryVerdict::Delivered:
                record.status = store::AlertStatus::Sent;
                delivered_.fetch_add(1, std::memory_order_relaxed);
                marked = store_->mark_alert_sent(alert.id, store::to_unix_ms(now_time));
                DVD_LOG(Calls, Info,
                        "alert delivered call_id={} level={} channel={} alert_id={} attempts={}",
                        alert.call_id, alert.level, channel_name, alert.id, record.attempts);
                break;
            case DeliveryVerdict::Failed:
                record.status = store::AlertStatus::Failed;
                failed_.fetch_add(1, std::memory_order_relaxed);
                marked = store_->mark_alert_failed(alert.id, result.reason);
                DVD_LOG(Calls, Error,
                        "alert failed call_id={} level={} channel={} alert_id={} attempts={}: {}",
                        alert.call_id, alert.level, channel_name, alert.id, record.attempts,
                        result.reason);
                break;
            case DeliveryVerdict::Retry:
                if (record.attempts >= options_.max_attempts) {
                    record.status = store::AlertStatus::Failed;
                    failed_.fetch_add(1, std::memory_order_relaxed);
                    const std::string reason = fmt::format("gave up after {} attempts: {}",
                                                           record.attempts, result.reason);
                    marked = store_->mark_alert_failed(alert.id, reason);
                    DVD_LOG(Calls, Error,
                            "alert failed call_id={} level={} channel={} alert_id={}: {}",
                            alert.call_id, alert.level, channel_name, alert.id, reason);
                    break;
                }
                record.retry_in = result.server_delay
                                          ? std::min(*result.server_delay, options_.max_retry_after)
                                          : backoff(record.attempts);
                record.status = store::AlertStatus::Pending;
                retried_.fetch_add(1, std::memory_order_relaxed);
                const store::UnixMs next_ms =
                        store::to_unix_ms(now_time) + record.retry_in->count();
                marked = store_->mark_alert_retry(alert.id, result.reason, next_ms);
                DVD_LOG(Calls, Warn,
                        "alert retry call_id={} level={} channel={} alert_id={} attempts={} "
                        "retry_in_ms={}: {}",
                        alert.call_id, alert.level, channel_name, alert.id, record.attempts,
                        record.retry_in->count(), result.reason);
                break;
        }
    }
    if (!marked) {
        report.store_error = true;
        DVD_LOG(Calls, Error, "alert outbox cannot record the attempt call_id={} alert_id={}: {}",
                alert.call_id, alert.id, marked.error().message);
    }
    report.deliveries.push_back(std::move(record));
}

milliseconds AlertOutbox::backoff(int retry) {
    return http::equal_jitter_backoff(retry, options_.base_backoff, options_.max_backoff, rng_);
}

system_clock::time_point AlertOutbox::now() const {
    return clock_();
}

http::HttpSender& AlertOutbox::sender() {
    if (!sender_) {
        sender_ = make_sender_();
        DVD_CHECK(sender_ != nullptr, "the sender factory returned no sender");
    }
    return *sender_;
}

}  // namespace dvd::alerts
