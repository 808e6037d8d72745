#pragma once

#include <span>
#include <string_view>

#include "store/sqlite_migrations.hpp"

namespace dvd::store {

/// One step of the PostgreSQL schema: `sql` brings a database at any version below `version` (and
/// at or above the previous step's) to `version`.
struct PostgresMigration {
    int version = 0;
    std::string_view sql{};
};

/// The PostgreSQL schema, oldest step first; the last step's version is `kSchemaVersion`, the
/// same number as the SQLite schema's, and the tables, columns and constraints are the same.
/// PostgreSQL support arrived with schema version 4, so its first step creates version 4 whole;
/// a later schema change adds a step to both lists.
std::span<const PostgresMigration> postgres_migrations();

}  // namespace dvd::store
