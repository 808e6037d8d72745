#include "sim/webhook_dispatcher.hpp"

#include <algorithm>
#include <utility>

#include <fmt/format.h>
#include <pthread.h>

#include "base/check.hpp"
#include "base/log.hpp"

namespace dvd::sim {
namespace {

bool is_retryable(int status) noexcept {
    return status == 408 || status == 429 || (status >= 500 && status < 600);
}

std::int64_t unix_seconds_now() {
    return std::chrono::duration_cast<std::chrono::seconds>(
                   std::chrono::system_clock::now().time_since_epoch())
            .count();
}

}  // namespace

base::Result<void> validate(const DeliveryOptions& options) {
    if (options.threads < 1 || options.max_attempts < 1) {
        return base::fail(base::Errc::InvalidArgument,
                          "delivery: threads and max_attempts must be at least 1");
    }
    if (options.first_retry_delay.count() < 0 || options.max_retry_delay.count() < 0
        || options.hold_back_timeout.count() < 0 || options.request_timeout.count() <= 0) {
        return base::fail(base::Errc::InvalidArgument,
                          "delivery: delays must be >= 0 and request_timeout > 0");
    }
    return {};
}

WebhookDispatcher::WebhookDispatcher(DeliveryOptions options, protocol::Ed25519KeyPair keys,
                                     Completion on_done, SenderFactory make_sender)
    : options_(std::move(options)),
      keys_(keys),
      on_done_(std::move(on_done)),
      make_sender_(std::move(make_sender)),
      lanes_(static_cast<std::size_t>(std::max(1, options_.threads))) {
    DVD_CHECK(validate(options_).has_value(), "invalid delivery options");
    if (!make_sender_) {
        make_sender_ = [] {
            http::HttpClientOptions http;
            http.proxy = "";  // the service is on loopback: never through a proxy
            http.user_agent = "telnyx-webhooks";
            http.connect_timeout = std::chrono::milliseconds(2000);
            return std::make_unique<http::HttpClient>(http);
        };
    }
}

WebhookDispatcher::~WebhookDispatcher() {
    stop();
}

void WebhookDispatcher::start() {
    const std::lock_guard lock(mutex_);
    if (started_ || stopping_) {
        return;
    }
    started_ = true;
    for (std::size_t i = 0; i < lanes_.size(); ++i) {
        lanes_[i].thread = std::thread([this, i] { run(i); });
    }
}

bool WebhookDispatcher::enqueue(OutgoingWebhook webhook) {
    const std::lock_guard lock(mutex_);
    if (stopping_) {
        return false;
    }
    const std::size_t lane = std::hash<std::string>{}(webhook.call_control_id) % lanes_.size();
    lanes_[lane].queue.push_back(std::move(webhook));
    wake_.notify_all();
    return true;
}

void WebhookDispatcher::stop() {
    std::vector<OutgoingWebhook> abandoned;
    {
        const std::lock_guard lock(mutex_);
        if (stopping_ && !started_) {
            return;
        }
        stopping_ = true;
        wake_.notify_all();
    }
    for (Lane& lane : lanes_) {
        if (lane.thread.joinable()) {
            lane.thread.join();
        }
    }
    {
        const std::lock_guard lock(mutex_);
        started_ = false;
        for (Lane& lane : lanes_) {
            for (auto& [call, held] : lane.held) {
                abandoned.push_back(std::move(held.webhook));
            }
            lane.held.clear();
            for (auto& webhook : lane.queue) {
                abandoned.push_back(std::move(webhook));
            }
            lane.queue.clear();
        }
    }
    for (const OutgoingWebhook& webhook : abandoned) {
        EventRecord record{webhook.event_type, webhook.event_id};
        record.error = "simulator stopped";
        on_done_(webhook.call_control_id, std::move(record));
    }
}

void WebhookDispatcher::run(std::size_t lane_index) {
    const std::string name = fmt::format("sim-webhook-{}", lane_index);
    pthread_setname_np(pthread_self(), name.c_str());
    std::unique_ptr<http::HttpSender> sender = make_sender_();
    std::unique_lock lock(mutex_);
    Lane& lane = lanes_[lane_index];
    while (true) {
        if (stopping_) {
            return;
        }
        // Earliest held event whose hold-back time is over, if any.
        auto expired = lane.held.end();
        auto next_deadline = std::chrono::steady_clock::time_point::max();
        const auto now = std::chrono::steady_clock::now();
        for (auto it = lane.held.begin(); it != lane.held.end(); ++it) {
            if (it->second.deadline <= now) {
                expired = it;
                break;
            }
            next_deadline = std::min(next_deadline, it->second.deadline);
        }
        if (expired != lane.held.end()) {
            OutgoingWebhook webhook = std::move(expired->second.webhook);
            lane.held.erase(expired);
            lock.unlock();
            EventRecord record = deliver(*sender, webhook, true);
            on_done_(webhook.call_control_id, std::move(record));
            lock.lock();
            continue;
        }
        if (lane.queue.empty()) {
            if (next_deadline == std::chrono::steady_clock::time_point::max()) {
                wake_.wait(lock);
            } else {
                wake_.wait_until(lock, next_deadline);
            }
            continue;
        }
        OutgoingWebhook webhook = std::move(lane.queue.front());
        lane.queue.pop_front();
        if (options_.hold_back_event_types.contains(webhook.event_type)
            && !lane.held.contains(webhook.call_control_id)) {
            const std::string call = webhook.call_control_id;
            lane.held.emplace(call, Held{std::move(webhook), std::chrono::steady_clock::now()
                                                                     + options_.hold_back_timeout});
            continue;
        }
        std::optional<OutgoingWebhook> overtaken;
        if (const auto held = lane.held.find(webhook.call_control_id); held != lane.held.end()) {
            overtaken = std::move(held->second.webhook);
            lane.held.erase(held);
        }
        lock.unlock();
        EventRecord record = deliver(*sender, webhook, false);
        on_done_(webhook.call_control_id, std::move(record));
        if (overtaken) {
            EventRecord late = deliver(*sender, *overtaken, true);
            on_done_(overtaken->call_control_id, std::move(late));
        }
        lock.lock();
    }
}

EventRecord WebhookDispatcher::deliver(http::HttpSender& sender, const OutgoingWebhook& webhook,
                                       bool held_back) {
    EventRecord record{webhook.event_type, webhook.event_id};
    record.held_back = held_back;
    for (int attempt = 1; attempt <= options_.max_attempts; ++attempt) {
        record.attempts = attempt;
        std::string error;
        const int status = post(sender, webhook, attempt, error);
        record.http_status = status;
        record.error = error;
        if (status >= 200 && status < 300) {
            record.delivered = true;
            record.error.clear();
            break;
        }
        if (status != 0 && !is_retryable(status)) {
            break;  // Telnyx does not retry other 4xx (section 5)
        }
        if (attempt == options_.max_attempts) {
            break;
        }
        const auto delay = std::min(options_.max_retry_delay,
                                    std::chrono::duration_cast<std::chrono::milliseconds>(
                                            options_.first_retry_delay
                                            * (std::int64_t{1} << std::min(attempt - 1, 20))));
        DVD_LOG_RATE_LIMITED(
                Sim, Info, "webhook {} retry {} in {} ms call_id={} status={} error={}",
                webhook.event_type, attempt, delay.count(), webhook.call_control_id, status, error);
        if (!wait_backoff(delay)) {
            record.error = record.error.empty() ? "simulator stopped" : record.error;
            break;
        }
    }
    if (record.delivered && options_.duplicate_event_types.contains(webhook.event_type)) {
        // A duplicate delivery as Telnyx can make one: the same event (same data.id) again.
        std::string error;
        const int status = post(sender, webhook, 1, error);
        record.duplicated = true;
        if (status < 200 || status >= 300) {
            record.error = fmt::format("duplicate delivery got HTTP {} {}", status, error);
        }
    }
    if (!record.delivered) {
        DVD_LOG(Sim, Warn, "webhook {} not delivered call_id={} status={} attempts={} error={}",
                webhook.event_type, webhook.call_control_id, record.http_status, record.attempts,
                record.error);
    }
    return record;
}

int WebhookDispatcher::post(http::HttpSender& sender, const OutgoingWebhook& webhook, int attempt,
                            std::string& error) {
    http::HttpRequest request;
    request.method = "POST";
    request.url = webhook.url;
    request.body = render_envelope(webhook, attempt);
    request.timeout = options_.request_timeout;
    const std::int64_t timestamp = unix_seconds_now() + options_.timestamp_offset.count();
    for (auto& [name, value] :
         signed_headers(request.body, timestamp, keys_, options_.forge_signatures)) {
        request.headers.add(std::move(name), std::move(value));
    }
    auto response = sender.send(request);
    if (!response) {
        error = response.error().message;
        return 0;
    }
    if (response->status < 200 || response->status >= 300) {
        error = fmt::format("HTTP {}", response->status);
    }
    return response->status;
}

bool WebhookDispatcher::wait_backoff(std::chrono::milliseconds delay) {
    std::unique_lock lock(mutex_);
    return !wake_.wait_for(lock, delay, [this] { return stopping_; });
}

}  // namespace dvd::sim
