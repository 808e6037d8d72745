#include <cmath>
#include <fstream>
#include <iostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/cpu_budget.hpp"
#include "cli/args.hpp"
#include "cli/clip_scoring.hpp"
#include "cli/commands.hpp"

namespace dvd::cli {
namespace {

constexpr const char* kUsage =
        "usage: deepfake-voice-detector analyze [--jsonl] [--timeline] [--indicators]\n"
        "                                       [--max-speech-seconds S] [--model detector.json]\n"
        "                                       [--jobs N] [--files-from LIST] FILE...\n"
        "Scores each file (WAV PCM/mu-law/A-law at any rate, FLAC, Ogg) for synthetic speech.\n"
        "  --jsonl               one JSON object per line and file (default: a table)\n"
        "  --timeline            include every window score (JSON only)\n"
        "  --indicators          include the acoustic indicators of the whole file, as the\n"
        "                        service shows them for a call (JSON only; docs/indicators.md)\n"
        "  --max-speech-seconds  use only the first S seconds of detected speech\n"
        "  --model               model metadata (default: models/detector.json or $DVD_MODEL)\n"
        "  --jobs                scoring threads (default: number of cores)\n"
        "  --files-from          also score the files listed in LIST, one path per line\n"
        "                        (- reads standard input; empty lines are skipped)\n"
        "A file shorter than its header says (WAV, FLAC), or an Ogg file cut short, is\n"
        "scored on what is there, with a warning.\n"
        "Exit status: 0 all files scored, 1 some file failed (see its error line), 2 usage.\n";

double round4(double x) { return std::round(x * 1e4) / 1e4; }

/// The paths listed one per line in `list` ("-": standard input); an error when it cannot be read.
base::Result<std::vector<std::string>> read_file_list(const std::string& list) {
    std::ifstream file;
    if (list != "-") {
        file.open(list);
        if (!file) {
            return base::fail(base::Errc::NotFound,
                              fmt::format("--files-from: cannot read {}", list));
        }
    }
    std::istream& in = list == "-" ? std::cin : file;
    std::vector<std::string> paths;
    for (std::string line; std::getline(in, line);) {
        if (!line.empty() && line.back() == '\r') {
            line.pop_back();
        }
        if (!line.empty()) {
            paths.push_back(std::move(line));
        }
    }
    return paths;
}

nlohmann::ordered_json to_json(const ClipResult& r, double threshold, bool timeline) {
    nlohmann::ordered_json j;
    j["file"] = r.file;
    if (!r.ok()) {
        j["error"] = r.error;
        return j;
    }
    const bool scored = r.call.windows > 0;
    j["score"] = scored ? nlohmann::ordered_json(round4(r.call.probability)) : nlohmann::ordered_json(nullptr);
    j["llr"] = scored ? nlohmann::ordered_json(round4(r.call.llr)) : nlohmann::ordered_json(nullptr);
    j["verdict"] = std::string(pipeline::to_string(r.call.verdict));
    j["speech_seconds"] = round4(r.call.speech_seconds);
    j["duration_seconds"] = round4(r.duration_seconds);
    j["windows"] = r.call.windows;
    j["threshold"] = threshold;
    if (!r.warning.empty()) {
        j["warning"] = r.warning;
    }
    if (r.indicators) {
        auto& out = j["indicators"] = nlohmann::ordered_json::object();
        for (const auto& row : indicators::to_list(*r.indicators)) {
            if (!row.text.empty()) {
                out[row.name] = row.text;
            } else {
                out[row.name] = row.value ? nlohmann::ordered_json(*row.value)
                                          : nlohmann::ordered_json(nullptr);
            }
        }
    }
    if (timeline) {
        auto& t = j["timeline"] = nlohmann::ordered_json::array();
        for (std::size_t i = 0; i < r.windows.size(); ++i) {
            const auto& w = r.windows[i];
            const auto& c = r.call_after_window[i];
            t.push_back({{"speech_seconds", round4(static_cast<double>(w.end_speech_frame) / 100.0)},
                         {"window_frames", w.num_frames},
                         {"window_score", round4(w.probability)},
                         {"window_llr", round4(w.llr)},
                         {"score", round4(c.probability)},
                         {"llr", round4(c.llr)},
                         {"verdict", std::string(pipeline::to_string(c.verdict))}});
        }
    }
    return j;
}

}  // namespace

int run_analyze(const std::vector<std::string>& raw) {
    auto args = Args::parse(raw, {"jsonl", "timeline", "indicators", "help"},
                            {"max-speech-seconds", "model", "jobs", "files-from"});
    if (!args || args->has("help")
        || (args->positional().empty() && !args->get("files-from"))) {
        if (!args) {
            std::cerr << "analyze: " << args.error().message << "\n";
        }
        std::cerr << kUsage;
        return args && args->has("help") ? 0 : 2;
    }
    const auto max_speech = args->number("max-speech-seconds", 0.0);
    const auto jobs = args->number("jobs", base::usable_cores());
    if (!max_speech || !jobs || *max_speech < 0.0 || *jobs < 1.0) {
        std::cerr << "analyze: "
                  << (!max_speech ? max_speech.error().message
                      : !jobs     ? jobs.error().message
                                  : "--max-speech-seconds must be >= 0 and --jobs >= 1")
                  << "\n";
        return 2;
    }
    auto detector = load_detector(args->get("model").value_or(model::default_model_path()));
    if (!detector) {
        std::cerr << "analyze: " << detector.error().message << "\n";
        return 2;
    }
    pipeline::ScorerOptions options;
    options.max_speech_seconds = *max_speech;

    // Paths on the command line first, then those of --files-from (no ARG_MAX limit there).
    std::vector<std::string> files = args->positional();
    if (const auto list = args->get("files-from")) {
        auto listed = read_file_list(*list);
        if (!listed) {
            std::cerr << "analyze: " << listed.error().message << "\n";
            return 2;
        }
        files.insert(files.end(), listed->begin(), listed->end());
    }
    if (files.empty()) {
        std::cerr << "analyze: no files to score\n";
        return 2;
    }
    const int workers = static_cast<int>(*jobs);
    std::vector<std::unique_ptr<ClipScorer>> scorers;
    for (int w = 0; w < workers; ++w) {
        scorers.push_back(std::make_unique<ClipScorer>(detector->model, detector->tables, options));
        if (args->has("indicators")) {
            scorers.back()->enable_indicators();
        }
    }
    std::vector<ClipResult> results(files.size());
    parallel_for(files.size(), workers, [&](std::size_t i, int worker) {
        results[i] = scorers[static_cast<std::size_t>(worker)]->score_file(files[i]);
    });

    const double threshold = detector->model->metadata().threshold;
    const bool jsonl = args->has("jsonl");
    int failures = 0;
    for (const auto& r : results) {
        failures += r.ok() ? 0 : 1;
        if (jsonl) {
            std::cout << to_json(r, threshold, args->has("timeline")).dump() << "\n";
        } else if (!r.ok()) {
            std::cout << fmt::format("{}\terror: {}\n", r.file, r.error);
        } else {
            const std::string warning = r.warning.empty() ? "" : "\twarning: " + r.warning;
            if (r.call.windows == 0) {
                std::cout << fmt::format("{}\t{}\tspeech={:.2f}s{}\n", r.file,
                                         pipeline::to_string(r.call.verdict), r.call.speech_seconds,
                                         warning);
            } else {
                std::cout << fmt::format("{}\t{}\tscore={:.3f}\tllr={:+.2f}\tspeech={:.2f}s{}\n",
                                         r.file, pipeline::to_string(r.call.verdict),
                                         r.call.probability, r.call.llr, r.call.speech_seconds,
                                         warning);
            }
        }
    }
    std::cout.flush();
    return failures == 0 ? 0 : 1;
}

}  // namespace dvd::cli
