#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "codec/media_decoder.hpp"
#include "dsp/feature_extractor.hpp"
#include "indicators/indicator_tracker.hpp"
#include "model/detector_model.hpp"
#include "net/server.hpp"
#include "pipeline/streaming_scorer.hpp"
#include "protocol/jitter_buffer.hpp"
#include "protocol/media_message.hpp"
#include "service/call_directory.hpp"
#include "service/call_events.hpp"
#include "service/metrics.hpp"
#include "store/store_writer.hpp"

namespace dvd::media {

class AudioArchive;

/// The indicators' call sums (about 3.8 kB of base64) go to the store with a call's first window
/// and every this many windows after it (5 s of speech at the default hop): a restart loses the
/// indicators of at most that much speech, and the store is not written 3.8 kB per window.
inline constexpr int kIndicatorStateEveryWindows = 10;

/// Everything a media stream needs, shared by every session of the process (built once by the
/// server; each referenced object must outlive every session and the relay).
struct MediaDeps {
    std::shared_ptr<const model::DetectorModel> model;  ///< shared, immutable
    std::shared_ptr<const dsp::FeatureTables> tables;   ///< shared, immutable
    /// Runs the streams' model windows off their threads; null: inline on the stream's thread.
    pipeline::ScoringPool* scoring = nullptr;
    /// Per-stream scorer options; `threshold` = config DETECTION_THRESHOLD.
    pipeline::ScorerOptions scorer;
    service::CallDirectory& directory;  ///< grants: call_control_id -> call, token, checkpoint
    service::CallEventSink& sink;       ///< stream started / score changed / stream ended
    store::StoreWriter& writer;         ///< ScorePoint + CallScoreUpdate (try_push, never blocks)
    AudioArchive& archive;              ///< inbound PCM for re-scoring
    service::Metrics& metrics;
    /// Wall-clock time, ms since the Unix epoch (CallScoreUpdate.updated_at_ms).
    std::function<std::int64_t()> now_ms;
    protocol::MediaParseLimits limits{};
    /// Jitter-buffer window in frames (20 ms each): reordering tolerated within this many.
    std::size_t jitter_window_frames = protocol::JitterBuffer<int>::kDefaultWindowFrames;
};

/// How a stream must end: the WebSocket close code and reason (the relay maps it to HTTP).
struct StreamClose {
    net::CloseCode code = net::CloseCode::Normal;
    std::string reason{};  ///< for people: sent as the close reason (at most 123 bytes)
    /// For programs: "stop", "unknown_call", "bad_stream_token", "malformed_frame",
    /// "frame_too_large", "media_before_start", "unsupported_media", "invalid_media",
    /// "binary_frame", "internal_error", "ended" (closed from outside).
    std::string kind{};
    bool error = false;  ///< bad input or a failure, not a normal `stop`
    /// The connection went away without a `stop` and without our refusal (the peer vanished or
    /// closed, or sent nothing for the idle timeout): the call may still be on, unheard.
    bool lost = false;
};

/// One Telnyx media stream, transport-independent: typed frames in (`connected`, `start`,
/// `media`, `stop`, `dtmf`, `mark`, `error`), scores out (store writer, call-event sink, call
/// directory, metrics, audio archive). Used by the WebSocket session and by the HTTP relay.
///
/// Rules (docs/api.md, "Media stream"):
///   * `start`: the call must be granted in the CallDirectory (else 1008 "unknown call"); when the
///     grant holds a token, the presented one (upgrade header, else the `connected` frame's)
///     must equal it (else 1008 "bad stream token"); the encoding must be decodable (else 1003).
///     The scorer resumes from the grant's checkpoint, timeline seq from grant.next_seq, audio
///     position from grant.audio_offset_ms, the call-level indicators from
///     grant.indicator_state.
///   * `media`: inbound track only (outbound counted and ignored); reordered by sequence_number
///     in a jitter window; gaps concealed; decoded to 8 kHz; archived; scored; the same samples
///     feed an `indicators::IndicatorTracker`. Every window gives a ScorePoint (with the window's
///     key indicators), a CallScoreUpdate (with the call-level indicators and the stream figures:
///     codec, frames received/lost/late), a directory progress update (with the indicators'
///     call sums) and a ScoreChanged event. The call sums also go to the store with the first
///     window and every kIndicatorStateEveryWindows-th after it, so after a service restart the
///     call's indicators go on from at most that many windows before the crash.
///   * `stop`: flush, StreamEnded, close 1000.
///   * errors close the stream: malformed JSON / fields / base64 and undecodable payloads 1007,
///     oversized frames 1009, frames before `start` / unknown call / bad token 1008, unsupported
///     encoding 1003, model failure 1011. Unknown events, `dtmf`, `mark`, `error`: logged only.
///
/// Threads: one thread at a time (a WebSocket session's worker; the relay serialises with a
/// per-stream mutex). `handle*` never blocks on I/O.
class MediaStream {
public:
    MediaStream(MediaDeps& deps, std::string presented_token);
    ~MediaStream();  ///< end("destroyed") if still open
    MediaStream(const MediaStream&) = delete;
    MediaStream& operator=(const MediaStream&) = delete;

    /// Parses and handles one text frame. nullopt: go on; a StreamClose: the stream has ended
    /// (StreamEnded already reported) and the transport must close with it.
    [[nodiscard]] std::optional<StreamClose> handle_text(std::string_view text);

    /// Handles one parsed frame (the relay parses batches itself).
    [[nodiscard]] std::optional<StreamClose> handle(protocol::InboundMessage message);

    /// Ends the stream from outside (peer closed, idle, shutdown): flushes what is buffered, then
    /// reports StreamEnded once (`lost` as in StreamClose). No-op when already ended.
    void end(std::string reason, bool error, bool lost);

    /// Ends the stream for a reason found by the transport (a binary frame, ...): counts an
    /// error, reports StreamEnded, returns the close to send.
    [[nodiscard]] StreamClose abort(net::CloseCode code, std::string kind, std::string reason);

    [[nodiscard]] bool started() const { return started_; }

    [[nodiscard]] bool ended() const { return ended_; }

    [[nodiscard]] const std::string& call_id() const { return grant_.call_id; }

    [[nodiscard]] const std::string& call_control_id() const { return grant_.call_control_id; }

    [[nodiscard]] const std::string& stream_id() const { return stream_id_; }

    /// The presented token (upgrade header or `connected` frame); empty when none.
    [[nodiscard]] const std::string& presented_token() const { return presented_token_; }

    /// Inbound audio decoded so far by this stream, in 8 kHz samples.
    [[nodiscard]] std::int64_t samples_decoded() const { return samples_decoded_; }

    /// The score so far (InsufficientSpeech before any window).
    [[nodiscard]] pipeline::CallScore score() const;

    [[nodiscard]] std::int64_t next_seq() const { return next_seq_; }

    [[nodiscard]] const protocol::JitterStats& jitter_stats() const { return jitter_.stats(); }

    /// The call-level indicators so far, stream figures filled in (empty before `start`).
    [[nodiscard]] indicators::Indicators call_indicators() const;

private:
    std::optional<StreamClose> on_connected(const protocol::ConnectedMessage& message);
    std::optional<StreamClose> on_start(protocol::StartMessage& message);
    std::optional<StreamClose> on_media(protocol::MediaMessage& message);
    std::optional<StreamClose> on_stop(const protocol::StopMessage& message);
    void skip_sequence(std::optional<std::uint64_t> sequence_number);
    std::optional<StreamClose> drain_released();
    std::optional<StreamClose> process_samples();
    // One scored window: score point, call update, directory progress, ScoreChanged event.
    void report_window(const pipeline::WindowScore& window, const pipeline::CallScore& call);
    /// The call row's scorer fields and call indicators as of `call`, with `indicator_state`
    /// (empty: the stored one stays).
    store::CallScoreUpdate call_update(const pipeline::CallScore& call,
                                       std::string indicator_state) const;
    /// The tracker's call sums for a checkpoint (base64 of save_call_state).
    std::string saved_indicators() const;
    /// Continues the call's indicators from the grant's saved state, if any.
    void restore_indicators();
    std::optional<StreamClose> fail(net::CloseCode code, std::string kind, std::string reason);
    std::optional<StreamClose> reject(std::string kind, std::string reason);
    std::optional<StreamClose> finish(StreamClose close);
    void flush_archive();
    std::int64_t position_ms() const;
    indicators::StreamFigures stream_figures() const;

    MediaDeps& deps_;
    std::string presented_token_;
    service::StreamGrant grant_{};
    std::string stream_id_;
    std::string encoding_;
    bool started_ = false;
    bool ended_ = false;
    bool flagged_ = false;

    std::optional<codec::MediaDecoder> decoder_;
    std::unique_ptr<pipeline::StreamingScorer> scorer_;
    std::unique_ptr<indicators::IndicatorTracker> tracker_;  ///< made at `start` (about 19 kB)
    int codec_sample_rate_hz_ = 0;
    protocol::JitterBuffer<protocol::MediaMessage> jitter_;
    std::vector<protocol::Sequenced<protocol::MediaMessage>> released_;
    std::vector<float> samples_;         ///< decoded, not yet scored (scratch)
    std::vector<std::int16_t> archive_;  ///< pending for the archive
    protocol::JitterStats reported_jitter_{};
    std::int64_t next_seq_ = 0;
    std::int64_t samples_decoded_ = 0;
};

}  // namespace dvd::media
