#include "cli/manifest.hpp"

#include <filesystem>
#include <fstream>
#include <map>

#include <fmt/format.h>

namespace dvd::cli {

std::vector<std::string> split_csv_line(const std::string& line) {
    std::vector<std::string> fields(1);
    bool quoted = false;
    for (std::size_t i = 0; i < line.size(); ++i) {
        const char c = line[i];
        if (quoted) {
            if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
                fields.back() += '"';
                ++i;
            } else if (c == '"') {
                quoted = false;
            } else {
                fields.back() += c;
            }
        } else if (c == '"') {
            quoted = true;
        } else if (c == ',') {
            fields.emplace_back();
        } else if (c != '\r') {
            fields.back() += c;
        }
    }
    return fields;
}

std::string csv_field(const std::string& value) {
    if (value.find_first_of(",\"\n") == std::string::npos) {
        return value;
    }
    std::string out = "\"";
    for (const char c : value) {
        out += c;
        if (c == '"') {
            out += '"';
        }
    }
    return out + "\"";
}

base::Result<std::vector<ManifestEntry>> read_manifest(const std::string& csv_path) {
    std::ifstream in(csv_path);
    if (!in) {
        return base::fail(base::Errc::NotFound, fmt::format("manifest not found: {}", csv_path));
    }
    const std::filesystem::path base_dir = std::filesystem::path(csv_path).parent_path();
    std::string line;
    if (!std::getline(in, line)) {
        return base::fail(base::Errc::Corrupt, fmt::format("{}: empty manifest", csv_path));
    }
    std::map<std::string, std::size_t> column;
    const auto header = split_csv_line(line);
    for (std::size_t i = 0; i < header.size(); ++i) {
        column[header[i]] = i;
    }
    if (!column.contains("path") || !column.contains("label")) {
        return base::fail(base::Errc::Corrupt,
                          fmt::format("{}: header needs 'path' and 'label' columns", csv_path));
    }
    std::vector<ManifestEntry> entries;
    int line_number = 1;
    while (std::getline(in, line)) {
        ++line_number;
        if (line.empty() || line == "\r") {
            continue;
        }
        const auto fields = split_csv_line(line);
        const auto get = [&](const char* name) -> std::string {
            const auto it = column.find(name);
            return it != column.end() && it->second < fields.size() ? fields[it->second] : "";
        };
        ManifestEntry e;
        const std::filesystem::path p = get("path");
        e.path = p.is_absolute() ? p.string() : (base_dir / p).string();
        e.label = get("label");
        e.split = get("split");
        e.source = get("source");
        e.speaker = get("speaker");
        e.attack = get("attack");
        e.codec = get("codec");
        if (e.label != "genuine" && e.label != "synthetic") {
            return base::fail(base::Errc::Corrupt,
                              fmt::format("{}:{}: label must be genuine or synthetic, got '{}'",
                                          csv_path, line_number, e.label));
        }
        entries.push_back(std::move(e));
    }
    return entries;
}

}  // namespace dvd::cli
