#include "calls/call_controller.hpp"

#include <pthread.h>

#include <condition_variable>
#include <future>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include <fmt/format.h>

#include "base/check.hpp"
#include "base/log.hpp"
#include "service/secrets.hpp"
#include "service/task_thread.hpp"
#include "telnyx/call_control_client.hpp"

namespace dvd::calls {
namespace {

using namespace std::chrono_literals;
using ReplyFn = std::function<void(net::Response)>;

/// Events re-run at start-up, at most (a larger backlog is re-run at the next start).
constexpr std::int64_t kMaxReplayedEvents = 10'000;
/// Timeline points read per page when re-granting a call.
constexpr std::int64_t kTimelinePage = 1'000;

/// Cuts retry waits short once the controller stops, so that a Telnyx outage cannot hold the
/// commands threads (and shutdown) for the whole backoff schedule.
class StopAwareSleeper final : public http::Sleeper {
public:
    StopAwareSleeper(http::Sleeper& inner, const std::atomic<bool>& stopping)
        : inner_(inner), stopping_(stopping) {}

    bool sleep_for(std::chrono::milliseconds duration) override {
        if (stopping_.load()) {
            return false;
        }
        return inner_.sleep_for(duration) && !stopping_.load();
    }

    [[nodiscard]] std::chrono::system_clock::time_point now() const override {
        return inner_.now();
    }

private:
    http::Sleeper& inner_;
    const std::atomic<bool>& stopping_;
};

net::Response status_reply(std::string_view status) {
    return net::Response::json(200, fmt::format(R"({{"status":"{}"}})", status));
}

net::Response busy_reply() {
    auto response = net::Response::json_error(503, "busy", "the call logic is saturated; retry");
    response.headers.emplace_back("Retry-After", "1");
    return response;
}

/// The JSON body a planned command sends (for the command log); "" if it cannot be built.
std::string request_body(const PlannedCommand& c) {
    const auto& id = c.call_control_id;
    const auto result = std::visit(
            [&id](const auto& command) -> base::Result<protocol::CommandRequest> {
                using T = std::decay_t<decltype(command)>;
                if constexpr (std::is_same_v<T, protocol::AnswerCommand>) {
                    return protocol::build_answer(id, command);
                } else if constexpr (std::is_same_v<T, protocol::SpeakCommand>) {
                    return protocol::build_speak(id, command);
                } else if constexpr (std::is_same_v<T, protocol::StreamingStartCommand>) {
                    return protocol::build_streaming_start(id, command);
                } else if constexpr (std::is_same_v<T, protocol::RecordStartCommand>) {
                    return protocol::build_record_start(id, command);
                } else if constexpr (std::is_same_v<T, protocol::StreamingStopCommand>) {
                    return protocol::build_streaming_stop(id, command);
                } else if constexpr (std::is_same_v<T, protocol::HangupCommand>) {
                    return protocol::build_hangup(id, command);
                } else if constexpr (std::is_same_v<T, protocol::TransferCommand>) {
                    return protocol::build_transfer(id, command);
                } else {
                    return protocol::build_dial(command);
                }
            },
            c.command);
    return result ? result->body : std::string{};
}

telnyx::CommandOutcome execute(telnyx::CallControlClient& client, const PlannedCommand& c) {
    const auto& id = c.call_control_id;
    return std::visit(
            [&](const auto& command) -> telnyx::CommandOutcome {
                using T = std::decay_t<decltype(command)>;
                if constexpr (std::is_same_v<T, protocol::AnswerCommand>) {
                    return client.answer(id, command);
                } else if constexpr (std::is_same_v<T, protocol::SpeakCommand>) {
                    return client.speak(id, command);
                } else if constexpr (std::is_same_v<T, protocol::StreamingStartCommand>) {
                    return client.streaming_start(id, command);
                } else if constexpr (std::is_same_v<T, protocol::RecordStartCommand>) {
                    return client.record_start(id, command);
                } else if constexpr (std::is_same_v<T, protocol::StreamingStopCommand>) {
                    return client.streaming_stop(id, command);
                } else if constexpr (std::is_same_v<T, protocol::HangupCommand>) {
                    return client.hangup(id, command);
                } else if constexpr (std::is_same_v<T, protocol::TransferCommand>) {
                    return client.transfer(id, command);
                } else {
                    return client.dial(command).outcome;
                }
            },
            c.command);
}

bool is_dialable(std::string_view to) {
    if (to.starts_with("sip:")) {
        return to.size() > 4 && to.find_first_of(" \t\r\n") == std::string_view::npos;
    }
    if (!to.starts_with('+') || to.size() < 8 || to.size() > 16) {
        return false;
    }
    for (const char c : to.substr(1)) {
        if (c < '0' || c > '9') {
            return false;
        }
    }
    return true;
}

/// One command's fate, carried from a commands thread back to the calls thread.
struct CommandResult {
    PlannedCommand command;
    std::string body;
    telnyx::CommandOutcome outcome{};
    double seconds = 0.0;
    enum class Fate { Sent, SkippedCallEnded, SkippedStopping } fate = Fate::Sent;
};

}  // namespace

CallControllerOptions options_from_config(const config::Config& config) {
    CallControllerOptions options;
    options.api_base = config.telnyx_api_base;
    options.api_key = config.telnyx_api_key;
    options.media_stream_url = config.media_stream_url;
    options.flow.telnyx_deepfake_detection = config.telnyx_deepfake_detection;
    options.flow.security_number = config.security_number;
    options.main_number = config.main_number;
    options.connection_id = config.connection_id;
    options.detection_threshold = config.detection_threshold;
    return options;
}

class CallController::Impl {
public:
    Impl(CallController& owner, CallControllerOptions options, CallControllerDeps deps)
        : owner_(owner),
          options_(std::move(options)),
          deps_(std::move(deps)),
          flow_(options_.flow),
          sleeper_(deps_.sleeper, stopping_) {
        DVD_CHECK(deps_.store != nullptr, "CallController needs a store");
        DVD_CHECK(static_cast<bool>(deps_.make_sender), "CallController needs make_sender");
        if (!deps_.now_ms) {
            deps_.now_ms = [] {
                return std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                        .count();
            };
        }
    }

    ~Impl() { stop(std::chrono::steady_clock::now() + 5s); }

    base::Result<void> start() {
        if (started_.load()) {
            return base::fail(base::Errc::InvalidArgument, "CallController already started");
        }
        if (options_.command_threads < 1 || options_.command_threads > 64) {
            return base::fail(base::Errc::InvalidArgument, "command_threads must be 1..64");
        }
        telnyx::CallControlOptions client_options;
        client_options.api_base = options_.api_base;
        client_options.api_key = options_.api_key;
        client_options.request_timeout = options_.request_timeout;
        client_options.retry = options_.retry;
        if (auto valid = telnyx::validate(client_options); !valid) {
            return valid.error();
        }
        std::uint64_t seed = deps_.seed;
        if (seed == 0) {
            std::random_device device;
            seed = (std::uint64_t{device()} << 32U) | device();
        }
        for (int i = 0; i < options_.command_threads; ++i) {
            auto worker = std::make_unique<CommandWorker>();
            worker->sender = deps_.make_sender();
            DVD_CHECK(worker->sender != nullptr, "make_sender returned null");
            worker->client = std::make_unique<telnyx::CallControlClient>(
                    client_options, *worker->sender, sleeper_,
                    seed + static_cast<std::uint64_t>(i) * std::uint64_t{0x9E3779B97F4A7C15});
            worker->thread = std::make_unique<service::TaskThread>(fmt::format("commands-{}", i),
                                                                   options_.queue_capacity);
            workers_.push_back(std::move(worker));
        }
        calls_ = std::make_unique<service::TaskThread>("calls", options_.queue_capacity);
        started_.store(true);

        std::promise<base::Result<void>> recovered;
        auto future = recovered.get_future();
        const bool posted = post_calls([this, &recovered] { recovered.set_value(recover()); });
        DVD_CHECK(posted, "a fresh calls thread accepts a task");
        auto result = future.get();
        if (!result) {
            stop(std::chrono::steady_clock::now() + 1s);
            return result;
        }
        if (options_.sweep_interval.count() > 0) {
            sweeper_ = std::thread([this] { run_sweeper(); });
        }
        return result;
    }

    /// Sends the held `streaming_start`s of recovered calls (once the service listens).
    void resume_media_streams() {
        const bool posted = post_calls([this] {
            listening_ = true;
            std::vector<std::string> held;
            for (const auto& entry : held_stream_restarts_) {
                held.push_back(entry.first);
            }
            for (const std::string& ccid : held) {
                release_held_stream(ccid);
            }
        });
        if (!posted) {
            DVD_LOG(Calls, Warn, "media streams of recovered calls not restarted: stopping");
        }
    }

    void stop(std::chrono::steady_clock::time_point deadline) {
        if (!started_.load() || stopped_) {
            return;
        }
        stopping_.store(true);
        stop_sweeper();
        for (auto& worker : workers_) {
            worker->thread->stop();  // queued commands see stopping_ and are skipped
        }
        calls_->stop();  // drains the results the commands threads posted
        stopped_ = true;
        if (std::chrono::steady_clock::now() > deadline) {
            DVD_LOG(Calls, Warn, "call logic stopped after its deadline");
        } else {
            DVD_LOG(Calls, Info, "call logic stopped");
        }
    }

    void submit_webhook(protocol::WebhookEvent event, std::string raw_body,
                        std::string public_base_url, ReplyFn reply) {
        if (!accepting() || calls_->size() >= options_.webhook_queue_limit) {
            reply(busy_reply());
            return;
        }
        auto shared_reply = std::make_shared<ReplyFn>(std::move(reply));
        const bool posted = post_calls([this, event = std::move(event), body = std::move(raw_body),
                                        base = std::move(public_base_url), shared_reply]() mutable {
            handle_webhook(std::move(event), std::move(body), std::move(base), *shared_reply);
        });
        if (!posted) {
            (*shared_reply)(busy_reply());
        }
    }

    void dial(std::string to, std::string public_base_url,
              std::function<void(base::Result<DialResult>)> done) {
        if (!accepting()) {
            done(base::fail(base::Errc::Unsupported, "the call logic is not running"));
            return;
        }
        if (options_.main_number.empty() || options_.connection_id.empty()) {
            done(base::fail(base::Errc::InvalidArgument,
                            "outbound calls need MAIN_NUMBER and CONNECTION_ID"));
            return;
        }
        if (!is_dialable(to)) {
            done(base::fail(base::Errc::InvalidArgument,
                            "'to' must be an E.164 number (+ and 7 to 15 digits) or a sip: URI"));
            return;
        }
        auto shared_done =
                std::make_shared<std::function<void(base::Result<DialResult>)>>(std::move(done));
        const bool posted =
                post_calls([this, to = std::move(to), base = std::move(public_base_url),
                            shared_done]() mutable { start_dial(to, base, shared_done); });
        if (!posted) {
            (*shared_done)(base::fail(base::Errc::Unsupported, "the call logic is saturated"));
        }
    }

    void on_stream_started(service::StreamStarted event) {
        post_media([this, event = std::move(event)] {
            auto record = load_call(event.call_control_id);
            if (!record || !*record) {
                DVD_LOG(Calls, Warn, "stream started for an unknown call call_id={}",
                        event.call_id);
                return;
            }
            apply(flow_.on_stream_started(**record, event, inputs_now()), {});
        });
    }

    void on_score_changed(service::ScoreChanged event) {
        post_media([this, event = std::move(event)] {
            auto record = load_call(event.call_control_id);
            if (!record || !*record) {
                return;
            }
            auto decision = flow_.on_score_changed(**record, event, inputs_now());
            const bool flagged_now = decision.flagged_now;
            const store::Call call = decision.record.call;
            apply(std::move(decision), {});
            if (flagged_now && options_.on_flagged) {
                options_.on_flagged(FlaggedCall{.call_id = call.id,
                                                .call_control_id = call.call_control_id,
                                                .from = call.from,
                                                .to = call.to,
                                                .score = event.score,
                                                .at_ms = event.at_ms,
                                                .public_base_url = last_public_base_});
            }
        });
    }

    void on_stream_ended(service::StreamEnded event) {
        post_media([this, event = std::move(event)] {
            auto record = load_call(event.call_control_id);
            if (!record || !*record) {
                DVD_LOG(Calls, Warn, "stream ended for an unknown call call_id={}", event.call_id);
                return;
            }
            auto decision = flow_.on_stream_ended(**record, event, inputs_now());
            if (event.lost && !store::is_terminal((*record)->call.state)) {
                report_stream_again(decision,
                                    fmt::format("media stream lost call_id={} reason=\"{}\"",
                                                event.call_id, event.reason));
            }
            apply(std::move(decision), {});
        });
    }

    void escalate(std::string call_id, config::EscalationPolicy policy, std::string reason,
                  EscalationReply done) {
        auto shared_done = std::make_shared<EscalationReply>(std::move(done));
        const auto answer = [](const std::shared_ptr<EscalationReply>& reply,
                               std::string_view status) {
            if (*reply) {
                (*reply)(status);
            }
        };
        if (!accepting()) {
            answer(shared_done, "unavailable");
            return;
        }
        const bool posted = post_calls([this, call_id = std::move(call_id), policy,
                                        reason = std::move(reason), shared_done, answer] {
            auto row = deps_.store->get_call(call_id);
            if (!row) {
                deps_.metrics.store_errors.add();
                DVD_LOG(Calls, Error, "store: {} call_id={}", row.error().message, call_id);
                answer(shared_done, "unavailable");
                return;
            }
            std::optional<CallRecord> record;
            if (*row && !(*row)->call_control_id.empty()) {
                auto loaded = load_call((*row)->call_control_id);
                if (loaded && *loaded) {
                    record = std::move(**loaded);
                }
            }
            if (!record) {
                DVD_LOG(Calls, Warn, "escalation for an unknown call call_id={}", call_id);
                answer(shared_done, "unknown_call");
                return;
            }
            auto decision = flow_.on_escalate(*record, policy, reason, inputs_now());
            const std::string status = decision.escalation_status;
            if (status == "issued") {
                DVD_LOG(Calls, Warn, "escalating flagged call call_id={} action={} reason=\"{}\"",
                        call_id, config::to_string(policy), reason);
            } else {
                DVD_LOG(Calls, Info, "escalation not sent call_id={} action={} status={}", call_id,
                        config::to_string(policy), status);
            }
            apply(std::move(decision), {});
            answer(shared_done, status);
        });
        if (!posted) {
            answer(shared_done, "unavailable");
        }
    }

    bool wait_idle(std::chrono::milliseconds timeout) { return inflight_.wait_idle(timeout); }

private:
    struct CommandWorker {
        std::unique_ptr<http::HttpSender> sender;
        std::unique_ptr<telnyx::CallControlClient> client;
        std::unique_ptr<service::TaskThread> thread;  // last: stopped before the client goes
    };

    [[nodiscard]] bool accepting() const { return started_.load() && !stopping_.load(); }

    bool post_to(service::TaskThread& thread, std::function<void()> task) {
        return inflight_.post(thread, std::move(task));
    }

    bool post_calls(std::function<void()> task) { return post_to(*calls_, std::move(task)); }

    void post_media(std::function<void()> task) {
        if (!accepting() || !post_calls(std::move(task))) {
            owner_.dropped_.fetch_add(1, std::memory_order_relaxed);
            DVD_LOG_RATE_LIMITED(Calls, Warn, "calls thread saturated: media event dropped");
        }
    }

    CommandWorker& worker_for(std::string_view key) {
        const auto index = std::hash<std::string_view>{}(key) % workers_.size();
        return *workers_[index];
    }

    store::UnixMs now_ms() const { return deps_.now_ms(); }

    FlowInputs inputs_now() const { return FlowInputs{.now_ms = now_ms()}; }

    /// MEDIA_STREAM_URL, else derived from this request's public base URL, the webhook's
    /// `meta.delivered_to`, or the last public base URL seen.
    std::string resolve_stream_url(std::string_view public_base_url,
                                   std::string_view delivered_to) const {
        if (!options_.media_stream_url.empty()) {
            return options_.media_stream_url;
        }
        for (const auto base : {std::string_view(public_base_url), delivered_to,
                                std::string_view(last_public_base_)}) {
            if (auto url = stream_url_from_base(base); !url.empty()) {
                return url;
            }
        }
        return {};
    }

    /// The call from memory, else from the store (flow state rebuilt from its command log).
    base::Result<std::optional<CallRecord>> load_call(const std::string& call_control_id) {
        if (call_control_id.empty()) {
            return std::optional<CallRecord>{};
        }
        if (const auto it = calls_by_ccid_.find(call_control_id); it != calls_by_ccid_.end()) {
            return std::optional<CallRecord>{it->second};
        }
        auto row = deps_.store->get_call_by_control_id(call_control_id);
        if (!row) {
            deps_.metrics.store_errors.add();
            DVD_LOG(Calls, Error, "store: {}", row.error().message);
            return row.error();
        }
        if (!*row) {
            return std::optional<CallRecord>{};
        }
        auto log = deps_.store->list_command_log((*row)->id);
        if (!log) {
            deps_.metrics.store_errors.add();
            DVD_LOG(Calls, Error, "store: {} call_id={}", log.error().message, (*row)->id);
            return log.error();
        }
        CallRecord record{.call = **row, .flow = flow_from_history(**row, *log)};
        return std::optional<CallRecord>{std::move(record)};
    }

    void handle_webhook(protocol::WebhookEvent event, std::string raw_body,
                        std::string public_base_url, const ReplyFn& reply) {
        const store::WebhookEvent row{.event_id = event.id,
                                      .event_type = event.event_type,
                                      .call_control_id = event.call_control_id,
                                      .received_at_ms = now_ms(),
                                      .body_json = std::move(raw_body)};
        const auto inserted = deps_.store->record_webhook_event(row);
        if (!inserted) {
            deps_.metrics.store_errors.add();
            deps_.metrics.webhooks_failed.add();
            DVD_LOG(Webhook, Error, "cannot record webhook {} event_id={} call_control_id={}: {}",
                    event.event_type, event.id, event.call_control_id, inserted.error().message);
            reply(net::Response::json_error(500, "store_error",
                                            "the event could not be recorded; retry"));
            return;
        }
        if (!*inserted) {
            deps_.metrics.webhooks_duplicate.add();
            DVD_LOG(Webhook, Debug, "duplicate webhook {} event_id={} call_control_id={}",
                    event.event_type, event.id, event.call_control_id);
            reply(status_reply("duplicate"));
            return;
        }
        deps_.metrics.webhooks_accepted.add();
        reply(status_reply("ok"));
        if (!public_base_url.empty()) {
            last_public_base_ = public_base_url;
        }
        process_event(event, public_base_url, event.id);
    }

    void process_event(const protocol::WebhookEvent& event, std::string_view public_base_url,
                       const std::string& event_id) {
        for (const auto& warning : event.warnings) {
            DVD_LOG(Webhook, Warn, "{} event_id={} call_control_id={}: {}", event.event_type,
                    event_id, event.call_control_id, warning);
        }
        auto record = load_call(event.call_control_id);
        if (!record) {
            return;  // store failure: the event stays unprocessed and re-runs at the next start
        }
        FlowInputs inputs{.now_ms = now_ms()};
        if (!event.call_control_id.empty()) {
            inputs.new_call_id = call_id_for(event.call_control_id);
        }
        // Where the service is reached now: the first stream goes there, and a failed one's
        // retry (after a restart on another address, the stored URL is the old one).
        if (event.type == protocol::WebhookEventType::CallAnswered
            || event.type == protocol::WebhookEventType::StreamingFailed) {
            inputs.stream_url = resolve_stream_url(public_base_url, event.meta_delivered_to);
        }
        if (event.type == protocol::WebhookEventType::CallAnswered) {
            inputs.new_stream_token = service::new_secret_token();
        }
        auto decision = flow_.on_webhook(*record, event, inputs);
        const std::string& call_id = decision.record.call.id;
        DVD_LOG(Calls, Info, "{} call_id={} call_control_id={} event_id={} state={}",
                event.event_type, call_id.empty() ? "-" : call_id, event.call_control_id, event_id,
                store::to_string(decision.record.call.state));
        apply(std::move(decision), event_id);
    }

    void apply(FlowDecision decision, const std::string& event_id) {
        bool stored = true;
        store::Call& call = decision.record.call;
        const std::string call_id = call.id.empty() ? std::string("-") : call.id;
        for (const auto& note : decision.notes) {
            DVD_LOG(Calls, Debug, "{} call_id={}", note, call_id);
        }
        if (decision.grant) {
            deps_.directory.grant(*decision.grant);
        }
        if (decision.call_changed && !call.id.empty()) {
            if (call.created_at_ms == 0) {
                call.created_at_ms = now_ms();
            }
            if (call.updated_at_ms == 0) {
                call.updated_at_ms = now_ms();
            }
            keep_scorer_fields(call);
            if (auto written = deps_.store->upsert_call(call); !written) {
                stored = false;
                deps_.metrics.store_errors.add();
                DVD_LOG(Calls, Error, "store: {} call_id={}", written.error().message, call_id);
            }
        }
        if (decision.recording && stored) {
            if (auto added = deps_.store->add_recording(*decision.recording); !added) {
                stored = false;
                deps_.metrics.store_errors.add();
                DVD_LOG(Calls, Error, "store: {} call_id={}", added.error().message, call_id);
            } else if (options_.on_recording_saved) {
                options_.on_recording_saved();
            }
        }
        if (decision.revoke && !call.call_control_id.empty()) {
            deps_.directory.revoke(call.call_control_id);
        }
        if (decision.call_created) {
            deps_.metrics.calls_started.add();
            DVD_LOG(Calls, Info, "call started call_id={} direction={} from={} to={}", call_id,
                    store::to_string(call.direction), call.from, call.to);
        }
        if (decision.call_ended && options_.on_call_ended && !call.id.empty()) {
            options_.on_call_ended(EndedCall{.call_id = call.id,
                                             .call_control_id = call.call_control_id,
                                             .flagged = call.flagged,
                                             .final_score = call.final_score,
                                             .final_llr = call.final_llr,
                                             .verdict = call.verdict,
                                             .speech_seconds = call.speech_seconds,
                                             .hangup_cause = call.hangup_cause,
                                             .public_base_url = last_public_base_});
        }
        if (decision.call_ended) {
            deps_.metrics.calls_ended.add();
            if (call.final_score) {
                deps_.metrics.call_scores.observe(*call.final_score);
            }
            DVD_LOG(Calls, Info,
                    "call ended call_id={} cause={} duration_s={:.1f} score={} verdict={} "
                    "flagged={}",
                    call_id, call.hangup_cause, call.duration_seconds.value_or(0.0),
                    call.final_score ? fmt::format("{:.3f}", *call.final_score) : "-",
                    call.verdict.empty() ? "-" : call.verdict, call.flagged);
        }
        if (decision.flagged_now) {
            deps_.metrics.calls_flagged.add();
            DVD_LOG(Calls, Warn, "call flagged call_id={} score={:.3f}", call_id,
                    call.final_score.value_or(0.0));
        }
        if (!call.id.empty() && !call.call_control_id.empty()) {
            if (store::is_terminal(call.state)) {
                calls_by_ccid_.erase(call.call_control_id);
            } else {
                calls_by_ccid_.insert_or_assign(call.call_control_id, decision.record);
            }
            owner_.tracked_.store(calls_by_ccid_.size(), std::memory_order_relaxed);
        }
        if (!decision.commands.empty()) {
            dispatch(std::move(decision.commands), event_id, stored);
        } else if (!event_id.empty() && stored) {
            mark_processed(event_id);
        }
    }

    /// upsert_call replaces every field, but the score fields are also written by the media
    /// side (StoreWriter CallScoreUpdate, `flagged` sticky). When this thread has not seen the
    /// flag (its ScoreChanged may have been dropped), keep what the row already holds.
    void keep_scorer_fields(store::Call& call) {
        if (call.flagged && call.final_score) {
            return;
        }
        auto stored = deps_.store->get_call(call.id);
        if (!stored || !*stored) {
            return;  // a new call, or a read failure that the write will report
        }
        const store::Call& row = **stored;
        if (row.flagged) {
            call.flagged = true;
        }
        if (!call.final_score && row.final_score) {
            call.final_score = row.final_score;
            call.final_llr = row.final_llr;
            call.verdict = row.verdict;
            call.speech_seconds = row.speech_seconds;
        }
    }

    void mark_processed(const std::string& event_id) {
        if (auto marked = deps_.store->mark_event_processed(event_id, now_ms()); !marked) {
            deps_.metrics.store_errors.add();
            DVD_LOG(Calls, Error, "store: {} event_id={}", marked.error().message, event_id);
        }
    }

    /// Every sweep_interval, until stop: looks at the calls on the calls thread.
    void run_sweeper() {
        pthread_setname_np(pthread_self(), "calls-sweep");
        std::unique_lock lock(sweep_mutex_);
        while (!sweep_wake_.wait_for(lock, options_.sweep_interval,
                                     [this] { return sweep_stop_; })) {
            static_cast<void>(post_calls([this] {
                retry_failed_streams();
                sweep_quiet_calls();
            }));
        }
    }

    void stop_sweeper() {
        {
            const std::lock_guard lock(sweep_mutex_);
            sweep_stop_ = true;
        }
        sweep_wake_.notify_all();
        if (sweeper_.joinable()) {
            sweeper_.join();
        }
    }

    /// Logs what a decision did about a lost or never-connected stream (`what` says which), and
    /// counts a new stream asked for.
    void report_stream_again(const FlowDecision& decision, const std::string& what) {
        if (!decision.commands.empty()) {
            deps_.metrics.media_streams_restarted.add();
            DVD_LOG(Calls, Warn, "{}: a new one requested from Telnyx (stream {} of the call)",
                    what, decision.record.flow.stream_starts);
        } else {
            DVD_LOG(Calls, Warn, "{}: {}", what,
                    decision.notes.empty() ? "not started again" : decision.notes.back());
        }
    }

    /// A stream that Telnyx could not connect, stream_retry_after ago, is asked for again.
    void retry_failed_streams() {
        const store::UnixMs now = now_ms();
        std::vector<std::string> due;
        for (const auto& [ccid, record] : calls_by_ccid_) {
            const auto& failed = record.flow.stream_failed_at_ms;
            if (failed && !record.flow.media_live
                && now - *failed >= options_.stream_retry_after.count()) {
                due.push_back(ccid);
            }
        }
        for (const std::string& ccid : due) {
            auto decision = flow_.retry_failed_stream(calls_by_ccid_.at(ccid), inputs_now());
            report_stream_again(decision, fmt::format("media stream failed to connect call_id={}",
                                                      decision.record.call.id));
            apply(std::move(decision), {});
        }
    }

    /// A call with no open stream whose row has not changed for quiet_call_check (and was not
    /// checked in that time) is checked with Telnyx: its call.hangup may have been lost.
    void sweep_quiet_calls() {
        const store::UnixMs now = now_ms();
        const std::int64_t quiet = options_.quiet_call_check.count();
        if (quiet <= 0) {
            return;
        }
        std::erase_if(status_checked_at_,
                      [this](const auto& entry) { return !calls_by_ccid_.contains(entry.first); });
        for (const auto& [ccid, record] : calls_by_ccid_) {
            const store::UnixMs last =
                    std::max({record.call.updated_at_ms, record.call.created_at_ms,
                              status_checked_at_.contains(ccid) ? status_checked_at_[ccid] : 0});
            if (record.flow.media_live || status_pending_.contains(ccid) || now - last < quiet) {
                continue;
            }
            DVD_LOG(Calls, Info, "quiet call checked with Telnyx call_id={} quiet_s={}",
                    record.call.id, (now - last) / 1000);
            status_checked_at_[ccid] = now;
            check_call_status(ccid);
        }
    }

    /// Asks Telnyx whether a call (recovered, or quiet) is still up, on the call's commands
    /// thread; the answer comes back to the calls thread (`call_status_done`).
    void check_call_status(const std::string& ccid) {
        status_pending_.insert(ccid);
        CommandWorker& worker = worker_for(ccid);
        const bool posted = post_to(*worker.thread, [this, &worker, ccid] {
            if (stopping_.load()) {
                return;
            }
            auto result = worker.client->call_status(ccid);
            static_cast<void>(post_calls(
                    [this, ccid, result = std::move(result)] { call_status_done(ccid, result); }));
        });
        if (!posted) {
            status_pending_.erase(ccid);
            DVD_LOG(Calls, Warn, "call status not asked (commands thread full) call_control_id={}",
                    ccid);
        }
    }

    /// Sends the held new stream of a recovered call once the server listens and its status is
    /// known; drops it for a call that ended meanwhile.
    void release_held_stream(const std::string& ccid) {
        if (!listening_ || status_pending_.contains(ccid)) {
            return;
        }
        const auto held = held_stream_restarts_.find(ccid);
        if (held == held_stream_restarts_.end()) {
            return;
        }
        auto commands = std::move(held->second);
        held_stream_restarts_.erase(held);
        if (calls_by_ccid_.contains(ccid)) {
            dispatch(std::move(commands), {}, false);
        }
    }

    void call_status_done(const std::string& ccid, const telnyx::CallStatusOutcome& result) {
        status_pending_.erase(ccid);
        judge_call_status(ccid, result);
        release_held_stream(ccid);
    }

    void judge_call_status(const std::string& ccid, const telnyx::CallStatusOutcome& result) {
        const auto found = calls_by_ccid_.find(ccid);
        if (found == calls_by_ccid_.end()) {
            return;  // ended meanwhile
        }
        std::optional<protocol::CallStatus> status;
        if (result.outcome.status == telnyx::CommandStatus::Ok) {
            status = result.call;
        } else if (result.outcome.status != telnyx::CommandStatus::Rejected
                   || result.outcome.http_status != 404) {
            DVD_LOG(Calls, Warn, "call status unknown call_id={}: {}", found->second.call.id,
                    result.outcome.message);
            return;
        }
        auto decision = flow_.on_call_status(found->second, status, inputs_now());
        if (decision.call_ended) {
            DVD_LOG(Calls, Warn, "{} call_id={}", decision.record.call.last_error,
                    decision.record.call.id);
        }
        apply(std::move(decision), {});
    }

    /// Sends the commands of one step, in order, on the call's commands thread; the outcomes
    /// come back to the calls thread (`commands_done`).
    void dispatch(std::vector<PlannedCommand> commands, const std::string& event_id, bool stored) {
        CommandWorker& worker = worker_for(commands.front().call_control_id);
        const std::string call_id = commands.front().call_id;
        const bool posted = post_to(*worker.thread, [this, &worker, commands = std::move(commands),
                                                     event_id, stored]() mutable {
            std::vector<CommandResult> results;
            bool ended = false;
            for (auto& command : commands) {
                std::string body = request_body(command);
                CommandResult result{.command = std::move(command), .body = std::move(body)};
                if (stopping_.load()) {
                    result.fate = CommandResult::Fate::SkippedStopping;
                } else if (ended) {
                    result.fate = CommandResult::Fate::SkippedCallEnded;
                } else {
                    const auto t0 = std::chrono::steady_clock::now();
                    result.outcome = execute(*worker.client, result.command);
                    result.seconds =
                            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
                                    .count();
                    ended = result.outcome.status == telnyx::CommandStatus::CallEnded;
                }
                results.push_back(std::move(result));
            }
            const bool back =
                    post_calls([this, results = std::move(results), event_id, stored]() mutable {
                        commands_done(std::move(results), event_id, stored);
                    });
            if (!back) {
                owner_.dropped_.fetch_add(1, std::memory_order_relaxed);
                DVD_LOG(Calls, Error,
                        "calls thread refused command results event_id={} (re-run at restart)",
                        event_id);
            }
        });
        if (!posted) {
            owner_.dropped_.fetch_add(1, std::memory_order_relaxed);
            DVD_LOG(Calls, Error,
                    "commands thread refused commands call_id={} event_id={} (re-run at "
                    "restart)",
                    call_id, event_id);
        }
    }

    void count_command(const telnyx::CommandOutcome& outcome, double seconds) {
        switch (outcome.status) {
            case telnyx::CommandStatus::Ok:
                deps_.metrics.commands_ok.add();
                break;
            case telnyx::CommandStatus::CallEnded:
                deps_.metrics.commands_call_ended.add();
                break;
            default:
                deps_.metrics.commands_failed.add();
                break;
        }
        deps_.metrics.command_seconds.observe(seconds);
    }

    store::CommandLog log_row(const std::string& call_id, const CommandResult& result) const {
        store::CommandLog row;
        row.call_id = call_id;
        row.command = std::string(to_string(result.command.kind));
        row.command_id = result.command.command_id;
        row.request_body_json = result.body;
        if (result.outcome.http_status != 0) {
            row.http_status = result.outcome.http_status;
        }
        if (!result.outcome.is_normal()) {
            row.error = result.outcome.message;
        }
        row.at_ms = now_ms();
        return row;
    }

    void commands_done(std::vector<CommandResult> results, const std::string& event_id,
                       bool stored) {
        bool all_sent = true;
        for (const auto& result : results) {
            const auto& command = result.command;
            if (result.fate == CommandResult::Fate::SkippedStopping) {
                all_sent = false;
                DVD_LOG(Calls, Info, "{} not sent (stopping) call_id={} command_id={}",
                        to_string(command.kind), command.call_id, command.command_id);
                continue;
            }
            if (result.fate == CommandResult::Fate::SkippedCallEnded) {
                DVD_LOG(Calls, Info, "{} not sent (call ended) call_id={} command_id={}",
                        to_string(command.kind), command.call_id, command.command_id);
                continue;
            }
            const auto& outcome = result.outcome;
            count_command(outcome, result.seconds);
            if (outcome.is_normal()) {
                DVD_LOG(Calls, Info, "{} call_id={} command_id={} attempts={}", outcome.message,
                        command.call_id, command.command_id, outcome.attempts);
            } else {
                DVD_LOG(Calls, Warn, "{} call_id={} command_id={}", outcome.message,
                        command.call_id, command.command_id);
            }
            if (auto logged = deps_.store->append_command_log(log_row(command.call_id, result));
                !logged) {
                stored = false;
                deps_.metrics.store_errors.add();
                DVD_LOG(Calls, Error, "store: {} call_id={}", logged.error().message,
                        command.call_id);
            }
            auto record = load_call(command.call_control_id);
            if (record && *record) {
                apply(flow_.on_command_result(**record, command.kind,
                                              telnyx::to_string(outcome.status), outcome.message,
                                              inputs_now()),
                      {});
            }
        }
        if (!event_id.empty() && stored && all_sent) {
            mark_processed(event_id);
        }
    }

    using DoneFn = std::shared_ptr<std::function<void(base::Result<DialResult>)>>;

    void start_dial(const std::string& to, const std::string& public_base_url, DoneFn done) {
        if (!public_base_url.empty()) {
            last_public_base_ = public_base_url;
        }
        FlowInputs inputs{.now_ms = now_ms(),
                          .stream_url = resolve_stream_url(public_base_url, {})};
        // A random id: a dial is not replayed (the API caller sees the failure and retries).
        const std::string command_id = call_id_for(service::new_secret_token());
        PlannedCommand planned = flow_.plan_dial(to, options_.main_number, options_.connection_id,
                                                 command_id, inputs);
        CommandWorker& worker = worker_for(command_id);
        const bool posted = post_to(*worker.thread, [this, &worker, planned, to, inputs,
                                                     done]() mutable {
            if (stopping_.load()) {
                (*done)(base::fail(base::Errc::Unsupported, "the service is stopping"));
                return;
            }
            std::string body = request_body(planned);
            const auto t0 = std::chrono::steady_clock::now();
            auto outcome = worker.client->dial(std::get<protocol::DialCommand>(planned.command));
            const double seconds =
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            const bool back = post_calls([this, planned = std::move(planned), to,
                                          inputs = std::move(inputs), body = std::move(body),
                                          outcome = std::move(outcome), seconds, done]() mutable {
                finish_dial(planned, to, inputs, body, outcome, seconds, done);
            });
            if (!back) {
                (*done)(base::fail(base::Errc::Unsupported, "the call logic is saturated"));
            }
        });
        if (!posted) {
            (*done)(base::fail(base::Errc::Unsupported, "the commands queue is full"));
        }
    }

    void finish_dial(const PlannedCommand& planned, const std::string& to,
                     const FlowInputs& plan_inputs, const std::string& body,
                     const telnyx::DialOutcome& dialed, double seconds, const DoneFn& done) {
        count_command(dialed.outcome, seconds);
        if (dialed.outcome.status != telnyx::CommandStatus::Ok) {
            DVD_LOG(Calls, Warn, "{} to={} command_id={}", dialed.outcome.message, to,
                    planned.command_id);
            (*done)(base::fail(base::Errc::Runtime, dialed.outcome.message));
            return;
        }
        const std::string& ccid = dialed.call.call_control_id;
        auto record = load_call(ccid);
        FlowInputs inputs{.now_ms = now_ms(),
                          .stream_url = plan_inputs.stream_url,
                          .new_call_id = call_id_for(ccid)};
        auto decision =
                flow_.on_dial_accepted(record ? std::move(*record) : std::optional<CallRecord>{},
                                       dialed.call, to, options_.main_number, inputs);
        const store::Call call = decision.record.call;
        apply(std::move(decision), {});
        CommandResult result{.command = planned, .body = body, .outcome = dialed.outcome};
        if (auto logged = deps_.store->append_command_log(log_row(call.id, result)); !logged) {
            deps_.metrics.store_errors.add();
            DVD_LOG(Calls, Error, "store: {} call_id={}", logged.error().message, call.id);
        }
        DVD_LOG(Calls, Info, "dialed call_id={} call_control_id={} to={}", call.id, ccid, to);
        (*done)(DialResult{.call_id = call.id,
                           .call_control_id = ccid,
                           .status = "initiated",
                           .from = options_.main_number,
                           .to = to});
    }

    /// At start, on the calls thread before any webhook: re-grant active calls, re-run
    /// unprocessed events.
    base::Result<void> recover() {
        auto active = deps_.store->list_active_calls();
        if (!active) {
            return active.error();
        }
        std::size_t granted = 0;
        for (const auto& call : *active) {
            auto log = deps_.store->list_command_log(call.id);
            if (!log) {
                return log.error();
            }
            CallRecord record{.call = call, .flow = flow_from_history(call, *log)};
            if (!call.stream_auth_token.empty() || record.flow.stream_in_dial
                || record.flow.issued(CommandKind::StreamingStart)) {
                std::vector<store::ScorePoint> points;
                std::int64_t after = -1;
                for (;;) {
                    auto page = deps_.store->list_timeline(call.id, after, kTimelinePage);
                    if (!page) {
                        return page.error();
                    }
                    if (page->empty()) {
                        break;
                    }
                    after = page->back().seq;
                    points.insert(points.end(), page->begin(), page->end());
                }
                service::StreamGrant grant = grant_from_timeline(call, points);
                auto indicator_state = deps_.store->get_indicator_state(call.id);
                if (!indicator_state) {
                    return indicator_state.error();
                }
                grant.indicator_state = std::move(*indicator_state);
                const bool indicators = !grant.indicator_state.empty();
                deps_.directory.grant(std::move(grant));
                ++granted;
                DVD_LOG(Calls, Info, "resumed call_id={} windows={} state={} indicators={}",
                        call.id, points.size(), store::to_string(call.state),
                        indicators ? "saved" : "none");
            }
            deps_.metrics.calls_resumed.add();
            FlowDecision restart = flow_.on_recovered(
                    record,
                    FlowInputs{.now_ms = now_ms(), .stream_url = options_.media_stream_url});
            for (const auto& note : restart.notes) {
                DVD_LOG(Calls, Info, "{} call_id={}", note, call.id);
            }
            if (!call.call_control_id.empty()) {
                // With the resumed stream counted (kMaxStreamsPerCall, the next step number).
                calls_by_ccid_.insert_or_assign(call.call_control_id, std::move(restart.record));
            }
            if (!restart.commands.empty()) {
                held_stream_restarts_.insert_or_assign(call.call_control_id,
                                                       std::move(restart.commands));
            }
        }
        owner_.tracked_.store(calls_by_ccid_.size(), std::memory_order_relaxed);
        // Their `call.hangup` may have been given up while the service was down: ask Telnyx.
        for (const auto& [ccid, record] : calls_by_ccid_) {
            static_cast<void>(record);
            check_call_status(ccid);
        }

        auto events = deps_.store->list_unprocessed_events(kMaxReplayedEvents);
        if (!events) {
            return events.error();
        }
        for (const auto& row : *events) {
            auto event = protocol::parse_webhook(row.body_json);
            if (!event) {
                DVD_LOG(Webhook, Error, "stored webhook unreadable, dropped event_id={}: {}",
                        row.event_id, event.error().message);
                mark_processed(row.event_id);
                continue;
            }
            DVD_LOG(Calls, Info, "re-running {} event_id={}", row.event_type, row.event_id);
            process_event(*event, {}, row.event_id);
        }
        DVD_LOG(Calls, Info, "recovered active_calls={} granted={} replayed_events={}",
                active->size(), granted, events->size());
        return {};
    }

    CallController& owner_;
    CallControllerOptions options_;
    CallControllerDeps deps_;
    CallFlow flow_;
    std::atomic<bool> stopping_{false};
    StopAwareSleeper sleeper_;
    std::atomic<bool> started_{false};  ///< read by workers (submit, dial)
    bool stopped_ = false;
    service::InflightTasks inflight_;
    // ---- calls thread only ----
    std::unordered_map<std::string, CallRecord> calls_by_ccid_;
    /// From `recover`: the streaming_start of each call whose stream died with the old process,
    /// by call_control_id: sent once the server listens
    /// (`listening_`) and Telnyx said the call is still up (not in `status_pending_`).
    std::map<std::string, std::vector<PlannedCommand>> held_stream_restarts_;
    std::set<std::string> status_pending_;  ///< calls whose status check is out
    std::unordered_map<std::string, store::UnixMs> status_checked_at_;  ///< by the sweep
    bool listening_ = false;
    std::string last_public_base_;
    // ---- end calls thread only ----
    std::vector<std::unique_ptr<CommandWorker>> workers_;
    std::mutex sweep_mutex_;
    std::condition_variable sweep_wake_;
    bool sweep_stop_ = false;  ///< guarded by sweep_mutex_
    std::thread sweeper_;      ///< `calls-sweep`: posts the sweep to `calls`; joined by stop
    std::unique_ptr<service::TaskThread> calls_;  // last: stopped first on destruction
};

CallController::CallController(CallControllerOptions options, CallControllerDeps deps)
    : impl_(std::make_unique<Impl>(*this, std::move(options), std::move(deps))) {}

CallController::~CallController() {
    // Before the members the calls thread touches (dropped_, tracked_) are destroyed.
    impl_->stop(std::chrono::steady_clock::now() + 5s);
}

base::Result<void> CallController::start() {
    return impl_->start();
}

void CallController::resume_media_streams() {
    impl_->resume_media_streams();
}

void CallController::stop(std::chrono::steady_clock::time_point deadline) {
    impl_->stop(deadline);
}

void CallController::submit_webhook(protocol::WebhookEvent event, std::string raw_body,
                                    std::string public_base_url,
                                    std::function<void(net::Response)> reply) {
    impl_->submit_webhook(std::move(event), std::move(raw_body), std::move(public_base_url),
                          std::move(reply));
}

void CallController::dial(std::string to, std::string public_base_url,
                          std::function<void(base::Result<DialResult>)> done) {
    impl_->dial(std::move(to), std::move(public_base_url), std::move(done));
}

void CallController::escalate(std::string call_id, config::EscalationPolicy policy,
                              std::string reason, EscalationReply done) {
    impl_->escalate(std::move(call_id), policy, std::move(reason), std::move(done));
}

void CallController::on_stream_started(service::StreamStarted event) {
    impl_->on_stream_started(std::move(event));
}

void CallController::on_score_changed(service::ScoreChanged event) {
    impl_->on_score_changed(std::move(event));
}

void CallController::on_stream_ended(service::StreamEnded event) {
    impl_->on_stream_ended(std::move(event));
}

bool CallController::wait_idle(std::chrono::milliseconds timeout) {
    return impl_->wait_idle(timeout);
}

}  // namespace dvd::calls
