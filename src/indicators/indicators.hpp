#pragma once

#include <optional>
#include <string>
#include <vector>

namespace dvd::indicators {

// Plain result structs of the acoustic indicators: no JSON, no allocation except the codec name
// and `to_list`. A figure that is undefined for the audio seen (no voiced frame, no pause ...)
// is `std::nullopt`. Exact formulas: docs/indicators.md (same numbering as below).

/// Pitch (fundamental frequency) over voiced frames. Estimator: YIN (de Cheveigne & Kawahara
/// 2002), one estimate per 10 ms frame; a frame is voiced when it is active (see PauseStats), its
/// energy is above `voicing_floor_db` and its aperiodicity d'(tau*) is below `yin_threshold`. Over
/// the voiced frames' f0 values: mean and standard deviation in Hz; median, 5th and 95th
/// percentiles (from a 0.1-semitone histogram, so within +-0.3 %); range = 12 log2(p95 / p5)
/// semitones; standard deviation of 12 log2(f0 / 1 Hz) in semitones.
struct PitchStats {
    long long voiced_frames = 0;
    std::optional<double> mean_hz;
    std::optional<double> stddev_hz;
    std::optional<double> median_hz;
    std::optional<double> p5_hz;
    std::optional<double> p95_hz;
    std::optional<double> range_semitones;
    std::optional<double> stddev_semitones;
};

/// Voice quality from glottal periods and harmonicity.
/// - Periods: inside runs of periodic frames (active, above the voicing floor, YIN aperiodicity
///   below `pulse_threshold`), successive pulse marks are found by normalised cross-
///   correlation of one period around the last mark with lags 0.8..1.25 T (T = YIN period),
///   parabolic peak; period T_k = distance between marks. A period is valid inside
///   [1/max_f0, 1/min_f0]; an amplitude A_k = peak-to-peak of the period's samples (parabolic
///   peaks) over [m_k - T_k/4, m_{k+1} - T_k/4).
/// - jitter (local) = mean over consecutive valid pairs of |T_k - T_{k-1}| / mean of valid T_k,
///   in %; pairs whose ratio exceeds `max_period_factor` (1.3) are skipped (Praat). The absolute
///   form is the numerator in microseconds.
/// - shimmer (local) = mean |A_k - A_{k-1}| / mean A_k, in %; shimmer (local, dB) = mean
///   |20 log10(A_k / A_{k-1})|; pairs with ratio above `max_amplitude_factor` (1.6) skipped.
/// - HNR (Boersma 1993): per voiced frame, a 60 ms Hann window of the mean-removed signal; its
///   autocorrelation divided by the window's, r(tau) = (r_a(tau)/r_a(0)) / (r_w(tau)/r_w(0));
///   r_max = parabolic maximum for lags 0.8..1.25 T; HNR = 10 log10(r_max / (1 - r_max)) dB,
///   r_max clamped to [1e-6, 1 - 1e-6]; the mean over frames is reported (as Praat's mean).
struct VoiceQuality {
    long long periods = 0;       ///< valid periods measured
    long long period_pairs = 0;  ///< consecutive valid pairs used for jitter
    std::optional<double> jitter_local_percent;
    std::optional<double> jitter_local_abs_us;
    long long amplitude_pairs = 0;  ///< consecutive amplitude pairs used for shimmer
    std::optional<double> shimmer_local_percent;
    std::optional<double> shimmer_local_db;
    long long hnr_frames = 0;
    std::optional<double> hnr_db;
};

/// Long-term spectral shape over active frames: the average power spectrum P(f) (Hann 256,
/// 31.25 Hz bins) of all active frames, restricted to the band [band_low_hz, band_high_hz].
/// - flatness (Wiener entropy) = exp(mean ln P) / mean P over the band's bins, 0..1: about 1 for
///   white noise, near 0 for a tone.
/// - tilt = slope of the least-squares line of 10 log10 P(f) against log2 f over the band's
///   bins, dB per octave (speech: typically -6 to -12).
struct SpectralShape {
    long long frames = 0;
    std::optional<double> flatness;
    std::optional<double> tilt_db_per_octave;
};

/// Pauses and breaths from an energy VAD (active = energy above the tracked noise floor +
/// `activity_margin_db`). A speech segment is an active run with at least `min_voiced_frames`
/// voiced frames. A gap is the time between two speech segments; a pause is a gap of at least
/// `min_pause_s`. A breath is an active run between two speech segments that is not speech,
/// lasts `breath_min_s`..`breath_max_s`, has a mean per-frame spectral flatness of at least
/// `breath_min_flatness` (broadband noise) and whose loudest frame is at least
/// `breath_below_speech_db` below the speech level. Honest limit: any unvoiced noise burst with
/// these properties counts (an isolated fricative, a lip smack of 100 ms, a cough's tail); a
/// breath that runs into the next word is part of that speech segment. Events are counted when
/// the gap closes (the next speech segment starts); leading and trailing silence are not pauses.
/// Talk time = phonation (speech segments) + closed gaps; rates are per minute of talk time.
struct PauseStats {
    long long speech_segments = 0;
    double phonation_s = 0.0;
    double talk_s = 0.0;
    long long pauses = 0;
    double pause_total_s = 0.0;
    std::optional<double> pause_mean_s;
    std::optional<double> pauses_per_min;
    long long breaths = 0;
    std::optional<double> breath_mean_s;
    std::optional<double> breaths_per_min;
};

/// Speech-rate proxy in the style of de Jong & Wempe (2009): syllable nuclei are peaks of the
/// frame energy (dB, 30 ms smoothed) with a dip of at least `nucleus_dip_db` on both sides, in an
/// active and voiced frame. Speech rate = nuclei / talk time; articulation rate = nuclei /
/// phonation time.
struct SpeechRate {
    long long syllable_nuclei = 0;
    std::optional<double> syllables_per_s;
    std::optional<double> articulation_syllables_per_s;
};

/// Codec and packet figures of the media stream. The tracker never fills these: the stream layer
/// (media session) sets them from its decoder and jitter buffer before listing the indicators.
struct StreamFigures {
    std::string codec;             ///< e.g. "PCMU"; empty when unknown
    int codec_sample_rate_hz = 0;  ///< the codec's own rate (the tracker always sees 8 kHz)
    long long frames_received = 0;
    long long frames_lost = 0;  ///< sequence gaps never filled
    long long frames_late = 0;  ///< arrived after their play-out slot (dropped)

    bool has_data() const { return !codec.empty() || frames_received + frames_lost > 0; }

    /// 100 lost / (received + lost); nullopt without frames.
    std::optional<double> loss_percent() const;
    /// 100 late / (received + lost); nullopt without frames.
    std::optional<double> late_percent() const;
};

/// Every indicator for a stretch of audio (the whole call or one window).
struct Indicators {
    double duration_s = 0.0;  ///< analysed frames x 10 ms
    long long frames = 0;
    long long active_frames = 0;
    long long voiced_frames = 0;
    std::optional<double> speech_level_dbfs;  ///< mean energy of voiced frames, dBFS
    PitchStats pitch;
    VoiceQuality voice;
    SpectralShape spectrum;
    PauseStats pauses;
    SpeechRate rate;
    StreamFigures stream;
};

/// One indicator, uniformly described for JSON and for the language-model prompt.
struct IndicatorValue {
    std::string name;             ///< stable snake_case key, e.g. "jitter_local_percent"
    std::optional<double> value;  ///< nullopt: not available for this audio
    std::string unit;             ///< "Hz", "%", "dB", "dB/octave", "s", "1/min", ...
    std::string description;      ///< one line for people
    std::string text;             ///< non-numeric value (the codec name), else empty
};

/// Every figure of `indicators` in a fixed order (stream figures only when `has_data()`).
std::vector<IndicatorValue> to_list(const Indicators& indicators);

}  // namespace dvd::indicators
