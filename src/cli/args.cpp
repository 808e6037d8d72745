#include "cli/args.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>

#include <fmt/format.h>

namespace dvd::cli {

base::Result<Args> Args::parse(const std::vector<std::string>& args,
                               const std::vector<std::string>& flags,
                               const std::vector<std::string>& options) {
    Args out;
    const auto contains = [](const std::vector<std::string>& v, const std::string& s) {
        return std::find(v.begin(), v.end(), s) != v.end();
    };
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        if (a.size() < 3 || a.rfind("--", 0) != 0) {
            out.positional_.push_back(a);
            continue;
        }
        std::string name = a.substr(2);
        std::optional<std::string> value;
        if (const auto eq = name.find('='); eq != std::string::npos) {
            value = name.substr(eq + 1);
            name.resize(eq);
        }
        if (contains(flags, name) && !value) {
            out.flags_.push_back(name);
        } else if (contains(options, name)) {
            if (!value) {
                if (i + 1 >= args.size()) {
                    return base::fail(base::Errc::InvalidArgument,
                                      fmt::format("option --{} needs a value", name));
                }
                value = args[++i];
            }
            out.options_.emplace_back(name, *value);
        } else {
            return base::fail(base::Errc::InvalidArgument, fmt::format("unknown option {}", a));
        }
    }
    return out;
}

bool Args::has(const std::string& flag) const {
    return std::find(flags_.begin(), flags_.end(), flag) != flags_.end();
}

std::optional<std::string> Args::get(const std::string& option) const {
    std::optional<std::string> found;
    for (const auto& [name, value] : options_) {
        if (name == option) {
            found = value;  // the last one wins
        }
    }
    return found;
}

base::Result<double> Args::number(const std::string& option, double fallback) const {
    const auto text = get(option);
    if (!text) {
        return fallback;
    }
    double value = 0.0;
    const auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
    if (ec != std::errc{} || end != text->data() + text->size() || !std::isfinite(value)) {
        return base::fail(base::Errc::InvalidArgument,
                          fmt::format("--{}: '{}' is not a number", option, *text));
    }
    return value;
}

std::vector<std::string> Args::take_repeated(std::vector<std::string>& args,
                                             const std::string& name) {
    std::vector<std::string> values;
    std::vector<std::string> rest;
    for (std::size_t i = 0; i < args.size(); ++i) {
        if (args[i] == name && i + 1 < args.size()) {
            values.push_back(args[++i]);
        } else if (args[i].rfind(name + "=", 0) == 0) {
            values.push_back(args[i].substr(name.size() + 1));
        } else {
            rest.push_back(args[i]);
        }
    }
    args = std::move(rest);
    return values;
}

}  // namespace dvd::cli
