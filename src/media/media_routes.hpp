#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "media/media_stream.hpp"
#include "net/http_types.hpp"
#include "net/server.hpp"

namespace dvd::media {

struct MediaRelayOptions {
    /// A relayed stream with no request for this long is ended ("relay idle timeout").
    std::chrono::milliseconds idle_timeout{60'000};
    /// Relayed streams open at once; a `start` beyond this gets 503.
    std::size_t max_streams = 1000;
    /// Frames in one request (a JSON array); more gets 413.
    std::size_t max_frames_per_request = 1000;
};

/// `POST /webhooks/media`: the media-stream frames as JSON over HTTP, for relays that cannot hold
/// a WebSocket. The body is one frame object or an array of them, applied in order; the
/// `x-telnyx-streaming-auth-token` header carries the stream token on every request.
///
/// State rule: HTTP requests of one stream may land on different workers, so each relayed stream
/// is a MediaStream in a table keyed by `stream_id` (one mutex for the table, held only for the
/// look-up; one mutex per stream, held while its frames are handled: a stream's requests are
/// handled one at a time). A request must present the token of the request that started its
/// stream (else 401). A stream leaves the table at `stop`, at an error, or after `idle_timeout`
/// without a request (then it is ended with "relay idle timeout"; `handle` looks for idle streams
/// at most once a second, and the owner may call `expire_idle` on a timer).
///
/// The whole body is parsed before any frame is applied (a malformed body changes nothing);
/// unknown events are skipped. Frames are then applied in order; the first one that fails stops
/// the request (the frames before it stay applied) and its error is the response.
///
/// Responses: 200 `{"status":"ok","frames":N,"ended":[{"stream_id","state":"ended","reason"}]}`;
/// 400 `malformed_frame`; 401 `bad_stream_token`; 404 `unknown_call`; 409 `stream_not_started`
/// (a frame of a stream with no open `start`); 413 `too_many_frames` / `frame_too_large`; 422
/// `invalid_media` / `unsupported_media` (the stream is ended); 500 `internal_error`; 503
/// `too_many_streams`. docs/api.md has the examples.
///
/// Threads: `handle` from any worker; `expire_idle` and `end_all` from any thread.
class MediaRelay {
public:
    using Clock = std::function<std::chrono::steady_clock::time_point()>;

    MediaRelay(MediaDeps& deps, MediaRelayOptions options = {}, Clock clock = {});
    ~MediaRelay();  ///< end_all("shutdown")
    MediaRelay(const MediaRelay&) = delete;
    MediaRelay& operator=(const MediaRelay&) = delete;

    [[nodiscard]] net::Response handle(const net::Request& request);

    /// Ends streams idle for longer than the timeout; returns how many.
    std::size_t expire_idle();

    /// Ends every open relayed stream (server shutdown).
    void end_all(std::string_view reason);

    /// Relayed streams open now.
    [[nodiscard]] std::size_t size() const;

private:
    struct Entry;

    std::shared_ptr<Entry> find(const std::string& stream_id);
    bool sweep_due();
    void erase(const std::string& stream_id, const Entry* entry);

    MediaDeps& deps_;
    const MediaRelayOptions options_;
    Clock clock_;
    mutable std::mutex mutex_;
    std::unordered_map<std::string, std::shared_ptr<Entry>> streams_;  ///< guarded by mutex_
    std::chrono::steady_clock::time_point last_sweep_{};               ///< guarded by mutex_
};

/// Registers the media routes: the WebSocket at `/media` and `/webhooks/media`, and
/// `POST /webhooks/media` handled by `relay`. `deps` and `relay` must outlive the server.
void add_media_routes(net::Router& router, MediaDeps& deps, MediaRelay& relay);

}  // namespace dvd::media
