#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/cpu_budget.hpp"
#include "cli/args.hpp"
#include "cli/clip_scoring.hpp"
#include "cli/commands.hpp"
#include "cli/manifest.hpp"
#include "cli/progress.hpp"
#include "eval/det_plot.hpp"
#include "eval/metrics.hpp"

namespace dvd::cli {
namespace {

constexpr const char* kUsage =
        "usage: deepfake-voice-detector eval MANIFEST.csv [--split S] [--out DIR]\n"
        "                                    [--model detector.json] [--threshold P] [--jobs N]\n"
        "Scores every clip of the manifest (columns path,label[,split,attack,codec,...])\n"
        "and reports EER, minDCF and actDCF (P(spoof) 0.05; Cmiss 1, Cfa 10 in ASVspoof's\n"
        "bona-fide-positive convention), Cllr, and false-alarm/miss rates at the threshold,\n"
        "per attack, per codec and per source package (manifest column source: which\n"
        "recording domains get flagged), after 1 s, 2 s and 4 s of speech (clips with at\n"
        "least that much speech, scored on it alone) and on full clips. Per attack also the\n"
        "pooled EER of the other clips without it (what that attack costs the pooled figure).\n"
        "Writes DIR/report.json and DIR/det.png\n"
        "(default DIR: eval-out). --threshold overrides the model's P(synthetic) threshold.\n";

struct Condition {
    const char* name;
    long long speech_frames;  // 0 = full clip
};

constexpr Condition kConditions[] = {{"1s", 100}, {"2s", 200}, {"4s", 400}, {"full", 0}};

double round4(double x) { return std::isfinite(x) ? std::round(x * 1e4) / 1e4 : x; }

/// `j[key]` as a percentage with two decimals (of 1 - value with `complement`), "-" if absent.
std::string percent(const nlohmann::ordered_json& j, const char* key, bool complement = false) {
    if (!j.contains(key) || !j[key].is_number()) {
        return "-";
    }
    const double v = j[key].get<double>();
    return fmt::format("{:.2f}", 100.0 * (complement ? 1.0 - v : v));
}

nlohmann::ordered_json metric(const base::Result<double>& r) {
    return r ? nlohmann::ordered_json(round4(*r)) : nlohmann::ordered_json(nullptr);
}

/// All the figures for one set of trials.
nlohmann::ordered_json summarise(std::span<const eval::Trial> trials, double threshold_llr) {
    nlohmann::ordered_json j;
    std::size_t synthetic = 0;
    std::size_t flagged[2] = {0, 0};  // [genuine, synthetic] at the threshold
    for (const auto& t : trials) {
        synthetic += t.is_target ? 1 : 0;
        flagged[t.is_target ? 1 : 0] += t.score >= threshold_llr ? 1 : 0;
    }
    const std::size_t genuine = trials.size() - synthetic;
    j["synthetic"] = synthetic;
    j["genuine"] = genuine;
    j["eer"] = metric(eval::equal_error_rate(trials));
    j["min_dcf"] = metric(eval::min_dcf(trials));
    j["act_dcf"] = metric(eval::actual_dcf(trials));
    j["cllr"] = metric(eval::cllr(trials));
    // The rate of each class present (a source package holds one class only), as
    // eval::rates_at_threshold defines them.
    if (genuine > 0) {
        j["fa_rate"] = round4(static_cast<double>(flagged[0]) / static_cast<double>(genuine));
    }
    if (synthetic > 0) {
        j["miss_rate"] = round4(static_cast<double>(synthetic - flagged[1])
                                / static_cast<double>(synthetic));
    }
    return j;
}

}  // namespace

int run_eval(const std::vector<std::string>& raw) {
    auto args = Args::parse(raw, {"help"}, {"split", "out", "model", "threshold", "jobs"});
    if (!args || args->has("help") || args->positional().size() != 1) {
        if (!args) {
            std::cerr << "eval: " << args.error().message << "\n";
        }
        std::cerr << kUsage;
        return args && args->has("help") ? 0 : 2;
    }
    auto manifest = read_manifest(args->positional()[0]);
    const auto jobs = args->number("jobs", base::usable_cores());
    const auto threshold_arg = args->number("threshold", 0.0);
    if (!manifest || !jobs || !threshold_arg || *threshold_arg < 0.0 || *threshold_arg >= 1.0) {
        std::cerr << "eval: "
                  << (!manifest ? manifest.error().message
                      : !jobs   ? jobs.error().message
                      : !threshold_arg ? threshold_arg.error().message
                                       : "--threshold must be in (0, 1)")
                  << "\n";
        return 2;
    }
    auto detector = load_detector(args->get("model").value_or(model::default_model_path()));
    if (!detector) {
        std::cerr << "eval: " << detector.error().message << "\n";
        return 2;
    }
    std::vector<ManifestEntry> entries;
    const auto split = args->get("split");
    for (auto& e : *manifest) {
        if (!split || e.split == *split) {
            entries.push_back(std::move(e));
        }
    }
    if (entries.empty()) {
        std::cerr << "eval: no clips" << (split ? " in split " + *split : std::string()) << "\n";
        return 2;
    }

    const double threshold =
            *threshold_arg > 0.0 ? *threshold_arg : detector->model->metadata().threshold;
    const double threshold_llr = std::log(threshold / (1.0 - threshold));
    const int workers = std::max(1, static_cast<int>(*jobs));
    std::vector<std::unique_ptr<ClipScorer>> scorers;
    for (int w = 0; w < workers; ++w) {
        scorers.push_back(std::make_unique<ClipScorer>(detector->model, detector->tables,
                                                       pipeline::ScorerOptions{}));
    }
    std::vector<ClipResult> results(entries.size());
    std::atomic<std::size_t> done{0};
    std::mutex progress_mutex;
    Progress progress;
    parallel_for(entries.size(), workers, [&](std::size_t i, int worker) {
        results[i] = scorers[static_cast<std::size_t>(worker)]->score_file(entries[i].path);
        const std::size_t n = ++done;
        if (n % 50 == 0 || n == entries.size()) {
            const std::lock_guard lock(progress_mutex);
            progress.update(fmt::format("eval: {}/{} clips scored", n, entries.size()),
                            n == entries.size());
        }
    });

    nlohmann::ordered_json report;
    report["manifest"] = args->positional()[0];
    report["split"] = split.value_or("all");
    report["threshold"] = threshold;
    report["clips"] = entries.size();
    int errors = 0;
    int insufficient = 0;
    for (const auto& r : results) {
        errors += r.ok() ? 0 : 1;
        insufficient += r.ok() && r.call.windows == 0 ? 1 : 0;
    }
    report["errors"] = errors;
    report["insufficient_speech"] = insufficient;

    std::map<std::string, std::vector<eval::Trial>> det_series;
    for (const auto& condition : kConditions) {
        std::vector<eval::Trial> all;
        std::map<std::string, std::vector<eval::Trial>> by_attack;  // synthetic of one attack
        std::map<std::string, std::vector<eval::Trial>> by_codec;
        std::map<std::string, std::vector<eval::Trial>> by_source;  // both classes
        std::vector<eval::Trial> genuine;
        for (std::size_t i = 0; i < results.size(); ++i) {
            const auto& r = results[i];
            const pipeline::CallScore* call =
                    !r.ok() ? nullptr
                    : condition.speech_frames > 0 ? r.call_at_speech_frames(condition.speech_frames)
                    : (r.call.windows > 0 ? &r.call : nullptr);
            if (call == nullptr) {
                continue;
            }
            const eval::Trial trial{call->llr, entries[i].is_synthetic()};
            all.push_back(trial);
            by_codec[entries[i].codec.empty() ? "unknown" : entries[i].codec].push_back(trial);
            by_source[entries[i].source.empty() ? "unknown" : entries[i].source].push_back(trial);
            if (trial.is_target) {
                by_attack[entries[i].attack.empty() ? "unknown" : entries[i].attack].push_back(trial);
            } else {
                genuine.push_back(trial);
            }
        }
        auto& c = report["conditions"][condition.name];
        c = summarise(all, threshold_llr);
        for (const auto& [attack, synthetic] : by_attack) {
            std::vector<eval::Trial> trials = genuine;
            trials.insert(trials.end(), synthetic.begin(), synthetic.end());
            auto& a = c["per_attack"][attack];
            a = summarise(trials, threshold_llr);
            // What this attack costs the pooled figure: the EER of all the other clips.
            std::vector<eval::Trial> without = genuine;
            for (const auto& [other, other_synthetic] : by_attack) {
                if (other != attack) {
                    without.insert(without.end(), other_synthetic.begin(), other_synthetic.end());
                }
            }
            a["pooled_eer_without"] = metric(eval::equal_error_rate(without));
        }
        for (const auto& [codec, trials] : by_codec) {
            c["per_codec"][codec] = summarise(trials, threshold_llr);
        }
        for (const auto& [source, trials] : by_source) {
            c["per_source"][source] = summarise(trials, threshold_llr);
        }
        det_series[condition.name] = std::move(all);
    }

    const std::filesystem::path out_dir = args->get("out").value_or("eval-out");
    std::filesystem::create_directories(out_dir);
    std::vector<eval::DetSeries> curves;
    for (const auto& condition : kConditions) {
        const auto& trials = det_series[condition.name];
        if (!trials.empty()) {
            curves.push_back({std::string(condition.name) + " of speech", trials});
        }
    }
    curves.back().name = "full clips";
    if (auto ok = eval::write_det_png(out_dir / "det.png", curves,
                                      fmt::format("DET, {} clips", entries.size()));
        !ok) {
        std::cerr << "eval: DET plot not written: " << ok.error().message << "\n";
    }
    std::ofstream(out_dir / "report.json") << report.dump(2) << "\n";

    std::cout << fmt::format("{:<6} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}\n", "speech",
                             "trials", "EER%", "minDCF", "actDCF", "Cllr", "FA%", "miss%");
    for (const auto& condition : kConditions) {
        const auto& c = report["conditions"][condition.name];
        const auto num = [&](const char* key) {
            return c.contains(key) && c[key].is_number() ? fmt::format("{:.4f}", c[key].get<double>())
                                                         : std::string("-");
        };
        std::cout << fmt::format(
                "{:<6} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}\n", condition.name,
                c["genuine"].get<std::size_t>() + c["synthetic"].get<std::size_t>(),
                percent(c, "eer"), num("min_dcf"), num("act_dcf"), num("cllr"),
                percent(c, "fa_rate"), percent(c, "miss_rate"));
    }
    if (const auto& full = report["conditions"]["full"]; full.contains("per_attack")) {
        std::cout << fmt::format(
                "\nfull clips per attack (EER against all genuine clips; pooled EER"
                " of the other clips without this attack)\n{:<20} {:>8} {:>8} {:>8} {:>9}\n",
                "attack", "clips", "EER%", "caught%", "without%");
        for (const auto& [attack, a] : full["per_attack"].items()) {
            std::cout << fmt::format("{:<20} {:>8} {:>8} {:>8} {:>9}\n", attack,
                                     a["synthetic"].get<std::size_t>(), percent(a, "eer"),
                                     percent(a, "miss_rate", true),
                                     percent(a, "pooled_eer_without"));
        }
    }
    std::cout << fmt::format("threshold P(synthetic) >= {:.4f}; {} errors, {} with too little speech;"
                             " report: {}\n",
                             threshold, errors, insufficient, (out_dir / "report.json").string());
    return errors == 0 ? 0 : 1;
}

}  // namespace dvd::cli
