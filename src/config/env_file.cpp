#include "config/env_file.hpp"

#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>

#include <fmt/format.h>

namespace dvd::config {
namespace {

constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";

bool is_blank(char c) noexcept {
    return c == ' ' || c == '\t';
}

std::string_view trim_left(std::string_view s) noexcept {
    while (!s.empty() && is_blank(s.front())) {
        s.remove_prefix(1);
    }
    return s;
}

std::string_view trim_right(std::string_view s) noexcept {
    while (!s.empty() && is_blank(s.back())) {
        s.remove_suffix(1);
    }
    return s;
}

bool is_key_start(char c) noexcept {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

bool is_key_char(char c) noexcept {
    return is_key_start(c) || (c >= '0' && c <= '9');
}

// What may follow a closing quote: nothing, spaces, or spaces + a comment.
bool only_comment_left(std::string_view rest) noexcept {
    rest = trim_left(rest);
    return rest.empty() || rest.front() == '#';
}

// Parses the value part of a line (everything after `=`); nullopt with `why` set on error.
std::optional<std::string> parse_value(std::string_view after_equals, std::string& why) {
    std::string_view raw = trim_left(after_equals);
    if (raw.empty() || (raw.front() == '#' && raw.size() != after_equals.size())) {
        return std::string{};  // nothing, or only a comment after a blank
    }
    const char quote = raw.front();
    if (quote == '\'') {
        const auto close = raw.find('\'', 1);
        if (close == std::string_view::npos) {
            why = "unterminated single quote (values cannot span lines)";
            return std::nullopt;
        }
        if (!only_comment_left(raw.substr(close + 1))) {
            why = "unexpected text after the closing quote";
            return std::nullopt;
        }
        return std::string(raw.substr(1, close - 1));
    }
    if (quote == '"') {
        std::string value;
        for (std::size_t i = 1; i < raw.size(); ++i) {
            const char c = raw[i];
            if (c == '"') {
                if (!only_comment_left(raw.substr(i + 1))) {
                    why = "unexpected text after the closing quote";
                    return std::nullopt;
                }
                return value;
            }
            if (c == '\\' && i + 1 < raw.size()) {
                const char next = raw[i + 1];
                switch (next) {
                    case 'n':
                        value += '\n';
                        break;
                    case 't':
                        value += '\t';
                        break;
                    case 'r':
                        value += '\r';
                        break;
                    case '"':
                    case '\\':
                        value += next;
                        break;
                    default:
                        value += '\\';
                        value += next;
                        break;
                }
                ++i;
                continue;
            }
            value += c;
        }
        why = "unterminated double quote (values cannot span lines)";
        return std::nullopt;
    }
    // Unquoted: a '#' preceded by a blank starts a comment.
    for (std::size_t i = 1; i < raw.size(); ++i) {
        if (raw[i] == '#' && is_blank(raw[i - 1])) {
            raw = raw.substr(0, i);
            break;
        }
    }
    return std::string(trim_right(raw));
}

}  // namespace

base::Result<std::vector<EnvEntry>> parse_env_file(std::string_view text, std::string_view name) {
    if (text.starts_with(kUtf8Bom)) {
        text.remove_prefix(kUtf8Bom.size());
    }
    std::vector<EnvEntry> entries;
    int number = 0;
    while (!text.empty()) {
        ++number;
        const auto end = text.find('\n');
        std::string_view line = text.substr(0, end);
        text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
        if (line.ends_with('\r')) {
            line.remove_suffix(1);
        }
        line = trim_left(line);
        if (line.empty() || line.front() == '#') {
            continue;
        }
        if (line.starts_with("export") && line.size() > 6 && is_blank(line[6])) {
            line = trim_left(line.substr(6));
        }
        const auto bad = [&](std::string_view why) {
            return base::fail(base::Errc::Corrupt,
                              fmt::format("{} line {}: {}", name, number, why));
        };
        // "export" alone (or followed by blanks) leaves nothing: found by tests/fuzz text_formats.
        if (line.empty() || !is_key_start(line.front())) {
            return bad("expected KEY=VALUE");
        }
        std::size_t key_end = 1;
        while (key_end < line.size() && is_key_char(line[key_end])) {
            ++key_end;
        }
        const std::string_view key = line.substr(0, key_end);
        std::string_view rest = trim_left(line.substr(key_end));
        if (rest.empty() || rest.front() != '=') {
            return bad(fmt::format("expected '=' after {}", key));
        }
        std::string why;
        auto value = parse_value(rest.substr(1), why);
        if (!value) {
            return bad(fmt::format("{}: {}", key, why));
        }
        entries.push_back(EnvEntry{std::string(key), std::move(*value), number});
    }
    return entries;
}

base::Result<std::vector<EnvEntry>> read_env_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        return base::fail(base::Errc::NotFound,
                          fmt::format("cannot open the env file '{}'", path.string()));
    }
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) {
        return base::fail(base::Errc::Io,
                          fmt::format("cannot read the env file '{}'", path.string()));
    }
    return parse_env_file(text.str(), path.string());
}

}  // namespace dvd::config
