#include "sim/simulator.hpp"

#include <array>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "codec/media_decoder.hpp"
#include "dsp/g711.hpp"
#include "http/http_client.hpp"
#include "net/server.hpp"
#include "protocol/call_control.hpp"
#include "protocol/media_message.hpp"
#include "protocol/webhook.hpp"
#include "support/test_paths.hpp"

namespace dvd::sim {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr std::string_view kApiKey = "KEY_test_0123456789";
constexpr std::string_view kStreamToken = "stream-token-abc";

/// What the in-test "service" saw on one media WebSocket.
struct StreamLog {
    std::optional<std::string> header_token;
    std::vector<std::string> frames;
    std::optional<net::WsCloseInfo> closed;
};

/// Plays the service: a webhook endpoint that verifies signatures and queues events, and a media
/// WebSocket that records frames. A test thread drives the call by sending commands with
/// http::HttpClient, the way the service's command threads will.
class FakeService {
public:
    FakeService() {
        net::Router router;
        router.add(net::Method::Post, "/webhooks/voice",
                   [this](net::Request request, net::Responder responder) {
                       on_webhook(std::move(request), std::move(responder));
                   });
        router.add_websocket("/media", [this](const net::Request& upgrade) -> net::WsAcceptResult {
            return accept_stream(upgrade);
        });
        net::ServerOptions options;
        options.bind_address = "127.0.0.1";
        options.workers = 1;
        server_ = std::make_unique<net::Server>(options, std::move(router));
        EXPECT_TRUE(server_->start().has_value());
    }

    ~FakeService() { server_->stop(1000ms); }

    std::string webhook_url() const {
        return fmt::format("http://127.0.0.1:{}/webhooks/voice", server_->port());
    }

    std::string media_url() const {
        return fmt::format("ws://127.0.0.1:{}/media", server_->port());
    }

    void set_public_key(const std::string& key) {
        const std::lock_guard lock(mutex_);
        verifier_ = protocol::WebhookVerifier::create(key).value();
    }

    /// The next webhook (in arrival order); nullopt after `timeout`.
    std::optional<protocol::WebhookEvent> next_event(std::chrono::milliseconds timeout = 10s) {
        std::unique_lock lock(mutex_);
        if (!changed_.wait_for(lock, timeout, [&] { return !events_.empty(); })) {
            return std::nullopt;
        }
        auto event = std::move(events_.front());
        events_.pop_front();
        return event;
    }

    std::vector<StreamLog> streams() const {
        const std::lock_guard lock(mutex_);
        return streams_;
    }

    bool wait_stream_closed(std::chrono::milliseconds timeout = 10s) {
        std::unique_lock lock(mutex_);
        return changed_.wait_for(lock, timeout, [&] {
            return !streams_.empty() && streams_.back().closed.has_value();
        });
    }

    /// Waits until stream `index` has received at least `frames` frames.
    bool wait_frames(std::size_t index, std::size_t frames,
                     std::chrono::milliseconds timeout = 10s) {
        std::unique_lock lock(mutex_);
        return changed_.wait_for(lock, timeout, [&] {
            return streams_.size() > index && streams_[index].frames.size() >= frames;
        });
    }

    int bad_signatures() const {
        const std::lock_guard lock(mutex_);
        return bad_signatures_;
    }

    bool close_streams_on_start = false;
    bool refuse_upgrades = false;

private:
    class StreamHandler final : public net::WsHandler {
    public:
        StreamHandler(FakeService& owner, std::size_t index) : owner_(owner), index_(index) {}

        void on_text(net::WsConnection& connection, std::string_view message) override {
            bool close = false;
            {
                const std::lock_guard lock(owner_.mutex_);
                owner_.streams_[index_].frames.emplace_back(message);
                owner_.changed_.notify_all();
                close = owner_.close_streams_on_start
                        && message.find("\"event\":\"start\"") != std::string_view::npos;
            }
            if (close) {
                connection.close(net::CloseCode::PolicyViolation, "bad stream token");
            }
        }

        void on_close(const net::WsCloseInfo& info) override {
            const std::lock_guard lock(owner_.mutex_);
            owner_.streams_[index_].closed = info;
            owner_.changed_.notify_all();
        }

    private:
        FakeService& owner_;
        std::size_t index_;
    };

    void on_webhook(net::Request request, net::Responder responder) {
        const std::lock_guard lock(mutex_);
        const auto now = std::chrono::time_point_cast<std::chrono::seconds>(
                std::chrono::system_clock::now());
        if (!verifier_
            || !verifier_->verify(request.header("telnyx-signature-ed25519"),
                                  request.header("telnyx-timestamp"), request.body, now)) {
            ++bad_signatures_;
            std::move(responder).send(net::Response::json_error(401, "bad_signature", "no"));
            return;
        }
        auto event = protocol::parse_webhook(request.body);
        EXPECT_TRUE(event.has_value()) << request.body;
        if (event) {
            events_.push_back(std::move(*event));
            changed_.notify_all();
        }
        std::move(responder).send(net::Response::json(200, R"({"status":"ok"})"));
    }

    net::WsAcceptResult accept_stream(const net::Request& upgrade) {
        if (refuse_upgrades) {
            return net::Response::json_error(401, "bad_token", "no");
        }
        const std::lock_guard lock(mutex_);
        StreamLog log;
        if (const auto token = upgrade.header("x-telnyx-streaming-auth-token")) {
            log.header_token = std::string(*token);
        }
        streams_.push_back(std::move(log));
        return std::make_unique<StreamHandler>(*this, streams_.size() - 1);
    }

    mutable std::mutex mutex_;
    std::condition_variable changed_;
    std::optional<protocol::WebhookVerifier> verifier_;
    std::deque<protocol::WebhookEvent> events_;
    std::vector<StreamLog> streams_;
    int bad_signatures_ = 0;
    std::unique_ptr<net::Server> server_;
};

class SimulatorTest : public ::testing::Test {
protected:
    SimulatorTest() {
        http::HttpClientOptions http_options;
        http_options.proxy = "";
        client_ = std::make_unique<http::HttpClient>(http_options);
        auto audio = std::make_shared<CallAudio>();
        audio->label = "speech-like";
        audio->samples_8k = test::speech_like_signal(1.0, 5);
        audio_ = audio;
    }

    SimulatorOptions options() const {
        SimulatorOptions o;
        o.webhook_url = service_.webhook_url();
        o.api_key = std::string(kApiKey);
        o.speed = 20.0;
        o.id_seed = 7;
        std::array<std::uint8_t, 32> seed{};
        seed.fill(9);
        o.signing_seed = seed;
        o.delivery.first_retry_delay = 10ms;
        o.linger_after_audio = 50ms;
        o.ring_time = 10ms;
        return o;
    }

    void start(SimulatorOptions o) {
        sim_ = std::make_unique<Simulator>(std::move(o));
        ASSERT_TRUE(sim_->start().has_value());
        service_.set_public_key(sim_->public_key_base64());
    }

    http::HttpResponse post(const protocol::CommandRequest& command,
                            std::string_view key = kApiKey) {
        http::HttpRequest request;
        request.method = "POST";
        request.url = sim_->api_base() + command.path;
        request.body = command.body;
        request.headers.add("Content-Type", "application/json");
        if (!key.empty()) {
            request.headers.add("Authorization", "Bearer " + std::string(key));
        }
        auto response = client_->send(request);
        EXPECT_TRUE(response.has_value()) << (response ? "" : response.error().message);
        return response ? *response : http::HttpResponse{};
    }

    /// Answers call `id` and starts its stream to the fake service (command id `stream_id`).
    void answer_and_stream(const std::string& id, const std::string& stream_id) {
        protocol::AnswerCommand answer;
        answer.command_id = "a";
        EXPECT_EQ(post(protocol::build_answer(id, answer).value()).status, 200);
        stream_again(id, stream_id);
    }

    /// streaming_start to the fake service (command id `stream_id`).
    void stream_again(const std::string& id, const std::string& stream_id) {
        protocol::StreamingStartCommand stream;
        stream.command_id = stream_id;
        stream.stream.stream_url = service_.media_url();
        EXPECT_EQ(post(protocol::build_streaming_start(id, stream).value()).status, 200);
    }

    /// POST to the simulator's control API (`path` from "/_sim/").
    http::HttpResponse post_control(const std::string& path) {
        http::HttpRequest request;
        request.method = "POST";
        request.url = fmt::format("http://127.0.0.1:{}{}", sim_->port(), path);
        auto response = client_->send(request);
        EXPECT_TRUE(response.has_value());
        return response ? *response : http::HttpResponse{};
    }

    http::HttpResponse get(const std::string& url) {
        http::HttpRequest request;
        request.url = url;
        request.headers.add("Authorization", "Bearer " + std::string(kApiKey));
        auto response = client_->send(request);
        EXPECT_TRUE(response.has_value());
        return response ? *response : http::HttpResponse{};
    }

    /// Waits for an event of `type`, collecting the types of all events seen on the way.
    std::optional<protocol::WebhookEvent> expect_event(std::string_view type) {
        while (auto event = service_.next_event()) {
            seen_.push_back(event->event_type);
            if (event->event_type == type) {
                return event;
            }
        }
        ADD_FAILURE() << "no " << type
                      << " webhook; seen: " << fmt::format("{}", fmt::join(seen_, ","));
        return std::nullopt;
    }

    FakeService service_;
    std::unique_ptr<Simulator> sim_;
    std::unique_ptr<http::HttpClient> client_;
    std::shared_ptr<const CallAudio> audio_;
    std::vector<std::string> seen_;
};

TEST_F(SimulatorTest, InboundCallIsAnsweredStreamedRecordedAndHungUp) {
    start(options());
    auto handle = sim_->place_inbound_call(CallSpec{audio_});
    ASSERT_TRUE(handle.has_value());

    const auto initiated = expect_event("call.initiated");
    ASSERT_TRUE(initiated);
    EXPECT_EQ(initiated->call_control_id, handle->call_control_id);
    EXPECT_EQ(initiated->direction, "incoming");
    EXPECT_EQ(initiated->state, "parked");
    EXPECT_EQ(initiated->shaken_stir_attestation, "A");
    const std::string id = initiated->call_control_id;

    protocol::AnswerCommand answer;
    answer.command_id = "cmd-answer";
    EXPECT_EQ(post(protocol::build_answer(id, answer).value()).status, 200);
    // A retry of the same command (same command_id) changes nothing.
    EXPECT_EQ(post(protocol::build_answer(id, answer).value()).status, 200);
    ASSERT_TRUE(expect_event("call.answered"));

    protocol::SpeakCommand speak;
    speak.command_id = "cmd-speak";
    speak.payload = "This call is analysed.";
    speak.voice = "female";
    speak.service_level = protocol::ServiceLevel::Basic;
    EXPECT_EQ(post(protocol::build_speak(id, speak).value()).status, 200);
    protocol::StreamingStartCommand stream;
    stream.command_id = "cmd-stream";
    stream.stream.stream_url = service_.media_url();
    stream.stream.track = protocol::StreamTrack::InboundTrack;
    stream.stream_auth_token = std::string(kStreamToken);
    EXPECT_EQ(post(protocol::build_streaming_start(id, stream).value()).status, 200);
    protocol::RecordStartCommand record;
    record.command_id = "cmd-record";
    EXPECT_EQ(post(protocol::build_record_start(id, record).value()).status, 200);

    const auto saved = expect_event("call.recording.saved");
    ASSERT_TRUE(saved);
    const auto summary = handle->wait_for(10s);
    ASSERT_TRUE(summary.has_value());

    // Webhooks: every one verified, in a sensible order.
    EXPECT_EQ(service_.bad_signatures(), 0);
    for (const char* type : {"call.speak.started", "streaming.started", "call.speak.ended",
                             "streaming.stopped", "call.hangup"}) {
        EXPECT_NE(std::find(seen_.begin(), seen_.end(), type), seen_.end()) << type;
    }
    EXPECT_EQ(seen_.back(), "call.recording.saved");
    EXPECT_EQ(*(seen_.end() - 2), "call.hangup");
    EXPECT_EQ(std::count(seen_.begin(), seen_.end(), "call.answered"), 1);

    // The summary.
    EXPECT_TRUE(summary->completed);
    EXPECT_EQ(summary->actions(), (std::vector<std::string>{"answer", "answer", "speak",
                                                            "streaming_start", "record_start"}));
    EXPECT_TRUE(summary->commands[1].duplicate);
    EXPECT_EQ(summary->frames_sent, 50U);  // 1 s of 20 ms frames
    EXPECT_EQ(summary->stream_end, "audio_done");
    EXPECT_EQ(summary->hangup_cause, "normal_clearing");
    EXPECT_EQ(summary->hangup_source, "caller");
    for (const EventRecord& e : summary->events) {
        EXPECT_TRUE(e.delivered) << e.event_type;
    }
    EXPECT_EQ(sim_->commands(id).size(), 5U);

    // The stream: token in the upgrade and in `connected`, then start, 50 media frames, stop.
    ASSERT_TRUE(service_.wait_stream_closed());
    const auto streams = service_.streams();
    ASSERT_EQ(streams.size(), 1U);
    EXPECT_EQ(streams[0].header_token, kStreamToken);
    EXPECT_EQ(streams[0].closed->code, 1000);
    const auto& frames = streams[0].frames;
    ASSERT_EQ(frames.size(), 53U);
    const auto connected = std::get<protocol::ConnectedMessage>(
            protocol::parse_inbound_message(frames[0]).value());
    EXPECT_EQ(connected.auth_token, kStreamToken);
    const auto start_frame =
            std::get<protocol::StartMessage>(protocol::parse_inbound_message(frames[1]).value());
    EXPECT_EQ(start_frame.call_control_id, id);
    EXPECT_EQ(start_frame.media_format.encoding, "PCMU");
    auto decoder = codec::MediaDecoder::create("PCMU", 8000).value();
    std::vector<float> decoded;
    for (std::size_t i = 2; i < 52; ++i) {
        const auto media = std::get<protocol::MediaMessage>(
                protocol::parse_inbound_message(frames[i]).value());
        EXPECT_EQ(media.sequence_number, i);
        ASSERT_TRUE(decoder.decode(media.payload, decoded).has_value());
    }
    ASSERT_EQ(decoded.size(), audio_->samples_8k.size());
    for (std::size_t i = 0; i < decoded.size(); ++i) {
        ASSERT_LE(std::fabs(decoded[i] - audio_->samples_8k[i]),
                  std::fabs(audio_->samples_8k[i]) / 16.0F + 40.0F / 32768.0F);
    }
    EXPECT_TRUE(std::holds_alternative<protocol::StopMessage>(
            protocol::parse_inbound_message(frames[52]).value()));

    // The recording it announced is served.
    ASSERT_TRUE(saved->recording_urls.wav.has_value());
    const auto wav = get(*saved->recording_urls.wav);
    EXPECT_EQ(wav.status, 200);
    EXPECT_EQ(wav.body.substr(0, 4), "RIFF");
    EXPECT_EQ(wav.body.size(), 44U + 2U * audio_->samples_8k.size());
    // Only with its signature, like a pre-signed S3 URL.
    const std::string& url = *saved->recording_urls.wav;
    const auto unsigned_url = url.substr(0, url.find('?'));
    const auto refused = get(unsigned_url);
    EXPECT_EQ(refused.status, 403);
    EXPECT_NE(refused.body.find("<Code>SignatureDoesNotMatch</Code>"), std::string::npos);
    EXPECT_EQ(get(unsigned_url + "?X-Amz-Signature=forged").status, 403);

    // Commands on the ended call: 422 90018.
    protocol::HangupCommand hangup;
    hangup.command_id = "cmd-hangup";
    const auto late = post(protocol::build_hangup(id, hangup).value());
    EXPECT_EQ(late.status, 422);
    EXPECT_EQ(protocol::classify_command_response(late.status, late.body),
              protocol::CommandOutcome::CallEnded);
}

TEST_F(SimulatorTest, ApiRefusesLikeTelnyx) {
    auto o = options();
    o.answer_timeout = 50ms;  // the call ends unanswered at once
    start(o);
    auto handle = sim_->place_inbound_call(CallSpec{audio_});
    ASSERT_TRUE(handle.has_value());
    const std::string id = handle->call_control_id;

    protocol::HangupCommand hangup;
    hangup.command_id = "x";
    // No or wrong credentials: 401 10009.
    auto response = post(protocol::build_hangup(id, hangup).value(), "");
    EXPECT_EQ(response.status, 401);
    EXPECT_TRUE(protocol::parse_error_response(response.body)->has_code("10009"));
    response = post(protocol::build_hangup(id, hangup).value(), "KEY_wrong");
    EXPECT_EQ(response.status, 401);
    // Unknown call: 404 with an errors array.
    response = post(protocol::build_hangup("v3:nope", hangup).value());
    EXPECT_EQ(response.status, 404);
    EXPECT_TRUE(protocol::parse_error_response(response.body).has_value());
    // Bad body: 422 with a pointer.
    response = post(protocol::CommandRequest{"POST", protocol::call_action_path(id, "speak"),
                                             R"({"voice":"female","command_id":"s"})"});
    EXPECT_EQ(response.status, 422);
    EXPECT_EQ(protocol::parse_error_response(response.body)->errors.at(0).source_pointer,
              "/payload");
    // Unknown action.
    response = post(
            protocol::CommandRequest{"POST", protocol::call_action_path(id, "fork_start"), "{}"});
    EXPECT_EQ(response.status, 404);

    const auto summary = handle->wait_for(10s);
    ASSERT_TRUE(summary.has_value());
    EXPECT_EQ(summary->hangup_cause, "originator_cancel");
    // Ended: 422 90018; GET shows it dead.
    response = post(protocol::build_hangup(id, hangup).value());
    EXPECT_EQ(response.status, 422);
    EXPECT_TRUE(protocol::parse_error_response(response.body)->call_already_ended());
    response = get(sim_->api_base() + "/calls/" + id);
    EXPECT_EQ(response.status, 200);
    // The body parses as Telnyx's "Retrieve a call status" reply.
    const auto status = protocol::parse_call_status(response.body);
    ASSERT_TRUE(status) << response.body;
    EXPECT_FALSE(status->is_alive);
    EXPECT_EQ(status->call_control_id, id);
    EXPECT_TRUE(status->call_duration_s.has_value());
    EXPECT_FALSE(status->end_time.empty());
    EXPECT_EQ(get(sim_->api_base() + "/calls/v3:unknown").status, 404);
    EXPECT_EQ(sim_->unmatched_commands().size(), 4U);  // 2 x 401, unknown call, unknown action
}

TEST_F(SimulatorTest, InjectedFailuresAnswerWithTheGivenStatus) {
    start(options());
    auto handle = sim_->place_inbound_call(CallSpec{audio_});
    ASSERT_TRUE(handle.has_value());
    sim_->inject_command_failure("answer", 503, 1);
    protocol::AnswerCommand answer;
    answer.command_id = "retry-me";
    EXPECT_EQ(post(protocol::build_answer(handle->call_control_id, answer).value()).status, 503);
    EXPECT_EQ(post(protocol::build_answer(handle->call_control_id, answer).value()).status, 200);
    ASSERT_TRUE(expect_event("call.answered"));
}

TEST_F(SimulatorTest, ServiceClosingTheStreamIsRecordedAndTheCallStillEnds) {
    service_.close_streams_on_start = true;
    start(options());
    auto handle = sim_->place_inbound_call(CallSpec{audio_});
    ASSERT_TRUE(handle.has_value());
    const std::string id = handle->call_control_id;
    protocol::AnswerCommand answer;
    answer.command_id = "a";
    answer.stream = protocol::StreamOptions{service_.media_url()};
    EXPECT_EQ(post(protocol::build_answer(id, answer).value()).status, 200);
    const auto summary = handle->wait_for(10s);
    ASSERT_TRUE(summary.has_value());
    EXPECT_EQ(summary->stream_end, "closed_by_service");
    EXPECT_EQ(summary->stream_close_code, 1008);
    EXPECT_EQ(summary->stream_close_reason, "bad stream token");
    EXPECT_EQ(summary->hangup_cause, "normal_clearing");
}

// A network failure cut in by the control API: the service sees the connection vanish (no
// `stop`, no close frame) and gets streaming.stopped; a new streaming_start picks the caller up.
TEST_F(SimulatorTest, DroppedStreamVanishesAndCanBeStartedAgain) {
    SimulatorOptions o = options();
    o.speed = 4.0;
    start(o);
    auto audio = std::make_shared<CallAudio>();
    audio->label = "speech-like 4 s";
    audio->samples_8k = test::speech_like_signal(4.0, 5);
    auto handle = sim_->place_inbound_call(CallSpec{audio});
    ASSERT_TRUE(handle.has_value());
    const std::string id = handle->call_control_id;
    EXPECT_EQ(post_control("/_sim/drop-stream/" + id).status, 409) << "not streamed yet";
    EXPECT_EQ(post_control("/_sim/drop-stream/v3:nope").status, 404);
    answer_and_stream(id, "s1");
    ASSERT_TRUE(service_.wait_frames(0, 12));  // connected, start, 10 media frames

    EXPECT_EQ(post_control("/_sim/drop-stream/" + id).status, 200);
    ASSERT_TRUE(service_.wait_stream_closed());
    ASSERT_TRUE(expect_event("streaming.stopped"));
    {
        const auto streams = service_.streams();
        ASSERT_EQ(streams.size(), 1U);
        EXPECT_EQ(streams[0].closed->code, 1006);
        EXPECT_TRUE(streams[0].closed->by_peer);
        for (const std::string& frame : streams[0].frames) {
            EXPECT_EQ(frame.find("\"event\":\"stop\""), std::string::npos);
        }
    }

    std::this_thread::sleep_for(250ms);  // 1 s of the caller's audio (speed 4), unheard
    stream_again(id, "s2");
    const auto summary = handle->wait_for(10s);
    ASSERT_TRUE(summary.has_value());
    EXPECT_EQ(summary->streams, 2U);
    EXPECT_EQ(summary->stream_drops, 1U);
    EXPECT_EQ(summary->stream_end, "audio_done");
    EXPECT_EQ(summary->hangup_cause, "normal_clearing");
    // The caller talked on while unheard: the two streams carry at least 50 frames fewer than
    // the audio's 200.
    EXPECT_LE(summary->frames_sent, 150U);
    EXPECT_GE(summary->frames_sent, 10U);
    const auto streams = service_.streams();
    ASSERT_EQ(streams.size(), 2U);
    ASSERT_TRUE(streams[1].closed.has_value());
    EXPECT_EQ(streams[1].closed->code, 1000);
}

TEST_F(SimulatorTest, RecordingUrlsExpireLikeTelnyxs) {
    auto o = options();
    o.recording_url_lifetime = 300ms;
    start(o);
    auto handle = sim_->place_inbound_call(CallSpec{audio_});
    ASSERT_TRUE(handle.has_value());
    const std::string id = handle->call_control_id;
    protocol::AnswerCommand answer;
    answer.command_id = "a";
    answer.stream = protocol::StreamOptions{service_.media_url()};
    answer.record = protocol::RecordFromAnswer{};
    EXPECT_EQ(post(protocol::build_answer(id, answer).value()).status, 200);
    const auto saved = expect_event("call.recording.saved");
    ASSERT_TRUE(saved && saved->recording_urls.wav);
    EXPECT_NE(saved->recording_urls.wav->find("X-Amz-Expires=1&"), std::string::npos);
    EXPECT_EQ(get(*saved->recording_urls.wav).status, 200);
    std::this_thread::sleep_for(350ms);
    const auto expired = get(*saved->recording_urls.wav);
    EXPECT_EQ(expired.status, 403);
    EXPECT_NE(expired.body.find("<Message>Request has expired</Message>"), std::string::npos);
}

TEST_F(SimulatorTest, RefusedUpgradeGivesStreamingFailed) {
    service_.refuse_upgrades = true;
    start(options());
    auto handle = sim_->place_inbound_call(CallSpec{audio_});
    ASSERT_TRUE(handle.has_value());
    protocol::AnswerCommand answer;
    answer.command_id = "a";
    answer.stream = protocol::StreamOptions{service_.media_url()};
    EXPECT_EQ(post(protocol::build_answer(handle->call_control_id, answer).value()).status, 200);
    const auto failed = expect_event("streaming.failed");
    ASSERT_TRUE(failed);
    EXPECT_EQ(failed->failure_reason, "connection_failed");
    const auto summary = handle->wait_for(10s);
    ASSERT_TRUE(summary.has_value());
    EXPECT_EQ(summary->stream_end, "connect_failed");
}

TEST_F(SimulatorTest, UnreachableStreamUrlGivesStreamingFailed) {
    start(options());
    auto handle = sim_->place_inbound_call(CallSpec{audio_});
    ASSERT_TRUE(handle.has_value());
    protocol::AnswerCommand answer;
    answer.command_id = "a";
    answer.stream = protocol::StreamOptions{"ws://127.0.0.1:1/media"};  // nothing listens
    EXPECT_EQ(post(protocol::build_answer(handle->call_control_id, answer).value()).status, 200);
    const auto failed = expect_event("streaming.failed");
    ASSERT_TRUE(failed);
    EXPECT_EQ(failed->stream_url, "ws://127.0.0.1:1/media");
    const auto summary = handle->wait_for(10s);
    ASSERT_TRUE(summary.has_value());
    EXPECT_EQ(summary->stream_end, "connect_failed");
    EXPECT_EQ(summary->hangup_cause, "normal_clearing");  // the caller still hangs up
}

TEST_F(SimulatorTest, InjectedConnectFailureGivesStreamingFailedOnceThenStreams) {
    SimulatorOptions o = options();
    o.fail_stream_connects = 1;
    o.speed = 4.0;
    start(o);
    auto handle = sim_->place_inbound_call(CallSpec{audio_});
    ASSERT_TRUE(handle.has_value());
    const std::string id = handle->call_control_id;
    answer_and_stream(id, "s1");
    const auto failed = expect_event("streaming.failed");
    ASSERT_TRUE(failed);
    EXPECT_EQ(failed->failure_reason, "connection_failed");
    EXPECT_TRUE(service_.streams().empty()) << "nothing reached the service";
    stream_again(id, "s2");
    const auto summary = handle->wait_for(10s);
    ASSERT_TRUE(summary.has_value());
    EXPECT_EQ(summary->streams, 2U);
    EXPECT_EQ(service_.streams().size(), 1U);
    EXPECT_GT(summary->frames_sent, 0U);
}

TEST_F(SimulatorTest, DialCreatesAnOutboundCallThatStreams) {
    auto o = options();
    o.outbound_audio = audio_;
    start(o);
    protocol::DialCommand dial;
    dial.command_id = "dial-1";
    dial.to = "+13125550142";
    dial.from = "+13125550100";
    dial.connection_id = "1494404757140276705";
    dial.stream = protocol::StreamOptions{service_.media_url()};
    const auto response = post(protocol::build_dial(dial).value());
    ASSERT_EQ(response.status, 200) << response.body;
    const auto ids = protocol::parse_dial_result(response.body);
    ASSERT_TRUE(ids.has_value());
    // The same dial again (a retry) is de-duplicated: same call.
    const auto again = post(protocol::build_dial(dial).value());
    EXPECT_EQ(protocol::parse_dial_result(again.body)->call_control_id, ids->call_control_id);

    const auto initiated = expect_event("call.initiated");
    ASSERT_TRUE(initiated);
    EXPECT_EQ(initiated->direction, "outgoing");
    EXPECT_EQ(initiated->call_control_id, ids->call_control_id);
    ASSERT_TRUE(expect_event("call.answered"));
    const auto handle = sim_->handle(ids->call_control_id);
    ASSERT_TRUE(handle.has_value());
    const auto summary = handle->wait_for(10s);
    ASSERT_TRUE(summary.has_value());
    EXPECT_EQ(summary->direction, "outgoing");
    EXPECT_EQ(summary->frames_sent, 50U);
    EXPECT_EQ(summary->hangup_source, "callee");
    EXPECT_EQ(summary->actions(), (std::vector<std::string>{"dial", "dial"}));
}

TEST_F(SimulatorTest, StopResolvesCallsInProgress) {
    start(options());
    auto handle = sim_->place_inbound_call(CallSpec{audio_});
    ASSERT_TRUE(handle.has_value());
    sim_->stop();
    const auto summary = handle->wait_for(1s);
    ASSERT_TRUE(summary.has_value());
    EXPECT_FALSE(summary->completed);
    EXPECT_FALSE(sim_->place_inbound_call(CallSpec{audio_}).has_value());
    sim_->stop();  // idempotent
}

TEST(SimulatorOptions, Validate) {
    SimulatorOptions o;
    o.webhook_url = "http://127.0.0.1:5000/webhooks/voice";
    EXPECT_TRUE(validate(o).has_value());
    o.speed = 0.0;
    EXPECT_FALSE(validate(o).has_value());
    o.speed = 1.0;
    o.webhook_url = "ftp://x";
    EXPECT_FALSE(validate(o).has_value());
}

// Every call in flight can end before the service fetches any recording: the simulator keeps
// that many on top of the default (simulate and serve's demo size it so).
TEST(RecordingsToKeep, CoversEveryCallInFlightOnTopOfTheDefault) {
    EXPECT_EQ(recordings_to_keep(1), SimulatorOptions{}.max_recordings + 1);
    EXPECT_EQ(recordings_to_keep(200), SimulatorOptions{}.max_recordings + 200);
    EXPECT_EQ(recordings_to_keep(0), SimulatorOptions{}.max_recordings);
    EXPECT_EQ(recordings_to_keep(-3), SimulatorOptions{}.max_recordings);
}

}  // namespace
}  // namespace dvd::sim
