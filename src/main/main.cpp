#include <iostream>
#include <string>
#include <vector>

#include "cli/commands.hpp"

namespace {

constexpr const char* kUsage =
        "usage: deepfake-voice-detector <command> [options]\n"
        "commands:\n"
        "  analyze FILE...        score audio files for synthetic speech\n"
        "  eval MANIFEST.csv      accuracy report (EER, minDCF, actDCF, Cllr, DET curve)\n"
        "  features MANIFEST.csv  dump the detector's speech features for training\n"
        "  serve                  answer, stream and score Telnyx calls (the service)\n"
        "  simulate --wav FILE... play Telnyx (calls, webhooks, media) against a running service\n"
        "Run a command with --help for its options.\n";

}  // namespace

int main(int argc, char** argv) {
    const std::vector<std::string> args(argv + (argc > 1 ? 2 : argc), argv + argc);
    const std::string command = argc > 1 ? argv[1] : "";
    if (command == "analyze") {
        return dvd::cli::run_analyze(args);
    }
    if (command == "eval") {
        return dvd::cli::run_eval(args);
    }
    if (command == "features") {
        return dvd::cli::run_features(args);
    }
    if (command == "serve") {
        return dvd::cli::run_serve(args);
    }
    if (command == "simulate") {
        return dvd::cli::run_simulate(args);
    }
    if (command == "--help" || command == "help") {
        std::cout << kUsage;
        return 0;
    }
    std::cerr << (command.empty() ? "" : "unknown command: " + command + "\n") << kUsage;
    return 2;
}
