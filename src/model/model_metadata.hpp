#pragma once

#include <string>

#include "base/result.hpp"
#include "dsp/feature_options.hpp"
#include "dsp/vad.hpp"

namespace dvd::model {

/// Affine map from a raw score to a log-likelihood ratio: llr = a * x + b.
struct Calibration {
    double a = 1.0;
    double b = 0.0;

    double apply(double x) const { return a * x + b; }
};

/// How the streaming scorer cuts speech into model windows (in 10 ms feature frames of speech).
struct WindowOptions {
    int min_frames = 100;  ///< first window once this much speech is seen (1 s)
    int max_frames = 200;  ///< a window covers the last min(seen, max_frames) speech frames (2 s)
    int hop_frames = 50;   ///< a new window every hop_frames of speech (0.5 s)
};

/// Everything the service must know to run a trained detector exactly as it was trained.
/// Written by training/train.py as models/detector.json beside the ONNX file.
struct ModelMetadata {
    std::string onnx_path;           ///< absolute or relative to the JSON file's folder
    std::string input_name = "features";
    std::string output_name = "logit";
    dsp::FeatureOptions feature;
    dsp::VadOptions vad;
    WindowOptions window;
    Calibration window_calibration;  ///< window logit -> window LLR
    Calibration call_calibration;    ///< mean window LLR -> call LLR
    double threshold = 0.75;         ///< P(synthetic) at or above which a call is flagged
    double human_threshold = 0.5;    ///< P(synthetic) below which a call is called human
    std::string description;         ///< free text from the trainer (seed, corpus, metrics)
};

/// Reads and validates models/detector.json. Errors name the file and the offending field.
[[nodiscard]] base::Result<ModelMetadata> load_metadata(const std::string& json_path);

/// Checks ranges: window sizes, thresholds in (0, 1), a finite calibration with a > 0.
[[nodiscard]] base::Result<void> validate(const ModelMetadata& metadata);

}  // namespace dvd::model
