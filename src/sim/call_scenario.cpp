#include "sim/call_scenario.hpp"

#include <algorithm>
#include <cmath>
#include <utility>

#include <fmt/format.h>

namespace dvd::sim {
namespace {

using std::chrono::nanoseconds;

// A rough speaking rate for call.speak.ended: ~15 characters per second, at least 0.5 s.
constexpr std::chrono::milliseconds kSpeakPerChar{65};
constexpr std::chrono::milliseconds kMinSpeak{500};
constexpr std::chrono::milliseconds kPlaybackDuration{2000};

struct Refusal {
    int status;
    TelnyxError error;
};

ApiReply refuse(const Refusal& r) {
    return error_reply(r.status, {r.error});
}

}  // namespace

std::vector<std::string> CallSummary::actions() const {
    std::vector<std::string> out;
    out.reserve(commands.size());
    for (const CommandRecord& c : commands) {
        out.push_back(c.action);
    }
    return out;
}

CallScenario::CallScenario(CallFacts facts, std::shared_ptr<const CallAudio> audio,
                           ScenarioSettings settings, IdGenerator& ids)
    : facts_(std::move(facts)),
      audio_(std::move(audio)),
      settings_(std::move(settings)),
      ids_(ids),
      webhook_url_(settings_.default_webhook_url),
      user_id_(ids.uuid()) {
    summary_.call_control_id = facts_.call_control_id;
    summary_.call_leg_id = facts_.call_leg_id;
    summary_.call_session_id = facts_.call_session_id;
    summary_.direction = facts_.direction;
    summary_.from = facts_.from;
    summary_.to = facts_.to;
    summary_.audio_label = audio_ ? audio_->label : std::string("(silence)");
}

Effects CallScenario::start(protocol::UtcMicros now, const std::optional<ValidatedCommand>& dial) {
    Effects fx;
    if (facts_.direction == "incoming") {
        phase_ = Phase::Parked;
        webhook(fx, "call.initiated", call_initiated_payload(facts_), now);
        timer(fx, TimerKind::AnswerTimeout, settings_.answer_timeout);
        return fx;
    }
    phase_ = Phase::Ringing;
    dial_ = dial;
    if (dial_) {
        if (dial_->webhook_url) {
            webhook_url_ = *dial_->webhook_url;
        }
        if (dial_->client_state) {
            facts_.client_state = dial_->client_state;
        }
    }
    webhook(fx, "call.initiated", call_initiated_payload(facts_), now);
    timer(fx, TimerKind::Ring, settings_.ring_time);
    return fx;
}

CallScenario::CommandResult CallScenario::on_command(const ValidatedCommand& command,
                                                     std::string_view body,
                                                     protocol::UtcMicros now) {
    CommandRecord record{std::string(to_string(command.action)),
                         command.command_id,
                         std::string(body),
                         0,
                         "",
                         false,
                         protocol::format_utc_timestamp(now)};
    if (!command.command_id.empty()) {
        const auto seen = seen_commands_.find(command.command_id);
        if (seen != seen_commands_.end()
            && now - seen->second.first <= settings_.command_id_window) {
            record.duplicate = true;
            record.http_status = seen->second.second.status;
            summary_.commands.push_back(std::move(record));
            return {seen->second.second, Effects{}};
        }
    } else {
        summary_.errors.push_back(fmt::format(
                "{} without command_id: Telnyx cannot de-duplicate a retry", record.action));
    }
    if (!command.ignored_fields.empty()) {
        summary_.errors.push_back(fmt::format("{}: fields the docs do not list, ignored: {}",
                                              record.action,
                                              fmt::join(command.ignored_fields, ", ")));
    }
    Effects fx;
    ApiReply reply = handle(command, fx, now);
    record.http_status = reply.status;
    record.error_code = first_error_code(reply);
    if (!command.command_id.empty()) {
        seen_commands_[command.command_id] = {now, reply};
    }
    summary_.commands.push_back(std::move(record));
    return {std::move(reply), std::move(fx)};
}

void CallScenario::record_command(std::string_view action, std::string_view command_id,
                                  std::string_view body, const ApiReply& reply,
                                  protocol::UtcMicros now, bool duplicate) {
    CommandRecord record{std::string(action),
                         std::string(command_id),
                         std::string(body),
                         reply.status,
                         first_error_code(reply),
                         duplicate,
                         protocol::format_utc_timestamp(now)};
    if (reply.status >= 400) {
        summary_.errors.push_back(
                fmt::format("{} refused with HTTP {}: {}", action, reply.status, reply.body));
    }
    summary_.commands.push_back(std::move(record));
}

ApiReply CallScenario::handle(const ValidatedCommand& command, Effects& fx,
                              protocol::UtcMicros now) {
    if (ended_) {
        return refuse({422, errors::call_ended()});
    }
    const bool answered = phase_ == Phase::Answered;
    const auto needs_answer = [&]() {
        return !answered;
    };
    const auto take_client_state = [&]() {
        if (command.client_state) {
            facts_.client_state = command.client_state;
        }
    };
    switch (command.action) {
        case Action::Answer: {
            if (phase_ != Phase::Parked) {
                summary_.errors.push_back("answer on a call that is not parked: ignored");
                return ok_reply();
            }
            take_client_state();
            if (command.webhook_url) {
                webhook_url_ = *command.webhook_url;
            }
            answer_now(fx, command.stream, command.record, now);
            return ok_reply(recording_ ? std::string_view(recording_->id) : std::string_view{});
        }
        case Action::Speak: {
            if (needs_answer()) {
                return refuse({422, errors::call_not_answered()});
            }
            take_client_state();
            webhook(fx, "call.speak.started", common_payload(facts_), now);
            const auto chars = static_cast<long>(command.speak_payload.size());
            const nanoseconds speech =
                    scaled(std::max<nanoseconds>(kMinSpeak, kSpeakPerChar * chars));
            speak_busy_until_ = std::max(speak_busy_until_, now)
                                + std::chrono::duration_cast<std::chrono::microseconds>(speech);
            ++speaks_pending_;
            timer(fx, TimerKind::SpeakEnded, speak_busy_until_ - now);
            return ok_reply();
        }
        case Action::StreamingStart: {
            if (needs_answer()) {
                return refuse({422, errors::call_not_answered()});
            }
            if (stream_active_) {
                return refuse({422, errors::streaming_in_use()});
            }
            take_client_state();
            start_stream(fx, *command.stream, now);
            return ok_reply();
        }
        case Action::StreamingStop:
            take_client_state();
            if (stream_active_) {
                fx.stop_stream = true;
            } else {
                summary_.errors.push_back("streaming_stop without an active stream");
            }
            return ok_reply();
        case Action::RecordStart:
            if (needs_answer()) {
                return refuse({422, errors::call_not_answered()});
            }
            take_client_state();
            if (recording_) {
                summary_.errors.push_back("record_start while already recording: ignored");
            } else {
                start_recording(*command.record, now);
            }
            return ok_reply();
        case Action::RecordStop:
            take_client_state();
            if (recording_) {
                save_recording(fx, now);
            } else {
                summary_.errors.push_back("record_stop without a recording");
            }
            return ok_reply();
        case Action::Hangup:
            take_client_state();
            // The application's leg is the callee of an incoming call, the caller of a dial.
            end_call(fx, "normal_clearing", facts_.direction == "incoming" ? "callee" : "caller",
                     now);
            return ok_reply();
        case Action::Transfer:
            if (needs_answer()) {
                return refuse({422, errors::call_not_answered()});
            }
            take_client_state();
            webhook(fx, "call.bridged", call_bridged_payload(facts_, command.to), now);
            summary_.errors.push_back(fmt::format(
                    "transfer to {}: bridged; the new leg's own webhooks are not simulated",
                    command.to));
            return ok_reply();
        case Action::PlaybackStart:
            if (needs_answer()) {
                return refuse({422, errors::call_not_answered()});
            }
            take_client_state();
            playbacks_.push_back(command.playback_source);
            webhook(fx, "call.playback.started",
                    playback_payload(facts_, command.playback_source, std::nullopt), now);
            timer(fx, TimerKind::PlaybackEnded, scaled(kPlaybackDuration));
            return ok_reply();
        case Action::Dial:
            break;
    }
    summary_.errors.push_back("dial routed to an existing call");
    return ok_reply();
}

void CallScenario::answer_now(Effects& fx, const std::optional<StreamRequest>& stream,
                              const std::optional<RecordRequest>& record, protocol::UtcMicros now) {
    phase_ = Phase::Answered;
    summary_.answered = true;
    cancel_timers(TimerKind::AnswerTimeout);
    if (record) {
        start_recording(*record, now);
    }
    webhook(fx, "call.answered",
            call_answered_payload(facts_, stream ? std::string_view(stream->url) : "",
                                  stream ? std::string_view(stream->track) : ""),
            now);
    if (stream) {
        start_stream(fx, *stream, now);
    } else {
        timer(fx, TimerKind::StreamWait, settings_.stream_start_timeout);
    }
}

void CallScenario::start_stream(Effects& fx, const StreamRequest& stream, protocol::UtcMicros now) {
    cancel_timers(TimerKind::StreamWait);
    stream_active_ = true;
    stream_id_ = ids_.uuid();
    stream_track_ = stream.track;
    stream_started_at_ = now;
    if (!speech_started_at_) {
        speech_started_at_ = now;
    }
    const double spoken_s =
            std::chrono::duration<double>(now - *speech_started_at_).count() * settings_.speed;
    EncodingChoice encoding = choose_encoding(stream.codec);
    if (!encoding.note.empty()) {
        summary_.errors.push_back(encoding.note);
    }
    summary_.streamed = true;
    ++summary_.streams;
    summary_.stream_url = stream.url;
    summary_.stream_encoding = encoding.name;
    webhook(fx, "streaming.started", streaming_payload(facts_, stream.url), now);
    StreamStart start;
    start.url = stream.url;
    start.track = stream.track;
    start.tracks =
            TrackSelection{stream.track != "outbound_track", stream.track != "inbound_track"};
    start.identity = StreamIdentity{stream_id_,
                                    facts_.call_control_id,
                                    facts_.call_session_id,
                                    user_id_,
                                    facts_.from,
                                    facts_.to,
                                    facts_.client_state,
                                    stream.custom_parameters,
                                    stream.auth_token,
                                    std::move(encoding)};
    start.first_frame = static_cast<std::size_t>(std::max(0.0, std::floor(spoken_s / 0.02)));
    fx.start_stream = std::move(start);
}

void CallScenario::start_recording(const RecordRequest& record, protocol::UtcMicros now) {
    recording_ = Recording{ids_.uuid(), record.format, record.channels, now};
}

void CallScenario::save_recording(Effects& fx, protocol::UtcMicros now) {
    RecordingFacts facts;
    facts.recording_id = recording_->id;
    facts.channels = recording_->channels;
    facts.format = recording_->format;
    facts.started_at = recording_->started_at;
    facts.ended_at = now;
    // Telnyx's recording_urls are pre-signed S3 links: the query is the credential.
    facts.signature = ids_.uuid();
    std::erase(facts.signature, '-');
    facts.wav_url = fmt::format(
            "{}{}.wav?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires={}&X-Amz-Signature={}",
            settings_.recording_base_url, recording_->id, settings_.recording_url_lifetime.count(),
            facts.signature);
    if (recording_->format == "mp3") {
        summary_.errors.push_back(
                "mp3 recording asked for: the simulator serves WAV only (recording_urls.mp3 null)");
    }
    summary_.recording_urls.push_back(*facts.wav_url);
    webhook(fx, "call.recording.saved", recording_saved_payload(facts_, facts), now);
    fx.save_recording = std::move(facts);
    recording_.reset();
}

void CallScenario::end_call(Effects& fx, std::string_view cause, std::string_view source,
                            protocol::UtcMicros now) {
    ended_ = true;
    ended_at_ = now;
    phase_ = Phase::Ended;
    summary_.ended = true;
    summary_.hangup_cause = std::string(cause);
    summary_.hangup_source = std::string(source);
    live_timers_.clear();
    for (; speaks_pending_ > 0; --speaks_pending_) {
        webhook(fx, "call.speak.ended", speak_ended_payload(facts_, "call_hangup"), now);
    }
    for (const std::string& media : playbacks_) {
        webhook(fx, "call.playback.ended", playback_payload(facts_, media, "call_hangup"), now);
    }
    playbacks_.clear();
    std::optional<QualityStats> quality;
    if (summary_.streamed) {
        QualityStats q;
        q.inbound_packets = summary_.frames_sent;
        q.outbound_packets = summary_.outbound_frames_sent;
        if (stream_active_ && audio_) {
            // Mid-stream: the stream thread has not reported yet; count what has played so far
            // (earlier streams of the call have reported theirs).
            const double played_s = std::chrono::duration<double>(now - stream_started_at_).count()
                                    * settings_.speed;
            const auto total = static_cast<double>((audio_->samples_8k.size() + 159) / 160);
            q.inbound_packets =
                    summary_.frames_sent
                    + static_cast<std::uint64_t>(std::clamp(played_s / 0.02, 0.0, total));
        }
        quality = q;
    }
    if (stream_active_) {
        fx.stop_stream = true;
    }
    webhook(fx, "call.hangup", call_hangup_payload(facts_, cause, source, quality), now);
    if (recording_) {
        save_recording(fx, now);
    }
}

Effects CallScenario::on_stream_failed(std::string_view reason, std::string_view detail,
                                       protocol::UtcMicros now) {
    Effects fx;
    stream_active_ = false;
    summary_.stream_end = "connect_failed";
    summary_.errors.push_back(fmt::format("stream to {} failed: {}", summary_.stream_url, detail));
    webhook(fx, "streaming.failed",
            streaming_failed_payload(facts_, reason, stream_id_, summary_.stream_url,
                                     stream_track_),
            now);
    if (!ended_) {
        hang_up_after(fx, unspoken_audio(now));  // the caller talks on, unheard, then hangs up
    }
    return fx;
}

Effects CallScenario::on_stream_ended(const StreamReport& report, protocol::UtcMicros now) {
    Effects fx;
    summary_.frames_sent += report.inbound_frames_sent;
    summary_.outbound_frames_sent += report.outbound_frames_sent;
    summary_.service_messages += report.messages_received;
    if (report.end == StreamEnd::Dropped) {
        return fx;
    }
    stream_active_ = false;
    summary_.stream_end = std::string(to_string(report.end));
    if (report.peer_close) {
        summary_.stream_close_code = report.peer_close->code;
        summary_.stream_close_reason = report.peer_close->reason;
        summary_.errors.push_back(fmt::format("the service closed the stream: {} {}",
                                              report.peer_close->code, report.peer_close->reason));
    }
    if (!report.error.empty()) {
        summary_.errors.push_back("stream: " + report.error);
    }
    if (report.bad_messages > 0) {
        summary_.errors.push_back(
                fmt::format("{} unparsable frame(s) from the service", report.bad_messages));
    }
    webhook(fx, "streaming.stopped", streaming_payload(facts_, summary_.stream_url), now);
    if (!ended_) {
        hang_up_after(fx,
                      report.end == StreamEnd::AudioDone ? nanoseconds{0} : unspoken_audio(now));
    }
    return fx;
}

std::optional<Effects> CallScenario::on_stream_dropped(protocol::UtcMicros now) {
    if (!stream_active_ || ended_) {
        return std::nullopt;
    }
    Effects fx;
    stream_active_ = false;
    fx.drop_stream = true;
    ++summary_.stream_drops;
    summary_.stream_end = std::string(to_string(StreamEnd::Dropped));
    webhook(fx, "streaming.stopped", streaming_payload(facts_, summary_.stream_url), now);
    // The caller talks on, unheard unless the application starts a new stream, then hangs up.
    hang_up_after(fx, unspoken_audio(now));
    return fx;
}

nanoseconds CallScenario::unspoken_audio(protocol::UtcMicros now) const {
    if (!audio_) {
        return nanoseconds{0};
    }
    const nanoseconds audio =
            scaled(nanoseconds(static_cast<std::int64_t>(audio_->duration_seconds() * 1e9)));
    return std::max(nanoseconds{0},
                    audio - (now - speech_started_at_.value_or(stream_started_at_)));
}

void CallScenario::hang_up_after(Effects& fx, nanoseconds unspoken) {
    cancel_timers(TimerKind::PartyHangup);  // the caller has one hang-up timer
    timer(fx, TimerKind::PartyHangup, unspoken + settings_.linger_after_audio);
}

Effects CallScenario::on_timer(TimerKind kind, std::uint64_t token, protocol::UtcMicros now) {
    Effects fx;
    const auto it = live_timers_.find(token);
    if (it == live_timers_.end()) {
        return fx;  // cancelled, or the call ended meanwhile
    }
    live_timers_.erase(it);
    switch (kind) {
        case TimerKind::AnswerTimeout:
            if (phase_ == Phase::Parked) {
                summary_.errors.push_back(fmt::format("not answered within {} ms: caller gave up",
                                                      settings_.answer_timeout.count()));
                end_call(fx, "originator_cancel", "caller", now);
            }
            break;
        case TimerKind::StreamWait:
            if (phase_ == Phase::Answered && !summary_.streamed) {
                summary_.errors.push_back(
                        fmt::format("no stream within {} ms of the answer: caller hung up",
                                    settings_.stream_start_timeout.count()));
                end_call(fx, "normal_clearing", party_source(), now);
            }
            break;
        case TimerKind::SpeakEnded:
            if (speaks_pending_ > 0) {
                --speaks_pending_;
                webhook(fx, "call.speak.ended", speak_ended_payload(facts_, "completed"), now);
            }
            break;
        case TimerKind::PlaybackEnded:
            if (!playbacks_.empty()) {
                const std::string media = playbacks_.front();
                playbacks_.erase(playbacks_.begin());
                webhook(fx, "call.playback.ended", playback_payload(facts_, media, "completed"),
                        now);
            }
            break;
        case TimerKind::PartyHangup:
            if (!ended_) {
                end_call(fx, "normal_clearing", party_source(), now);
            }
            break;
        case TimerKind::Ring:
            if (phase_ == Phase::Ringing) {
                answer_now(fx, dial_ ? dial_->stream : std::nullopt,
                           dial_ ? dial_->record : std::nullopt, now);
            }
            break;
    }
    return fx;
}

void CallScenario::on_delivery(const EventRecord& record) {
    if (!record.delivered) {
        summary_.errors.push_back(
                fmt::format("webhook {} ({}) not delivered after {} attempt(s): {}",
                            record.event_type, record.event_id, record.attempts, record.error));
    }
    summary_.events.push_back(record);
    if (pending_deliveries_ > 0) {
        --pending_deliveries_;
    }
}

void CallScenario::webhook(Effects& fx, std::string event_type, std::string payload,
                           protocol::UtcMicros now) {
    fx.webhooks.push_back(OutgoingWebhook{std::move(event_type), ids_.uuid(),
                                          protocol::format_utc_timestamp(now), std::move(payload),
                                          webhook_url_, facts_.call_control_id});
    ++pending_deliveries_;
}

void CallScenario::timer(Effects& fx, TimerKind kind, nanoseconds delay) {
    const std::uint64_t token = next_timer_token_++;
    live_timers_.emplace(token, kind);
    fx.timers.push_back(TimerRequest{kind, delay, token});
}

void CallScenario::cancel_timers(TimerKind kind) {
    std::erase_if(live_timers_, [kind](const auto& entry) { return entry.second == kind; });
}

nanoseconds CallScenario::scaled(nanoseconds media_time) const {
    return nanoseconds(
            static_cast<std::int64_t>(static_cast<double>(media_time.count()) / settings_.speed));
}

std::string_view CallScenario::party_source() const {
    return facts_.direction == "incoming" ? "caller" : "callee";
}

}  // namespace dvd::sim
