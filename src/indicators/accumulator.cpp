#include "indicators/accumulator.hpp"

#include <algorithm>
#include <cmath>

#include "indicators/spectral_shape.hpp"

namespace dvd::indicators::detail {
namespace {

constexpr double kFrameSeconds = static_cast<double>(kHopSamples) / kSampleRateHz;

double semitones(double hz) {
    return 12.0 * std::log2(hz);
}

double bin_centre_hz(int bin) {
    return kPitchHistogramBaseHz
           * std::exp2((static_cast<double>(bin) + 0.5) / (12.0 * kPitchBinsPerSemitone));
}

// Centre of the histogram bin holding the q-quantile (the first bin whose cumulative count
// reaches q * total).
double histogram_quantile(const std::array<std::uint32_t, kPitchBins>& h, long long total,
                          double q) {
    const double target = q * static_cast<double>(total);
    double cumulative = 0.0;
    for (int b = 0; b < kPitchBins; ++b) {
        cumulative += static_cast<double>(h[static_cast<std::size_t>(b)]);
        if (cumulative >= target && cumulative > 0.0) {
            return bin_centre_hz(b);
        }
    }
    return bin_centre_hz(kPitchBins - 1);
}

}  // namespace

void Accumulator::add_frame(float energy_db, bool active, bool voiced, double f0_hz) noexcept {
    ++frames_;
    active_frames_ += active ? 1 : 0;
    if (!voiced) {
        return;
    }
    ++voiced_frames_;
    voiced_energy_db_sum_ += static_cast<double>(energy_db);
    f0_sum_ += f0_hz;
    f0_sum_sq_ += f0_hz * f0_hz;
    const double st = semitones(f0_hz);
    semitone_sum_ += st;
    semitone_sum_sq_ += st * st;
    const double pos = 12.0 * kPitchBinsPerSemitone * std::log2(f0_hz / kPitchHistogramBaseHz);
    const int bin = std::clamp(static_cast<int>(std::floor(pos)), 0, kPitchBins - 1);
    ++pitch_histogram_[static_cast<std::size_t>(bin)];
}

void Accumulator::add_hnr(double hnr_db) noexcept {
    ++hnr_frames_;
    hnr_sum_db_ += hnr_db;
}

void Accumulator::add_period(const PeriodEvent& e) noexcept {
    ++periods_;
    period_sum_ += e.period_samples;
    amplitude_sum_ += e.amplitude;
    if (e.has_period_pair) {
        ++period_pairs_;
        period_diff_sum_ += e.period_abs_diff_samples;
    }
    if (e.has_amplitude_pair) {
        ++amplitude_pairs_;
        amplitude_diff_sum_ += e.amplitude_abs_diff;
        amplitude_db_sum_ += e.amplitude_abs_db;
    }
}

void Accumulator::add_spectrum(std::span<const float> power) noexcept {
    ++spectrum_frames_;
    const std::size_t n = std::min(power.size(), ltas_.size());
    for (std::size_t k = 0; k < n; ++k) {
        ltas_[k] += static_cast<double>(power[k]);
    }
}

void Accumulator::add_segments(const SegmentEvents& e) noexcept {
    speech_frames_ += e.speech_frames;
    speech_segments_ += e.segment_started ? 1 : 0;
    gap_frames_ += e.gap_frames;
    if (e.pause) {
        ++pauses_;
        pause_frames_ += e.gap_frames;
    }
    breaths_ += e.breaths;
    breath_frames_ += e.breath_frames;
    nuclei_ += e.nucleus ? 1 : 0;
}

Indicators Accumulator::finish(int lo_bin, int hi_bin) const {
    Indicators out;
    out.frames = frames_;
    out.duration_s = static_cast<double>(frames_) * kFrameSeconds;
    out.active_frames = active_frames_;
    out.voiced_frames = voiced_frames_;

    PitchStats& p = out.pitch;
    p.voiced_frames = voiced_frames_;
    if (voiced_frames_ > 0) {
        const auto n = static_cast<double>(voiced_frames_);
        out.speech_level_dbfs = voiced_energy_db_sum_ / n;
        const double mean = f0_sum_ / n;
        const double mean_st = semitone_sum_ / n;
        p.mean_hz = mean;
        p.stddev_hz = std::sqrt(std::max(0.0, f0_sum_sq_ / n - mean * mean));
        p.stddev_semitones = std::sqrt(std::max(0.0, semitone_sum_sq_ / n - mean_st * mean_st));
        p.median_hz = histogram_quantile(pitch_histogram_, voiced_frames_, 0.5);
        p.p5_hz = histogram_quantile(pitch_histogram_, voiced_frames_, 0.05);
        p.p95_hz = histogram_quantile(pitch_histogram_, voiced_frames_, 0.95);
        p.range_semitones = 12.0 * std::log2(*p.p95_hz / *p.p5_hz);
    }

    VoiceQuality& v = out.voice;
    v.periods = periods_;
    v.period_pairs = period_pairs_;
    v.amplitude_pairs = amplitude_pairs_;
    if (periods_ > 0 && period_pairs_ > 0 && period_sum_ > 0.0) {
        const double mean_period = period_sum_ / static_cast<double>(periods_);
        const double mean_diff = period_diff_sum_ / static_cast<double>(period_pairs_);
        v.jitter_local_percent = 100.0 * mean_diff / mean_period;
        v.jitter_local_abs_us = 1e6 * mean_diff / kSampleRateHz;
    }
    if (periods_ > 0 && amplitude_pairs_ > 0 && amplitude_sum_ > 0.0) {
        const double mean_amplitude = amplitude_sum_ / static_cast<double>(periods_);
        v.shimmer_local_percent = 100.0
                                  * (amplitude_diff_sum_ / static_cast<double>(amplitude_pairs_))
                                  / mean_amplitude;
        v.shimmer_local_db = amplitude_db_sum_ / static_cast<double>(amplitude_pairs_);
    }
    v.hnr_frames = hnr_frames_;
    if (hnr_frames_ > 0) {
        v.hnr_db = hnr_sum_db_ / static_cast<double>(hnr_frames_);
    }

    SpectralShape& s = out.spectrum;
    s.frames = spectrum_frames_;
    if (spectrum_frames_ > 0) {
        const std::span<const double> ltas(ltas_);
        s.flatness = spectral_flatness(ltas, lo_bin, hi_bin);
        s.tilt_db_per_octave = spectral_tilt_db_per_octave(
                ltas, lo_bin, hi_bin, static_cast<double>(kSampleRateHz) / kFftSize);
    }

    PauseStats& ps = out.pauses;
    ps.speech_segments = speech_segments_;
    ps.phonation_s = static_cast<double>(speech_frames_) * kFrameSeconds;
    ps.talk_s = static_cast<double>(speech_frames_ + gap_frames_) * kFrameSeconds;
    ps.pauses = pauses_;
    ps.pause_total_s = static_cast<double>(pause_frames_) * kFrameSeconds;
    ps.breaths = breaths_;
    if (pauses_ > 0) {
        ps.pause_mean_s = ps.pause_total_s / static_cast<double>(pauses_);
    }
    if (breaths_ > 0) {
        ps.breath_mean_s =
                static_cast<double>(breath_frames_) * kFrameSeconds / static_cast<double>(breaths_);
    }
    if (ps.talk_s > 0.0) {
        ps.pauses_per_min = 60.0 * static_cast<double>(pauses_) / ps.talk_s;
        ps.breaths_per_min = 60.0 * static_cast<double>(breaths_) / ps.talk_s;
    }

    SpeechRate& r = out.rate;
    r.syllable_nuclei = nuclei_;
    if (ps.talk_s > 0.0) {
        r.syllables_per_s = static_cast<double>(nuclei_) / ps.talk_s;
    }
    if (ps.phonation_s > 0.0) {
        r.articulation_syllables_per_s = static_cast<double>(nuclei_) / ps.phonation_s;
    }
    return out;
}

}  // namespace dvd::indicators::detail
