#include "store/open_store.hpp"

#include <filesystem>
#include <system_error>
#include <utility>

#include <fmt/format.h>

namespace dvd::store {
namespace {

constexpr std::string_view kMemory = ":memory:";

}  // namespace

bool is_postgres_url(std::string_view database_url) {
    return database_url.starts_with("postgres://") || database_url.starts_with("postgresql://");
}

base::Result<std::string> sqlite_path_from_url(std::string_view database_url) {
    if (database_url.empty()) {
        return base::fail(base::Errc::InvalidArgument, "DATABASE_URL is empty");
    }
    const auto scheme_end = database_url.find("://");
    if (scheme_end == std::string_view::npos) {
        return std::string(database_url);  // a plain path
    }
    const std::string_view scheme = database_url.substr(0, scheme_end);
    if (scheme == "postgres" || scheme == "postgresql") {
        return base::fail(base::Errc::Unsupported,
                          "DATABASE_URL names a PostgreSQL database, not a SQLite file");
    }
    if (scheme != "sqlite") {
        return base::fail(base::Errc::Unsupported,
                          fmt::format("DATABASE_URL: unknown scheme '{}' (expected sqlite, "
                                      "postgresql or postgres)",
                                      scheme));
    }
    // sqlite:///abs -> "/abs" (absolute), sqlite://rel -> "rel" (relative).
    const std::string_view path = database_url.substr(scheme_end + 3);
    if (path.empty() || path == "/") {
        return base::fail(base::Errc::InvalidArgument, "DATABASE_URL: sqlite URL without a path");
    }
    return std::string(path);
}

base::Result<std::unique_ptr<Store>> open_store(const std::string& database_url,
                                                const StoreOptions& options) {
    if (is_postgres_url(database_url)) {
        auto store = PostgresStore::open(database_url, options);
        if (!store) {
            return store.error();
        }
        return std::unique_ptr<Store>(std::move(*store));
    }
    auto path = sqlite_path_from_url(database_url);
    if (!path) {
        return path.error();
    }
    if (*path != kMemory && !options.read_only) {
        const auto parent = std::filesystem::path(*path).parent_path();
        std::error_code ec;
        if (!parent.empty() && !std::filesystem::exists(parent, ec)) {
            std::filesystem::create_directories(parent, ec);
            if (ec) {
                return base::fail(base::Errc::Io,
                                  fmt::format("store open: cannot create folder {}: {}",
                                              parent.string(), ec.message()));
            }
        }
    }
    auto store = SqliteStore::open(*path, options);
    if (!store) {
        return store.error();
    }
    return std::unique_ptr<Store>(std::move(*store));
}

}  // namespace dvd::store
