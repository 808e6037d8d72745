#include "pipeline/scoring_pool.hpp"

#include <pthread.h>

#include <algorithm>

#include "base/check.hpp"
#include "base/cpu_budget.hpp"

namespace dvd::pipeline {

base::Result<float> WindowJob::take() {
    DVD_CHECK(done(), "WindowJob::take before the model ran");
    state_.store(State::Idle, std::memory_order_relaxed);
    if (error_) {
        auto error = std::move(*error_);
        error_.reset();
        return error;
    }
    return logit_;
}

ScoringPool::ScoringPool(std::shared_ptr<const model::DetectorModel> model,
                         ScoringPoolOptions options)
    : model_(std::move(model)),
      options_(options),
      width_(static_cast<std::size_t>(dsp::feature_width(model_->metadata().feature))) {
    if (options_.threads <= 0) {
        options_.threads = base::usable_cores();
    }
    const auto spare_values =
            static_cast<std::size_t>(model_->metadata().window.max_frames) * width_;
    for (int i = 0; i < std::max(options_.spare_windows, 0); ++i) {
        auto spare = std::make_unique<Spare>();
        spare->frames.assign(spare_values, 0.0f);
        spare->job.spare_ = i;
        spares_.push_back(std::move(spare));
        free_spares_.push_back(i);
    }
    threads_.reserve(static_cast<std::size_t>(options_.threads));
    for (int i = 0; i < options_.threads; ++i) {
        threads_.emplace_back([this] { run_thread(); });
    }
}

ScoringPool::~ScoringPool() {
    {
        std::lock_guard lock(mutex_);
        DVD_CHECK(queue_.empty(), "ScoringPool destroyed with windows queued");
        DVD_CHECK(free_spares_.size() == spares_.size(),
                  "ScoringPool destroyed with spare windows not given back");
        stopping_ = true;
    }
    wake_.notify_all();
    for (auto& thread : threads_) {
        thread.join();
    }
}

void ScoringPool::submit(WindowJob& job, const float* frames, int rows) {
    DVD_CHECK(!job.in_flight(), "ScoringPool::submit: the job is already in flight");
    DVD_CHECK(rows >= 1, "ScoringPool::submit: empty window");
    job.frames_ = frames;
    job.rows_ = rows;
    job.error_.reset();
    job.submitted_ = std::chrono::steady_clock::now();
    {
        std::lock_guard lock(mutex_);
        job.state_.store(WindowJob::State::Queued, std::memory_order_relaxed);
        queue_.push_back(&job);
    }
    wake_.notify_one();
}

bool ScoringPool::remove_queued(WindowJob& job) {
    if (job.state_.load(std::memory_order_relaxed) != WindowJob::State::Queued) {
        return false;
    }
    queue_.erase(std::find(queue_.begin(), queue_.end(), &job));
    job.state_.store(WindowJob::State::Idle, std::memory_order_relaxed);
    return true;
}

void ScoringPool::withdraw(WindowJob& job) {
    {
        std::lock_guard lock(mutex_);
        if (remove_queued(job)) {
            return;
        }
    }
    if (job.in_flight()) {
        wait(job);
        static_cast<void>(job.take());
    }
}

bool ScoringPool::cancel_if_stale(WindowJob& job) {
    std::lock_guard lock(mutex_);
    if (std::chrono::steady_clock::now() - job.submitted_ < options_.max_queue_wait
        || !remove_queued(job)) {
        return false;
    }
    skipped_.fetch_add(1, std::memory_order_relaxed);
    return true;
}

WindowJob* ScoringPool::copy_out(WindowJob& job) {
    int index = -1;
    {
        std::lock_guard lock(mutex_);
        if (job.state_.load(std::memory_order_relaxed) != WindowJob::State::Queued
            || free_spares_.empty()) {
            return nullptr;
        }
        index = free_spares_.back();
        free_spares_.pop_back();
    }
    // The copy is made outside the lock: the stream leaves its rows alone during this call, so a
    // pool thread that starts the window meanwhile only reads them too.
    Spare& spare = *spares_[static_cast<std::size_t>(index)];
    const auto values = static_cast<std::size_t>(job.rows_) * width_;
    DVD_CHECK(values <= spare.frames.size(), "ScoringPool::copy_out: window over max_frames");
    std::copy_n(job.frames_, values, spare.frames.begin());
    std::lock_guard lock(mutex_);
    if (job.state_.load(std::memory_order_relaxed) != WindowJob::State::Queued) {
        free_spares_.push_back(index);  // started meanwhile: its stream waits for it instead
        return nullptr;
    }
    WindowJob& copy = spare.job;
    copy.frames_ = spare.frames.data();
    copy.rows_ = job.rows_;
    copy.error_.reset();
    copy.submitted_ = job.submitted_;
    copy.state_.store(WindowJob::State::Queued, std::memory_order_relaxed);
    *std::find(queue_.begin(), queue_.end(), &job) = &copy;
    job.state_.store(WindowJob::State::Idle, std::memory_order_relaxed);
    copied_.fetch_add(1, std::memory_order_relaxed);
    return &copy;
}

void ScoringPool::release(WindowJob& spare) {
    DVD_CHECK(spare.spare_ >= 0 && static_cast<std::size_t>(spare.spare_) < spares_.size()
                      && &spares_[static_cast<std::size_t>(spare.spare_)]->job == &spare,
              "ScoringPool::release: not one of this pool's spare jobs");
    DVD_CHECK(!spare.in_flight(), "ScoringPool::release: the spare job is in flight");
    std::lock_guard lock(mutex_);
    free_spares_.push_back(spare.spare_);
}

void ScoringPool::pause() {
    std::lock_guard lock(mutex_);
    paused_ = true;
}

void ScoringPool::resume() {
    {
        std::lock_guard lock(mutex_);
        paused_ = false;
    }
    wake_.notify_all();
}

void ScoringPool::wait(WindowJob& job) {
    DVD_CHECK(job.in_flight(), "ScoringPool::wait on an idle job");
    if (job.done()) {
        return;
    }
    waits_.fetch_add(1, std::memory_order_relaxed);
    // Done is set under the mutex and announced on done_, which the pool owns: a job may be
    // destroyed as soon as its stream sees it done, so nothing touches the job after that.
    std::unique_lock lock(mutex_);
    done_.wait(lock, [&] { return job.done(); });
}

ScoringPoolStats ScoringPool::stats() const {
    ScoringPoolStats stats;
    stats.windows = windows_.load(std::memory_order_relaxed);
    stats.failures = failures_.load(std::memory_order_relaxed);
    stats.waits = waits_.load(std::memory_order_relaxed);
    stats.skipped = skipped_.load(std::memory_order_relaxed);
    stats.copied = copied_.load(std::memory_order_relaxed);
    std::lock_guard lock(mutex_);
    stats.queued = queue_.size();
    stats.spares = spares_.size();
    stats.spares_in_use = spares_.size() - free_spares_.size();
    return stats;
}

void ScoringPool::run_thread() {
    pthread_setname_np(pthread_self(), "scoring");
    for (;;) {
        WindowJob* job = nullptr;
        {
            std::unique_lock lock(mutex_);
            wake_.wait(lock, [&] { return stopping_ || (!paused_ && !queue_.empty()); });
            if (stopping_ && (paused_ || queue_.empty())) {
                return;  // stopping, nothing left to run
            }
            job = queue_.front();
            queue_.pop_front();
            job->state_.store(WindowJob::State::Running, std::memory_order_relaxed);
        }
        const auto values = static_cast<std::size_t>(job->rows_) * width_;
        const auto logit = model_->logit(std::span<const float>(job->frames_, values), job->rows_);
        windows_.fetch_add(1, std::memory_order_relaxed);
        if (logit) {
            job->logit_ = *logit;
        } else {
            failures_.fetch_add(1, std::memory_order_relaxed);
            job->error_ = logit.error();
        }
        job->finished_ = std::chrono::steady_clock::now();
        {
            // Done is set under the mutex (see `wait`); after this the job is the stream's.
            std::lock_guard lock(mutex_);
            job->state_.store(WindowJob::State::Done, std::memory_order_release);
        }
        done_.notify_all();
    }
}

}  // namespace dvd::pipeline
