#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/timestamp.hpp"
#include "sim/api_reply.hpp"
#include "sim/call_audio.hpp"
#include "sim/command_validation.hpp"
#include "sim/ids.hpp"
#include "sim/media_frames.hpp"
#include "sim/media_streamer.hpp"
#include "sim/webhook_events.hpp"

namespace dvd::sim {

/// One command as the simulated API received it (for tests and summaries).
struct CommandRecord {
    std::string action;       ///< "answer", ..., "dial"
    std::string command_id;   ///< "" when the body had none
    std::string body;         ///< raw request body
    int http_status = 0;      ///< what the simulator answered
    std::string error_code;   ///< first `errors[].code` of a refusal, "" on success
    bool duplicate = false;   ///< same command_id within 60 s: answered, no second effect
    std::string received_at;  ///< RFC 3339
};

/// One webhook event and how its delivery went.
struct EventRecord {
    std::string event_type;
    std::string event_id;
    int attempts = 0;
    int http_status = 0;      ///< of the last attempt; 0 when no HTTP reply came
    bool delivered = false;   ///< a 2xx came back
    bool duplicated = false;  ///< delivered a second time on purpose (fault injection)
    bool held_back = false;   ///< delivered after a later event on purpose (fault injection)
    std::string error{};
};

/// Everything the simulator knows about one call, for tests and the `simulate` summary.
struct CallSummary {
    std::string call_control_id;
    std::string call_leg_id;
    std::string call_session_id;
    std::string direction;  ///< incoming | outgoing
    std::string from;
    std::string to;
    std::string audio_label;
    std::vector<CommandRecord> commands{};
    std::vector<EventRecord> events{};  ///< in the order deliveries finished
    bool answered = false;
    bool streamed = false;  ///< a stream was started (answer/dial stream_url or streaming_start)
    std::string stream_url{};
    std::string stream_encoding{};  ///< PCMU | PCMA | L16
    std::uint32_t streams = 0;      ///< streams started (a stream started again counts again)
    std::uint32_t stream_drops = 0;  ///< streams cut by Simulator::drop_stream
    std::string stream_end{};       ///< to_string(StreamEnd), or "connect_failed"
    std::uint64_t frames_sent = 0;  ///< inbound media frames
    std::uint64_t outbound_frames_sent = 0;
    std::uint64_t service_messages = 0;      ///< frames the service sent on the stream
    std::optional<int> stream_close_code{};  ///< when the service closed the stream
    std::string stream_close_reason{};
    std::vector<std::string> recording_urls{};
    std::string hangup_cause{};
    std::string hangup_source{};
    std::vector<std::string> errors{};  ///< deviations worth a look (service or simulator side)
    bool ended = false;
    bool completed = false;  ///< ended, stream finished, every webhook delivered or given up

    /// Actions in arrival order, e.g. {"answer", "speak", "streaming_start", "record_start"}.
    [[nodiscard]] std::vector<std::string> actions() const;
};

/// Timers a call asks its owner to run; they come back through CallScenario::on_timer.
enum class TimerKind {
    AnswerTimeout,  ///< an incoming call nobody answered: the caller gives up
    StreamWait,     ///< answered but never streamed: the caller hangs up
    SpeakEnded,
    PlaybackEnded,
    PartyHangup,  ///< the remote party (caller, or callee of a dial) hangs up
    Ring,         ///< a dialled call is answered by the far end
};

struct TimerRequest {
    TimerKind kind = TimerKind::Ring;
    std::chrono::nanoseconds delay{0};
    std::uint64_t token = 0;
};

/// A stream to run on its own thread.
struct StreamStart {
    std::string url;
    std::string track;  ///< as the command said (inbound_track, ...)
    TrackSelection tracks{};
    StreamIdentity identity{};
    /// The caller's position in their audio, in 20 ms frames: a stream started again in the
    /// middle of a call (after the application lost the first one) picks up the caller where
    /// they are, as a phone network would; 0 for the call's first stream.
    std::size_t first_frame = 0;
};

/// What the owner of a call must do after an input: deliver webhooks (in order), start or stop
/// the stream, run timers, and store a recording's WAV under its URL.
struct Effects {
    std::vector<OutgoingWebhook> webhooks{};
    std::optional<StreamStart> start_stream{};
    bool stop_stream = false;
    bool drop_stream = false;  ///< cut the live stream's connection (StreamSignal::Drop)
    std::vector<TimerRequest> timers{};
    std::optional<RecordingFacts> save_recording{};
};

/// Settings shared by the calls of one simulator.
struct ScenarioSettings {
    double speed = 1.0;  ///< audio, speech and playback run this much faster than real time
    std::chrono::milliseconds answer_timeout{30'000};        ///< real time
    std::chrono::milliseconds stream_start_timeout{10'000};  ///< after answer, real time
    std::chrono::milliseconds linger_after_audio{500};       ///< caller stays on after speaking
    std::chrono::milliseconds ring_time{300};                ///< dial: initiated -> answered
    std::string default_webhook_url{};
    std::string recording_base_url{};            ///< "http://127.0.0.1:<port>/recordings/"
    /// How long a recording URL is valid (Telnyx: 10 minutes); shown as X-Amz-Expires.
    std::chrono::seconds recording_url_lifetime{600};
    std::chrono::seconds command_id_window{60};  ///< Telnyx ignores a repeated command_id
};

/// The Telnyx side of one call leg as a pure state machine: inputs are commands (already
/// validated), stream outcomes, timers and delivery results, each with the current time;
/// outputs are the API reply and `Effects`. Mirrors telnyx-protocol.md sections 1-3: incoming
/// call.initiated (parked) -> answer -> call.answered; speak -> call.speak.started/ended;
/// streaming_start -> streaming.started + stream -> streaming.stopped; the caller hangs up after
/// its audio: call.hangup (+ call.recording.saved when recording). Commands on an ended call get
/// 422 90018; speak/streaming/record/playback/transfer before answer get 422 90034; a second
/// streaming_start while streaming gets 422 90045 (the simulator's choice: Telnyx documents
/// only one stream per call). A repeated command_id within 60 s is answered like the first,
/// with no second effect.
/// Not thread-safe: its owner serialises calls (the simulator holds a mutex).
class CallScenario {
public:
    CallScenario(CallFacts facts, std::shared_ptr<const CallAudio> audio, ScenarioSettings settings,
                 IdGenerator& ids);

    /// Incoming: call.initiated + the answer timeout. Outgoing (dial): call.initiated and, after
    /// ring_time, the answer; `dial` carries the stream/record options of the dial body.
    [[nodiscard]] Effects start(protocol::UtcMicros now,
                                const std::optional<ValidatedCommand>& dial = std::nullopt);

    struct CommandResult {
        ApiReply reply;
        Effects effects;
    };

    /// A validated command for this call; records it in the summary.
    [[nodiscard]] CommandResult on_command(const ValidatedCommand& command, std::string_view body,
                                           protocol::UtcMicros now);

    /// Records a command answered outside the state machine: refused before it (invalid body,
    /// injected fault; noted in `errors`) or the dial that created this call.
    void record_command(std::string_view action, std::string_view command_id, std::string_view body,
                        const ApiReply& reply, protocol::UtcMicros now, bool duplicate = false);

    /// The stream could not connect (or its audio could not be encoded): streaming.failed.
    [[nodiscard]] Effects on_stream_failed(std::string_view reason, std::string_view detail,
                                           protocol::UtcMicros now);

    /// The stream thread finished: streaming.stopped, and the hang-up after the audio. The report
    /// of a dropped stream only adds its counts (on_stream_dropped reported the rest, and a new
    /// stream may be live by now).
    [[nodiscard]] Effects on_stream_ended(const StreamReport& report, protocol::UtcMicros now);

    /// Fault injection: the network between Telnyx and the application fails mid-stream. The
    /// stream's connection is cut (no `stop` frame, no close frame) and `streaming.stopped`
    /// goes out (which event Telnyx sends for a lost stream is not documented; the service
    /// treats both alike). The caller talks on, and a new `streaming_start` picks them up where
    /// they are. nullopt when no stream is live.
    [[nodiscard]] std::optional<Effects> on_stream_dropped(protocol::UtcMicros now);

    [[nodiscard]] Effects on_timer(TimerKind kind, std::uint64_t token, protocol::UtcMicros now);

    /// One webhook's delivery finished (delivered or given up).
    void on_delivery(const EventRecord& record);

    /// A note for the summary (e.g. a recording that could not be stored).
    void add_error(std::string message) { summary_.errors.push_back(std::move(message)); }

    [[nodiscard]] bool is_ended() const { return ended_; }

    /// When the call ended (call.hangup); nullopt while it is up.
    [[nodiscard]] std::optional<protocol::UtcMicros> ended_at() const { return ended_at_; }

    [[nodiscard]] bool stream_active() const { return stream_active_; }

    [[nodiscard]] std::size_t pending_deliveries() const { return pending_deliveries_; }

    [[nodiscard]] const CallFacts& facts() const { return facts_; }

    [[nodiscard]] const std::shared_ptr<const CallAudio>& audio() const { return audio_; }

    [[nodiscard]] const CallSummary& summary() const { return summary_; }

    /// Marks the summary complete (the owner decides: ended, stream joined, no deliveries left).
    void mark_completed() { summary_.completed = true; }

private:
    enum class Phase { Parked, Ringing, Answered, Ended };

    struct Recording {
        std::string id;
        std::string format;
        std::string channels;
        protocol::UtcMicros started_at{};
    };

    void webhook(Effects& fx, std::string event_type, std::string payload, protocol::UtcMicros now);
    void timer(Effects& fx, TimerKind kind, std::chrono::nanoseconds delay);
    /// Real time until the caller has said all of their audio (0 once said).
    [[nodiscard]] std::chrono::nanoseconds unspoken_audio(protocol::UtcMicros now) const;
    /// (Re)sets the caller's hang-up: `linger_after_audio` after `unspoken` more audio.
    void hang_up_after(Effects& fx, std::chrono::nanoseconds unspoken);
    void cancel_timers(TimerKind kind);
    std::chrono::nanoseconds scaled(std::chrono::nanoseconds media_time) const;
    void answer_now(Effects& fx, const std::optional<StreamRequest>& stream,
                    const std::optional<RecordRequest>& record, protocol::UtcMicros now);
    void start_stream(Effects& fx, const StreamRequest& stream, protocol::UtcMicros now);
    void start_recording(const RecordRequest& record, protocol::UtcMicros now);
    void save_recording(Effects& fx, protocol::UtcMicros now);
    void end_call(Effects& fx, std::string_view cause, std::string_view source,
                  protocol::UtcMicros now);
    [[nodiscard]] std::string_view party_source() const;
    [[nodiscard]] ApiReply handle(const ValidatedCommand& command, Effects& fx,
                                  protocol::UtcMicros now);

    CallFacts facts_;
    std::shared_ptr<const CallAudio> audio_;
    ScenarioSettings settings_;
    IdGenerator& ids_;
    CallSummary summary_;
    Phase phase_ = Phase::Parked;
    bool ended_ = false;
    std::string webhook_url_;
    std::string user_id_;
    // Streaming.
    bool stream_active_ = false;
    std::string stream_id_;
    std::string stream_track_;
    protocol::UtcMicros stream_started_at_{};
    /// When the call's first stream started: the caller's audio runs from here, whatever
    /// happens to the streams.
    std::optional<protocol::UtcMicros> speech_started_at_;
    std::optional<protocol::UtcMicros> ended_at_;
    // Recording, speech and playback in progress.
    std::optional<Recording> recording_;
    int speaks_pending_ = 0;
    std::vector<std::string> playbacks_;  ///< media of playbacks not yet ended
    protocol::UtcMicros speak_busy_until_{};
    std::optional<ValidatedCommand> dial_;
    // command_id -> (time, reply): Telnyx ignores a repeat within the window.
    std::map<std::string, std::pair<protocol::UtcMicros, ApiReply>> seen_commands_;
    std::map<std::uint64_t, TimerKind> live_timers_;  // token -> kind; fired or cancelled: gone
    std::uint64_t next_timer_token_ = 1;
    std::size_t pending_deliveries_ = 0;
};

}  // namespace dvd::sim
