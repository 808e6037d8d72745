#include "model/model_metadata.hpp"

#include <cmath>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace dvd::model {
namespace {

using base::Errc;
using nlohmann::json;

template <class T>
void read_optional(const json& object, const char* key, T& out) {
    if (object.contains(key)) {
        out = object.at(key).get<T>();
    }
}

Calibration read_calibration(const json& object) {
    return Calibration{object.at("a").get<double>(), object.at("b").get<double>()};
}

}  // namespace

base::Result<ModelMetadata> load_metadata(const std::string& json_path) {
    std::ifstream in(json_path);
    if (!in) {
        return base::fail(Errc::NotFound, fmt::format("model metadata not found: {}", json_path));
    }
    ModelMetadata m;
    try {
        const json doc = json::parse(in);
        if (doc.value("format", 0) != 1) {
            return base::fail(Errc::Unsupported,
                              fmt::format("{}: unsupported metadata format (want 1)", json_path));
        }
        const std::filesystem::path model = doc.at("model").get<std::string>();
        m.onnx_path = model.is_absolute()
                              ? model.string()
                              : (std::filesystem::path(json_path).parent_path() / model).string();
        read_optional(doc, "input", m.input_name);
        read_optional(doc, "output", m.output_name);
        if (doc.contains("feature")) {
            const json& f = doc.at("feature");
            read_optional(f, "sample_rate_hz", m.feature.sample_rate_hz);
            read_optional(f, "frame_length_samples", m.feature.frame_length_samples);
            read_optional(f, "frame_shift_samples", m.feature.frame_shift_samples);
            read_optional(f, "fft_size", m.feature.fft_size);
            read_optional(f, "num_filters", m.feature.num_filters);
            read_optional(f, "low_freq_hz", m.feature.low_freq_hz);
            read_optional(f, "high_freq_hz", m.feature.high_freq_hz);
            read_optional(f, "preemphasis", m.feature.preemphasis);
            read_optional(f, "log_floor", m.feature.log_floor);
            read_optional(f, "excitation", m.feature.excitation);
            read_optional(f, "fine_bands", m.feature.fine_bands);
            read_optional(f, "band_harmonicity", m.feature.band_harmonicity);
        }
        if (doc.contains("vad")) {
            const json& v = doc.at("vad");
            read_optional(v, "absolute_floor_db", m.vad.absolute_floor_db);
            read_optional(v, "margin_db", m.vad.margin_db);
            read_optional(v, "noise_rise_db_per_frame", m.vad.noise_rise_db_per_frame);
            read_optional(v, "initial_noise_db", m.vad.initial_noise_db);
            read_optional(v, "hangover_frames", m.vad.hangover_frames);
            read_optional(v, "min_speech_frames", m.vad.min_speech_frames);
        }
        if (doc.contains("window")) {
            const json& w = doc.at("window");
            read_optional(w, "min_frames", m.window.min_frames);
            read_optional(w, "max_frames", m.window.max_frames);
            read_optional(w, "hop_frames", m.window.hop_frames);
        }
        const json& cal = doc.at("calibration");
        m.window_calibration = read_calibration(cal.at("window"));
        m.call_calibration = read_calibration(cal.at("call"));
        read_optional(doc, "threshold", m.threshold);
        read_optional(doc, "human_threshold", m.human_threshold);
        if (doc.contains("training")) {
            m.description = doc.at("training").dump();
        }
    } catch (const json::exception& e) {
        return base::fail(Errc::Corrupt, fmt::format("{}: {}", json_path, e.what()));
    }
    if (auto ok = validate(m); !ok) {
        return base::fail(Errc::InvalidArgument,
                          fmt::format("{}: {}", json_path, ok.error().message));
    }
    return m;
}

base::Result<void> validate(const ModelMetadata& m) {
    if (auto ok = dsp::validate(m.feature); !ok) {
        return ok;
    }
    const WindowOptions& w = m.window;
    if (w.min_frames < 1 || w.max_frames < w.min_frames || w.hop_frames < 1) {
        return base::fail(Errc::InvalidArgument,
                          "window: need 1 <= min_frames <= max_frames and hop_frames >= 1");
    }
    const auto finite_slope = [](const Calibration& c) {
        return std::isfinite(c.a) && std::isfinite(c.b) && c.a > 0.0;
    };
    if (!finite_slope(m.window_calibration) || !finite_slope(m.call_calibration)) {
        return base::fail(Errc::InvalidArgument, "calibration: a must be finite and > 0");
    }
    if (!(m.threshold > 0.0 && m.threshold < 1.0) ||
        !(m.human_threshold > 0.0 && m.human_threshold <= m.threshold)) {
        return base::fail(Errc::InvalidArgument,
                          "thresholds: need 0 < human_threshold <= threshold < 1");
    }
    return {};
}

}  // namespace dvd::model
