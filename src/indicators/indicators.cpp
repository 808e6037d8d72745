#include "indicators/indicators.hpp"

#include <utility>

namespace dvd::indicators {
namespace {

std::optional<double> count(long long n) {
    return static_cast<double>(n);
}

class ListBuilder {
public:
    void add(const char* name, std::optional<double> value, const char* unit,
             const char* description) {
        list_.push_back(IndicatorValue{name, value, unit, description, {}});
    }

    void add_text(const char* name, std::string text, const char* description) {
        list_.push_back(IndicatorValue{name, std::nullopt, "", description, std::move(text)});
    }

    std::vector<IndicatorValue> take() { return std::move(list_); }

private:
    std::vector<IndicatorValue> list_;
};

}  // namespace

std::optional<double> StreamFigures::loss_percent() const {
    const long long total = frames_received + frames_lost;
    if (total <= 0) {
        return std::nullopt;
    }
    return 100.0 * static_cast<double>(frames_lost) / static_cast<double>(total);
}

std::optional<double> StreamFigures::late_percent() const {
    const long long total = frames_received + frames_lost;
    if (total <= 0) {
        return std::nullopt;
    }
    return 100.0 * static_cast<double>(frames_late) / static_cast<double>(total);
}

std::vector<IndicatorValue> to_list(const Indicators& in) {
    ListBuilder b;
    b.add("analysed_s", in.duration_s, "s", "audio analysed");
    b.add("voiced_s", static_cast<double>(in.voiced_frames) * 0.01, "s",
          "time with a detected pitch");
    b.add("speech_level_dbfs", in.speech_level_dbfs, "dBFS", "mean level of voiced frames");

    const PitchStats& p = in.pitch;
    b.add("pitch_mean_hz", p.mean_hz, "Hz", "mean fundamental frequency (YIN)");
    b.add("pitch_median_hz", p.median_hz, "Hz", "median fundamental frequency");
    b.add("pitch_stddev_hz", p.stddev_hz, "Hz", "standard deviation of the pitch");
    b.add("pitch_p5_hz", p.p5_hz, "Hz", "5th percentile of the pitch");
    b.add("pitch_p95_hz", p.p95_hz, "Hz", "95th percentile of the pitch");
    b.add("pitch_range_semitones", p.range_semitones, "st",
          "pitch range, 5th to 95th percentile (flat intonation is typical of some TTS)");
    b.add("pitch_stddev_semitones", p.stddev_semitones, "st",
          "pitch variability on a musical scale");

    const VoiceQuality& v = in.voice;
    b.add("periods", count(v.periods), "count", "glottal periods measured");
    b.add("jitter_local_percent", v.jitter_local_percent, "%",
          "mean cycle-to-cycle period change / mean period (human voices ~0.2-1 %)");
    b.add("jitter_local_abs_us", v.jitter_local_abs_us, "us", "mean cycle-to-cycle period change");
    b.add("shimmer_local_percent", v.shimmer_local_percent, "%",
          "mean cycle-to-cycle amplitude change / mean amplitude");
    b.add("shimmer_local_db", v.shimmer_local_db, "dB",
          "mean absolute cycle-to-cycle amplitude ratio");
    b.add("hnr_db", v.hnr_db, "dB",
          "harmonics-to-noise ratio, autocorrelation method (Boersma 1993)");

    const SpectralShape& s = in.spectrum;
    b.add("spectral_flatness", s.flatness, "ratio",
          "Wiener entropy of the long-term spectrum, 300-3400 Hz (1 = noise-like, 0 = tonal)");
    b.add("spectral_tilt_db_per_octave", s.tilt_db_per_octave, "dB/octave",
          "slope of the long-term spectrum, 300-3400 Hz");

    const PauseStats& ps = in.pauses;
    b.add("speech_segments", count(ps.speech_segments), "count", "speech segments (energy VAD)");
    b.add("phonation_s", ps.phonation_s, "s", "time inside speech segments");
    b.add("talk_s", ps.talk_s, "s", "speech segments plus the gaps between them");
    b.add("pauses", count(ps.pauses), "count",
          "gaps between speech segments of >= min_pause_s (default 250 ms)");
    b.add("pause_mean_s", ps.pause_mean_s, "s", "mean pause duration");
    b.add("pauses_per_min", ps.pauses_per_min, "1/min", "pauses per minute of talk time");
    b.add("breaths", count(ps.breaths), "count",
          "unvoiced low-level noise bursts between speech segments (breath-like)");
    b.add("breath_mean_s", ps.breath_mean_s, "s", "mean breath duration");
    b.add("breaths_per_min", ps.breaths_per_min, "1/min", "breaths per minute of talk time");

    const SpeechRate& r = in.rate;
    b.add("syllable_nuclei", count(r.syllable_nuclei), "count",
          "voiced energy peaks (syllable nuclei, de Jong & Wempe 2009 style)");
    b.add("speech_rate_syllables_per_s", r.syllables_per_s, "1/s",
          "syllable nuclei per second of talk time");
    b.add("articulation_rate_syllables_per_s", r.articulation_syllables_per_s, "1/s",
          "syllable nuclei per second of phonation");

    const StreamFigures& st = in.stream;
    if (st.has_data()) {
        b.add_text("codec", st.codec, "media codec of the stream");
        b.add("codec_sample_rate_hz",
              st.codec_sample_rate_hz > 0 ? std::optional<double>(st.codec_sample_rate_hz)
                                          : std::nullopt,
              "Hz", "the codec's sampling rate");
        b.add("frames_received", count(st.frames_received), "count", "media frames received");
        b.add("frames_lost", count(st.frames_lost), "count", "media frames never received");
        b.add("frames_late", count(st.frames_late), "count", "media frames that arrived too late");
        b.add("packet_loss_percent", st.loss_percent(), "%", "lost / (received + lost)");
        b.add("late_percent", st.late_percent(), "%", "late / (received + lost)");
    }
    return b.take();
}

}  // namespace dvd::indicators
