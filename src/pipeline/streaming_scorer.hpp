#pragma once

#include <array>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "model/detector_model.hpp"
#include "pipeline/scoring_pool.hpp"
#include "pipeline/speech_front_end.hpp"

namespace dvd::pipeline {

/// The call-level state a security team acts on.
enum class Verdict { InsufficientSpeech, Human, Uncertain, Synthetic };

std::string_view to_string(Verdict verdict);

/// One scored window of speech.
struct WindowScore {
    long long end_speech_frame = 0;  ///< speech frames seen when the window was scored
    /// Samples from the stream's start (or resume) to the end of the window's last frame: where
    /// in the audio the window ends, however much later its score is reported.
    long long end_sample = 0;
    int num_frames = 0;              ///< window length in frames
    double logit = 0.0;              ///< raw model output
    double llr = 0.0;                ///< calibrated log-likelihood ratio (synthetic vs genuine)
    double probability = 0.0;        ///< sigmoid(llr): P(synthetic) for equal priors
    /// Seconds from the window's last speech frame to its logit: the model run, plus the queue
    /// wait when a ScoringPool runs it.
    double model_seconds = 0.0;
};

/// The call so far, after the latest window.
struct CallScore {
    double llr = 0.0;            ///< call-level calibrated LLR (accumulated evidence)
    double probability = 0.0;    ///< sigmoid(llr)
    Verdict verdict = Verdict::InsufficientSpeech;
    double speech_seconds = 0.0; ///< speech seen so far (VAD)
    int windows = 0;             ///< windows scored so far
};

/// What a stream must carry over a restart to go on accumulating evidence: the call-level sums.
/// (The window buffer is not kept: after a resume the first new window waits for min_frames
/// of new speech.)
struct ScorerCheckpoint {
    int windows = 0;             ///< windows scored so far
    double llr_sum = 0.0;        ///< sum of their calibrated window LLRs
    long long speech_frames = 0; ///< speech frames seen so far
};

/// Per-stream options layered over the model's metadata.
struct ScorerOptions {
    int hop_frames = 0;               ///< 0: the model's default (0.5 s of speech)
    double threshold = 0.0;           ///< 0: the model's shipped threshold
    double max_speech_seconds = 0.0;  ///< > 0: ignore speech after this much (early verdict)
};

/// Streaming scorer for one audio stream (one call leg).
///
/// Decoded 8 kHz samples go in, in chunks of any size. Speech frames (SpeechFrontEnd) fill a
/// fixed buffer; each time the speech seen reaches min_frames, then every hop_frames more, the
/// model scores the last min(seen, max_frames) speech frames. The call-level score accumulates
/// evidence over the whole call: call LLR = call calibration applied to the running mean of the
/// window LLRs (fitted on the development split, so it is itself a calibrated LLR). It is not a
/// max of windows, which would only grow false alarms with call length.
///
/// Memory: all state is allocated in the constructor and bounded: a (max_frames + min(hop_frames,
/// kSlackRows)) x feature-width float buffer plus the front end; `state_bytes()` reports it (the
/// tests hold it under 100 kB for the shipped model). The model is shared.
///
/// Where the model runs: without a pool, inline, inside the `accept` call whose samples complete
/// the window. With a ScoringPool, the window is handed to the pool and `accept` returns at
/// once; the window's callback comes from a later `accept` (the next chunk, once the pool is
/// done) or from `drain`, which a stream calls before it reads its final score. The scores are
/// the same either way, in the same order; only when they are reported differs. One window at a
/// time is read in place from the buffer: when the next window is due, or the buffer must move,
/// before the pool has started it, the scorer has the pool copy it out (ScoringPool::copy_out;
/// up to kMaxCopied such copies per stream wait in the pool and are reported late, in order);
/// with no copy possible it drops the window unscored if the pool has let it queue for longer
/// than ScoringPoolOptions::max_queue_wait, and otherwise waits for it. A window the pool is
/// already running is waited for (one model run at most). So a burst the pool is slow to
/// absorb is scored late, and a pool far behind for good makes its streams score fewer windows,
/// never stalls them for long. Thread ownership: one thread at a time (the pool only reads the
/// window's rows).
class StreamingScorer {
public:
    /// Rows kept beyond max_frames in the feature buffer: the newest max_frames rows move to the
    /// front once per kSlackRows speech frames (a 0.25 s memmove of at most ~80 kB).
    static constexpr int kSlackRows = 25;
    /// Windows of one stream that may wait in the pool as copies (ScoringPool::copy_out).
    static constexpr int kMaxCopied = 2;

    /// `pool`: where windows run (null: inline); it must outlive the scorer.
    StreamingScorer(std::shared_ptr<const model::DetectorModel> model,
                    std::shared_ptr<const dsp::FeatureTables> tables, ScorerOptions options = {},
                    ScoringPool* pool = nullptr);
    ~StreamingScorer();  ///< takes an in-flight window back from the pool
    StreamingScorer(const StreamingScorer&) = delete;
    StreamingScorer& operator=(const StreamingScorer&) = delete;

    /// Feeds samples. For every window scored, calls `on_window(const WindowScore&, const
    /// CallScore&)`. Fails only if the model fails (the stream should then be closed).
    template <class Sink>
    [[nodiscard]] base::Result<void> accept(std::span<const float> samples, Sink&& on_window) {
        return feed([&](auto&& on_speech) { front_end_.accept(samples, on_speech); }, on_window);
    }

    /// Ends the stream: scores the last speech frames (the front end holds back a frame's
    /// features until samples past it arrive when the model reads band harmonicity;
    /// SpeechFrontEnd::finish), then waits for the windows in flight like `drain`. A stream calls
    /// it instead of `drain` when its audio ends; only `reset`, `resume` or another `finish`
    /// (which scores nothing new) may follow. Fails only if the model failed.
    template <class Sink>
    [[nodiscard]] base::Result<void> finish(Sink&& on_window) {
        if (auto fed = feed([&](auto&& on_speech) { front_end_.finish(on_speech); }, on_window);
            !fed) {
            return fed;
        }
        return drain(on_window);
    }

    /// Waits for the windows in flight, if any, and reports them like `accept`. A stream calls
    /// it before it reads its final score. Fails only if the model failed.
    template <class Sink>
    [[nodiscard]] base::Result<void> drain(Sink&& on_window) {
        for (;;) {
            auto window = collect_window(Collect::Wait);
            if (!window) {
                return window.error();
            }
            if (!*window) {
                return {};
            }
            on_window(**window, call_);
        }
    }

    /// True while a window is with the pool (its score not yet reported).
    [[nodiscard]] bool window_in_flight() const {
        return copied_count_ > 0 || in_place_in_flight();
    }

    /// Same as above, discarding window callbacks.
    [[nodiscard]] base::Result<void> accept(std::span<const float> samples) {
        return accept(samples, [](const WindowScore&, const CallScore&) {});
    }

    const CallScore& call() const { return call_; }
    const model::DetectorModel& model() const { return *model_; }
    double threshold() const { return threshold_; }

    /// The frames of the latest window handed to the model (row-major), for tests and
    /// explanations. Exact inside the `on_window` callback of an inline scorer (with a pool the
    /// window reported may be an older one); later speech may overwrite it (then it is empty).
    std::span<const float> last_window() const;

    /// Bytes of per-stream state, excluding the shared model and tables.
    std::size_t state_bytes() const;

    /// Back to the start of a stream.
    void reset();

    /// The call-level sums, to persist and later `resume` from (a window in flight is not in them
    /// yet: `drain` first).
    [[nodiscard]] ScorerCheckpoint checkpoint() const;

    /// Resets, then continues a call from `checkpoint` (e.g. after a service restart): the call
    /// score, window count and speech seconds go on from there. An empty or invalid checkpoint
    /// is a plain reset.
    void resume(const ScorerCheckpoint& checkpoint);

private:
    // accept / finish: `run_front_end(on_speech)` hands the front end's speech frames to
    // `on_speech`; each becomes a row of the buffer, and a due window is scored or submitted.
    template <class RunFrontEnd, class Sink>
    [[nodiscard]] base::Result<void> feed(RunFrontEnd&& run_front_end, Sink& on_window) {
        base::Result<void> status;
        // Reports, oldest first, the windows in flight the pool is done with (see Collect for
        // the rest).
        const auto collect = [&](Collect mode) {
            for (;;) {
                auto window = collect_window(mode);
                if (!window) {
                    status = window.error();
                    return false;
                }
                if (!*window) {
                    return true;
                }
                on_window(**window, call_);
            }
        };
        if (!collect(Collect::IfDone)) {
            return status;
        }
        run_front_end([&](std::span<const float> features) {
            if (!status || speech_limit_reached()) {
                return;
            }
            if (buffer_full() && !collect(Collect::FreeRows)) {
                return;  // the buffer moves next: the window in flight must be out of it first
            }
            if (!push_frame(features)) {
                return;
            }
            if (pool_ != nullptr) {
                if (collect(Collect::FreeRows)) {
                    compact();  // the window's rows then stay put for the next kSlackRows frames
                    submit_window();
                }
                return;
            }
            auto window = score_window();
            if (!window) {
                status = window.error();
                return;
            }
            on_window(*window, call_);
        });
        return status;
    }

    bool speech_limit_reached() const;
    bool buffer_full() const { return fill_rows_ == capacity_rows_; }
    // Moves the newest max_frames rows to the front of the buffer.
    void compact();
    // Appends one speech frame; returns true when a window is due.
    bool push_frame(std::span<const float> features);

    // Where a window lies in the stream, fixed when it is handed to the model.
    struct WindowMark {
        long long end_speech_frame = 0;  // WindowScore::end_speech_frame
        long long end_sample = 0;        // WindowScore::end_sample
        int rows = 0;
    };

    // A window the pool copied out of the buffer, waiting to be scored or reported.
    struct CopiedWindow {
        WindowJob* job = nullptr;  // the pool's spare job (given back once taken)
        WindowMark mark;
    };

    // Removes the oldest copied-out window from the ring. Precondition: copied_count_ > 0.
    CopiedWindow pop_copied();
    // True while the window read in place from the buffer is with the pool.
    bool in_place_in_flight() const { return job_ != nullptr && job_->in_flight(); }
    // Marks the newest max_frames (or fewer) rows as the latest window.
    WindowMark mark_window();
    // Inline: runs the model on the due window.
    base::Result<WindowScore> score_window();
    // Pool: hands the due window to the pool.
    void submit_window();
    // What to do with windows in flight that the pool has not finished.
    enum class Collect {
        IfDone,    // leave them
        FreeRows,  // the in-place window's rows are needed: copy it out, or drop it if stale
                   // (ScoringPool::cancel_if_stale); else wait, oldest first, until they are free
        Wait,      // wait for them
    };
    // Pool: the oldest window in flight once done (each call reports at most one); nullopt when
    // there is none, or it is left, or (FreeRows) the rows are free.
    base::Result<std::optional<WindowScore>> collect_window(Collect mode);
    // FreeRows without waiting: true when the in-place window is out of the buffer (not in
    // flight, copied out or dropped).
    bool free_rows_now();
    // Takes a finished window's result (giving a spare job back) and adds it to the call score.
    base::Result<std::optional<WindowScore>> report(WindowJob& job, const WindowMark& mark);
    // Calibrates the window's logit and adds it to the call score.
    WindowScore add_window(float logit, double model_seconds, const WindowMark& mark);
    // Takes the windows in flight back from the pool (their scores are dropped).
    void withdraw_window();
    Verdict verdict_for(double probability) const;

    std::shared_ptr<const model::DetectorModel> model_;
    ScoringPool* pool_;
    std::unique_ptr<WindowJob> job_;  ///< with a pool: the window read in place (rows stay put)
    WindowMark in_place_mark_;        ///< job_'s window
    /// Copied-out windows in flight, oldest first, all older than job_'s (a ring).
    std::array<CopiedWindow, kMaxCopied> copied_{};
    int copied_head_ = 0;
    int copied_count_ = 0;
    SpeechFrontEnd front_end_;
    int width_;
    int min_frames_;
    int max_frames_;
    int hop_frames_;
    double threshold_;
    double human_threshold_;
    long long max_speech_frames_;
    // Speech frames, row-major; rows [fill_ - window, fill_) are the latest window. When full,
    // the newest max_frames_ rows move to the front, so every window is contiguous.
    std::vector<float> frames_;
    int capacity_rows_;
    int fill_rows_ = 0;
    int last_window_begin_row_ = 0;
    int last_window_rows_ = 0;
    long long speech_frames_ = 0;   ///< speech frames since the start or the resume
    long long resumed_frames_ = 0;  ///< speech frames before the resume
    double llr_sum_ = 0.0;
    CallScore call_;
};

/// Logistic function, numerically safe for large |x|.
double sigmoid(double x);

}  // namespace dvd::pipeline
