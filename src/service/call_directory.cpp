#include "service/call_directory.hpp"

#include <utility>

namespace dvd::service {

void CallDirectory::grant(StreamGrant grant) {
    std::lock_guard lock(mutex_);
    std::string key = grant.call_control_id;
    grants_.insert_or_assign(std::move(key), std::move(grant));
}

void CallDirectory::revoke(std::string_view call_control_id) {
    std::lock_guard lock(mutex_);
    grants_.erase(std::string(call_control_id));
}

std::optional<StreamGrant> CallDirectory::find(std::string_view call_control_id) const {
    std::lock_guard lock(mutex_);
    const auto it = grants_.find(std::string(call_control_id));
    if (it == grants_.end()) {
        return std::nullopt;
    }
    return it->second;
}

void CallDirectory::update_progress(std::string_view call_control_id,
                                    const pipeline::ScorerCheckpoint& checkpoint,
                                    std::int64_t next_seq, std::int64_t audio_offset_ms,
                                    std::string indicator_state) {
    std::lock_guard lock(mutex_);
    const auto it = grants_.find(std::string(call_control_id));
    if (it == grants_.end()) {
        return;
    }
    it->second.checkpoint = checkpoint;
    it->second.next_seq = next_seq;
    it->second.audio_offset_ms = audio_offset_ms;
    it->second.indicator_state = std::move(indicator_state);
}

std::size_t CallDirectory::size() const {
    std::lock_guard lock(mutex_);
    return grants_.size();
}

}  // namespace dvd::service
