#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "dsp/vad.hpp"
#include "indicators/harmonicity.hpp"
#include "indicators/indicator_options.hpp"
#include "indicators/indicators.hpp"
#include "indicators/period_tracker.hpp"
#include "indicators/segment_tracker.hpp"
#include "indicators/spectral_shape.hpp"
#include "indicators/yin.hpp"

namespace dvd::indicators {

namespace detail {
class Accumulator;
}  // namespace detail

/// The figures of one 10 ms frame, for a pitch track or a debugging dump.
struct FrameIndicators {
    long long index = 0;        ///< frame i: samples [80 i, 80 i + 80), centre (80 i + 40) / 8000 s
    float energy_db = -100.0f;  ///< 10 log10(mean(x^2) + 1e-10) over the frame's 80 samples
    bool active = false;        ///< energy above noise floor + activity margin (and the floor)
    bool voiced = false;        ///< active, above the voicing floor, YIN periodic
    float f0_hz = 0.0f;         ///< YIN pitch when voiced, else 0
    float aperiodicity = 1.0f;  ///< YIN d'(tau*) of active frames above the voicing floor (voiced
                                ///< or not); 1 for the others, where YIN is not run
    std::optional<float> hnr_db;    ///< voiced frames with a positive autocorrelation peak
    std::optional<float> flatness;  ///< per-frame Wiener entropy over the band (active frames)
};

/// Streaming acoustic indicators for one call: pitch (YIN), jitter, shimmer, HNR, spectral
/// flatness and tilt, pauses, breaths and a speech-rate proxy (definitions on the structs in
/// indicators.hpp and in docs/indicators.md).
///
/// Input: 8 kHz float samples in [-1, 1], any chunk size. Frame i (10 ms) is analysed once the
/// samples up to its centre + kLookaheadSamples have arrived, so figures lag by 32 ms; results
/// depend only on the samples, never on how they were chunked (bit-identical).
/// Two accumulators run side by side: the call so far (`snapshot`) and the window since the last
/// `window_snapshot` call. All memory is allocated in the constructor (`state_bytes`, about
/// 19 kB); `accept` never allocates, locks, logs or throws.
/// Thread ownership: one thread at a time (the media session's worker). Movable, not copyable.
class IndicatorTracker {
public:
    /// Precondition: validate(options) succeeds (checked with DVD_CHECK).
    explicit IndicatorTracker(const IndicatorOptions& options = {});
    ~IndicatorTracker();
    IndicatorTracker(IndicatorTracker&&) noexcept;
    IndicatorTracker& operator=(IndicatorTracker&&) noexcept;
    IndicatorTracker(const IndicatorTracker&) = delete;
    IndicatorTracker& operator=(const IndicatorTracker&) = delete;

    /// Feeds samples (0 allowed). Allocation-free.
    void accept(std::span<const float> samples) { accept_impl(samples, nullptr, nullptr); }

    /// As above, and calls `on_frame(const FrameIndicators&)` for every frame analysed, in order
    /// (the pitch track). Allocation-free when `on_frame` is.
    template <class Sink>
    void accept(std::span<const float> samples, Sink&& on_frame) {
        using S = std::remove_reference_t<Sink>;
        const FrameFn fn = [](void* ctx, const FrameIndicators& f) {
            (*static_cast<S*>(ctx))(f);
        };
        accept_impl(samples, fn, const_cast<void*>(static_cast<const void*>(&on_frame)));
    }

    /// Every figure over the frames analysed since construction or reset(). Allocates the
    /// result's strings only (none: the stream figures are left empty for the caller to fill).
    Indicators snapshot() const;

    /// Every figure over the frames analysed since the previous window_snapshot() (or the
    /// start); starts a new window. Events that close in a frame (a pause, a breath, a syllable
    /// nucleus) belong to the window of that frame.
    Indicators window_snapshot();

    /// Back to the stream start. Allocation-free.
    void reset() noexcept;

    /// The call-level sums behind `snapshot()` as opaque bytes, for a checkpoint that outlives
    /// the process (a service restart in the middle of a call). Only the call figures are kept;
    /// the frame history and the running pitch, pulse and pause trackers start afresh when a
    /// stream resumes, as the audio itself has a gap there.
    [[nodiscard]] std::string save_call_state() const;

    /// Continues the call figures from `save_call_state()` bytes: later audio adds to them. false
    /// (and nothing changed) for bytes this build did not write: another layout version, a
    /// truncated or foreign blob.
    [[nodiscard]] bool restore_call_state(std::string_view saved) noexcept;

    long long frames_analysed() const { return next_frame_; }

    long long samples_accepted() const { return history_first_ + static_cast<long long>(fill_); }

    /// Bytes of per-stream state owned by this tracker (all buffers, tables and accumulators).
    std::size_t state_bytes() const;

    const IndicatorOptions& options() const { return options_; }

private:
    using FrameFn = void (*)(void*, const FrameIndicators&);

    void accept_impl(std::span<const float> samples, FrameFn fn, void* ctx) noexcept;
    FrameIndicators analyse_frame() noexcept;
    void compact() noexcept;

    IndicatorOptions options_;
    int lo_bin_ = 0;
    int hi_bin_ = 0;
    double min_period_samples_ = 0.0;
    double max_period_samples_ = 0.0;

    std::vector<float> history_;  // samples history_first_ .. history_first_ + fill_ - 1
    std::size_t fill_ = 0;
    long long history_first_ = 0;
    long long next_frame_ = 0;

    dsp::EnergyVad activity_;
    YinEstimator yin_;
    HarmonicityAnalyzer hnr_;
    SpectrumAnalyzer spectrum_;
    PeriodTracker periods_;
    SegmentTracker segments_;
    std::unique_ptr<detail::Accumulator> call_;
    std::unique_ptr<detail::Accumulator> window_;
};

}  // namespace dvd::indicators
