#pragma once

#include <string>
#include <vector>

#include "base/result.hpp"

namespace dvd::cli {

/// One clip of a corpus manifest (data/corpus/manifest.csv; columns documented in
/// tools/corpus/README.md). Only `path` and `label` are required.
struct ManifestEntry {
    std::string path;  ///< resolved against the manifest's folder when relative
    std::string label; ///< "genuine" or "synthetic"
    std::string split;
    std::string source;
    std::string speaker;
    std::string attack;
    std::string codec;
    bool is_synthetic() const { return label == "synthetic"; }
};

/// Reads a CSV manifest with a header row (RFC 4180 quoting). Fails on a missing file, a missing
/// `path`/`label` column, or a label other than genuine/synthetic, naming the line.
[[nodiscard]] base::Result<std::vector<ManifestEntry>> read_manifest(const std::string& csv_path);

/// Splits one CSV line into fields (RFC 4180 quotes; no embedded newlines).
std::vector<std::string> split_csv_line(const std::string& line);

/// Quotes a field for CSV output when needed.
std::string csv_field(const std::string& value);

}  // namespace dvd::cli
