#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "base/check.hpp"
#include "base/result.hpp"
#include "dsp/feature_options.hpp"
#include "dsp/power_spectrum.hpp"

namespace dvd::dsp {

/// Immutable tables of the front end, computed once from `FeatureOptions`: the symmetric Hamming
/// window and the sparse triangular filterbank. Thread-safe to share by
/// `std::shared_ptr<const FeatureTables>` between any number of extractors on any threads.
class FeatureTables {
public:
    /// One triangular filter: weights for FFT bins first_bin .. first_bin + weights.size() - 1.
    struct Filter {
        int first_bin = 0;
        std::span<const float> weights;
    };

    /// Validates `options` (see `validate`) and builds the tables. Fails with
    /// `Errc::InvalidArgument` on bad options or when a filter would cover no FFT bin (too many
    /// filters for the FFT resolution).
    [[nodiscard]] static base::Result<std::shared_ptr<const FeatureTables>> create(
            const FeatureOptions& options);

    const FeatureOptions& options() const { return options_; }

    int num_filters() const { return options_.num_filters; }

    /// Values per frame (`feature_width(options())`).
    int num_features() const { return feature_width(options_); }

    int num_bins() const { return options_.fft_size / 2 + 1; }

    /// w[n] = 0.54 - 0.46 cos(2 pi n / (len - 1)), n = 0..len-1.
    std::span<const float> window() const { return window_; }

    /// Filter m (0-based), m < num_filters().
    Filter filter(int m) const;
    /// Dense weight W[m][k] (for tests and tools; 0 outside the filter's support).
    float weight(int m, int bin) const;

    /// With `fine_bands`: the periodic Hann window of the fine sub-frames,
    /// w[n] = 0.5 - 0.5 cos(2 pi n / kFineWindowSamples), n = 0..kFineWindowSamples-1.
    std::span<const float> fine_window() const { return fine_window_; }

    /// Fine band b (0-based), b < options().fine_bands: weights over the kFineFftSize-point
    /// spectrum.
    Filter fine_filter(int b) const;

    /// First sample of fine sub-frame 0 inside a frame: the sub-frames are centred in the frame.
    int fine_offset() const { return fine_offset_; }

    /// Triangular filters in sparse form (the nonzero support of each filter is contiguous).
    struct Filterbank {
        std::vector<float> weights;  // all filters' nonzero-support weights, concatenated
        std::vector<int> first_bin;  // per filter
        std::vector<int> offset;     // per filter, into weights; filters + 1 entries

        Filter filter(int m) const;
    };

private:
    FeatureTables() = default;

    FeatureOptions options_;
    std::vector<float> window_;
    Filterbank filters_;
    std::vector<float> fine_window_;
    Filterbank fine_filters_;
    int fine_offset_ = 0;
};

/// Number of complete frames in a stream of `num_samples` samples.
[[nodiscard]] long long num_frames(const FeatureOptions& options, long long num_samples);

/// Streaming log linear-filterbank ("LFB") feature extractor, one per audio stream.
///
/// Exact definition (tools/golden/make_golden.py implements the same formulas independently):
/// - input: float samples x at full scale +-1.0 (int16 / 32768);
/// - pre-emphasis over the whole stream: y[n] = x[n] - p x[n-1], x[-1] = 0;
/// - frame i covers y[i*shift .. i*shift + len - 1] and is emitted as soon as its last sample
///   arrives; a partial tail is never emitted;
/// - the frame is multiplied by the symmetric Hamming window, zero-padded to fft_size, and
///   transformed with FFTW (single precision, r2c; `PowerSpectrum`); P[k] = re^2 + im^2,
///   k = 0..fft_size/2;
/// - filter edges e[j] = low + j (high - low) / (num_filters + 1), j = 0..num_filters+1; filter m
///   weights bin k (f_k = k rate / fft_size) by
///   max(0, min((f_k - e[m]) / (e[m+1] - e[m]), (e[m+2] - f_k) / (e[m+2] - e[m+1])));
/// - feature[m] = ln(max(sum_k W[m][k] P[k], log_floor));
/// - energy_db = 10 log10(mean(x^2) + 1e-10) over the RAW frame samples x (no pre-emphasis, no
///   window): a full-scale sine gives about -3.01 dBFS, digital silence -100 dBFS.
/// - with `excitation`, kExcitationFeatures more values follow (double precision): s = the
///   windowed pre-emphasised frame; r[k] = sum_n s[n] s[n+k], k = 0..q (q = kExcitationLpcOrder),
///   r[0] = r[0] (1 + 1e-4) + 1e-12; Levinson-Durbin gives a[0..q] (a[0] = 1); the residual of the
///   UNwindowed pre-emphasised frame y is e[n] = sum_j a[j] y[n-j], n = q..len-1 (frame samples
///   only); d = e - mean(e), m_k = mean(d^k). Then
///   kurtosis = ln((m4 + 1e-30) / (m2^2 + 1e-30)), skewness = m3 / (m2^1.5 + 1e-30) clamped to
///   [-10, 10], crest = ln((max d^2 + 1e-30) / (m2 + 1e-30)). Sharp glottal pulses give a high
///   kurtosis and crest; phase-scrambled (Griffin-Lim) speech gives lower ones, pulse-train
///   vocoders (MLSA, LPC) skewed ones.
/// - with `fine_bands` = B > 0, S = frame_shift / kFineHopSamples sub-frames follow, B values
///   each (sub-frame major): sub-frame j covers the RAW frame samples x[o + 16 j .. o + 16 j + 31]
///   (o = (len - shift - 16) / 2, integer division, so the sub-frames of consecutive frames tile
///   the stream every 16 samples), times the periodic Hann window, zero-padded to 64 points;
///   P = |FFT|^2; value = ln(max(sum_k V[b][k] P[k], log_floor)) with B triangular filters V over
///   0..rate/2 (the filterbank formula above with low = 0, high = rate/2, fft_size = 64).
/// - with `band_harmonicity`, kHarmonicityFeatures values follow the excitation values (before
///   the fine ones): `band_harmonicity` (band_harmonicity.hpp) of the RAW samples
///   x[c - 160 .. c + 159], c = start + len / 2 (integer division), samples before the stream
///   taken as 0 (its FFT scratch is per thread: `prepare_band_harmonicity_thread`). The window
///   reaches `harmonicity_lookahead` samples past the frame (60 with the defaults), so the frame is
///   emitted when that sample arrives; `finish` emits the frames still waiting for it at the end of
///   a stream, with zeros for the samples after it.
///
/// Output does not depend on how the stream is chunked (bit-identical). All memory is allocated
/// in the constructor (with `band_harmonicity`, also the constructing thread's FFT scratch:
/// used on another thread, the extractor allocates that thread's scratch once, on its first
/// frame there, taking the FFT plan lock that once); `accept` and `reset` never allocate
/// otherwise, lock or throw.
/// Thread ownership: one thread at a time (the FFT buffers are per extractor); the shared
/// tables may be used by many extractors concurrently. Movable, not copyable.
class FeatureExtractor {
public:
    /// Precondition: `tables` is non-null (checked).
    explicit FeatureExtractor(std::shared_ptr<const FeatureTables> tables);
    ~FeatureExtractor();
    FeatureExtractor(FeatureExtractor&&) noexcept;
    FeatureExtractor& operator=(FeatureExtractor&&) noexcept;
    FeatureExtractor(const FeatureExtractor&) = delete;
    FeatureExtractor& operator=(const FeatureExtractor&) = delete;

    int num_features() const { return tables_->num_features(); }

    const FeatureTables& tables() const { return *tables_; }

    /// Feeds any number of samples (0 allowed). For each completed frame, in order, calls
    /// `sink(std::span<const float> features, float energy_db)`; the span is valid only during
    /// the call. Allocation-free.
    template <class Sink>
    void accept(std::span<const float> samples, Sink&& sink) {
        accept_if(samples, keep_every_frame, sink);
    }

    /// `accept` for a consumer that keeps only some frames: for each completed frame, in order,
    /// calls `keep(float energy_db) -> bool` first (energy_db as below), and only when it returns
    /// true computes the frame's features and calls `sink` as `accept` does. A frame not kept
    /// costs its energy only (no FFT, no excitation, fine or harmonicity values), which is how
    /// the speech front end skips the silence of a call; the kept frames' features are
    /// bit-identical to `accept`'s (every value is a function of the frame's samples alone).
    template <class Keep, class Sink>
    void accept_if(std::span<const float> samples, Keep&& keep, Sink&& sink) {
        DVD_CHECK(!finished_, "FeatureExtractor::accept after finish without reset");
        samples_seen_ += static_cast<long long>(samples.size());
        while (!samples.empty()) {
            const std::size_t used = fill(samples);
            samples = samples.subspan(used);
            if (frame_ready()) {
                emit(keep, sink);
            }
        }
    }

    /// Ends the stream: emits, like `accept`, the frames whose own samples have all arrived but
    /// whose band-harmonicity window reaches past the last sample (at most
    /// ceil(harmonicity_lookahead / shift) frames; none without `band_harmonicity`), reading the
    /// samples after the stream's end as 0. Then frames_emitted() = num_frames(samples seen), the
    /// same frames as a batch run. Only `reset` (or another `finish`, which emits nothing) may
    /// follow: `accept` after it is checked. Allocation-free.
    template <class Sink>
    void finish(Sink&& sink) {
        finish_if(keep_every_frame, sink);
    }

    /// `finish` with `accept_if`'s `keep`.
    template <class Keep, class Sink>
    void finish_if(Keep&& keep, Sink&& sink) {
        finished_ = true;
        while (frames_emitted_ < num_frames(tables_->options(), samples_seen_)) {
            pad_with_zeros();
            emit(keep, sink);
        }
    }

    /// Back to the stream start (x[-1] = 0, no buffered samples). Allocation-free.
    void reset();

    /// Frames emitted since construction or the last reset().
    long long frames_emitted() const { return frames_emitted_; }

    /// Bytes of per-stream state owned by this extractor (buffers + FFT plans), excluding the
    /// shared tables and the per-thread band-harmonicity scratch. Budget: well under 100 kB.
    std::size_t state_bytes() const;

private:
    // Copies samples into the history until the current frame is complete; returns the count used.
    std::size_t fill(std::span<const float> samples) noexcept;

    bool frame_ready() const noexcept { return fill_ == history_.size(); }

    // `finish`: fills the rest of the history with zeros (samples after the stream's end).
    void pad_with_zeros() noexcept;

    static bool keep_every_frame(float /*energy_db*/) noexcept { return true; }

    // One completed frame: its energy, `keep`, its features and `sink` if kept, then the shift.
    template <class Keep, class Sink>
    void emit(Keep& keep, Sink& sink) {
        compute_energy();
        if (keep(energy_db_)) {
            compute_features();
            sink(std::span<const float>(features_.data(), features_.size()), energy_db_);
        }
        advance();
    }

    void compute_energy() noexcept;
    void compute_features() noexcept;
    void advance() noexcept;

    std::shared_ptr<const FeatureTables> tables_;
    PowerSpectrum spectrum_;  // windowed frame in, power out
    std::optional<PowerSpectrum> fine_spectrum_;  // with fine_bands: kFineFftSize points
    // x[start - lead .. start + len + lookahead - 1] of the current frame (start = its first
    // sample; lead = max(1, lookbehind): pre-emphasis needs x[start - 1]).
    std::vector<float> history_;
    std::size_t lead_ = 1;         // samples of history_ before the frame
    std::size_t fill_ = 0;         // valid entries in history_
    std::size_t skip_ = 0;         // samples still to drop when shift > history_.size()
    long long samples_seen_ = 0;   // since construction or reset
    bool finished_ = false;        // `finish` ran; only `reset` may follow
    void compute_excitation(const float* preemphasised, const float* windowed) noexcept;
    void compute_fine() noexcept;
    void compute_harmonicity() noexcept;

    std::vector<float> features_;  // feature width
    std::vector<double> residual_;  // excitation: e[n] (frame length - order)
    std::vector<float> unwindowed_;  // excitation: y over the frame
    float energy_db_ = 0.0f;
    long long frames_emitted_ = 0;
};

/// Batch helper: runs a fresh extractor over `samples` and returns frames x num_features,
/// row-major (`accept` then `finish`: num_frames(samples) frames). If `energies_db` is given, it
/// receives one energy per frame. Identical (bit for bit) to the streaming output for the same
/// samples, however chunked, followed by `finish`. Allocates the result.
std::vector<float> compute_features(const FeatureTables& tables, std::span<const float> samples,
                                    std::vector<float>* energies_db = nullptr);

}  // namespace dvd::dsp
