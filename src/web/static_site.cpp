#include "web/static_site.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <system_error>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "base/log.hpp"

namespace dvd::web {
namespace {

constexpr std::size_t kMaxAssetNameLength = 128;
constexpr std::size_t kContentHashLength = 8;
constexpr std::string_view kNoCache = "no-cache";
constexpr std::string_view kImmutable = "public, max-age=31536000, immutable";

struct TypeByExtension {
    std::string_view extension;
    std::string_view content_type;
};

constexpr std::array<TypeByExtension, 13> kContentTypes{{
        {".html", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".mjs", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".ico", "image/x-icon"},
        {".json", "application/json"},
        {".map", "application/json"},
        {".txt", "text/plain; charset=utf-8"},
        {".woff2", "font/woff2"},
        {".webmanifest", "application/manifest+json"},
        {".wasm", "application/wasm"},
}};

bool ends_with(std::string_view text, std::string_view suffix) {
    return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

base::Result<std::string> read_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        return base::fail(base::Errc::Io, fmt::format("cannot open {}", path.string()));
    }
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (in.bad()) {
        return base::fail(base::Errc::Io, fmt::format("cannot read {}", path.string()));
    }
    return bytes;
}

StaticFile make_file(std::string body, std::string_view name, bool index) {
    StaticFile file;
    file.etag = etag_for(body);
    file.content_type = std::string(content_type_for(name));
    file.cache_control =
            std::string(!index && is_content_hashed_name(name) ? kImmutable : kNoCache);
    file.body = std::move(body);
    return file;
}

}  // namespace

std::string_view content_type_for(std::string_view file_name) {
    for (const TypeByExtension& entry : kContentTypes) {
        if (ends_with(file_name, entry.extension)) {
            return entry.content_type;
        }
    }
    return "application/octet-stream";
}

bool is_safe_asset_name(std::string_view name) {
    if (name.empty() || name.size() > kMaxAssetNameLength || name.front() == '.') {
        return false;
    }
    for (const char c : name) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                        || c == '.' || c == '_' || c == '-';
        if (!ok) {
            return false;
        }
    }
    return name.find("..") == std::string_view::npos;
}

bool is_content_hashed_name(std::string_view name) {
    const std::size_t dot = name.rfind('.');
    if (dot == std::string_view::npos || dot < kContentHashLength + 1) {
        return false;
    }
    const std::string_view hash = name.substr(dot - kContentHashLength, kContentHashLength);
    if (name[dot - kContentHashLength - 1] != '-') {
        return false;
    }
    for (const char c : hash) {
        if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))) {
            return false;
        }
    }
    return true;
}

std::string etag_for(std::string_view bytes) {
    // FNV-1a, 64 bit (Fowler, Noll, Vo): a validator, not a security measure.
    std::uint64_t hash = 0xcbf29ce484222325ULL;
    for (const char c : bytes) {
        hash ^= static_cast<std::uint8_t>(c);
        hash *= 0x100000001b3ULL;
    }
    return fmt::format("\"{:016x}\"", hash);
}

base::Result<std::shared_ptr<const StaticSite>> StaticSite::load(
        const std::filesystem::path& dist_dir, const StaticSiteLimits& limits) {
    std::error_code error;
    const std::filesystem::path index_path = dist_dir / "index.html";
    if (!std::filesystem::is_regular_file(index_path, error)) {
        return base::fail(
                base::Errc::NotFound,
                fmt::format("{} not found (the dashboard is not built)", index_path.string()));
    }
    auto index = read_file(index_path);
    if (!index) {
        return index.error();
    }
    auto site = std::make_shared<StaticSite>();
    site->total_bytes_ = index->size();
    site->index_ = make_file(std::move(*index), "index.html", true);

    const std::filesystem::path assets_dir = dist_dir / "assets";
    if (!std::filesystem::is_directory(assets_dir, error)) {
        return std::shared_ptr<const StaticSite>(std::move(site));
    }
    std::vector<std::filesystem::path> paths;
    for (std::filesystem::directory_iterator it(assets_dir, error), end; !error && it != end;
         it.increment(error)) {
        // symlink_status: a link is skipped, never followed out of the folder.
        if (std::filesystem::is_regular_file(it->symlink_status())) {
            paths.push_back(it->path());
        }
    }
    if (error) {
        return base::fail(base::Errc::Io,
                          fmt::format("cannot list {}: {}", assets_dir.string(), error.message()));
    }
    std::sort(paths.begin(), paths.end());  // a deterministic choice when limits bite
    for (const std::filesystem::path& path : paths) {
        const std::string name = path.filename().string();
        if (!is_safe_asset_name(name)) {
            DVD_LOG(Api, Warn, "dashboard: skipped asset with an unsafe name: {}", path.string());
            continue;
        }
        const std::uintmax_t size = std::filesystem::file_size(path, error);
        if (error || size > limits.max_file_bytes
            || site->total_bytes_ + size > limits.max_total_bytes
            || site->assets_.size() >= limits.max_files) {
            DVD_LOG(Api, Warn, "dashboard: skipped asset {} (over the size or count limits)",
                    path.string());
            continue;
        }
        auto body = read_file(path);
        if (!body) {
            return body.error();
        }
        site->total_bytes_ += body->size();
        site->assets_.emplace(name, make_file(std::move(*body), name, false));
    }
    return std::shared_ptr<const StaticSite>(std::move(site));
}

const StaticFile* StaticSite::asset(std::string_view name) const {
    if (!is_safe_asset_name(name)) {
        return nullptr;
    }
    const auto found = assets_.find(name);
    return found == assets_.end() ? nullptr : &found->second;
}

}  // namespace dvd::web
