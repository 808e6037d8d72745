#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "sim/media_frames.hpp"

namespace dvd::sim {

/// What the owner of a stream asks of its thread (set from other threads).
enum class StreamSignal : std::uint8_t {
    Run,   ///< go on
    Stop,  ///< end it properly: `stop` and a 1000 close (streaming_stop, hangup, shutdown)
    Drop,  ///< the network fails: the TCP connection closes with no `stop` and no close frame
};

/// How a wait between two frames ended.
enum class WaitOutcome {
    Deadline,    ///< the deadline passed: send the next frame
    Stopped,     ///< the signal left Run (see StreamSignal)
    PeerClosed,  ///< the service closed the WebSocket (see StreamTransport::peer_close)
    Failed,      ///< the connection broke
};

/// The socket side of a media stream, behind an interface so that the streaming loop can be
/// tested without a network or a clock. The real one wraps net::WsClient (ws_stream_transport).
/// Used by one thread (the stream's).
class StreamTransport {
public:
    virtual ~StreamTransport() = default;

    [[nodiscard]] virtual base::Result<void> send_text(std::string_view message) = 0;

    /// Waits until `deadline`, appending every message the service sends meanwhile to
    /// `received`. Returns early when `signal` leaves Run or the connection ends.
    [[nodiscard]] virtual WaitOutcome wait_until(std::chrono::steady_clock::time_point deadline,
                                                 const std::atomic<StreamSignal>& signal,
                                                 std::vector<std::string>& received) = 0;

    /// Sends a close frame (best effort).
    virtual void close(std::uint16_t code, std::string_view reason) = 0;

    /// Closes the connection with no close frame (StreamSignal::Drop).
    virtual void drop() = 0;

    /// The close code and reason the service sent, once it closed.
    struct PeerClose {
        std::uint16_t code = 0;
        std::string reason;
    };

    [[nodiscard]] virtual std::optional<PeerClose> peer_close() const = 0;

    [[nodiscard]] virtual std::chrono::steady_clock::time_point now() const = 0;
};

enum class StreamEnd {
    AudioDone,     ///< every frame was sent, then `stop` and a 1000 close
    Stopped,       ///< stopped early (StreamSignal::Stop); `stop` and a 1000 close were sent
    Dropped,       ///< StreamSignal::Drop: the connection was cut, nothing more sent
    ClosedByPeer,  ///< the service closed the stream
    Failed,        ///< a send or the connection failed
};

[[nodiscard]] std::string_view to_string(StreamEnd end) noexcept;

/// What happened on one stream, for the call summary.
struct StreamReport {
    StreamEnd end = StreamEnd::AudioDone;
    std::uint64_t inbound_frames_sent = 0;
    std::uint64_t outbound_frames_sent = 0;
    std::uint64_t messages_received = 0;  ///< media/mark/clear frames from the service
    std::uint64_t marks_echoed = 0;
    std::uint64_t bad_messages = 0;  ///< frames from the service that do not parse
    std::optional<StreamTransport::PeerClose> peer_close{};
    std::string error{};
};

/// Which tracks to send (from `stream_track`): the caller's audio on `inbound`, silence on
/// `outbound` (the simulator has no far-end audio mixed in).
struct TrackSelection {
    bool inbound = true;
    bool outbound = false;
};

/// Plays one stream: `connected`, `start`, then media frame i at start + i x 20 ms / speed
/// (deadlines, so no drift accumulates), then after the last frame's 20 ms `stop` and a close
/// 1000. Marks the service sends are echoed at once (nothing is queued for playback), other
/// service frames are counted. `signal` ends it early: Stop as above, Drop by cutting the
/// connection. Blocking; runs on the stream's own thread.
[[nodiscard]] StreamReport run_media_stream(StreamTransport& transport, FrameWriter& writer,
                                            const std::vector<std::vector<std::uint8_t>>& payloads,
                                            TrackSelection tracks, double speed,
                                            const std::atomic<StreamSignal>& signal);

}  // namespace dvd::sim
