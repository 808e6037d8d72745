#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "audio/audio_file.hpp"
#include "base/cpu_budget.hpp"
#include "cli/args.hpp"
#include "cli/clip_scoring.hpp"
#include "cli/commands.hpp"
#include "cli/manifest.hpp"
#include "cli/progress.hpp"
#include "model/model_metadata.hpp"
#include "pipeline/speech_front_end.hpp"

namespace dvd::cli {
namespace {

constexpr const char* kUsage =
        "usage: deepfake-voice-detector features MANIFEST.csv --out DIR [--model detector.json]\n"
        "                                        [--fine-bands N] [--band-harmonicity]\n"
        "                                        [--jobs N]\n"
        "Dumps the speech feature frames the detector sees, for the trainer (training/):\n"
        "  DIR/features.f32  little-endian float32, one row per speech frame: num_filters log\n"
        "                    energies (+ 3 excitation values when the model has `excitation`,\n"
        "                    + 3 band-harmonicity values with `band_harmonicity`,\n"
        "                    + 5 x N fine values with `fine_bands` N)\n"
        "  DIR/index.csv     "
        "clip,offset_frames,num_frames,label,split,source,speaker,attack,codec\n"
        "  DIR/front_end.json the front-end settings (the detector.json \"feature\" block) and\n"
        "                    `width`, the values per row\n"
        "Front-end settings come from --model when given, else the built-in defaults;\n"
        "--fine-bands N then sets `fine_bands` and --band-harmonicity `band_harmonicity` (the\n"
        "shipped model's front end: models/detector.json, \"feature\").\n";

struct ClipFeatures {
    std::vector<float> frames;
    long long num_frames = 0;
    std::string error;
};

}  // namespace

int run_features(const std::vector<std::string>& raw) {
    auto args =
            Args::parse(raw, {"help", "band-harmonicity"}, {"out", "model", "jobs", "fine-bands"});
    if (!args || args->has("help") || args->positional().size() != 1 || !args->get("out")) {
        if (!args) {
            std::cerr << "features: " << args.error().message << "\n";
        }
        std::cerr << kUsage;
        return args && args->has("help") ? 0 : 2;
    }
    model::ModelMetadata metadata;
    if (const auto path = args->get("model")) {
        auto loaded = model::load_metadata(*path);
        if (!loaded) {
            std::cerr << "features: " << loaded.error().message << "\n";
            return 2;
        }
        metadata = std::move(*loaded);
    }
    if (args->get("fine-bands")) {
        const auto bands = args->number("fine-bands", 0.0);
        if (!bands || *bands != std::floor(*bands)) {
            std::cerr << "features: --fine-bands wants a whole number\n";
            return 2;
        }
        metadata.feature.fine_bands = static_cast<int>(*bands);
    }
    if (args->has("band-harmonicity")) {
        metadata.feature.band_harmonicity = true;
    }
    auto tables = dsp::FeatureTables::create(metadata.feature);
    auto manifest = read_manifest(args->positional()[0]);
    const auto jobs = args->number("jobs", base::usable_cores());
    if (!tables || !manifest || !jobs) {
        std::cerr << "features: "
                  << (!tables ? tables.error().message
                      : !manifest ? manifest.error().message
                                  : jobs.error().message)
                  << "\n";
        return 2;
    }
    const std::filesystem::path out_dir = *args->get("out");
    std::filesystem::create_directories(out_dir);
    std::ofstream features_out(out_dir / "features.f32", std::ios::binary | std::ios::trunc);
    std::ofstream index_out(out_dir / "index.csv", std::ios::trunc);
    if (!features_out || !index_out) {
        std::cerr << "features: cannot write to " << out_dir << "\n";
        return 2;
    }
    index_out << "clip,offset_frames,num_frames,label,split,source,speaker,attack,codec\n";
    {
        // The trainer copies this block into detector.json, so the model is always described by
        // the front end its features came from.
        const dsp::FeatureOptions& f = metadata.feature;
        const nlohmann::ordered_json front_end = {{"sample_rate_hz", f.sample_rate_hz},
                                                  {"frame_length_samples", f.frame_length_samples},
                                                  {"frame_shift_samples", f.frame_shift_samples},
                                                  {"fft_size", f.fft_size},
                                                  {"num_filters", f.num_filters},
                                                  {"low_freq_hz", f.low_freq_hz},
                                                  {"high_freq_hz", f.high_freq_hz},
                                                  {"preemphasis", f.preemphasis},
                                                  {"log_floor", f.log_floor},
                                                  {"excitation", f.excitation},
                                                  {"fine_bands", f.fine_bands},
                                                  {"band_harmonicity", f.band_harmonicity},
                                                  {"width", dsp::feature_width(f)}};
        std::ofstream(out_dir / "front_end.json", std::ios::trunc) << front_end.dump(1) << "\n";
    }

    const int workers = std::max(1, static_cast<int>(*jobs));
    const std::size_t batch = 64;
    const auto& entries = *manifest;
    long long offset = 0;
    int failures = 0;
    Progress progress;
    for (std::size_t start = 0; start < entries.size(); start += batch) {
        const std::size_t count = std::min(batch, entries.size() - start);
        std::vector<ClipFeatures> clips(count);
        parallel_for(count, workers, [&](std::size_t i, int) {
            const auto& entry = entries[start + i];
            auto samples = audio::read_audio_file(entry.path, metadata.feature.sample_rate_hz);
            if (!samples) {
                clips[i].error = samples.error().message;
                return;
            }
            pipeline::SpeechFrontEnd front_end(*tables, metadata.vad);
            const auto keep = [&](std::span<const float> features) {
                clips[i].frames.insert(clips[i].frames.end(), features.begin(), features.end());
                ++clips[i].num_frames;
            };
            front_end.accept(*samples, keep);
            front_end.finish(keep);
        });
        for (std::size_t i = 0; i < count; ++i) {
            const auto& entry = entries[start + i];
            if (!clips[i].error.empty()) {
                ++failures;
                std::cerr << "features: skipping " << entry.path << ": " << clips[i].error << "\n";
                continue;
            }
            features_out.write(reinterpret_cast<const char*>(clips[i].frames.data()),
                               static_cast<std::streamsize>(clips[i].frames.size() * sizeof(float)));
            index_out << csv_field(entry.path) << ',' << offset << ',' << clips[i].num_frames << ','
                      << entry.label << ',' << csv_field(entry.split) << ','
                      << csv_field(entry.source) << ',' << csv_field(entry.speaker) << ','
                      << csv_field(entry.attack) << ',' << csv_field(entry.codec) << '\n';
            offset += clips[i].num_frames;
        }
        progress.update(fmt::format("features: {}/{} clips, {} speech frames", start + count,
                                    entries.size(), offset),
                        start + count == entries.size());
    }
    if (!features_out.flush() || !index_out.flush()) {
        std::cerr << "features: write failed in " << out_dir << "\n";
        return 2;
    }
    return failures == 0 ? 0 : 1;
}

}  // namespace dvd::cli
