#pragma once

#include <array>

namespace dvd::indicators {

/// Per-frame facts the segment tracker needs (one 10 ms frame).
struct SegmentFrame {
    float energy_db = -100.0f;  ///< 10 log10(mean(x^2) + 1e-10) of the frame's block
    bool active = false;        ///< above the tracked noise floor + activity margin
    bool voiced = false;        ///< YIN periodic and above the voicing floor
    float flatness = 0.0f;      ///< per-frame spectral flatness (only read for active frames)
};

/// What one frame closed or added; the caller adds it to its accumulators.
struct SegmentEvents {
    long long speech_frames = 0;   ///< frames newly known to be phonation
    long long gap_frames = 0;      ///< a gap between speech segments closed (its length), else 0
    bool segment_started = false;  ///< a new speech segment qualified in this frame
    bool pause = false;            ///< the closed gap is a pause (gap_frames >= min pause)
    long long breaths = 0;         ///< breaths inside the closed gap
    long long breath_frames = 0;   ///< their total length
    bool nucleus = false;          ///< a syllable nucleus was confirmed in this frame
};

/// Options of `SegmentTracker`, in frames of 10 ms.
struct SegmentTrackerOptions {
    int min_voiced_frames = 3;
    int min_pause_frames = 25;
    int breath_min_frames = 10;
    int breath_max_frames = 80;
    float breath_min_flatness = 0.15f;
    float breath_below_speech_db = 10.0f;
    float nucleus_dip_db = 2.0f;
};

/// Speech segments, gaps, pauses, breaths and syllable nuclei from per-frame facts; the
/// definitions are those of `PauseStats` and `SpeechRate` (indicators.hpp).
///
/// - An active run is a maximal run of active frames; it becomes a speech segment at its
///   min_voiced_frames-th voiced frame (then all its frames so far count as phonation, and each
///   later frame of the run too).
/// - The gap before a segment (from the end of the previous speech segment) closes when the
///   segment qualifies; it is a pause when at least min_pause_frames long.
/// - A finished active run that never qualified is a breath candidate when its length is in
///   [breath_min_frames, breath_max_frames], its mean flatness >= breath_min_flatness, its loudest
///   frame <= speech level - breath_below_speech_db, and a speech segment came before it; the
///   candidates are counted when their gap closes.
/// - Speech level: running mean of the voiced frames' energies (dB).
/// - Nuclei: the envelope e[i] = 10 log10(mean of the block powers of frames i-2..i); a peak is
///   confirmed once e falls nucleus_dip_db below it, after e rose nucleus_dip_db above the
///   previous valley; it counts when the envelope's centre frame (i-1) at the peak was active
///   and voiced.
/// Thread ownership: one thread at a time; fixed-size state, no allocation.
class SegmentTracker {
public:
    explicit SegmentTracker(const SegmentTrackerOptions& options) : options_(options) {}

    SegmentEvents accept(const SegmentFrame& frame) noexcept;

    void reset() noexcept;

    /// Running mean energy of voiced frames (dBFS); valid when has_speech_level().
    double speech_level_db() const {
        return voiced_count_ > 0 ? voiced_sum_db_ / static_cast<double>(voiced_count_) : 0.0;
    }

    bool has_speech_level() const { return voiced_count_ > 0; }

private:
    void end_run() noexcept;
    bool nucleus(const SegmentFrame& frame) noexcept;

    SegmentTrackerOptions options_;
    long long frame_index_ = 0;

    // Current active run.
    bool in_run_ = false;
    bool run_is_speech_ = false;
    long long run_start_ = 0;
    long long run_frames_ = 0;
    long long run_voiced_ = 0;
    double run_flatness_sum_ = 0.0;
    float run_max_db_ = -1e9f;

    // Gap since the last speech segment.
    bool had_speech_ = false;
    long long gap_start_ = 0;  // first frame after the last speech segment
    long long pending_breaths_ = 0;
    long long pending_breath_frames_ = 0;

    // Speech level.
    double voiced_sum_db_ = 0.0;
    long long voiced_count_ = 0;

    // Nucleus detector: the last three block powers and the previous (centre) frame's flags.
    std::array<double, 3> power_{};
    bool prev_active_ = false;
    bool prev_voiced_ = false;
    bool seeking_peak_ = true;
    double peak_db_ = -1e300;
    bool peak_counts_ = false;
    double valley_db_ = 1e300;
};

}  // namespace dvd::indicators
