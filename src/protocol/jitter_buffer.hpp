#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "base/check.hpp"

namespace dvd::protocol {

/// One item released by a JitterBuffer, in sequence order.
template <class T>
struct Sequenced {
    uint64_t sequence_number = 0;
    uint64_t lost_before = 0;  ///< sequence numbers skipped (never seen) just before this one
    T item;
};

/// Counters of a JitterBuffer. `lost` counts sequence numbers given up on; `late` counts items
/// that arrived after their slot had been released or skipped (dropped); `duplicate` counts
/// repeats of an item still held (dropped).
struct JitterStats {
    uint64_t released = 0;
    uint64_t lost = 0;
    uint64_t late = 0;
    uint64_t duplicate = 0;
};

/// Reorders items by sequence number within a window of `window_frames` slots. An item is
/// released as soon as every lower sequence number has been released or given up on; a
/// sequence number is given up on (counted lost) once an item `window_frames` or more ahead of
/// it arrives, or at flush(). Storage is a fixed ring of `window_frames` slots: memory never
/// grows, whatever arrives. The first item pushed fixes the starting point; anything older that
/// turns up later is late.
///
/// Telnyx numbers every frame of a stream (start, media, dtmf, mark, stop) with one
/// `sequence_number` counter, and media frames may arrive out of order (telnyx-protocol.md
/// section 3.2). A gap left by a non-media frame is not a loss, so push every sequenced frame
/// (T = InboundMessage) or call skip() for the ones handled elsewhere.
/// Thread ownership: one thread (the stream's worker).
template <class T>
class JitterBuffer {
public:
    static constexpr std::size_t kDefaultWindowFrames = 5;

    /// Precondition: window_frames >= 1 (checked).
    explicit JitterBuffer(std::size_t window_frames = kDefaultWindowFrames)
        : items_(window_frames), state_(window_frames, SlotState::Empty) {
        DVD_CHECK(window_frames >= 1, "a jitter window holds at least one frame");
    }

    /// Accepts one item; appends to `ready` every item that can now be released, in order.
    void push(uint64_t sequence_number, T item, std::vector<Sequenced<T>>& ready) {
        if (!make_room(sequence_number, ready)) {
            ++stats_.late;
            return;
        }
        const std::size_t i = index(sequence_number);
        if (state_[i] != SlotState::Empty) {
            ++stats_.duplicate;
            return;
        }
        items_[i] = std::move(item);
        state_[i] = SlotState::Held;
        ++held_;
        drain(ready);
    }

    /// Marks a sequence number as consumed without an item (a frame handled outside the
    /// buffer), so that it is not counted as lost. Old or repeated numbers are ignored.
    void skip(uint64_t sequence_number, std::vector<Sequenced<T>>& ready) {
        if (!make_room(sequence_number, ready)) {
            return;
        }
        const std::size_t i = index(sequence_number);
        if (state_[i] == SlotState::Empty) {
            state_[i] = SlotState::Skipped;
            ++skipped_;
        }
        drain(ready);
    }

    /// End of stream: releases everything still held, in order (gaps between held items are
    /// counted lost).
    void flush(std::vector<Sequenced<T>>& ready) {
        while (held_ > 0 || skipped_ > 0) {
            step(ready);
        }
    }

    const JitterStats& stats() const { return stats_; }

    std::size_t window_frames() const { return items_.size(); }

    /// Items currently held (at most window_frames()).
    std::size_t held() const { return held_; }

    /// The next sequence number the buffer waits for; nullopt before the first push or skip.
    std::optional<uint64_t> next_expected() const { return next_; }

private:
    enum class SlotState : uint8_t { Empty, Held, Skipped };

    std::size_t index(uint64_t sequence_number) const {
        return static_cast<std::size_t>(sequence_number % items_.size());
    }

    // Makes `sequence_number` fit in the window, giving up on older numbers if needed. False
    // when it is older than the window start (late).
    bool make_room(uint64_t sequence_number, std::vector<Sequenced<T>>& ready) {
        if (!next_) {
            next_ = sequence_number;
        }
        if (sequence_number < *next_) {
            return false;
        }
        const std::size_t window = items_.size();
        if (sequence_number - *next_ >= window) {
            advance_to(sequence_number - window + 1, ready);
        }
        return true;
    }

    // Handles the slot of *next_: releases its item, passes a skipped number, or counts a loss.
    void step(std::vector<Sequenced<T>>& ready) {
        const std::size_t i = index(*next_);
        if (state_[i] == SlotState::Held) {
            ready.push_back(Sequenced<T>{*next_, pending_lost_, std::move(*items_[i])});
            items_[i].reset();
            --held_;
            ++stats_.released;
            pending_lost_ = 0;
        } else if (state_[i] == SlotState::Skipped) {
            --skipped_;
        } else {
            ++stats_.lost;
            ++pending_lost_;
        }
        state_[i] = SlotState::Empty;
        ++*next_;
    }

    // Gives up on everything below `target`. A huge jump does not loop over every missing
    // number: once the window is empty the rest is counted lost at once.
    void advance_to(uint64_t target, std::vector<Sequenced<T>>& ready) {
        while (*next_ < target && (held_ > 0 || skipped_ > 0)) {
            step(ready);
        }
        if (*next_ < target) {
            const uint64_t gap = target - *next_;
            stats_.lost += gap;
            pending_lost_ += gap;
            *next_ = target;
        }
    }

    void drain(std::vector<Sequenced<T>>& ready) {
        while (state_[index(*next_)] != SlotState::Empty) {
            step(ready);
        }
    }

    std::vector<std::optional<T>> items_;
    std::vector<SlotState> state_;
    std::optional<uint64_t> next_;
    std::size_t held_ = 0;
    std::size_t skipped_ = 0;
    uint64_t pending_lost_ = 0;
    JitterStats stats_;
};

}  // namespace dvd::protocol
