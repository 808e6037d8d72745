#pragma once

#include <optional>
#include <string>
#include <vector>

#include "base/result.hpp"

namespace dvd::cli {

/// A small argument reader: `--flag`, `--key value`, `--key=value` and positionals, checked
/// against the options a command declares.
class Args {
public:
    /// `flags` take no value; `options` take one. Unknown `--x` is an error.
    [[nodiscard]] static base::Result<Args> parse(const std::vector<std::string>& args,
                                                  const std::vector<std::string>& flags,
                                                  const std::vector<std::string>& options);

    /// Removes every `--name X` / `--name=X` from `args` and returns the values in order: for
    /// options that may repeat (`Args` itself keeps one value per option). `name` includes the
    /// dashes.
    [[nodiscard]] static std::vector<std::string> take_repeated(std::vector<std::string>& args,
                                                                const std::string& name);

    bool has(const std::string& flag) const;
    std::optional<std::string> get(const std::string& option) const;
    /// Parses an option as a number; errors name the option.
    [[nodiscard]] base::Result<double> number(const std::string& option, double fallback) const;
    const std::vector<std::string>& positional() const { return positional_; }

private:
    std::vector<std::string> flags_;
    std::vector<std::pair<std::string, std::string>> options_;
    std::vector<std::string> positional_;
};

}  // namespace dvd::cli
