#include "cli/clip_scoring.hpp"

#include <atomic>
#include <cmath>
#include <thread>

#include "audio/audio_file.hpp"

namespace dvd::cli {

const pipeline::CallScore* ClipResult::call_at_speech_frames(long long frames) const {
    if (std::llround(call.speech_seconds * 100.0) < frames) {
        return nullptr;
    }
    const pipeline::CallScore* best = nullptr;
    for (std::size_t i = 0; i < windows.size(); ++i) {
        if (windows[i].end_speech_frame <= frames) {
            best = &call_after_window[i];
        }
    }
    return best;
}

ClipScorer::ClipScorer(std::shared_ptr<const model::DetectorModel> model,
                       std::shared_ptr<const dsp::FeatureTables> tables,
                       pipeline::ScorerOptions options)
    : scorer_(std::move(model), std::move(tables), options) {}

ClipResult ClipScorer::score_file(const std::string& path) {
    auto read = audio::read_audio(path, scorer_.model().metadata().feature.sample_rate_hz);
    if (!read) {
        ClipResult result;
        result.file = path;
        result.error = read.error().message;
        return result;
    }
    ClipResult result = score_samples(path, read->samples);
    result.warning = std::move(read->warning);
    return result;
}

ClipResult ClipScorer::score_samples(std::string name, std::span<const float> samples) {
    ClipResult result;
    result.file = std::move(name);
    result.duration_seconds = static_cast<double>(samples.size()) /
                              scorer_.model().metadata().feature.sample_rate_hz;
    scorer_.reset();
    const auto on_window = [&](const pipeline::WindowScore& window,
                               const pipeline::CallScore& call) {
        result.windows.push_back(window);
        result.call_after_window.push_back(call);
    };
    auto status = scorer_.accept(samples, on_window);
    if (status) {
        status = scorer_.finish(on_window);
    }
    if (!status) {
        result.error = status.error().message;
    }
    result.call = scorer_.call();
    if (tracker_) {
        tracker_->reset();
        tracker_->accept(samples);
        result.indicators = tracker_->snapshot();
    }
    return result;
}

base::Result<Detector> load_detector(const std::string& metadata_path) {
    auto model = model::DetectorModel::load(metadata_path);
    if (!model) {
        return model.error();
    }
    auto tables = dsp::FeatureTables::create((*model)->metadata().feature);
    if (!tables) {
        return tables.error();
    }
    return Detector{std::move(*model), std::move(*tables)};
}

void parallel_for(std::size_t count, int jobs, const std::function<void(std::size_t, int)>& fn) {
    jobs = std::max(1, std::min<int>(jobs, static_cast<int>(std::max<std::size_t>(count, 1))));
    std::atomic<std::size_t> next{0};
    const auto work = [&](int worker) {
        for (std::size_t i = next++; i < count; i = next++) {
            fn(i, worker);
        }
    };
    std::vector<std::thread> threads;
    for (int w = 1; w < jobs; ++w) {
        threads.emplace_back(work, w);
    }
    work(0);
    for (auto& t : threads) {
        t.join();
    }
}

}  // namespace dvd::cli
