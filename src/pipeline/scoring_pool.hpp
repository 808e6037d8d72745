#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <thread>
#include <vector>

#include "base/result.hpp"
#include "model/detector_model.hpp"

namespace dvd::pipeline {

/// One stream's window handed to a ScoringPool. The stream owns it (one per stream, at most one
/// window in flight); the pool reads the window's frames in place and writes the result.
class WindowJob {
public:
    WindowJob() = default;
    WindowJob(const WindowJob&) = delete;
    WindowJob& operator=(const WindowJob&) = delete;

    /// True from `submit` until the stream has taken the result (`take`).
    [[nodiscard]] bool in_flight() const {
        return state_.load(std::memory_order_acquire) != State::Idle;
    }

    /// True when the model has run (the result is ready to take).
    [[nodiscard]] bool done() const {
        return state_.load(std::memory_order_acquire) == State::Done;
    }

    /// The window's logit, or the model's error; the job is idle again. Precondition: done().
    [[nodiscard]] base::Result<float> take();

    /// Seconds from `submit` to the model's result: queue wait plus model run. Valid after done().
    [[nodiscard]] double latency_seconds() const {
        return std::chrono::duration<double>(finished_ - submitted_).count();
    }

private:
    friend class ScoringPool;
    enum class State : int { Idle, Queued, Running, Done };

    const float* frames_ = nullptr;
    int rows_ = 0;
    int spare_ = -1;  ///< index of the pool's spare buffer holding the rows; -1: the stream's
    std::atomic<State> state_{State::Idle};
    float logit_ = 0.0f;
    std::optional<base::Error> error_;
    std::chrono::steady_clock::time_point submitted_{};
    std::chrono::steady_clock::time_point finished_{};
};

struct ScoringPoolOptions {
    /// Model threads, each runs one window at a time with one intra-op thread; 0: one per
    /// core this process may use (base::usable_cores).
    int threads = 1;
    /// A window the pool has not started after this long is stale: when its stream needs the
    /// slot (next window due, buffer to move) and cannot copy it out (no spare free, or the
    /// stream's copies in use), it is dropped unscored instead of waited for. A real-time
    /// stream needs the slot 0.25 s of speech after the hand-over at the earliest, so there a
    /// window not yet started and not copied is always dropped; streams fed faster than real
    /// time (tests, demo speed-ups) wait unless the pool is this far behind.
    std::chrono::steady_clock::duration max_queue_wait = std::chrono::milliseconds(200);
    /// Spare window buffers (`copy_out`), allocated at start: one max-size window each (200
    /// rows x 90 floats, 72 kB, for the shipped model; 4.6 MB for 64). A window its stream needs
    /// to move away from while it is still queued is copied into one and scored late, in its
    /// place in the queue, instead of being dropped; with none free it is dropped when stale.
    int spare_windows = 64;
};

/// Counters since start (relaxed; for /metrics and benchmarks).
struct ScoringPoolStats {
    std::uint64_t windows = 0;   ///< windows run
    std::uint64_t failures = 0;  ///< windows whose model run failed
    std::uint64_t waits = 0;     ///< times a stream had to wait for its window
    std::uint64_t skipped = 0;   ///< stale windows dropped unscored (pool far behind)
    std::uint64_t copied = 0;    ///< queued windows copied to a spare buffer to be scored late
    std::size_t queued = 0;      ///< windows waiting now
    std::size_t spares = 0;      ///< spare buffers (ScoringPoolOptions::spare_windows)
    std::size_t spares_in_use = 0;  ///< spare buffers holding a window now
};

/// Runs the detector model for many streams off their network threads.
///
/// Why: a 2 s window's model run costs about 0.7-1.1 ms, and inline it lands on the one 20 ms
/// frame that completes the window, so that frame (and every other stream on the same worker)
/// waits for it. With a pool, the frame path only extracts features and hands the window over;
/// a pool thread runs it, and the stream reports the score with its next frame (or at once when
/// it must wait). Windows run one at a time: a batch of windows in one run measured no cheaper
/// per window on the reference CPU (`make bench`, BM_ModelBatch), so the pool does not batch.
///
/// Order and bounds: the queue is first in, first out, so a stream's windows start in the order
/// it submitted them. A window's frames are read in place: the stream must not touch those rows
/// until the job is done or taken back. When a stream needs its rows (or its job) again while
/// the window is still queued, it asks the pool to copy the window into a spare buffer
/// (`copy_out`): the copy keeps the window's place in the queue and is scored late, so that a
/// burst of windows (many calls starting together) is caught up on rather than lost. With no
/// spare free, a window queued for longer than max_queue_wait is dropped (`cancel_if_stale`),
/// and otherwise waited for: so a pool that falls behind for good scores fewer windows instead
/// of stalling the network threads for longer than one model run. The spares bound the queue:
/// at most one window per stream in place plus spare_windows copies.
///
/// Threads: every member function from any thread. The destructor stops and
/// joins the pool threads; every job must be idle or taken back (`withdraw`) by then.
class ScoringPool {
public:
    ScoringPool(std::shared_ptr<const model::DetectorModel> model, ScoringPoolOptions options);
    ~ScoringPool();
    ScoringPool(const ScoringPool&) = delete;
    ScoringPool& operator=(const ScoringPool&) = delete;

    /// Queues `rows` frames of the model's width starting at `frames` (kept in place until done).
    /// Precondition: !job.in_flight().
    void submit(WindowJob& job, const float* frames, int rows);

    /// Takes a job back from the pool and forgets its window: a queued one is removed unrun, a
    /// running one is waited for and its result dropped, a done one's result is dropped. The job
    /// is idle afterwards (a spare one may be given back with `release`).
    void withdraw(WindowJob& job);

    /// Blocks until `job`'s model run is done (counted in `waits` when it was not yet).
    /// Precondition: job.in_flight().
    void wait(WindowJob& job);

    /// Drops `job` unrun (idle again, counted in `skipped`) when it is still queued and was
    /// submitted at least max_queue_wait ago; true if it was dropped.
    [[nodiscard]] bool cancel_if_stale(WindowJob& job);

    /// Moves a queued window out of its stream's rows: copies them into a free spare buffer and
    /// puts a spare job in `job`'s place in the queue (`job` is idle again, its rows free).
    /// Returns that spare job, which the stream then treats as its window (waits for it, takes
    /// its result) and gives back with `release`; null when `job` is not queued (running or
    /// done: wait for it instead) or no spare is free. Counted in `copied`.
    [[nodiscard]] WindowJob* copy_out(WindowJob& job);

    /// Gives back a spare job from `copy_out`; it must be idle (taken, or withdrawn unrun).
    void release(WindowJob& spare);

    /// While paused the pool threads start no window (queued ones wait); for tests.
    void pause();
    void resume();

    [[nodiscard]] ScoringPoolStats stats() const;

    [[nodiscard]] const model::DetectorModel& model() const { return *model_; }

    [[nodiscard]] int threads() const { return static_cast<int>(threads_.size()); }

private:
    void run_thread();
    // Removes a queued job (idle again); false if it is not queued. Caller holds mutex_.
    bool remove_queued(WindowJob& job);

    // One spare window: a job and its rows' storage (max_frames x width floats).
    struct Spare {
        WindowJob job;
        std::vector<float> frames;
    };

    std::shared_ptr<const model::DetectorModel> model_;
    ScoringPoolOptions options_;
    std::size_t width_;
    mutable std::mutex mutex_;
    std::condition_variable wake_;  ///< pool threads: a window was queued, or stopping
    std::condition_variable done_;  ///< streams in `wait`: a window is done
    std::deque<WindowJob*> queue_;  ///< guarded by mutex_
    std::vector<std::unique_ptr<Spare>> spares_;  ///< fixed at start
    std::vector<int> free_spares_;                ///< indexes into spares_; guarded by mutex_
    bool stopping_ = false;         ///< guarded by mutex_
    bool paused_ = false;           ///< guarded by mutex_
    std::atomic<std::uint64_t> windows_{0};
    std::atomic<std::uint64_t> failures_{0};
    std::atomic<std::uint64_t> waits_{0};
    std::atomic<std::uint64_t> skipped_{0};
    std::atomic<std::uint64_t> copied_{0};
    std::vector<std::thread> threads_;
};

}  // namespace dvd::pipeline
