#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "base/result.hpp"
#include "store/postgres_store.hpp"
#include "store/sqlite_store.hpp"
#include "store/store.hpp"

namespace dvd::store {

/// True for `postgresql://...` and `postgres://...` (a `PostgresStore`).
[[nodiscard]] bool is_postgres_url(std::string_view database_url);

/// The SQLite file named by a DATABASE_URL:
///   `sqlite:///abs/path.db` -> `/abs/path.db`, `sqlite://relative/path.db` -> `relative/path.db`
///   (relative to the working directory), a plain path -> itself, `:memory:` or
///   `sqlite://:memory:` -> a private in-memory database.
/// Unsupported for `postgres://` / `postgresql://` (not a file) and for any other scheme;
/// InvalidArgument for an empty URL or path. Percent-escapes and `?query` parameters are not
/// interpreted. Error messages never repeat the URL (it may hold a password).
[[nodiscard]] base::Result<std::string> sqlite_path_from_url(std::string_view database_url);

/// Opens the database named by `database_url`: a PostgreSQL URL with `PostgresStore::open` (the
/// whole URL goes to libpq), anything else as a SQLite file (see `sqlite_path_from_url`), creating
/// the parent folder of a file that does not exist yet (not for read-only connections), and
/// migrates it (see `SqliteStore::open`). The returned connection belongs to the calling thread
/// until handed to another (see `Store`).
[[nodiscard]] base::Result<std::unique_ptr<Store>> open_store(const std::string& database_url,
                                                              const StoreOptions& options = {});

}  // namespace dvd::store
