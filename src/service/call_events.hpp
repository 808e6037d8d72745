#pragma once

#include <cstdint>
#include <string>

#include "pipeline/streaming_scorer.hpp"

namespace dvd::service {

/// A media stream's `start` frame was accepted for a call.
struct StreamStarted {
    std::string call_id{};
    std::string call_control_id{};
    std::string stream_id{};
    std::string encoding{};  ///< media_format.encoding (PCMU, L16, ...)
    int sample_rate_hz = 0;
};

/// The call-level score after a window (sent for every window; cheap).
struct ScoreChanged {
    std::string call_id{};
    std::string call_control_id{};
    pipeline::CallScore score{};
    pipeline::WindowScore window{};
    std::int64_t at_ms = 0;  ///< position in the call's inbound audio
    /// True exactly once per call: the first window after which the call-level score is at or
    /// above the detection threshold with a Synthetic verdict.
    bool crossed_threshold = false;
};

/// The media stream ended (stop frame, peer closed, or closed by us for an error).
struct StreamEnded {
    std::string call_id{};
    std::string call_control_id{};
    std::string stream_id{};
    std::string reason{};  ///< "stop", "peer closed", "malformed frame: ...", ...
    bool error = false;    ///< closed because of bad input or a failure
    /// The connection went away without Telnyx's `stop` and not by our refusal or shutdown (the
    /// peer vanished or closed, or sent nothing for the idle timeout): the call may go on
    /// unheard, so the call logic starts a new stream.
    bool lost = false;
    pipeline::CallScore score{};  ///< the score when it ended
};

/// Where media sessions report to the call logic. Implemented by the `calls` thread's
/// controller; every method is thread-safe, returns at once (it posts) and never blocks a worker.
class CallEventSink {
public:
    virtual ~CallEventSink() = default;
    virtual void on_stream_started(StreamStarted event) = 0;
    virtual void on_score_changed(ScoreChanged event) = 0;
    virtual void on_stream_ended(StreamEnded event) = 0;
};

}  // namespace dvd::service
