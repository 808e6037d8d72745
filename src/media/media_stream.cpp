#include "media/media_stream.hpp"

#include <algorithm>
#include <type_traits>
#include <utility>
#include <variant>

#include <fmt/format.h>

#include "base/log.hpp"
#include "media/audio_archive.hpp"
#include "media/indicator_json.hpp"
#include "protocol/base64.hpp"
#include "protocol/errc.hpp"
#include "service/secrets.hpp"

namespace dvd::media {
namespace {

/// Archive in chunks of 200 ms (8 kHz) so that the audio-writer queue holds few, larger items.
constexpr std::size_t kArchiveChunkSamples = 1600;
/// RFC 6455 section 5.5: a close frame's payload is at most 125 bytes, 2 of them the code.
constexpr std::size_t kMaxCloseReasonBytes = 123;
/// Microseconds per 8 kHz sample (metrics.audio_seconds_micro).
constexpr std::uint64_t kMicrosPerSample = 125;

std::string clip_reason(std::string reason) {
    if (reason.size() > kMaxCloseReasonBytes) {
        reason.resize(kMaxCloseReasonBytes);
        // Do not leave half a UTF-8 sequence at the end.
        while (!reason.empty() && (static_cast<unsigned char>(reason.back()) & 0xC0U) == 0x80U) {
            reason.pop_back();
        }
        if (!reason.empty() && (static_cast<unsigned char>(reason.back()) & 0x80U) != 0) {
            reason.pop_back();
        }
    }
    return reason;
}

bool is_flagged(const pipeline::CallScore& score, double threshold) {
    return score.verdict == pipeline::Verdict::Synthetic && score.probability >= threshold;
}

}  // namespace

MediaStream::MediaStream(MediaDeps& deps, std::string presented_token)
    : deps_(deps),
      presented_token_(std::move(presented_token)),
      jitter_(std::max<std::size_t>(1, deps.jitter_window_frames)) {}

MediaStream::~MediaStream() {
    if (!ended_) {
        end("stream destroyed", true, false);
    }
}

std::optional<StreamClose> MediaStream::handle_text(std::string_view text) {
    if (ended_) {
        return StreamClose{net::CloseCode::PolicyViolation, "stream already ended", "ended", true};
    }
    auto parsed = protocol::parse_inbound_message(text, deps_.limits);
    if (!parsed) {
        const auto& error = parsed.error();
        if (error.code == protocol::Errc::UnknownEvent) {
            DVD_LOG_RATE_LIMITED(Media, Debug, "media frame ignored: {} call_id={}", error.message,
                                 grant_.call_id);
            return std::nullopt;
        }
        if (error.code == protocol::Errc::TooLarge) {
            return fail(net::CloseCode::MessageTooBig, "frame_too_large", error.message);
        }
        if (error.code == protocol::Errc::BadBase64) {
            return fail(net::CloseCode::InvalidPayload, "invalid_media",
                        "bad base64: " + error.message);
        }
        return fail(net::CloseCode::InvalidPayload, "malformed_frame",
                    "malformed frame: " + error.message);
    }
    return handle(std::move(*parsed));
}

std::optional<StreamClose> MediaStream::handle(protocol::InboundMessage message) {
    if (ended_) {
        return StreamClose{net::CloseCode::PolicyViolation, "stream already ended", "ended", true};
    }
    return std::visit(
            [this](auto& m) -> std::optional<StreamClose> {
                using T = std::decay_t<decltype(m)>;
                if constexpr (std::is_same_v<T, protocol::ConnectedMessage>) {
                    return on_connected(m);
                } else if constexpr (std::is_same_v<T, protocol::StartMessage>) {
                    return on_start(m);
                } else if constexpr (std::is_same_v<T, protocol::MediaMessage>) {
                    return on_media(m);
                } else if constexpr (std::is_same_v<T, protocol::StopMessage>) {
                    return on_stop(m);
                } else if constexpr (std::is_same_v<T, protocol::DtmfMessage>) {
                    DVD_LOG(Media, Debug, "dtmf digit={} occurred_at={} call_id={}", m.digit,
                            m.occurred_at, grant_.call_id);
                    skip_sequence(m.sequence_number);
                    return started_ ? drain_released() : std::nullopt;
                } else if constexpr (std::is_same_v<T, protocol::MarkMessage>) {
                    DVD_LOG(Media, Debug, "mark name={} call_id={}", m.name, grant_.call_id);
                    skip_sequence(m.sequence_number);
                    return started_ ? drain_released() : std::nullopt;
                } else {
                    static_assert(std::is_same_v<T, protocol::ErrorMessage>);
                    DVD_LOG_RATE_LIMITED(Media, Warn,
                                         "telnyx stream error code={} title={} detail={} "
                                         "stream_id={} call_id={}",
                                         m.code, m.title, m.detail, m.stream_id, grant_.call_id);
                    return std::nullopt;
                }
            },
            message);
}

std::optional<StreamClose> MediaStream::on_connected(const protocol::ConnectedMessage& message) {
    if (presented_token_.empty() && message.auth_token) {
        presented_token_ = *message.auth_token;
    }
    DVD_LOG(Media, Debug, "media stream connected version={}", message.version);
    return std::nullopt;
}

std::optional<StreamClose> MediaStream::on_start(protocol::StartMessage& message) {
    if (started_) {
        DVD_LOG_RATE_LIMITED(Media, Warn, "second start frame ignored stream_id={} call_id={}",
                             message.stream_id, grant_.call_id);
        skip_sequence(message.sequence_number);
        return drain_released();
    }
    auto grant = deps_.directory.find(message.call_control_id);
    if (!grant) {
        DVD_LOG_RATE_LIMITED(Media, Warn,
                             "media stream refused: unknown call call_control_id={} stream_id={}",
                             message.call_control_id, message.stream_id);
        return reject("unknown_call", "unknown call");
    }
    if (!grant->stream_auth_token.empty()
        && !service::secrets_equal(presented_token_, grant->stream_auth_token)) {
        DVD_LOG_RATE_LIMITED(
                Media, Warn, "media stream refused: {} stream token call_id={} stream_id={}",
                presented_token_.empty() ? "missing" : "wrong", grant->call_id, message.stream_id);
        return reject("bad_stream_token", "bad stream token");
    }
    const auto& format = message.media_format;
    auto decoder =
            codec::MediaDecoder::create(format.encoding, format.sample_rate_hz, format.channels);
    if (!decoder) {
        deps_.metrics.media_streams_errored.add();
        ended_ = true;
        DVD_LOG_RATE_LIMITED(Media, Warn, "media stream refused: {} call_id={} stream_id={}",
                             decoder.error().message, grant->call_id, message.stream_id);
        return StreamClose{decoder.error().code == base::make_error_code(base::Errc::Runtime)
                                   ? net::CloseCode::InternalError
                                   : net::CloseCode::UnsupportedData,
                           clip_reason("unsupported media format: " + decoder.error().message),
                           "unsupported_media", true};
    }
    grant_ = std::move(*grant);
    decoder_.emplace(std::move(*decoder));
    scorer_ = std::make_unique<pipeline::StreamingScorer>(deps_.model, deps_.tables, deps_.scorer,
                                                          deps_.scoring);
    scorer_->resume(grant_.checkpoint);
    tracker_ = std::make_unique<indicators::IndicatorTracker>();
    restore_indicators();
    codec_sample_rate_hz_ = static_cast<int>(format.sample_rate_hz);
    flagged_ = is_flagged(scorer_->call(), scorer_->threshold());
    next_seq_ = grant_.next_seq;
    stream_id_ = message.stream_id;
    encoding_ = format.encoding;
    started_ = true;
    deps_.metrics.media_streams_opened.add();
    deps_.metrics.media_streams_active.add(1);
    DVD_LOG(Media, Info,
            "media stream started call_id={} call_control_id={} stream_id={} encoding={} "
            "sample_rate={} resumed_windows={} next_seq={}",
            grant_.call_id, grant_.call_control_id, stream_id_, encoding_, format.sample_rate_hz,
            grant_.checkpoint.windows, next_seq_);
    deps_.sink.on_stream_started(service::StreamStarted{
            .call_id = grant_.call_id,
            .call_control_id = grant_.call_control_id,
            .stream_id = stream_id_,
            .encoding = encoding_,
            .sample_rate_hz = static_cast<int>(format.sample_rate_hz),
    });
    skip_sequence(message.sequence_number);
    return drain_released();
}

std::optional<StreamClose> MediaStream::on_media(protocol::MediaMessage& message) {
    if (!started_) {
        return fail(net::CloseCode::PolicyViolation, "media_before_start",
                    "media frame before start");
    }
    if (message.track == protocol::MediaTrack::Outbound) {
        deps_.metrics.media_frames_outbound.add();
        skip_sequence(message.sequence_number);
        return drain_released();
    }
    deps_.metrics.media_frames.add();
    deps_.metrics.media_bytes.add(message.payload.size());
    const std::uint64_t sequence_number = message.sequence_number;
    jitter_.push(sequence_number, std::move(message), released_);
    return drain_released();
}

std::optional<StreamClose> MediaStream::on_stop(const protocol::StopMessage& message) {
    if (!started_) {
        DVD_LOG(Media, Info, "media stream stopped before start stream_id={}", message.stream_id);
        return finish(StreamClose{net::CloseCode::Normal, "stop", "stop", false});
    }
    jitter_.flush(released_);
    if (auto close = drain_released()) {
        return close;
    }
    decoder_->flush(samples_);
    if (auto close = process_samples()) {
        return close;
    }
    return finish(StreamClose{net::CloseCode::Normal, "stop", "stop", false});
}

void MediaStream::skip_sequence(std::optional<std::uint64_t> sequence_number) {
    if (started_ && sequence_number) {
        jitter_.skip(*sequence_number, released_);
    }
}

std::optional<StreamClose> MediaStream::drain_released() {
    for (auto& item : released_) {
        if (item.lost_before > 0) {
            const auto lost = static_cast<std::size_t>(std::min<std::uint64_t>(
                    item.lost_before, codec::MediaDecoder::kMaxConcealPackets));
            decoder_->conceal(lost, samples_);
        }
        auto decoded = decoder_->decode(item.item.payload, samples_);
        if (!decoded) {
            released_.clear();
            deps_.metrics.media_decode_errors.add();
            return fail(net::CloseCode::InvalidPayload, "invalid_media",
                        fmt::format("undecodable payload (sequence_number {}): {}",
                                    item.sequence_number, decoded.error().message));
        }
    }
    released_.clear();
    const auto& stats = jitter_.stats();
    deps_.metrics.media_frames_late.add(stats.late - reported_jitter_.late);
    deps_.metrics.media_frames_lost.add(stats.lost - reported_jitter_.lost);
    reported_jitter_ = stats;
    return process_samples();
}

std::optional<StreamClose> MediaStream::process_samples() {
    if (samples_.empty()) {
        return std::nullopt;
    }
    to_int16(samples_, archive_);
    if (archive_.size() >= kArchiveChunkSamples) {
        flush_archive();
    }
    samples_decoded_ += static_cast<std::int64_t>(samples_.size());
    deps_.metrics.audio_seconds_micro.add(samples_.size() * kMicrosPerSample);

    tracker_->accept(samples_);
    const auto status = scorer_->accept(
            samples_, [this](const pipeline::WindowScore& window, const pipeline::CallScore& call) {
                report_window(window, call);
            });
    samples_.clear();
    if (!status) {
        return fail(net::CloseCode::InternalError, "internal_error",
                    "scoring failed: " + status.error().message);
    }
    return std::nullopt;
}

void MediaStream::report_window(const pipeline::WindowScore& window,
                                const pipeline::CallScore& call) {
    deps_.metrics.window_seconds.observe(window.model_seconds);
    deps_.metrics.windows_scored.add();
    // Where the window ends in the call's audio (the scoring pool may report it frames later).
    const std::int64_t at_ms = grant_.audio_offset_ms + window.end_sample / 8;  // 8 kHz
    const bool flagged_now = is_flagged(call, scorer_->threshold());
    const bool crossed = flagged_now && !flagged_;
    flagged_ = flagged_ || flagged_now;
    const std::string verdict(pipeline::to_string(call.verdict));
    const indicators::Indicators window_figures = tracker_->window_snapshot();
    deps_.writer.try_push(store::ScorePoint{
            .call_id = grant_.call_id,
            .seq = next_seq_++,
            .at_ms = at_ms,
            .speech_seconds = call.speech_seconds,
            .window_score = window.probability,
            .window_llr = window.llr,
            .call_score = call.probability,
            .call_llr = call.llr,
            .verdict = verdict,
            .indicators_json = window_indicators_json(window_figures),
    });
    std::string indicator_state = saved_indicators();
    deps_.writer.try_push(call_update(call, call.windows % kIndicatorStateEveryWindows == 1
                                                    ? indicator_state
                                                    : std::string()));
    deps_.directory.update_progress(grant_.call_control_id, scorer_->checkpoint(), next_seq_, at_ms,
                                    std::move(indicator_state));
    if (crossed) {
        DVD_LOG(Media, Info,
                "call crossed the detection threshold call_id={} score={:.3f} "
                "llr={:.3f} speech_seconds={:.1f}",
                grant_.call_id, call.probability, call.llr, call.speech_seconds);
    }
    deps_.sink.on_score_changed(service::ScoreChanged{
            .call_id = grant_.call_id,
            .call_control_id = grant_.call_control_id,
            .score = call,
            .window = window,
            .at_ms = at_ms,
            .crossed_threshold = crossed,
    });
}

store::CallScoreUpdate MediaStream::call_update(const pipeline::CallScore& call,
                                                std::string indicator_state) const {
    return store::CallScoreUpdate{
            .call_id = grant_.call_id,
            .final_score = call.probability,
            .final_llr = call.llr,
            .verdict = std::string(pipeline::to_string(call.verdict)),
            .speech_seconds = call.speech_seconds,
            .flagged = flagged_,
            .updated_at_ms = deps_.now_ms ? deps_.now_ms() : 0,
            .indicators_json = indicators_json(call_indicators()),
            .indicator_state = std::move(indicator_state),
    };
}

std::string MediaStream::saved_indicators() const {
    return protocol::encode_base64(tracker_->save_call_state());
}

void MediaStream::restore_indicators() {
    if (grant_.indicator_state.empty()) {
        return;
    }
    auto bytes = protocol::decode_base64(grant_.indicator_state);
    if (bytes
        && tracker_->restore_call_state(
                std::string_view(reinterpret_cast<const char*>(bytes->data()), bytes->size()))) {
        return;
    }
    DVD_LOG(Media, Warn,
            "the saved acoustic indicators of call_id={} were not restored (written by another "
            "version?): they start again with this stream",
            grant_.call_id);
}

void MediaStream::flush_archive() {
    if (archive_.empty() || !started_) {
        archive_.clear();
        return;
    }
    if (!deps_.archive.append(grant_.call_id, archive_)) {
        DVD_LOG_RATE_LIMITED(Media, Warn, "audio archive full: {} samples dropped call_id={}",
                             archive_.size(), grant_.call_id);
    }
    archive_.clear();
}

std::int64_t MediaStream::position_ms() const {
    return grant_.audio_offset_ms + samples_decoded_ / 8;  // 8 samples per ms at 8 kHz
}

indicators::StreamFigures MediaStream::stream_figures() const {
    const auto& stats = jitter_.stats();
    return indicators::StreamFigures{
            .codec = encoding_,
            .codec_sample_rate_hz = codec_sample_rate_hz_,
            .frames_received = static_cast<long long>(stats.released),
            .frames_lost = static_cast<long long>(stats.lost),
            .frames_late = static_cast<long long>(stats.late),
    };
}

indicators::Indicators MediaStream::call_indicators() const {
    if (!tracker_) {
        return {};
    }
    indicators::Indicators figures = tracker_->snapshot();
    figures.stream = stream_figures();
    return figures;
}

pipeline::CallScore MediaStream::score() const {
    return scorer_ ? scorer_->call() : pipeline::CallScore{};
}

void MediaStream::end(std::string reason, bool error, bool lost) {
    if (ended_) {
        return;
    }
    if (started_) {
        jitter_.flush(released_);
        if (drain_released()) {
            return;  // an error ended the stream while flushing
        }
        decoder_->flush(samples_);
        if (process_samples()) {
            return;
        }
    }
    static_cast<void>(
            finish(StreamClose{net::CloseCode::Normal, std::move(reason), "ended", error, lost}));
}

StreamClose MediaStream::abort(net::CloseCode code, std::string kind, std::string reason) {
    if (ended_) {
        return StreamClose{code, clip_reason(std::move(reason)), std::move(kind), true};
    }
    return *fail(code, std::move(kind), std::move(reason));
}

std::optional<StreamClose> MediaStream::reject(std::string kind, std::string reason) {
    deps_.metrics.media_streams_rejected.add();
    ended_ = true;
    return StreamClose{net::CloseCode::PolicyViolation, std::move(reason), std::move(kind), true};
}

std::optional<StreamClose> MediaStream::fail(net::CloseCode code, std::string kind,
                                             std::string reason) {
    deps_.metrics.media_streams_errored.add();
    DVD_LOG_RATE_LIMITED(Media, Warn, "closing media stream: {} call_id={} stream_id={}", reason,
                         grant_.call_id, stream_id_);
    return finish(StreamClose{code, clip_reason(std::move(reason)), std::move(kind), true});
}

std::optional<StreamClose> MediaStream::finish(StreamClose close) {
    if (ended_) {
        return close;
    }
    ended_ = true;
    if (!started_) {
        return close;
    }
    flush_archive();
    // The last speech frames (held back for band harmonicity's look-ahead) and a window still
    // with the scoring pool belong in the final score.
    if (auto drained = scorer_->finish(
                [this](const pipeline::WindowScore& window, const pipeline::CallScore& call) {
                    report_window(window, call);
                });
        !drained) {
        DVD_LOG_RATE_LIMITED(Media, Warn, "last window not scored: {} call_id={} stream_id={}",
                             drained.error().message, grant_.call_id, stream_id_);
    }
    deps_.metrics.media_streams_active.add(-1);
    const std::int64_t at_ms = position_ms();
    const pipeline::CallScore final_score = scorer_->call();
    std::string indicator_state = saved_indicators();
    if (final_score.windows > 0) {
        // The indicators of the audio after the last window, and the sums for a later stream of
        // the call (a reconnect, or a restart before it ends; the call's end clears them).
        deps_.writer.try_push(call_update(final_score, indicator_state));
    }
    deps_.directory.update_progress(grant_.call_control_id, scorer_->checkpoint(), next_seq_, at_ms,
                                    std::move(indicator_state));
    DVD_LOG(Media, Info,
            "media stream ended call_id={} stream_id={} reason=\"{}\" error={} lost={} audio_ms={} "
            "windows={} score={:.3f} verdict={}",
            grant_.call_id, stream_id_, close.reason, close.error, close.lost, at_ms,
            final_score.windows, final_score.probability, pipeline::to_string(final_score.verdict));
    deps_.sink.on_stream_ended(service::StreamEnded{
            .call_id = grant_.call_id,
            .call_control_id = grant_.call_control_id,
            .stream_id = stream_id_,
            .reason = close.reason,
            .error = close.error,
            .lost = close.lost,
            .score = final_score,
    });
    return close;
}

}  // namespace dvd::media
