#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"

namespace dvd::config {

/// One `KEY=VALUE` assignment of a `.env` file.
struct EnvEntry {
    std::string key;
    std::string value;
    int line = 0;  ///< 1-based
};

/// Parses the text of a `.env` file (the dotenv conventions of Docker Compose and python-dotenv,
/// without interpolation):
///   * one `KEY=VALUE` per line; spaces around the key, the `=` and an unquoted value are
///     dropped; keys are `[A-Za-z_][A-Za-z0-9_]*`; an optional `export ` prefix is ignored;
///   * blank lines and lines starting with `#` are skipped; in an unquoted value, ` #` (a `#`
///     after a space or tab) starts a comment, while a `#` inside a word is kept (`a#b`);
///   * `'single quotes'` are literal; `"double quotes"` understand `\n`, `\t`, `\r`, `\"`, `\\`
///     (any other backslash is kept as is); a quoted value must end on its line and may only be
///     followed by spaces or a comment;
///   * `${VAR}` is not expanded; a UTF-8 byte-order mark and CRLF line ends are accepted.
/// Entries come back in file order; a repeated key appears twice (the later one wins for
/// `load_config`). Errc::Corrupt with "<name> line N: why" for a malformed line; the message never
/// repeats the line, which may hold a secret.
[[nodiscard]] base::Result<std::vector<EnvEntry>> parse_env_file(std::string_view text,
                                                                 std::string_view name = ".env");

/// Reads and parses a file. Errc::NotFound when it cannot be opened, Errc::Io on a read error,
/// and the errors of parse_env_file.
[[nodiscard]] base::Result<std::vector<EnvEntry>> read_env_file(const std::filesystem::path& path);

}  // namespace dvd::config
