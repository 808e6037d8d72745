#pragma once

#include <span>
#include <string_view>

namespace dvd::store {

/// The schema version this build writes and reads.
inline constexpr int kSchemaVersion = 5;

/// The SQLite schema as an ordered, append-only list: element i (SQL, possibly several
/// statements) upgrades a database from version i to version i + 1, so the list has
/// kSchemaVersion elements. Never edit a migration that has shipped; add a new one. The version
/// lives in the one-row table `schema_version` (created before the first migration; an absent
/// table means version 0).
std::span<const std::string_view> sqlite_migrations();

}  // namespace dvd::store
