#include "indicators/segment_tracker.hpp"

#include <algorithm>
#include <cmath>

namespace dvd::indicators {

void SegmentTracker::reset() noexcept {
    *this = SegmentTracker(options_);
}

SegmentEvents SegmentTracker::accept(const SegmentFrame& frame) noexcept {
    SegmentEvents ev;
    if (frame.voiced) {
        voiced_sum_db_ += static_cast<double>(frame.energy_db);
        ++voiced_count_;
    }
    if (frame.active) {
        if (!in_run_) {
            in_run_ = true;
            run_is_speech_ = false;
            run_start_ = frame_index_;
            run_frames_ = 0;
            run_voiced_ = 0;
            run_flatness_sum_ = 0.0;
            run_max_db_ = frame.energy_db;
        }
        ++run_frames_;
        run_voiced_ += frame.voiced ? 1 : 0;
        run_flatness_sum_ += static_cast<double>(frame.flatness);
        run_max_db_ = std::max(run_max_db_, frame.energy_db);
        if (run_is_speech_) {
            ev.speech_frames = 1;
        } else if (run_voiced_ >= options_.min_voiced_frames) {
            run_is_speech_ = true;
            ev.segment_started = true;
            ev.speech_frames = run_frames_;
            if (had_speech_) {
                ev.gap_frames = run_start_ - gap_start_;
                ev.pause = ev.gap_frames >= options_.min_pause_frames;
                ev.breaths = pending_breaths_;
                ev.breath_frames = pending_breath_frames_;
            }
            pending_breaths_ = 0;
            pending_breath_frames_ = 0;
            had_speech_ = true;
        }
    } else if (in_run_) {
        end_run();
    }
    ev.nucleus = nucleus(frame);
    ++frame_index_;
    return ev;
}

void SegmentTracker::end_run() noexcept {
    in_run_ = false;
    if (run_is_speech_) {
        gap_start_ = frame_index_;  // this (inactive) frame is the gap's first
        return;
    }
    const bool length_ok =
            run_frames_ >= options_.breath_min_frames && run_frames_ <= options_.breath_max_frames;
    const double mean_flatness = run_flatness_sum_ / static_cast<double>(run_frames_);
    const bool quiet =
            has_speech_level()
            && static_cast<double>(run_max_db_)
                       <= speech_level_db() - static_cast<double>(options_.breath_below_speech_db);
    if (had_speech_ && length_ok && quiet
        && mean_flatness >= static_cast<double>(options_.breath_min_flatness)) {
        ++pending_breaths_;
        pending_breath_frames_ += run_frames_;
    }
}

bool SegmentTracker::nucleus(const SegmentFrame& frame) noexcept {
    power_[0] = power_[1];
    power_[1] = power_[2];
    power_[2] = std::pow(10.0, static_cast<double>(frame.energy_db) / 10.0);
    const double env = 10.0 * std::log10((power_[0] + power_[1] + power_[2]) / 3.0 + 1e-10);
    const bool centre_counts = prev_active_ && prev_voiced_;  // frame i-1, the envelope's centre
    prev_active_ = frame.active;
    prev_voiced_ = frame.voiced;

    const auto dip = static_cast<double>(options_.nucleus_dip_db);
    bool confirmed = false;
    if (seeking_peak_) {
        if (env > peak_db_) {
            peak_db_ = env;
            peak_counts_ = centre_counts;
        } else if (env < peak_db_ - dip) {
            confirmed = peak_counts_;
            seeking_peak_ = false;
            valley_db_ = env;
        }
    } else if (env < valley_db_) {
        valley_db_ = env;
    } else if (env > valley_db_ + dip) {
        seeking_peak_ = true;
        peak_db_ = env;
        peak_counts_ = centre_counts;
    }
    return confirmed;
}

}  // namespace dvd::indicators
