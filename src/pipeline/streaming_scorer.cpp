#include "pipeline/streaming_scorer.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>

#include "base/check.hpp"

namespace dvd::pipeline {

std::string_view to_string(Verdict verdict) {
    switch (verdict) {
        case Verdict::InsufficientSpeech: return "insufficient_speech";
        case Verdict::Human: return "human";
        case Verdict::Uncertain: return "uncertain";
        case Verdict::Synthetic: return "synthetic";
    }
    return "unknown";
}

double sigmoid(double x) {
    if (x >= 0.0) {
        return 1.0 / (1.0 + std::exp(-x));
    }
    const double e = std::exp(x);
    return e / (1.0 + e);
}

StreamingScorer::StreamingScorer(std::shared_ptr<const model::DetectorModel> model,
                                 std::shared_ptr<const dsp::FeatureTables> tables,
                                 ScorerOptions options, ScoringPool* pool)
    : model_(std::move(model)),
      pool_(pool),
      job_(pool != nullptr ? std::make_unique<WindowJob>() : nullptr),
      front_end_(std::move(tables), model_->metadata().vad),
      width_(front_end_.num_features()),
      min_frames_(model_->metadata().window.min_frames),
      max_frames_(model_->metadata().window.max_frames),
      hop_frames_(options.hop_frames > 0 ? options.hop_frames : model_->metadata().window.hop_frames),
      threshold_(options.threshold > 0.0 ? options.threshold : model_->metadata().threshold),
      human_threshold_(std::min(model_->metadata().human_threshold, threshold_)),
      max_speech_frames_(options.max_speech_seconds > 0.0
                                 ? std::llround(options.max_speech_seconds * 100.0)
                                 : 0),
      capacity_rows_(max_frames_ + std::min(hop_frames_, kSlackRows)) {
    DVD_CHECK(width_ == dsp::feature_width(model_->metadata().feature),
              "feature tables must match the model's feature width");
    frames_.assign(static_cast<std::size_t>(capacity_rows_) * static_cast<std::size_t>(width_),
                   0.0f);
    DVD_CHECK(pool_ == nullptr || &pool_->model() == model_.get(),
              "the scoring pool must run the scorer's model");
}

StreamingScorer::~StreamingScorer() {
    withdraw_window();
}

void StreamingScorer::withdraw_window() {
    while (copied_count_ > 0) {
        WindowJob& job = *pop_copied().job;
        pool_->withdraw(job);
        pool_->release(job);
    }
    if (in_place_in_flight()) {
        pool_->withdraw(*job_);
    }
}

bool StreamingScorer::speech_limit_reached() const {
    return max_speech_frames_ > 0 && resumed_frames_ + speech_frames_ >= max_speech_frames_;
}

void StreamingScorer::compact() {
    if (fill_rows_ <= max_frames_) {
        return;
    }
    DVD_CHECK(!in_place_in_flight(), "the buffer must not move under a window in flight");
    const auto width = static_cast<std::size_t>(width_);
    const auto keep = static_cast<std::size_t>(max_frames_);
    const int shift = fill_rows_ - max_frames_;
    std::memmove(frames_.data(), frames_.data() + static_cast<std::size_t>(shift) * width,
                 keep * width * sizeof(float));
    fill_rows_ = max_frames_;
    last_window_begin_row_ -= shift;
    if (last_window_begin_row_ < 0) {
        last_window_rows_ = 0;  // partly overwritten: no longer available
        last_window_begin_row_ = 0;
    }
}

bool StreamingScorer::push_frame(std::span<const float> features) {
    const auto width = static_cast<std::size_t>(width_);
    if (fill_rows_ == capacity_rows_) {
        // Keep the newest max_frames_ rows at the front (one memmove every kSlackRows frames).
        compact();
    }
    std::copy(features.begin(), features.end(),
              frames_.begin() + static_cast<std::ptrdiff_t>(static_cast<std::size_t>(fill_rows_) * width));
    ++fill_rows_;
    ++speech_frames_;
    call_.speech_seconds = static_cast<double>(resumed_frames_ + speech_frames_) / 100.0;
    return speech_frames_ >= min_frames_ && (speech_frames_ - min_frames_) % hop_frames_ == 0;
}

StreamingScorer::WindowMark StreamingScorer::mark_window() {
    const int rows = static_cast<int>(std::min<long long>(speech_frames_, max_frames_));
    last_window_rows_ = rows;
    last_window_begin_row_ = fill_rows_ - rows;
    // Called for the frame just extracted: frame k spans samples [k * shift, k * shift + length).
    const auto& feature = model_->metadata().feature;
    return WindowMark{
            .end_speech_frame = resumed_frames_ + speech_frames_,
            .end_sample = (front_end_.frames() - 1) * feature.frame_shift_samples
                          + feature.frame_length_samples,
            .rows = rows,
    };
}

base::Result<WindowScore> StreamingScorer::score_window() {
    const WindowMark mark = mark_window();
    const auto started = std::chrono::steady_clock::now();
    const auto logit = model_->logit(last_window(), mark.rows);
    if (!logit) {
        return logit.error();
    }
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - started;
    return add_window(*logit, took.count(), mark);
}

void StreamingScorer::submit_window() {
    in_place_mark_ = mark_window();
    pool_->submit(*job_, last_window().data(), in_place_mark_.rows);
}

bool StreamingScorer::free_rows_now() {
    if (!in_place_in_flight()) {
        return true;
    }
    if (copied_count_ < kMaxCopied) {
        if (WindowJob* copy = pool_->copy_out(*job_)) {
            const int tail = (copied_head_ + copied_count_) % kMaxCopied;
            copied_[static_cast<std::size_t>(tail)] = CopiedWindow{copy, in_place_mark_};
            ++copied_count_;
            return true;
        }
    }
    return pool_->cancel_if_stale(*job_);
}

base::Result<std::optional<WindowScore>> StreamingScorer::collect_window(Collect mode) {
    // Oldest first: the copies, then the window in place. The pool starts windows in the order
    // they came, so once a newer one is running or done, the older ones are too, and waiting for
    // them takes at most one model run.
    const bool copied = copied_count_ > 0;
    if (!copied && !in_place_in_flight()) {
        return std::optional<WindowScore>{};
    }
    WindowJob& job = copied ? *copied_[static_cast<std::size_t>(copied_head_)].job : *job_;
    if (!job.done()) {
        if (mode == Collect::IfDone || (mode == Collect::FreeRows && free_rows_now())) {
            return std::optional<WindowScore>{};
        }
        pool_->wait(job);
    }
    if (!copied) {
        return report(job, in_place_mark_);
    }
    return report(job, pop_copied().mark);
}

StreamingScorer::CopiedWindow StreamingScorer::pop_copied() {
    DVD_CHECK(copied_count_ > 0, "no copied window to pop");
    const CopiedWindow oldest = copied_[static_cast<std::size_t>(copied_head_)];
    copied_head_ = (copied_head_ + 1) % kMaxCopied;
    --copied_count_;
    return oldest;
}

base::Result<std::optional<WindowScore>> StreamingScorer::report(WindowJob& job,
                                                                 const WindowMark& mark) {
    const double latency = job.latency_seconds();
    auto logit = job.take();
    if (&job != job_.get()) {
        pool_->release(job);
    }
    if (!logit) {
        return logit.error();
    }
    return std::optional<WindowScore>(add_window(*logit, latency, mark));
}

WindowScore StreamingScorer::add_window(float logit, double model_seconds, const WindowMark& mark) {
    const auto& meta = model_->metadata();
    WindowScore window;
    window.end_speech_frame = mark.end_speech_frame;
    window.end_sample = mark.end_sample;
    window.num_frames = mark.rows;
    window.model_seconds = model_seconds;
    window.logit = static_cast<double>(logit);
    window.llr = meta.window_calibration.apply(window.logit);
    window.probability = sigmoid(window.llr);

    llr_sum_ += window.llr;
    ++call_.windows;
    call_.llr = meta.call_calibration.apply(llr_sum_ / call_.windows);
    call_.probability = sigmoid(call_.llr);
    call_.verdict = verdict_for(call_.probability);
    return window;
}

Verdict StreamingScorer::verdict_for(double probability) const {
    if (probability >= threshold_) {
        return Verdict::Synthetic;
    }
    if (probability < human_threshold_) {
        return Verdict::Human;
    }
    return Verdict::Uncertain;
}

std::span<const float> StreamingScorer::last_window() const {
    const auto width = static_cast<std::size_t>(width_);
    const auto begin = static_cast<std::size_t>(last_window_begin_row_) * width;
    return {frames_.data() + begin, static_cast<std::size_t>(last_window_rows_) * width};
}

std::size_t StreamingScorer::state_bytes() const {
    return sizeof(*this) + frames_.capacity() * sizeof(float) + front_end_.state_bytes()
           - sizeof(front_end_) + (job_ != nullptr ? sizeof(WindowJob) : 0);
}

void StreamingScorer::reset() {
    withdraw_window();
    front_end_.reset();
    fill_rows_ = 0;
    last_window_begin_row_ = 0;
    last_window_rows_ = 0;
    in_place_mark_ = WindowMark{};
    speech_frames_ = 0;
    resumed_frames_ = 0;
    llr_sum_ = 0.0;
    call_ = CallScore{};
}

ScorerCheckpoint StreamingScorer::checkpoint() const {
    return ScorerCheckpoint{.windows = call_.windows,
                            .llr_sum = llr_sum_,
                            .speech_frames = resumed_frames_ + speech_frames_};
}

void StreamingScorer::resume(const ScorerCheckpoint& checkpoint) {
    reset();
    if (checkpoint.windows <= 0 || checkpoint.speech_frames <= 0 ||
        !std::isfinite(checkpoint.llr_sum)) {
        return;
    }
    resumed_frames_ = checkpoint.speech_frames;
    llr_sum_ = checkpoint.llr_sum;
    call_.windows = checkpoint.windows;
    call_.speech_seconds = static_cast<double>(resumed_frames_) / 100.0;
    call_.llr = model_->metadata().call_calibration.apply(llr_sum_ / call_.windows);
    call_.probability = sigmoid(call_.llr);
    call_.verdict = verdict_for(call_.probability);
}

}  // namespace dvd::pipeline
