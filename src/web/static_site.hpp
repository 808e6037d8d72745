#pragma once

#include <cstddef>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "base/result.hpp"

namespace dvd::web {

/// One file of the built dashboard, ready to send.
struct StaticFile {
    std::string body{};
    std::string content_type{};   ///< e.g. "text/javascript; charset=utf-8"
    std::string etag{};           ///< strong validator: "\"<16 hex digits of FNV-1a 64>\""
    std::string cache_control{};  ///< "no-cache" or, for content-hashed names, a year, immutable
};

/// Limits of what `StaticSite::load` reads, so a wrong --web-dir cannot fill memory.
struct StaticSiteLimits {
    std::size_t max_file_bytes = 8U << 20;    ///< a larger file is skipped (logged)
    std::size_t max_total_bytes = 32U << 20;  ///< files beyond are skipped (logged)
    std::size_t max_files = 256;              ///< files beyond are skipped (logged)
};

/// The built dashboard (web/dist, see web/README.md), read into memory once at start-up so that
/// network workers never touch the disk: `index.html` plus the regular files directly inside
/// `assets/` (no sub-folders, no dotfiles, no symbolic links). Immutable after `load`, so it is
/// shared by all workers without locks; a rebuilt dashboard is picked up at the next start.
class StaticSite {
public:
    /// Reads `dist_dir`. Errors: NotFound when `dist_dir/index.html` is missing (not built),
    /// Io when a file cannot be read.
    [[nodiscard]] static base::Result<std::shared_ptr<const StaticSite>> load(
            const std::filesystem::path& dist_dir, const StaticSiteLimits& limits = {});

    [[nodiscard]] const StaticFile& index() const { return index_; }

    /// The asset named `name` ("app-5KX3Q2ZB.js"); nullptr when there is none or the name is not
    /// a plain file name (see is_safe_asset_name).
    [[nodiscard]] const StaticFile* asset(std::string_view name) const;

    [[nodiscard]] std::size_t asset_count() const { return assets_.size(); }

    [[nodiscard]] std::size_t total_bytes() const { return total_bytes_; }

private:
    StaticFile index_{};
    std::map<std::string, StaticFile, std::less<>> assets_{};
    std::size_t total_bytes_ = 0;
};

/// Content-Type for a file name by its extension (html, js, mjs, css, svg, png, ico, json, map,
/// txt, woff2, webmanifest); "application/octet-stream" otherwise.
[[nodiscard]] std::string_view content_type_for(std::string_view file_name);

/// True for a plain file name: 1..128 characters from [A-Za-z0-9._-], not starting with '.'.
/// Everything else (slashes, backslashes, "..", NUL, percent signs, spaces) is refused.
[[nodiscard]] bool is_safe_asset_name(std::string_view name);

/// True when the name carries a content hash as the build writes it ("app-5KX3Q2ZB.js": '-',
/// then 8 characters [A-Z0-9], then the extension); such files never change and are cached
/// for a year.
[[nodiscard]] bool is_content_hashed_name(std::string_view name);

/// FNV-1a 64 of `bytes` as a quoted strong ETag.
[[nodiscard]] std::string etag_for(std::string_view bytes);

}  // namespace dvd::web
