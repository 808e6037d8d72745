#pragma once

#include <memory>
#include <span>
#include <string>

#include "base/result.hpp"
#include "model/model_metadata.hpp"

namespace dvd::model {

/// The trained synthetic-speech detector: an ONNX graph run by ONNX Runtime (C++ API) plus its
/// metadata. Input: a window of speech feature frames, row-major [num_frames x num_features];
/// output: one logit (positive = synthetic), which the window calibration maps to an LLR.
///
/// Thread safety: immutable after `load`; `logit` may be called from any number of threads at
/// once (ONNX Runtime's Session::Run is thread-safe). Share one instance per process through
/// `std::shared_ptr<const DetectorModel>`. Each call runs on the caller's thread with one intra-op
/// thread, so N worker threads use N cores.
class DetectorModel {
public:
    ~DetectorModel();
    DetectorModel(const DetectorModel&) = delete;
    DetectorModel& operator=(const DetectorModel&) = delete;

    /// Loads models/detector.json and the ONNX file it names; checks that the graph has the
    /// declared input/output and accepts the feature width. Fails with a message naming the file.
    [[nodiscard]] static base::Result<std::shared_ptr<const DetectorModel>> load(
            const std::string& metadata_path);

    /// Builds a model from metadata whose onnx_path is already resolved (used by `load`).
    [[nodiscard]] static base::Result<std::shared_ptr<const DetectorModel>> create(
            ModelMetadata metadata);

    const ModelMetadata& metadata() const { return metadata_; }

    /// Raw logit for one window. Precondition: features.size() == num_frames * dsp::feature_width() and
    /// num_frames >= 1. Fails (Errc::Runtime) only if ONNX Runtime reports an error.
    [[nodiscard]] base::Result<float> logit(std::span<const float> features, int num_frames) const;

    /// Raw logits for `batch` windows of the same length in one run (the graph's batch axis):
    /// `features` holds them back to back, each num_frames x feature width; `logits` receives
    /// one value per window. Each logit equals what `logit` gives for that window alone (up to
    /// float rounding). On the CPUs measured a batch costs as much per window as single runs
    /// (`make bench`, BM_ModelBatch), so the service runs windows one at a time. Fails
    /// (Errc::InvalidArgument) on mismatched sizes, (Errc::Runtime) if ONNX Runtime fails.
    [[nodiscard]] base::Result<void> logits(std::span<const float> features, int batch,
                                            int num_frames, std::span<float> logits) const;

private:
    struct Impl;
    DetectorModel(ModelMetadata metadata, std::unique_ptr<Impl> impl);

    ModelMetadata metadata_;
    std::unique_ptr<Impl> impl_;
};

/// Default location of the shipped model: $DVD_MODEL if set, else models/detector.json beside the
/// executable's install tree (<exe>/../../models) or in the current directory.
std::string default_model_path();

}  // namespace dvd::model
