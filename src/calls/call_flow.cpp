#include "calls/call_flow.hpp"

#include <array>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <sodium.h>

#include "base/check.hpp"
#include "protocol/timestamp.hpp"

namespace dvd::calls {
namespace {

using protocol::WebhookEventType;
using store::CallState;

constexpr std::array<std::string_view, 8> kCommandNames{
        "answer", "speak",  "streaming_start", "record_start", "streaming_stop",
        "hangup", "dial", "transfer"};

void ensure_sodium() {
    // sodium_init is thread-safe and idempotent; < 0 means the library cannot work at all.
    static const int rc = sodium_init();
    DVD_CHECK(rc >= 0, "libsodium failed to initialise");
}

std::string uuid_from_hash(std::string_view domain, std::initializer_list<std::string_view> parts) {
    ensure_sodium();
    crypto_generichash_state state;
    std::array<unsigned char, 16> digest{};
    crypto_generichash_init(&state, nullptr, 0, digest.size());
    const auto feed = [&state](std::string_view text) {
        crypto_generichash_update(&state, reinterpret_cast<const unsigned char*>(text.data()),
                                  text.size());
        const unsigned char separator = 0;  // "a"+"bc" and "ab"+"c" must differ
        crypto_generichash_update(&state, &separator, 1);
    };
    feed(domain);
    for (const auto part : parts) {
        feed(part);
    }
    crypto_generichash_final(&state, digest.data(), digest.size());
    digest[6] = static_cast<unsigned char>((digest[6] & 0x0FU) | 0x40U);  // version 4 shape
    digest[8] = static_cast<unsigned char>((digest[8] & 0x3FU) | 0x80U);  // RFC 9562 variant
    std::string out;
    out.reserve(36);
    for (std::size_t i = 0; i < digest.size(); ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) {
            out.push_back('-');
        }
        out += fmt::format("{:02x}", digest[i]);
    }
    return out;
}

std::optional<store::UnixMs> parse_ms(std::string_view text) {
    if (text.empty()) {
        return std::nullopt;
    }
    auto parsed = protocol::parse_utc_timestamp(text);
    if (!parsed) {
        return std::nullopt;
    }
    return std::chrono::duration_cast<std::chrono::milliseconds>(parsed->time_since_epoch())
            .count();
}

store::UnixMs event_time_ms(const protocol::WebhookEvent& event, const FlowInputs& inputs) {
    if (event.occurred_at_time) {
        return std::chrono::duration_cast<std::chrono::milliseconds>(
                       event.occurred_at_time->time_since_epoch())
                .count();
    }
    return inputs.now_ms;
}

bool is_active(CallState state) {
    return !store::is_terminal(state);
}

void apply_score(store::Call& call, const pipeline::CallScore& score) {
    if (score.windows <= 0) {
        return;  // nothing scored yet: keep what the row has
    }
    call.final_score = score.probability;
    call.final_llr = score.llr;
    call.verdict = std::string(pipeline::to_string(score.verdict));
    call.speech_seconds = score.speech_seconds;
}

std::optional<pipeline::Verdict> parse_verdict(std::string_view name) {
    for (const auto v : {pipeline::Verdict::InsufficientSpeech, pipeline::Verdict::Human,
                         pipeline::Verdict::Uncertain, pipeline::Verdict::Synthetic}) {
        if (pipeline::to_string(v) == name) {
            return v;
        }
    }
    return std::nullopt;
}

// Fills what the event knows and the row does not (ids, numbers); never overwrites.
void merge_common(store::Call& call, const protocol::WebhookEvent& event) {
    const auto fill = [](std::string& field, const std::string& value) {
        if (field.empty() && !value.empty()) {
            field = value;
        }
    };
    fill(call.call_control_id, event.call_control_id);
    fill(call.call_leg_id, event.call_leg_id);
    fill(call.call_session_id, event.call_session_id);
    fill(call.from, event.from);
    fill(call.to, event.to);
}

store::Call new_call(const protocol::WebhookEvent& event, const FlowInputs& inputs) {
    store::Call call;
    call.id = inputs.new_call_id;
    call.direction = event.direction == "outgoing" ? store::CallDirection::Outbound
                                                   : store::CallDirection::Inbound;
    call.state = CallState::Initiated;
    call.started_at_ms = parse_ms(event.start_time).value_or(event_time_ms(event, inputs));
    call.created_at_ms = inputs.now_ms;
    merge_common(call, event);
    return call;
}

bool creates_calls(WebhookEventType type) {
    switch (type) {
        case WebhookEventType::CallInitiated:
        case WebhookEventType::CallAnswered:
        case WebhookEventType::CallHangup:
        case WebhookEventType::StreamingStarted:
        case WebhookEventType::StreamingStopped:
        case WebhookEventType::StreamingFailed:
        case WebhookEventType::CallSpeakStarted:
        case WebhookEventType::CallSpeakEnded:
        case WebhookEventType::CallRecordingSaved:
        case WebhookEventType::CallRecordingError:
        case WebhookEventType::CallDeepfakeDetectionResult:
        case WebhookEventType::CallDeepfakeDetectionError:
            return true;
        default:
            return false;
    }
}

PlannedCommand planned(CommandKind kind, const store::Call& call, std::string_view step) {
    PlannedCommand command;
    command.kind = kind;
    command.call_id = call.id;
    command.call_control_id = call.call_control_id;
    command.command_id = command_id_for(call.call_control_id, kind, step);
    return command;
}

/// The call's inbound track to `url`, presenting its per-call token; counted in `flow`.
PlannedCommand streaming_start(const store::Call& call, FlowState& flow, std::string_view step,
                               const std::string& url) {
    flow.mark_issued(CommandKind::StreamingStart);
    flow.stream_url = url;
    flow.stream_failed_at_ms.reset();
    auto command = planned(CommandKind::StreamingStart, call, step);
    protocol::StreamingStartCommand start;
    start.command_id = command.command_id;
    start.stream = protocol::StreamOptions{.stream_url = url,
                                           .track = protocol::StreamTrack::InboundTrack};
    start.stream_auth_token = call.stream_auth_token;
    command.command = std::move(start);
    return command;
}

std::string call_state_for(const store::Call& call) {
    return protocol::encode_client_state(fmt::format(R"({{"call_id":"{}"}})", call.id));
}

/// Ends an active call whose `call.hangup` is not (yet) here: state Ended at `ended_at_ms`,
/// duration from the answer (or start), the final score, grant revoked. hangup_cause stays empty
/// for a late `call.hangup` to fill. No-op for a call that already ended.
void end_without_hangup(FlowDecision& d, store::UnixMs ended_at_ms, store::UnixMs now_ms) {
    store::Call& call = d.record.call;
    if (!is_active(call.state)) {
        return;
    }
    call.state = CallState::Ended;
    call.ended_at_ms = ended_at_ms;
    const store::UnixMs from_ms = call.answered_at_ms.value_or(call.started_at_ms);
    if (from_ms > 0 && ended_at_ms >= from_ms) {
        call.duration_seconds = static_cast<double>(ended_at_ms - from_ms) / 1000.0;
    }
    if (d.record.flow.latest_score) {
        apply_score(call, *d.record.flow.latest_score);
    }
    d.call_ended = true;
    d.call_changed = true;
    d.revoke = true;
    call.updated_at_ms = now_ms;
}

/// Plans a new streaming_start (step "<prefix>-N") for an answered call whose stream is gone: to
/// `url`, else the URL the last one used. False when the call has no stream to start again (not
/// answered, ended, hanging up, never streamed, streamed from its dial body), or, with a note
/// saying why, when it has no token, no URL or kMaxStreamsPerCall streams already.
bool start_stream_again(FlowDecision& d, std::string_view prefix, const std::string& url) {
    const store::Call& call = d.record.call;
    FlowState& flow = d.record.flow;
    if (!is_active(call.state) || call.state == CallState::Initiated || flow.hangup_issued
        || !flow.issued(CommandKind::StreamingStart) || flow.stream_in_dial) {
        return false;
    }
    if (call.stream_auth_token.empty()) {
        d.notes.emplace_back("media stream not started again: the call has no stream token");
        return false;
    }
    const std::string target = url.empty() ? flow.stream_url : url;
    if (target.empty()) {
        d.notes.emplace_back("media stream not started again: no stream URL");
        return false;
    }
    if (flow.stream_starts >= kMaxStreamsPerCall) {
        d.notes.push_back(fmt::format("media stream not started again: {} streams already",
                                      flow.stream_starts));
        return false;
    }
    d.commands.push_back(
            streaming_start(call, flow, fmt::format("{}-{}", prefix, flow.stream_starts), target));
    return true;
}

}  // namespace

std::string_view to_string(CommandKind kind) noexcept {
    return kCommandNames[static_cast<std::size_t>(kind)];
}

std::optional<CommandKind> parse_command_kind(std::string_view name) noexcept {
    for (std::size_t i = 0; i < kCommandNames.size(); ++i) {
        if (kCommandNames[i] == name) {
            return static_cast<CommandKind>(i);
        }
    }
    return std::nullopt;
}

bool FlowState::issued(CommandKind kind) const noexcept {
    switch (kind) {
        case CommandKind::Answer:
            return answer_issued;
        case CommandKind::Speak:
            return greeting_issued;
        case CommandKind::StreamingStart:
            return stream_starts > 0;
        case CommandKind::RecordStart:
            return record_start_issued;
        case CommandKind::Hangup:
            return hangup_issued;
        case CommandKind::Transfer:
            return escalation_issued;
        case CommandKind::StreamingStop:
        case CommandKind::Dial:
            return false;
    }
    return false;
}

void FlowState::mark_issued(CommandKind kind) noexcept {
    switch (kind) {
        case CommandKind::Answer:
            answer_issued = true;
            break;
        case CommandKind::Speak:
            greeting_issued = true;
            break;
        case CommandKind::StreamingStart:
            ++stream_starts;
            break;
        case CommandKind::RecordStart:
            record_start_issued = true;
            break;
        case CommandKind::Hangup:
            hangup_issued = true;
            break;
        case CommandKind::Transfer:
            escalation_issued = true;
            break;
        case CommandKind::StreamingStop:
        case CommandKind::Dial:
            break;
    }
}

FlowDecision CallFlow::on_webhook(const std::optional<CallRecord>& current,
                                  const protocol::WebhookEvent& event,
                                  const FlowInputs& inputs) const {
    FlowDecision d;
    const auto type = event.type;
    const bool handled = creates_calls(type) || type == WebhookEventType::CallPlaybackStarted
                         || type == WebhookEventType::CallPlaybackEnded;
    if (!handled) {
        d.ignored = true;
        d.notes.push_back(fmt::format("ignored event {}", event.event_type));
        if (current) {
            d.record = *current;
        }
        return d;
    }
    if (current) {
        d.record = *current;
    } else {
        if (event.call_control_id.empty() || !creates_calls(type)) {
            d.ignored = true;
            d.notes.push_back(fmt::format("ignored {}: no known call for it", event.event_type));
            return d;
        }
        DVD_ASSERT(!inputs.new_call_id.empty(), "a call created by an event needs an id");
        d.record.call = new_call(event, inputs);
        d.call_created = true;
        d.call_changed = true;
        d.notes.push_back(fmt::format("call created from {}", event.event_type));
    }
    store::Call& call = d.record.call;
    FlowState& flow = d.record.flow;
    {
        const store::Call before = call;
        merge_common(call, event);
        d.call_changed = d.call_changed || !(before == call);
    }
    const bool was_active = is_active(call.state);
    const store::UnixMs at_ms = event_time_ms(event, inputs);

    switch (type) {
        case WebhookEventType::CallInitiated: {
            if (!event.direction.empty()) {
                const auto direction = event.direction == "outgoing"
                                               ? store::CallDirection::Outbound
                                               : store::CallDirection::Inbound;
                if (direction != call.direction) {
                    call.direction = direction;
                    d.call_changed = true;
                }
            }
            if (event.shaken_stir_attestation && call.stir_shaken_attestation.empty()) {
                call.stir_shaken_attestation = *event.shaken_stir_attestation;
                d.call_changed = true;
            }
            if (event.shaken_stir_validated && !call.stir_shaken_verified) {
                call.stir_shaken_verified = event.shaken_stir_validated;
                d.call_changed = true;
            }
            if (call.state == CallState::Initiated
                && call.direction == store::CallDirection::Inbound && !flow.answer_issued) {
                auto command = planned(CommandKind::Answer, call, "initial");
                protocol::AnswerCommand answer;
                answer.command_id = command.command_id;
                answer.client_state = call_state_for(call);
                if (options_.telnyx_deepfake_detection) {
                    answer.deepfake_detection = protocol::DeepfakeDetectionOptions{};
                }
                command.command = std::move(answer);
                d.commands.push_back(std::move(command));
                flow.mark_issued(CommandKind::Answer);
            } else if (!was_active) {
                d.notes.emplace_back("call.initiated for an ended call: nothing to do");
            }
            break;
        }
        case WebhookEventType::CallAnswered: {
            if (!was_active) {
                d.ignored = true;
                d.notes.emplace_back("call.answered for an ended call: nothing to do");
                break;
            }
            if (call.state == CallState::Initiated) {
                call.state = CallState::Answered;
                d.call_changed = true;
            }
            if (!call.answered_at_ms) {
                call.answered_at_ms = at_ms;
                d.call_changed = true;
            }
            if (!flow.greeting_issued && !options_.greeting_text.empty()) {
                auto command = planned(CommandKind::Speak, call, "greeting");
                protocol::SpeakCommand speak;
                speak.command_id = command.command_id;
                speak.payload = options_.greeting_text;
                speak.voice = options_.greeting_voice;
                speak.language = options_.greeting_language;
                speak.payload_type = protocol::SpeakPayloadType::Text;
                speak.service_level = protocol::ServiceLevel::Basic;
                command.command = std::move(speak);
                d.commands.push_back(std::move(command));
                flow.mark_issued(CommandKind::Speak);
            }
            if (!flow.issued(CommandKind::StreamingStart) && !flow.stream_in_dial) {
                if (inputs.stream_url.empty()) {
                    call.last_error =
                            "no media stream URL (set MEDIA_STREAM_URL or send Host headers)";
                    d.call_changed = true;
                    d.notes.emplace_back("cannot start the media stream: no stream URL");
                } else {
                    if (call.stream_auth_token.empty()) {
                        DVD_ASSERT(!inputs.new_stream_token.empty(),
                                   "streaming_start needs a fresh token");
                        call.stream_auth_token = inputs.new_stream_token;
                        d.call_changed = true;
                    }
                    d.grant = service::StreamGrant{.call_id = call.id,
                                                   .call_control_id = call.call_control_id,
                                                   .stream_auth_token = call.stream_auth_token};
                    d.commands.push_back(
                            streaming_start(call, flow, "answered", inputs.stream_url));
                }
            }
            if (options_.record_calls && !flow.record_start_issued && !flow.record_in_dial) {
                auto command = planned(CommandKind::RecordStart, call, "answered");
                protocol::RecordStartCommand record;
                record.command_id = command.command_id;
                record.format = protocol::RecordFormat::Wav;
                record.channels = protocol::RecordChannels::Single;
                command.command = std::move(record);
                d.commands.push_back(std::move(command));
                flow.mark_issued(CommandKind::RecordStart);
            }
            break;
        }
        case WebhookEventType::StreamingStarted: {
            if (!was_active) {
                d.notes.emplace_back("streaming.started for an ended call");
                break;
            }
            if (call.state == CallState::Initiated || call.state == CallState::Answered) {
                call.state = CallState::Streaming;
                d.call_changed = true;
            }
            if (!event.stream_id.empty() && call.stream_id != event.stream_id) {
                call.stream_id = event.stream_id;
                d.call_changed = true;
            }
            d.notes.push_back(fmt::format("streaming started url={}", event.stream_url));
            break;
        }
        case WebhookEventType::StreamingStopped: {
            if (flow.media_live) {
                d.notes.emplace_back("streaming stopped (an earlier stream: this one is live)");
                break;
            }
            if (call.state == CallState::Streaming) {
                call.state = CallState::Answered;
                d.call_changed = true;
            }
            d.notes.emplace_back("streaming stopped");
            break;
        }
        case WebhookEventType::StreamingFailed: {
            if (flow.media_live) {
                d.notes.emplace_back("streaming failed (an earlier stream: this one is live)");
                break;
            }
            call.last_error = fmt::format(
                    "media streaming failed: {}",
                    event.failure_reason.empty() ? "unknown reason" : event.failure_reason);
            if (call.state == CallState::Streaming) {
                call.state = CallState::Answered;
            }
            if (was_active) {
                flow.stream_failed_at_ms = inputs.now_ms;
                if (!inputs.stream_url.empty() && inputs.stream_url != flow.stream_url
                    && flow.issued(CommandKind::StreamingStart) && !flow.stream_in_dial) {
                    d.notes.push_back(fmt::format("the retry goes to url={} (was {})",
                                                  inputs.stream_url, flow.stream_url));
                    flow.stream_url = inputs.stream_url;
                }
            }
            d.call_changed = true;
            d.notes.push_back(call.last_error);
            break;
        }
        case WebhookEventType::CallSpeakStarted:
        case WebhookEventType::CallSpeakEnded:
        case WebhookEventType::CallPlaybackStarted:
        case WebhookEventType::CallPlaybackEnded: {
            d.notes.push_back(event.status.empty() ? fmt::format("{}", event.event_type)
                                                   : fmt::format("{} status={}", event.event_type,
                                                                 event.status));
            break;
        }
        case WebhookEventType::CallRecordingSaved: {
            store::Recording recording;
            recording.call_id = call.id;
            recording.recording_id = event.recording_id;
            recording.wav_url = event.recording_urls.wav.value_or("");
            recording.mp3_url = event.recording_urls.mp3.value_or("");
            recording.public_wav_url = event.public_recording_urls.wav.value_or("");
            recording.public_mp3_url = event.public_recording_urls.mp3.value_or("");
            recording.format = event.format;
            recording.channels = event.channels;
            const auto started = parse_ms(event.recording_started_at);
            const auto ended = parse_ms(event.recording_ended_at);
            if (started && ended && *ended >= *started) {
                recording.duration_seconds = static_cast<double>(*ended - *started) / 1000.0;
            }
            recording.saved_at_ms = at_ms;
            recording.kept = call.flagged;  // a flagged call's recording is evidence
            d.recording = std::move(recording);
            d.notes.emplace_back("recording saved");
            break;
        }
        case WebhookEventType::CallRecordingError: {
            call.last_error = "recording failed";
            d.call_changed = true;
            d.notes.push_back(call.last_error);
            break;
        }
        case WebhookEventType::CallHangup: {
            if (!was_active && !call.hangup_cause.empty()) {
                d.ignored = true;
                d.notes.emplace_back("call.hangup for a call already hung up");
                break;
            }
            if (was_active) {
                call.state = CallState::Ended;
                d.call_ended = true;
            }
            if (!call.ended_at_ms || was_active) {
                call.ended_at_ms = at_ms;
            }
            call.hangup_cause = event.hangup_cause.empty() ? "unspecified" : event.hangup_cause;
            const store::UnixMs from_ms = call.answered_at_ms.value_or(call.started_at_ms);
            if (from_ms > 0 && *call.ended_at_ms >= from_ms) {
                call.duration_seconds = static_cast<double>(*call.ended_at_ms - from_ms) / 1000.0;
            }
            if (flow.latest_score) {
                apply_score(call, *flow.latest_score);
            }
            d.revoke = true;
            d.call_changed = true;
            d.notes.push_back(fmt::format("hangup cause={} source={}", call.hangup_cause,
                                          event.hangup_source));
            break;
        }
        case WebhookEventType::CallDeepfakeDetectionResult: {
            call.telnyx_deepfake_result = event.deepfake_result;
            call.telnyx_deepfake_score = event.deepfake_score;
            call.telnyx_deepfake_consistency_pct = event.deepfake_consistency_percent;
            d.call_changed = true;
            d.notes.push_back(
                    fmt::format("telnyx deepfake detection result={}", event.deepfake_result));
            break;
        }
        case WebhookEventType::CallDeepfakeDetectionError: {
            call.telnyx_deepfake_error = event.deepfake_error_message;
            d.call_changed = true;
            d.notes.push_back(fmt::format("telnyx deepfake detection error={}",
                                          event.deepfake_error_message));
            break;
        }
        default:
            d.ignored = true;
            break;
    }
    if (d.call_changed) {
        call.updated_at_ms = inputs.now_ms;
    }
    return d;
}

FlowDecision CallFlow::on_stream_started(const CallRecord& current,
                                         const service::StreamStarted& event,
                                         const FlowInputs& inputs) const {
    FlowDecision d;
    d.record = current;
    store::Call& call = d.record.call;
    if (!is_active(call.state)) {
        d.ignored = true;
        d.notes.emplace_back("media stream started for an ended call");
        return d;
    }
    d.record.flow.media_live = true;
    d.record.flow.stream_failed_at_ms.reset();
    if (call.state != CallState::Streaming) {
        call.state = CallState::Streaming;
        d.call_changed = true;
    }
    if (!event.stream_id.empty() && call.stream_id != event.stream_id) {
        call.stream_id = event.stream_id;
        d.call_changed = true;
    }
    d.notes.push_back(fmt::format("media stream started stream_id={} encoding={} rate_hz={}",
                                  event.stream_id, event.encoding, event.sample_rate_hz));
    if (d.call_changed) {
        call.updated_at_ms = inputs.now_ms;
    }
    return d;
}

FlowDecision CallFlow::on_score_changed(const CallRecord& current,
                                        const service::ScoreChanged& event,
                                        const FlowInputs& inputs) const {
    FlowDecision d;
    d.record = current;
    store::Call& call = d.record.call;
    d.record.flow.latest_score = event.score;
    apply_score(call, event.score);
    if (event.crossed_threshold && !call.flagged) {
        call.flagged = true;
        call.updated_at_ms = inputs.now_ms;
        d.flagged_now = true;
        d.call_changed = true;
        d.notes.push_back(fmt::format("flagged: score={:.3f} llr={:.3f} verdict={} at_ms={}",
                                      event.score.probability, event.score.llr,
                                      pipeline::to_string(event.score.verdict), event.at_ms));
    }
    return d;
}

FlowDecision CallFlow::on_stream_ended(const CallRecord& current, const service::StreamEnded& event,
                                       const FlowInputs& inputs) const {
    FlowDecision d;
    d.record = current;
    store::Call& call = d.record.call;
    d.record.flow.media_live = false;
    if (event.score.windows > 0) {
        d.record.flow.latest_score = event.score;
        apply_score(call, event.score);
    }
    if (call.state == CallState::Streaming) {
        call.state = CallState::Answered;
    }
    if (event.error) {
        call.last_error = fmt::format("media stream closed: {}", event.reason);
    }
    d.call_changed = true;
    call.updated_at_ms = inputs.now_ms;
    d.notes.push_back(fmt::format("media stream ended stream_id={} reason={} error={} lost={}",
                                  event.stream_id, event.reason, event.error, event.lost));
    if (event.lost && start_stream_again(d, "restart", {})) {
        d.notes.push_back(fmt::format("media stream lost: a new one requested url={}",
                                      d.record.flow.stream_url));
    }
    return d;
}

FlowDecision CallFlow::retry_failed_stream(const CallRecord& current,
                                           const FlowInputs& /*inputs*/) const {
    FlowDecision d;
    d.record = current;
    if (start_stream_again(d, "retry", {})) {
        d.notes.push_back(fmt::format("media stream failed to connect: asked for again url={}",
                                      d.record.flow.stream_url));
    } else {
        d.record.flow.stream_failed_at_ms.reset();  // nothing to retry: do not look again
    }
    return d;
}

FlowDecision CallFlow::on_command_result(const CallRecord& current, CommandKind kind,
                                         std::string_view status, std::string_view message,
                                         const FlowInputs& inputs) const {
    FlowDecision d;
    d.record = current;
    store::Call& call = d.record.call;
    if (status == "ok") {
        return d;
    }
    if (status == "call_ended") {
        // Telnyx 90018: the call is over; a normal end, the hangup webhook fills the details.
        end_without_hangup(d, inputs.now_ms, inputs.now_ms);
        d.notes.push_back(fmt::format("{}: call already ended (90018)", to_string(kind)));
        return d;
    }
    call.last_error = std::string(message);
    call.updated_at_ms = inputs.now_ms;
    d.call_changed = true;
    d.notes.push_back(fmt::format("{} failed: {}", to_string(kind), message));
    return d;
}

FlowDecision CallFlow::on_call_status(const CallRecord& current,
                                      const std::optional<protocol::CallStatus>& status,
                                      const FlowInputs& inputs) const {
    FlowDecision d;
    d.record = current;
    store::Call& call = d.record.call;
    if (!is_active(call.state)) {
        d.ignored = true;
        return d;
    }
    if (status && status->is_alive) {
        d.notes.emplace_back("telnyx: the call is still up");
        return d;
    }
    const auto ended = status ? parse_ms(status->end_time) : std::nullopt;
    end_without_hangup(d, ended.value_or(inputs.now_ms), inputs.now_ms);
    if (status && status->call_duration_s) {
        call.duration_seconds = static_cast<double>(*status->call_duration_s);
    }
    call.last_error = status ? "the call ended without a call.hangup webhook (Telnyx: not alive)"
                             : "the call ended without a call.hangup webhook (Telnyx no longer "
                               "knows it)";
    d.notes.push_back(call.last_error);
    return d;
}

FlowDecision CallFlow::on_escalate(const CallRecord& current, config::EscalationPolicy policy,
                                   std::string_view reason, const FlowInputs& inputs) const {
    FlowDecision d;
    d.record = current;
    store::Call& call = d.record.call;
    FlowState& flow = d.record.flow;
    const auto refuse = [&d](std::string status, std::string note) {
        d.ignored = true;
        d.escalation_status = std::move(status);
        d.notes.push_back(std::move(note));
        return d;
    };
    if (policy == config::EscalationPolicy::None) {
        return refuse("policy_none", "escalation policy none: nothing to do");
    }
    if (!call.escalation.empty() || flow.escalation_issued) {
        return refuse("already_escalated",
                      fmt::format("already escalated ({}): not repeated",
                                  call.escalation.empty() ? "issued" : call.escalation));
    }
    if (!is_active(call.state) || call.call_control_id.empty()) {
        return refuse("call_ended", "escalation for an ended call: nothing to send");
    }
    if (call.state == CallState::Initiated && policy != config::EscalationPolicy::Hangup) {
        return refuse("not_answered", "escalation before answer: speak/transfer need an answer");
    }
    switch (policy) {
        case config::EscalationPolicy::Warn: {
            auto command = planned(CommandKind::Speak, call, "escalation");
            protocol::SpeakCommand speak;
            speak.command_id = command.command_id;
            speak.payload = options_.escalation_warning_text;
            speak.voice = options_.greeting_voice;
            speak.language = options_.greeting_language;
            speak.payload_type = protocol::SpeakPayloadType::Text;
            speak.service_level = protocol::ServiceLevel::Basic;
            command.command = std::move(speak);
            d.commands.push_back(std::move(command));
            break;
        }
        case config::EscalationPolicy::Transfer: {
            if (options_.security_number.empty()) {
                return refuse("no_security_number",
                              "escalation transfer without SECURITY_NUMBER: nothing to send");
            }
            auto command = planned(CommandKind::Transfer, call, "escalation");
            protocol::TransferCommand transfer;
            transfer.command_id = command.command_id;
            transfer.to = options_.security_number;
            command.command = std::move(transfer);
            d.commands.push_back(std::move(command));
            break;
        }
        case config::EscalationPolicy::Hangup: {
            auto command = planned(CommandKind::Hangup, call, "escalation");
            protocol::HangupCommand hangup;
            hangup.command_id = command.command_id;
            command.command = std::move(hangup);
            d.commands.push_back(std::move(command));
            flow.mark_issued(CommandKind::Hangup);
            break;
        }
        case config::EscalationPolicy::None:
            break;
    }
    call.escalation = std::string(config::to_string(policy));
    call.escalated_at_ms = inputs.now_ms;
    call.updated_at_ms = inputs.now_ms;
    flow.escalation_issued = true;
    d.call_changed = true;
    d.escalation_status = "issued";
    d.notes.push_back(fmt::format("escalation {} issued: {}", call.escalation, reason));
    return d;
}

FlowDecision CallFlow::on_recovered(const CallRecord& current, const FlowInputs& inputs) const {
    FlowDecision d;
    d.record = current;
    if (start_stream_again(d, "resume", inputs.stream_url)) {
        d.notes.push_back(fmt::format("media stream restarted after a service restart url={}",
                                      d.record.flow.stream_url));
    }
    return d;
}

PlannedCommand CallFlow::plan_dial(std::string_view to, std::string_view from,
                                   std::string_view connection_id, std::string_view command_id,
                                   const FlowInputs& inputs) const {
    PlannedCommand command;
    command.kind = CommandKind::Dial;
    command.command_id = std::string(command_id);
    protocol::DialCommand dial;
    dial.command_id = command.command_id;
    dial.to = std::string(to);
    dial.from = std::string(from);
    dial.connection_id = std::string(connection_id);
    if (options_.dial_stream_in_body && !inputs.stream_url.empty()) {
        dial.stream = protocol::StreamOptions{.stream_url = inputs.stream_url,
                                              .track = protocol::StreamTrack::InboundTrack};
    }
    if (options_.record_calls && options_.dial_record_in_body) {
        dial.record = protocol::RecordFromAnswer{.channels = protocol::RecordChannels::Single,
                                                 .format = protocol::RecordFormat::Wav};
    }
    if (options_.telnyx_deepfake_detection) {
        dial.deepfake_detection = protocol::DeepfakeDetectionOptions{};
    }
    command.command = std::move(dial);
    return command;
}

FlowDecision CallFlow::on_dial_accepted(const std::optional<CallRecord>& current,
                                        const protocol::DialResult& result, std::string_view to,
                                        std::string_view from, const FlowInputs& inputs) const {
    FlowDecision d;
    if (current) {
        d.record = *current;
    } else {
        store::Call& call = d.record.call;
        call.id = inputs.new_call_id;
        call.call_control_id = result.call_control_id;
        call.direction = store::CallDirection::Outbound;
        call.state = CallState::Initiated;
        call.started_at_ms = inputs.now_ms;
        call.created_at_ms = inputs.now_ms;
        d.call_created = true;
    }
    store::Call& call = d.record.call;
    const auto fill = [](std::string& field, std::string_view value) {
        if (field.empty()) {
            field = std::string(value);
        }
    };
    fill(call.call_leg_id, result.call_leg_id);
    fill(call.call_session_id, result.call_session_id);
    fill(call.from, from);
    fill(call.to, to);
    call.direction = store::CallDirection::Outbound;
    FlowState& flow = d.record.flow;
    flow.stream_in_dial = options_.dial_stream_in_body && !inputs.stream_url.empty();
    flow.record_in_dial = options_.record_calls && options_.dial_record_in_body;
    if (flow.stream_in_dial && is_active(call.state)) {
        // The dial body cannot carry a stream token: this stream is admitted without one.
        d.grant = service::StreamGrant{.call_id = call.id,
                                       .call_control_id = call.call_control_id,
                                       .stream_auth_token = call.stream_auth_token};
    }
    call.updated_at_ms = inputs.now_ms;
    d.call_changed = true;
    d.notes.push_back(fmt::format("dial accepted to={}", to));
    return d;
}

FlowState flow_from_history(const store::Call& call, const std::vector<store::CommandLog>& log) {
    FlowState flow;
    for (const auto& entry : log) {
        const auto kind = parse_command_kind(entry.command);
        if (!kind) {
            continue;
        }
        flow.mark_issued(*kind);  // a logged transfer is the escalation
        if (*kind == CommandKind::StreamingStart) {
            const auto body = nlohmann::json::parse(entry.request_body_json, nullptr, false);
            if (body.is_object() && body.contains("stream_url") && body["stream_url"].is_string()) {
                flow.stream_url = body["stream_url"].get<std::string>();
            }
        }
        if (*kind == CommandKind::Dial) {
            const auto body = nlohmann::json::parse(entry.request_body_json, nullptr, false);
            if (body.is_object()) {
                flow.stream_in_dial = body.contains("stream_url");
                flow.record_in_dial = body.contains("record");
            }
        }
    }
    flow.escalation_issued = flow.escalation_issued || !call.escalation.empty();
    if (call.final_score && call.final_llr) {
        pipeline::CallScore score;
        score.probability = *call.final_score;
        score.llr = *call.final_llr;
        score.verdict = parse_verdict(call.verdict).value_or(pipeline::Verdict::Uncertain);
        score.speech_seconds = call.speech_seconds;
        score.windows = 1;  // the row does not keep the count; > 0 marks the score as real
        flow.latest_score = score;
    }
    return flow;
}

service::StreamGrant grant_from_timeline(const store::Call& call,
                                         const std::vector<store::ScorePoint>& points) {
    service::StreamGrant grant{.call_id = call.id,
                               .call_control_id = call.call_control_id,
                               .stream_auth_token = call.stream_auth_token};
    if (points.empty()) {
        return grant;
    }
    double llr_sum = 0.0;
    for (const auto& point : points) {
        llr_sum += point.window_llr;
    }
    const auto& last = points.back();
    grant.checkpoint.windows = static_cast<int>(points.size());
    grant.checkpoint.llr_sum = llr_sum;
    // The scorer counts 10 ms speech frames (speech_seconds = frames / 100).
    grant.checkpoint.speech_frames = std::llround(last.speech_seconds * 100.0);
    grant.next_seq = last.seq + 1;
    grant.audio_offset_ms = last.at_ms;
    return grant;
}

std::string command_id_for(std::string_view call_control_id, CommandKind kind,
                           std::string_view step) {
    return uuid_from_hash("dvd-command", {call_control_id, to_string(kind), step});
}

std::string call_id_for(std::string_view call_control_id) {
    return uuid_from_hash("dvd-call", {call_control_id});
}

std::string base_of_url(std::string_view url) {
    std::string_view scheme;
    if (url.starts_with("https://")) {
        scheme = "https";
    } else if (url.starts_with("http://")) {
        scheme = "http";
    } else {
        return {};
    }
    std::string_view rest = url.substr(scheme.size() + 3);
    const auto end = rest.find_first_of("/?#");
    std::string_view authority = rest.substr(0, end);
    if (const auto at = authority.rfind('@'); at != std::string_view::npos) {
        authority.remove_prefix(at + 1);  // never carry user info into a URL we send
    }
    if (authority.empty()) {
        return {};
    }
    return fmt::format("{}://{}", scheme, authority);
}

std::string stream_url_from_base(std::string_view public_base_url) {
    const std::string base = base_of_url(public_base_url);
    if (base.empty()) {
        return {};
    }
    if (base.starts_with("https://")) {
        return fmt::format("wss://{}/media", std::string_view(base).substr(8));
    }
    return fmt::format("ws://{}/media", std::string_view(base).substr(7));
}

}  // namespace dvd::calls
