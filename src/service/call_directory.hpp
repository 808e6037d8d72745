#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "pipeline/streaming_scorer.hpp"

namespace dvd::service {

/// What a media stream needs to know about its call: who it is and the secret it must present.
/// The `calls` thread grants a stream when it sends `streaming_start` (and for every active call
/// reloaded after a restart); the media session looks it up at the stream's `start` frame.
struct StreamGrant {
    std::string call_id{};          ///< our call id
    std::string call_control_id{};  ///< Telnyx's, as in the `start` frame
    std::string stream_auth_token{};  ///< empty: no token required (not recommended)
    /// Where the call's evidence stood before a restart (empty for a new call).
    pipeline::ScorerCheckpoint checkpoint{};
    std::int64_t next_seq = 0;       ///< next score-timeline seq for this call
    std::int64_t audio_offset_ms = 0;  ///< inbound audio already archived, ms
    /// The acoustic indicators' call-level sums so far (base64 of
    /// `IndicatorTracker::save_call_state`); empty: the indicators start with the stream.
    std::string indicator_state{};
};

/// The thread-safe table of calls that may stream (one mutex, held for a map look-up; touched
/// once per stream start and once per window, never per frame).
class CallDirectory {
public:
    /// Adds or replaces the grant for grant.call_control_id.
    void grant(StreamGrant grant);
    /// Removes it (the call ended): a later stream for it is refused.
    void revoke(std::string_view call_control_id);
    [[nodiscard]] std::optional<StreamGrant> find(std::string_view call_control_id) const;
    /// Keeps the checkpoint current so that a stream re-opened after a drop (same process)
    /// resumes too; called by the media session after each window.
    void update_progress(std::string_view call_control_id,
                         const pipeline::ScorerCheckpoint& checkpoint, std::int64_t next_seq,
                         std::int64_t audio_offset_ms, std::string indicator_state);
    [[nodiscard]] std::size_t size() const;

private:
    mutable std::mutex mutex_;
    std::unordered_map<std::string, StreamGrant> grants_;  ///< guarded by mutex_
};

}  // namespace dvd::service
