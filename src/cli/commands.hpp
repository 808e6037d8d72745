#pragma once

#include <string>
#include <vector>

namespace dvd::cli {

/// Each command takes its arguments (after the command name) and returns the process exit code:
/// 0 success, 1 some input failed (reported per input), 2 usage or set-up error.
int run_analyze(const std::vector<std::string>& args);
int run_eval(const std::vector<std::string>& args);
int run_features(const std::vector<std::string>& args);
int run_serve(const std::vector<std::string>& args);
int run_simulate(const std::vector<std::string>& args);

}  // namespace dvd::cli
