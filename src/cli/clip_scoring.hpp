#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "indicators/indicator_tracker.hpp"
#include "model/detector_model.hpp"
#include "pipeline/streaming_scorer.hpp"

namespace dvd::cli {

/// The outcome of scoring one audio file from start to end.
struct ClipResult {
    std::string file;
    std::string error;                     ///< empty on success
    std::string warning;                   ///< audio::AudioRead::warning (a file cut short)
    double duration_seconds = 0.0;         ///< decoded audio, at 8 kHz
    pipeline::CallScore call;              ///< final call-level score
    std::vector<pipeline::WindowScore> windows;
    std::vector<pipeline::CallScore> call_after_window;  ///< call score after each window
    /// The acoustic indicators of the whole file (as the service computes them for a call);
    /// only when the scorer was asked for them.
    std::optional<indicators::Indicators> indicators;

    bool ok() const { return error.empty(); }
    /// The call score after exactly `frames` frames of speech (the last window ending at or before
    /// them); nullptr when the clip has less speech than that, or no window fits. `eval` uses it
    /// for its 1 s / 2 s / 4 s conditions, so only clips with that much speech count there.
    const pipeline::CallScore* call_at_speech_frames(long long frames) const;
};

/// Scores whole files with one shared model; one instance per thread.
class ClipScorer {
public:
    ClipScorer(std::shared_ptr<const model::DetectorModel> model,
               std::shared_ptr<const dsp::FeatureTables> tables, pipeline::ScorerOptions options);

    /// Also computes each file's acoustic indicators (`ClipResult::indicators`).
    void enable_indicators() { tracker_.emplace(); }

    /// Reads (any format libsndfile reads, resampled to 8 kHz) and scores a file. Errors are
    /// returned inside the result, never thrown.
    ClipResult score_file(const std::string& path);
    /// Scores 8 kHz samples already in memory.
    ClipResult score_samples(std::string name, std::span<const float> samples);

private:
    pipeline::StreamingScorer scorer_;
    std::optional<indicators::IndicatorTracker> tracker_;
};

/// Shared set-up for the commands: loads the model metadata + ONNX graph and builds the feature
/// tables it was trained with.
struct Detector {
    std::shared_ptr<const model::DetectorModel> model;
    std::shared_ptr<const dsp::FeatureTables> tables;
};
[[nodiscard]] base::Result<Detector> load_detector(const std::string& metadata_path);

/// Runs fn(index, worker) for index in [0, count) on `jobs` threads (worker in [0, jobs)),
/// handing out indices in order.
void parallel_for(std::size_t count, int jobs, const std::function<void(std::size_t, int)>& fn);

}  // namespace dvd::cli
