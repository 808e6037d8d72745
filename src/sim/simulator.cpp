#include "sim/simulator.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <deque>
#include <map>
#include <mutex>
#include <random>
#include <thread>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <pthread.h>

#include "base/log.hpp"
#include "net/server.hpp"
#include "protocol/signature.hpp"
#include "sim/timer_queue.hpp"
#include "sim/ws_stream_transport.hpp"

namespace dvd::sim {
namespace {

using protocol::UtcMicros;

constexpr double kMaxSpeed = 10'000.0;
constexpr double kSilentCalleeSeconds = 3.0;

UtcMicros utc_now() {
    return std::chrono::time_point_cast<std::chrono::microseconds>(
            std::chrono::system_clock::now());
}

std::uint64_t random_seed() {
    std::random_device device;
    return (std::uint64_t{device()} << 32U) ^ device();
}

// Constant-time comparison of secrets of possibly different lengths.
bool secrets_equal(std::string_view a, std::string_view b) {
    unsigned diff = a.size() == b.size() ? 0U : 1U;
    for (std::size_t i = 0; i < a.size(); ++i) {
        diff |= static_cast<unsigned>(
                static_cast<unsigned char>(a[i])
                ^ static_cast<unsigned char>(b[i % std::max<std::size_t>(b.size(), 1)]));
    }
    return diff == 0U && !b.empty();
}

net::Response to_response(const ApiReply& reply) {
    return net::Response::json(reply.status, reply.body);
}

}  // namespace

std::size_t recordings_to_keep(int concurrent_calls) {
    return SimulatorOptions{}.max_recordings
           + static_cast<std::size_t>(std::max(0, concurrent_calls));
}

base::Result<void> validate(const SimulatorOptions& options) {
    const auto bad = [](std::string message) {
        return base::Result<void>(base::fail(base::Errc::InvalidArgument, std::move(message)));
    };
    if (!options.webhook_url.starts_with("http://")
        && !options.webhook_url.starts_with("https://")) {
        return bad("webhook_url must be an http:// or https:// URL");
    }
    if (!(options.speed > 0.0) || !std::isfinite(options.speed) || options.speed > kMaxSpeed) {
        return bad(fmt::format("speed must be in (0, {}]", kMaxSpeed));
    }
    if (options.answer_timeout.count() <= 0 || options.stream_start_timeout.count() <= 0
        || options.ws_connect_timeout.count() <= 0 || options.linger_after_audio.count() < 0
        || options.ring_time.count() < 0) {
        return bad("timeouts must be positive (linger_after_audio and ring_time >= 0)");
    }
    if (options.max_recordings == 0) {
        return bad("max_recordings must be at least 1");
    }
    if (options.recording_url_lifetime.count() <= 0) {
        return bad("recording_url_lifetime must be positive");
    }
    return validate(options.delivery);
}

std::optional<CallSummary> CallHandle::wait_for(std::chrono::milliseconds timeout) const {
    if (!done.valid() || done.wait_for(timeout) != std::future_status::ready) {
        return std::nullopt;
    }
    return done.get();
}

class Simulator::Impl {
public:
    explicit Impl(SimulatorOptions options)
        : options_(std::move(options)),
          ids_(options_.id_seed != 0 ? options_.id_seed : random_seed()) {
        stream_connects_to_fail_.store(options_.fail_stream_connects);
    }

    ~Impl() { stop(); }

    base::Result<void> start();
    void stop();

    std::uint16_t port() const { return port_; }

    std::string public_key_base64() const { return keys_.public_key_base64(); }

    base::Result<CallHandle> place_inbound_call(CallSpec spec);
    std::optional<CallHandle> handle(std::string_view id) const;
    std::optional<CallSummary> summary(std::string_view id) const;
    std::vector<CallSummary> summaries() const;
    std::vector<CommandRecord> unmatched() const;
    void inject_failure(std::string action, int status, int times);
    base::Result<void> drop_stream(std::string_view id);

    FakeServices& fakes() { return fakes_; }

private:
    struct Call {
        std::unique_ptr<CallScenario> scenario;
        std::promise<CallSummary> promise;
        std::shared_future<CallSummary> done;
        std::shared_ptr<std::atomic<StreamSignal>> stream_signal;  ///< of the latest stream
        int stream_threads = 0;  ///< a dropped stream's thread may still be finishing
        bool completed = false;
    };

    struct StreamThread {
        std::thread thread;
        std::shared_ptr<std::atomic<bool>> finished;
    };

    struct Fault {
        int status = 500;
        int remaining = 0;
    };

    net::Router make_router();
    void on_action(net::Request request, net::Responder responder);
    void on_dial(net::Request request, net::Responder responder);
    void on_get_call(net::Request request, net::Responder responder);
    void on_recording(net::Request request, net::Responder responder);
    void on_fake(FakeTarget target, net::Request request, net::Responder responder);
    void on_control(net::Request request, net::Responder responder);
    std::optional<ApiReply> check_auth(const net::Request& request) const;
    std::optional<ApiReply> take_fault(std::string_view action);
    Call& add_call(CallFacts facts, std::shared_ptr<const CallAudio> audio);

    // Called with mutex_ held.
    void apply(Call& call, Effects effects);
    void check_completion(Call& call);
    void record_unmatched(std::string_view action, std::string_view id, const net::Request& request,
                          const ApiReply& reply);

    void on_timer(const std::string& id, TimerKind kind, std::uint64_t token);
    void on_delivery(const std::string& id, EventRecord record);
    void spawn_stream(const std::string& id, StreamStart start,
                      std::shared_ptr<std::atomic<StreamSignal>> signal,
                      std::shared_ptr<const CallAudio> audio);
    void run_stream(const std::string& id, const StreamStart& start,
                    const std::atomic<StreamSignal>& signal,
                    const std::shared_ptr<const CallAudio>& audio);

    SimulatorOptions options_;
    IdGenerator ids_;
    protocol::Ed25519KeyPair keys_{};
    ScenarioSettings settings_{};
    std::uint16_t port_ = 0;
    std::unique_ptr<net::Server> server_;
    std::unique_ptr<WebhookDispatcher> dispatcher_;
    TimerQueue timers_{"sim-timers"};

    mutable std::mutex mutex_;
    bool running_ = false;                            // guarded by mutex_
    std::map<std::string, Call, std::less<>> calls_;  // guarded by mutex_
    struct StoredRecording {
        std::string wav;        // the file
        std::string signature;  // the X-Amz-Signature its URL carries
        std::chrono::steady_clock::time_point expires{};
    };
    std::map<std::string, StoredRecording> recordings_;  // by id; guarded by mutex_
    std::deque<std::string> recording_order_;         // guarded by mutex_
    std::vector<CommandRecord> unmatched_;            // guarded by mutex_
    std::map<std::string, std::pair<UtcMicros, std::pair<ApiReply, std::string>>>
            dial_commands_;                // command_id -> (time, (reply, call id)); mutex_
    std::map<std::string, Fault> faults_;  // guarded by mutex_
    std::atomic<int> stream_connects_to_fail_{0};  ///< options_.fail_stream_connects, counted down
    FakeServices fakes_;                   // thread-safe on its own

    std::mutex streams_mutex_;
    std::vector<StreamThread> streams_;  // guarded by streams_mutex_
    bool streams_closed_ = false;        // guarded by streams_mutex_
};

base::Result<void> Simulator::Impl::start() {
    if (server_) {
        return base::fail(base::Errc::InvalidArgument, "the simulator was already started");
    }
    if (auto ok = validate(options_); !ok) {
        return ok.error();
    }
    if (options_.signing_seed) {
        auto keys = protocol::ed25519_keypair_from_seed(*options_.signing_seed);
        if (!keys) {
            return keys.error();
        }
        keys_ = *keys;
    } else {
        auto keys = protocol::ed25519_generate_keypair();
        if (!keys) {
            return keys.error();
        }
        keys_ = *keys;
    }
    net::ServerOptions server_options;
    server_options.bind_address = options_.bind_address;
    server_options.port = options_.api_port;
    server_options.workers = 1;
    server_options.server_name = "telnyx-simulator";
    server_options.max_body_bytes = std::size_t{4} << 20;  // playback_content can be a file
    server_ = std::make_unique<net::Server>(server_options, make_router());
    if (auto ok = server_->start(); !ok) {
        server_.reset();
        return ok.error();
    }
    port_ = server_->port();
    settings_.speed = options_.speed;
    settings_.answer_timeout = options_.answer_timeout;
    settings_.stream_start_timeout = options_.stream_start_timeout;
    settings_.linger_after_audio = options_.linger_after_audio;
    settings_.ring_time = options_.ring_time;
    settings_.default_webhook_url = options_.webhook_url;
    settings_.recording_url_lifetime = std::max(
            std::chrono::seconds{1},
            std::chrono::duration_cast<std::chrono::seconds>(options_.recording_url_lifetime));
    settings_.recording_base_url = fmt::format(
            "http://{}:{}/recordings/",
            options_.bind_address == "0.0.0.0" ? std::string("127.0.0.1") : options_.bind_address,
            port_);
    dispatcher_ = std::make_unique<WebhookDispatcher>(
            options_.delivery, keys_, [this](const std::string& id, EventRecord record) {
                on_delivery(id, std::move(record));
            });
    dispatcher_->start();
    timers_.start();
    {
        const std::lock_guard lock(mutex_);
        running_ = true;
    }
    DVD_LOG(Sim, Info, "Telnyx simulator listening api_base=http://{}:{}/v2 webhook_url={}",
            options_.bind_address, port_, options_.webhook_url);
    return {};
}

void Simulator::Impl::stop() {
    {
        const std::lock_guard lock(mutex_);
        if (!running_) {
            return;
        }
        running_ = false;
    }
    server_->stop(std::chrono::milliseconds(1000));
    timers_.stop();
    std::vector<StreamThread> streams;
    {
        const std::lock_guard lock(mutex_);
        for (auto& [id, call] : calls_) {
            if (call.stream_signal) {
                call.stream_signal->store(StreamSignal::Stop);
            }
        }
    }
    {
        const std::lock_guard lock(streams_mutex_);
        streams_closed_ = true;
        streams.swap(streams_);
    }
    for (StreamThread& s : streams) {
        s.thread.join();
    }
    dispatcher_->stop();
    const std::lock_guard lock(mutex_);
    for (auto& [id, call] : calls_) {
        if (!call.completed) {
            call.completed = true;
            call.promise.set_value(call.scenario->summary());
        }
    }
}

net::Router Simulator::Impl::make_router() {
    net::Router router;
    router.add(net::Method::Post, "/v2/calls/{call_control_id}/actions/{action}",
               [this](net::Request request, net::Responder responder) {
                   on_action(std::move(request), std::move(responder));
               });
    router.add(net::Method::Post, "/v2/calls",
               [this](net::Request request, net::Responder responder) {
                   on_dial(std::move(request), std::move(responder));
               });
    router.add(net::Method::Get, "/v2/calls/{call_control_id}",
               [this](net::Request request, net::Responder responder) {
                   on_get_call(std::move(request), std::move(responder));
               });
    router.add(net::Method::Get, "/recordings/{file}",
               [this](net::Request request, net::Responder responder) {
                   on_recording(std::move(request), std::move(responder));
               });
    router.add(net::Method::Post, "/services/{team}/{bot}/{secret}",
               [this](net::Request request, net::Responder responder) {
                   on_fake(FakeTarget::Slack, std::move(request), std::move(responder));
               });
    router.add(net::Method::Post, "/alerts/json",
               [this](net::Request request, net::Responder responder) {
                   on_fake(FakeTarget::Json, std::move(request), std::move(responder));
               });
    for (const char* path : {"/v2/ai/openai/chat/completions", "/v2/ai/chat/completions"}) {
        router.add(net::Method::Post, path,
                   [this](net::Request request, net::Responder responder) {
                       on_fake(FakeTarget::Inference, std::move(request), std::move(responder));
                   });
    }
    router.add(net::Method::Get, "/_sim/requests/{target}",
               [this](net::Request request, net::Responder responder) {
                   on_control(std::move(request), std::move(responder));
               });
    router.add(net::Method::Post, "/_sim/script/{target}",
               [this](net::Request request, net::Responder responder) {
                   on_control(std::move(request), std::move(responder));
               });
    router.add(net::Method::Post, "/_sim/reset",
               [this](net::Request request, net::Responder responder) {
                   on_control(std::move(request), std::move(responder));
               });
    router.add(net::Method::Get, "/_sim/commands/{call_control_id}",
               [this](net::Request request, net::Responder responder) {
                   on_control(std::move(request), std::move(responder));
               });
    router.add(net::Method::Post, "/_sim/drop-stream/{call_control_id}",
               [this](net::Request request, net::Responder responder) {
                   on_control(std::move(request), std::move(responder));
               });
    return router;
}

std::optional<ApiReply> Simulator::Impl::check_auth(const net::Request& request) const {
    const auto header = request.header("authorization");
    constexpr std::string_view kBearer = "Bearer ";
    const bool ok = header && header->size() > kBearer.size() && header->starts_with(kBearer)
                    && (options_.api_key.empty()
                        || secrets_equal(header->substr(kBearer.size()), options_.api_key));
    if (ok) {
        return std::nullopt;
    }
    return error_reply(401, {errors::authentication_failed()});
}

void Simulator::Impl::on_fake(FakeTarget target, net::Request request,
                              net::Responder responder) {
    bool authorized = false;
    {
        const std::lock_guard lock(mutex_);
        authorized = !check_auth(request).has_value();
    }
    const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count();
    const FakeReply reply = fakes_.handle(target, request, authorized, now_ms);
    DVD_LOG(Sim, Debug, "fake {} request path={} status={} delay_ms={}", to_string(target),
            request.path, reply.status, reply.delay.count());
    net::Response response = FakeServices::to_response(target, reply);
    if (reply.delay.count() <= 0) {
        std::move(responder).send(std::move(response));
        return;
    }
    // Answered later from the timer thread: the network worker is never held.
    auto shared = std::make_shared<net::Responder>(std::move(responder));
    timers_.schedule(reply.delay, [shared, response = std::move(response)]() mutable {
        std::move(*shared).send(std::move(response));
    });
}

void Simulator::Impl::on_control(net::Request request, net::Responder responder) {
    const std::string path = request.path;
    if (path == "/_sim/reset") {
        fakes_.reset();
        std::move(responder).send(net::Response::json(200, R"({"status":"reset"})"));
        return;
    }
    if (path.starts_with("/_sim/drop-stream/")) {
        auto dropped = drop_stream(request.path_param("call_control_id"));
        if (dropped) {
            std::move(responder).send(net::Response::json(200, R"({"dropped":true})"));
        } else if (dropped.error().code == base::make_error_code(base::Errc::NotFound)) {
            std::move(responder).send(
                    net::Response::json_error(404, "not_found", dropped.error().message));
        } else {
            std::move(responder).send(
                    net::Response::json_error(409, "no_live_stream", dropped.error().message));
        }
        return;
    }
    if (path.starts_with("/_sim/commands/")) {
        const std::string id(request.path_param("call_control_id"));
        std::vector<CommandRecord> records;
        {
            const std::lock_guard lock(mutex_);
            if (const auto found = calls_.find(id); found != calls_.end()) {
                records = found->second.scenario->summary().commands;
            }
        }
        nlohmann::json list = nlohmann::json::array();
        for (const auto& r : records) {
            nlohmann::json body = nlohmann::json::parse(r.body, nullptr, false);
            list.push_back({{"action", r.action},
                            {"command_id", r.command_id},
                            {"http_status", r.http_status},
                            {"error_code", r.error_code},
                            {"duplicate", r.duplicate},
                            {"received_at", r.received_at},
                            {"body", body.is_discarded() ? nlohmann::json(r.body) : body}});
        }
        std::move(responder).send(net::Response::json(200, list.dump()));
        return;
    }
    const auto target = parse_fake_target(request.path_param("target"));
    if (!target) {
        std::move(responder).send(net::Response::json_error(
                404, "not_found", "target must be slack, json or inference"));
        return;
    }
    if (request.method == net::Method::Get) {
        std::move(responder).send(
                net::Response::json(200, FakeServices::requests_json(fakes_.requests(*target))));
        return;
    }
    auto script = FakeServices::parse_script(request.body);
    if (!script) {
        std::move(responder).send(
                net::Response::json_error(400, "invalid_script", script.error().message));
        return;
    }
    const std::size_t count = script->size();
    fakes_.script(*target, std::move(*script));
    std::move(responder).send(
            net::Response::json(200, fmt::format(R"({{"scripted":{}}})", count)));
}

std::optional<ApiReply> Simulator::Impl::take_fault(std::string_view action) {
    const auto it = faults_.find(std::string(action));
    if (it == faults_.end() || it->second.remaining <= 0) {
        return std::nullopt;
    }
    --it->second.remaining;
    const int status = it->second.status;
    if (status == 429) {
        return error_reply(429, {TelnyxError{"10011", "Too many requests",
                                             "You have exceeded the maximum number of allowed "
                                             "requests."}});
    }
    return error_reply(status, {TelnyxError{"10007", "Unexpected error",
                                            "An unexpected error occured (injected by the "
                                            "simulator)."}});
}

void Simulator::Impl::record_unmatched(std::string_view action, std::string_view id,
                                       const net::Request& request, const ApiReply& reply) {
    CommandRecord record{std::string(action),
                         "",
                         request.body,
                         reply.status,
                         "",
                         false,
                         protocol::format_utc_timestamp(utc_now())};
    record.error_code = first_error_code(reply);
    DVD_LOG_RATE_LIMITED(Sim, Warn, "command refused action={} call_id={} status={}", action, id,
                         reply.status);
    unmatched_.push_back(std::move(record));
}

void Simulator::Impl::on_action(net::Request request, net::Responder responder) {
    const std::string id(request.path_param("call_control_id"));
    const std::string action_name(request.path_param("action"));
    const UtcMicros now = utc_now();
    // Validation parses JSON: do it before taking the lock.
    const std::optional<Action> action = parse_action(action_name);
    std::optional<Validation> validation;
    if (action) {
        validation = validate_command(*action, request.body);
    }
    ApiReply reply;
    {
        const std::lock_guard lock(mutex_);
        if (auto denied = check_auth(request)) {
            reply = *denied;
            record_unmatched(action_name, id, request, reply);
        } else if (!action) {
            reply = error_reply(404, {errors::unknown_action(action_name)});
            record_unmatched(action_name, id, request, reply);
        } else if (const auto found = calls_.find(id); found == calls_.end()) {
            reply = error_reply(404, {errors::call_not_found(id)});
            record_unmatched(action_name, id, request, reply);
        } else if (auto fault = take_fault(action_name)) {
            reply = *fault;
            found->second.scenario->record_command(
                    action_name, validation->command ? validation->command->command_id : "",
                    request.body, reply, now);
        } else if (!validation->command) {
            reply = error_reply(validation->status, validation->errors);
            found->second.scenario->record_command(action_name, "", request.body, reply, now);
        } else {
            Call& call = found->second;
            auto result = call.scenario->on_command(*validation->command, request.body, now);
            reply = std::move(result.reply);
            apply(call, std::move(result.effects));
            DVD_LOG(Sim, Debug, "command action={} status={} call_id={}", action_name, reply.status,
                    id);
        }
    }
    std::move(responder).send(to_response(reply));
}

void Simulator::Impl::on_dial(net::Request request, net::Responder responder) {
    const UtcMicros now = utc_now();
    Validation validation = validate_command(Action::Dial, request.body);
    ApiReply reply;
    {
        const std::lock_guard lock(mutex_);
        if (auto denied = check_auth(request)) {
            reply = *denied;
            record_unmatched("dial", "", request, reply);
        } else if (auto fault = take_fault("dial")) {
            reply = *fault;
            record_unmatched("dial", "", request, reply);
        } else if (!validation.command) {
            reply = error_reply(validation.status, validation.errors);
            record_unmatched("dial", "", request, reply);
        } else {
            const ValidatedCommand& dial = *validation.command;
            const auto seen = dial.command_id.empty() ? dial_commands_.end()
                                                      : dial_commands_.find(dial.command_id);
            if (seen != dial_commands_.end()
                && now - seen->second.first <= settings_.command_id_window) {
                reply = seen->second.second.first;
                if (const auto call = calls_.find(seen->second.second.second);
                    call != calls_.end()) {
                    call->second.scenario->record_command("dial", dial.command_id, request.body,
                                                          reply, now, /*duplicate=*/true);
                }
            } else {
                CallFacts facts;
                facts.call_control_id = ids_.call_control_id();
                facts.call_leg_id = ids_.uuid();
                facts.call_session_id = ids_.uuid();
                facts.connection_id = dial.connection_id;
                facts.from = dial.from;
                facts.to = dial.to;
                facts.direction = "outgoing";
                facts.start_time = now;
                auto audio = options_.outbound_audio;
                if (!audio) {
                    auto silent = std::make_shared<CallAudio>();
                    silent->label = "(silence)";
                    silent->samples_8k.assign(
                            static_cast<std::size_t>(kSilentCalleeSeconds * 8000.0), 0.0F);
                    audio = std::move(silent);
                }
                Call& call = add_call(facts, std::move(audio));
                nlohmann::ordered_json data{{"call_control_id", facts.call_control_id},
                                            {"call_leg_id", facts.call_leg_id},
                                            {"call_session_id", facts.call_session_id},
                                            {"is_alive", false},
                                            {"record_type", "call"}};
                if (dial.client_state) {
                    data["client_state"] = *dial.client_state;
                }
                reply = ApiReply{200, nlohmann::ordered_json{{"data", std::move(data)}}.dump()};
                call.scenario->record_command("dial", dial.command_id, request.body, reply, now);
                if (dial.connection_id != options_.connection_id) {
                    call.scenario->add_error(fmt::format(
                            "dial connection_id {} is not the simulator's {} (accepted anyway)",
                            dial.connection_id, options_.connection_id));
                }
                if (!dial.command_id.empty()) {
                    dial_commands_[dial.command_id] = {now, {reply, facts.call_control_id}};
                }
                apply(call, call.scenario->start(now, dial));
                DVD_LOG(Sim, Info, "dial accepted call_id={} to={}", facts.call_control_id,
                        facts.to);
            }
        }
    }
    std::move(responder).send(to_response(reply));
}

void Simulator::Impl::on_get_call(net::Request request, net::Responder responder) {
    const std::string id(request.path_param("call_control_id"));
    ApiReply reply;
    {
        const std::lock_guard lock(mutex_);
        if (auto denied = check_auth(request)) {
            reply = *denied;
        } else if (const auto found = calls_.find(id); found == calls_.end()) {
            reply = error_reply(404, {errors::call_not_found(id)});
        } else {
            // "Retrieve a call status" (Telnyx keeps an ended call's data for 10 minutes; the
            // simulator keeps it while it runs).
            const CallScenario& s = *found->second.scenario;
            const UtcMicros until = s.ended_at().value_or(utc_now());
            nlohmann::ordered_json data{{"call_control_id", s.facts().call_control_id},
                                        {"call_leg_id", s.facts().call_leg_id},
                                        {"call_session_id", s.facts().call_session_id},
                                        {"is_alive", !s.is_ended()}};
            data["client_state"] = s.facts().client_state
                                           ? nlohmann::ordered_json(*s.facts().client_state)
                                           : nlohmann::ordered_json(nullptr);
            data["call_duration"] =
                    std::chrono::duration_cast<std::chrono::seconds>(until - s.facts().start_time)
                            .count();
            data["start_time"] = protocol::format_utc_timestamp(s.facts().start_time);
            data["end_time"] =
                    s.ended_at()
                            ? nlohmann::ordered_json(protocol::format_utc_timestamp(*s.ended_at()))
                            : nlohmann::ordered_json(nullptr);
            data["record_type"] = "call";
            reply = ApiReply{200, nlohmann::ordered_json{{"data", std::move(data)}}.dump()};
        }
    }
    std::move(responder).send(to_response(reply));
}

void Simulator::Impl::on_recording(net::Request request, net::Responder responder) {
    std::string file(request.path_param("file"));
    // S3's error document, as a pre-signed recording URL answers when refused.
    auto s3_error = [](int status, std::string_view code, std::string_view message) {
        return net::Response::text(
                status,
                fmt::format(R"(<?xml version="1.0" encoding="UTF-8"?>)"
                            "\n<Error><Code>{}</Code><Message>{}</Message></Error>",
                            code, message),
                "application/xml");
    };
    net::Response response;
    {
        const std::lock_guard lock(mutex_);
        const auto found = file.ends_with(".wav")
                                   ? recordings_.find(file.substr(0, file.size() - 4))
                                   : recordings_.end();
        if (found == recordings_.end()) {
            response = to_response(error_reply(
                    404, {TelnyxError{"10005", "Resource not found", "Recording not found."}}));
        } else if (request.query_param("X-Amz-Signature").value_or("") !=
                   found->second.signature) {
            response = s3_error(403, "SignatureDoesNotMatch",
                                "The request signature we calculated does not match the "
                                "signature you provided.");
        } else if (std::chrono::steady_clock::now() >= found->second.expires) {
            response = s3_error(403, "AccessDenied", "Request has expired");
        } else {
            response = net::Response::text(200, found->second.wav, "audio/wav");
        }
    }
    std::move(responder).send(std::move(response));
}

Simulator::Impl::Call& Simulator::Impl::add_call(CallFacts facts,
                                                 std::shared_ptr<const CallAudio> audio) {
    const std::string id = facts.call_control_id;
    Call call;
    call.scenario =
            std::make_unique<CallScenario>(std::move(facts), std::move(audio), settings_, ids_);
    call.done = call.promise.get_future().share();
    return calls_.emplace(id, std::move(call)).first->second;
}

base::Result<CallHandle> Simulator::Impl::place_inbound_call(CallSpec spec) {
    if (!spec.audio) {
        return base::fail(base::Errc::InvalidArgument, "place_inbound_call: no audio");
    }
    const UtcMicros now = utc_now();
    const std::lock_guard lock(mutex_);
    if (!running_) {
        return base::fail(base::Errc::InvalidArgument, "place_inbound_call: simulator not running");
    }
    CallFacts facts;
    facts.call_control_id = ids_.call_control_id();
    facts.call_leg_id = ids_.uuid();
    facts.call_session_id = ids_.uuid();
    facts.connection_id = options_.connection_id;
    facts.from = spec.from;
    facts.to = spec.to;
    facts.direction = "incoming";
    facts.caller_id_name = spec.caller_id_name;
    facts.start_time = now;
    facts.shaken_stir_attestation = spec.shaken_stir_attestation;
    facts.shaken_stir_validated = spec.shaken_stir_validated;
    const std::string id = facts.call_control_id;
    Call& call = add_call(std::move(facts), std::move(spec.audio));
    apply(call, call.scenario->start(now));
    DVD_LOG(Sim, Info, "incoming call placed call_id={} audio={}", id,
            call.scenario->summary().audio_label);
    return CallHandle{id, call.done};
}

void Simulator::Impl::apply(Call& call, Effects effects) {
    const std::string& id = call.scenario->facts().call_control_id;
    for (OutgoingWebhook& webhook : effects.webhooks) {
        EventRecord dropped{webhook.event_type, webhook.event_id};
        if (!dispatcher_->enqueue(std::move(webhook))) {
            dropped.error = "simulator stopped";
            call.scenario->on_delivery(dropped);
        }
    }
    for (const TimerRequest& t : effects.timers) {
        timers_.schedule(t.delay, [this, id, t] { on_timer(id, t.kind, t.token); });
    }
    if (effects.stop_stream && call.stream_signal) {
        call.stream_signal->store(StreamSignal::Stop);
    }
    if (effects.drop_stream && call.stream_signal) {
        call.stream_signal->store(StreamSignal::Drop);
    }
    if (effects.start_stream) {
        call.stream_signal = std::make_shared<std::atomic<StreamSignal>>(StreamSignal::Run);
        ++call.stream_threads;
        auto audio = call.scenario->audio();
        timers_.schedule(
                std::chrono::nanoseconds{0}, [this, id, start = std::move(*effects.start_stream),
                                              signal = call.stream_signal, audio]() mutable {
                    spawn_stream(id, std::move(start), std::move(signal), std::move(audio));
                });
    }
    if (effects.save_recording) {
        const auto& audio = call.scenario->audio();
        recordings_[effects.save_recording->recording_id] = StoredRecording{
                .wav = wav_file_bytes(
                        audio ? std::span<const float>(audio->samples_8k) : std::span<const float>(),
                        8000),
                .signature = effects.save_recording->signature,
                .expires = std::chrono::steady_clock::now() + options_.recording_url_lifetime};
        recording_order_.push_back(effects.save_recording->recording_id);
        while (recording_order_.size() > options_.max_recordings) {
            recordings_.erase(recording_order_.front());
            recording_order_.pop_front();
        }
    }
    check_completion(call);
}

void Simulator::Impl::check_completion(Call& call) {
    const CallScenario& s = *call.scenario;
    if (call.completed || !s.is_ended() || s.stream_active() || call.stream_threads > 0
        || s.pending_deliveries() > 0) {
        return;
    }
    call.completed = true;
    call.scenario->mark_completed();
    call.promise.set_value(call.scenario->summary());
    DVD_LOG(Sim, Info, "call complete call_id={} commands={} events={} frames={}",
            s.facts().call_control_id, s.summary().commands.size(), s.summary().events.size(),
            s.summary().frames_sent);
}

void Simulator::Impl::on_timer(const std::string& id, TimerKind kind, std::uint64_t token) {
    const std::lock_guard lock(mutex_);
    const auto found = calls_.find(id);
    if (found == calls_.end() || !running_) {
        return;
    }
    apply(found->second, found->second.scenario->on_timer(kind, token, utc_now()));
}

void Simulator::Impl::on_delivery(const std::string& id, EventRecord record) {
    const std::lock_guard lock(mutex_);
    const auto found = calls_.find(id);
    if (found == calls_.end()) {
        return;
    }
    found->second.scenario->on_delivery(record);
    check_completion(found->second);
}

void Simulator::Impl::spawn_stream(const std::string& id, StreamStart start,
                                   std::shared_ptr<std::atomic<StreamSignal>> signal,
                                   std::shared_ptr<const CallAudio> audio) {
    const std::lock_guard lock(streams_mutex_);
    // Join the threads of streams that have finished.
    std::erase_if(streams_, [](StreamThread& s) {
        if (s.finished->load()) {
            s.thread.join();
            return true;
        }
        return false;
    });
    if (streams_closed_) {
        return;
    }
    auto finished = std::make_shared<std::atomic<bool>>(false);
    streams_.push_back(
            StreamThread{std::thread([this, id, start = std::move(start), signal, audio, finished] {
                             pthread_setname_np(pthread_self(), "sim-stream");
                             run_stream(id, start, *signal, audio);
                             finished->store(true);
                         }),
                         finished});
}

void Simulator::Impl::run_stream(const std::string& id, const StreamStart& start,
                                 const std::atomic<StreamSignal>& signal,
                                 const std::shared_ptr<const CallAudio>& audio) {
    const auto report_failure = [&](std::string_view reason, const std::string& detail) {
        DVD_LOG(Sim, Warn, "stream failed call_id={} url={} reason={}", id, start.url, detail);
        const std::lock_guard lock(mutex_);
        const auto found = calls_.find(id);
        if (found != calls_.end()) {
            --found->second.stream_threads;
            apply(found->second,
                  found->second.scenario->on_stream_failed(reason, detail, utc_now()));
        }
    };
    auto payloads = audio ? encode_payloads(audio->samples_8k, start.identity.encoding.encoding)
                          : base::Result<std::vector<std::vector<std::uint8_t>>>(
                                  std::vector<std::vector<std::uint8_t>>{});
    if (!payloads) {
        report_failure("connection_failed", "encoding failed: " + payloads.error().message);
        return;
    }
    // A stream started again mid-call picks the caller up where they are.
    payloads->erase(payloads->begin(), payloads->begin()
                                               + static_cast<std::ptrdiff_t>(std::min(
                                                       start.first_frame, payloads->size())));
    int to_fail = stream_connects_to_fail_.load();
    while (to_fail > 0 && !stream_connects_to_fail_.compare_exchange_weak(to_fail, to_fail - 1)) {
    }
    if (to_fail > 0) {
        report_failure("connection_failed", "connection refused (fault injection)");
        return;
    }
    auto transport = WsStreamTransport::connect(start.url, start.identity.auth_token,
                                                options_.ws_connect_timeout);
    if (!transport) {
        report_failure("connection_failed", transport.error().message);
        return;
    }
    DVD_LOG(Sim, Info, "stream connected call_id={} url={} encoding={} frames={} from_frame={}", id,
            start.url, start.identity.encoding.name, payloads->size(), start.first_frame);
    FrameWriter writer(start.identity);
    const StreamReport report =
            run_media_stream(**transport, writer, *payloads, start.tracks, options_.speed, signal);
    DVD_LOG(Sim, Info, "stream ended call_id={} end={} frames={}", id, to_string(report.end),
            report.inbound_frames_sent);
    const std::lock_guard lock(mutex_);
    const auto found = calls_.find(id);
    if (found != calls_.end()) {
        --found->second.stream_threads;
        apply(found->second, found->second.scenario->on_stream_ended(report, utc_now()));
    }
}

base::Result<void> Simulator::Impl::drop_stream(std::string_view id) {
    const std::lock_guard lock(mutex_);
    const auto found = calls_.find(id);
    if (found == calls_.end()) {
        return base::fail(base::Errc::NotFound, fmt::format("no call {}", id));
    }
    auto effects = found->second.scenario->on_stream_dropped(utc_now());
    if (!effects) {
        return base::fail(base::Errc::InvalidArgument,
                          fmt::format("call {} has no live stream", id));
    }
    DVD_LOG(Sim, Info, "dropping the media stream's connection call_id={}", id);
    apply(found->second, std::move(*effects));
    return {};
}

std::optional<CallHandle> Simulator::Impl::handle(std::string_view id) const {
    const std::lock_guard lock(mutex_);
    const auto found = calls_.find(id);
    if (found == calls_.end()) {
        return std::nullopt;
    }
    return CallHandle{found->first, found->second.done};
}

std::optional<CallSummary> Simulator::Impl::summary(std::string_view id) const {
    const std::lock_guard lock(mutex_);
    const auto found = calls_.find(id);
    if (found == calls_.end()) {
        return std::nullopt;
    }
    return found->second.scenario->summary();
}

std::vector<CallSummary> Simulator::Impl::summaries() const {
    const std::lock_guard lock(mutex_);
    std::vector<CallSummary> out;
    out.reserve(calls_.size());
    for (const auto& [id, call] : calls_) {
        out.push_back(call.scenario->summary());
    }
    return out;
}

std::vector<CommandRecord> Simulator::Impl::unmatched() const {
    const std::lock_guard lock(mutex_);
    return unmatched_;
}

void Simulator::Impl::inject_failure(std::string action, int status, int times) {
    const std::lock_guard lock(mutex_);
    faults_[std::move(action)] = Fault{status, times};
}

Simulator::Simulator(SimulatorOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}

Simulator::~Simulator() = default;

base::Result<void> Simulator::start() {
    return impl_->start();
}

void Simulator::stop() {
    impl_->stop();
}

std::uint16_t Simulator::port() const {
    return impl_->port();
}

std::string Simulator::api_base() const {
    return fmt::format("http://127.0.0.1:{}/v2", impl_->port());
}

std::string Simulator::slack_webhook_url() const {
    return fmt::format("http://127.0.0.1:{}/services/TSIM/BSIM/simulated", impl_->port());
}

std::string Simulator::json_webhook_url() const {
    return fmt::format("http://127.0.0.1:{}/alerts/json", impl_->port());
}

std::string Simulator::inference_url() const {
    return api_base() + "/ai/openai/chat/completions";
}

FakeServices& Simulator::fakes() {
    return impl_->fakes();
}

std::string Simulator::public_key_base64() const {
    return impl_->public_key_base64();
}

base::Result<CallHandle> Simulator::place_inbound_call(CallSpec spec) {
    return impl_->place_inbound_call(std::move(spec));
}

std::optional<CallHandle> Simulator::handle(std::string_view call_control_id) const {
    return impl_->handle(call_control_id);
}

std::vector<CommandRecord> Simulator::commands(std::string_view call_control_id) const {
    auto s = impl_->summary(call_control_id);
    return s ? s->commands : std::vector<CommandRecord>{};
}

std::optional<CallSummary> Simulator::summary(std::string_view call_control_id) const {
    return impl_->summary(call_control_id);
}

std::vector<CallSummary> Simulator::summaries() const {
    return impl_->summaries();
}

std::vector<CommandRecord> Simulator::unmatched_commands() const {
    return impl_->unmatched();
}

void Simulator::inject_command_failure(std::string action, int status, int times) {
    impl_->inject_failure(std::move(action), status, times);
}

base::Result<void> Simulator::drop_stream(std::string_view call_control_id) {
    return impl_->drop_stream(call_control_id);
}

}  // namespace dvd::sim
