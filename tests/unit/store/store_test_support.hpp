#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>
#include <utility>

#include <gtest/gtest.h>
#include <sqlite3.h>

#include "store/sqlite_migrations.hpp"
#include "store/types.hpp"
#include "support/temp_dir.hpp"

namespace dvd::store::test {

/// The value of a result, or a test failure (with the error message) and a default value.
/// (base::Result::value() cannot be used: its throw_exception_from_error overload for base::Error
/// is not found by argument-dependent lookup.)
template <class T>
T ok(base::Result<T> result) {
    if (!result) {
        ADD_FAILURE() << result.error().message;
        return T{};
    }
    return std::move(*result);
}

using dvd::test::TempDir;

/// Whether `error` carries `code`.
inline bool has_code(const base::Error& error, base::Errc code) {
    return error.code == base::make_error_code(code);
}

/// Writes the database an older release left at `path`: the first `version` migrations, its
/// schema_version row, then `data_sql` (rows in that schema). An SQL error fails the test.
inline void write_database_at_version(const std::string& path, int version,
                                      const std::string& data_sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    std::string sql =
            "CREATE TABLE schema_version (id INTEGER PRIMARY KEY CHECK (id = 1), "
            "version INTEGER NOT NULL) STRICT;";
    for (int v = 0; v < version; ++v) {
        sql += sqlite_migrations()[static_cast<std::size_t>(v)];
    }
    sql += "INSERT INTO schema_version VALUES (1, " + std::to_string(version) + ");" + data_sql;
    char* message = nullptr;
    const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &message);
    const std::string why = message != nullptr ? message : "";
    sqlite3_free(message);
    sqlite3_close(db);
    ASSERT_EQ(rc, SQLITE_OK) << why;
}

/// A plausible inbound call in state initiated, started (and created) at `started_at_ms`.
inline Call make_call(const std::string& id, UnixMs started_at_ms) {
    Call call;
    call.id = id;
    call.call_control_id = "v3:ctl-" + id;
    call.call_leg_id = "leg-" + id;
    call.call_session_id = "session-" + id;
    call.direction = CallDirection::Inbound;
    call.from = "+13125550100";
    call.to = "+13125550199";
    call.state = CallState::Initiated;
    call.started_at_ms = started_at_ms;
    call.created_at_ms = started_at_ms;
    call.updated_at_ms = started_at_ms;
    return call;
}

inline ScorePoint make_point(const std::string& call_id, std::int64_t seq) {
    ScorePoint point;
    point.call_id = call_id;
    point.seq = seq;
    point.at_ms = 1000 * seq;
    point.speech_seconds = 0.5 * static_cast<double>(seq);
    point.window_score = 0.25;
    point.window_llr = -1.0;
    point.call_score = 0.3;
    point.call_llr = -0.8;
    point.verdict = "uncertain";
    return point;
}

inline WebhookEvent make_event(const std::string& event_id, UnixMs received_at_ms) {
    WebhookEvent event;
    event.event_id = event_id;
    event.event_type = "call.initiated";
    event.call_control_id = "v3:ctl-1";
    event.received_at_ms = received_at_ms;
    event.body_json = R"({"data":{"id":")" + event_id + R"(","event_type":"call.initiated"}})";
    return event;
}

}  // namespace dvd::store::test
