#include "store/sqlite_store.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <type_traits>
#include <utility>

#include <fmt/format.h>
#include <sqlite3.h>

#include "base/check.hpp"
#include "store/row_codec.hpp"
#include "store/sqlite_migrations.hpp"

namespace dvd::store {

using namespace detail;  // NOLINT(google-build-using-namespace): the store layer's own helpers

namespace {

base::Errc errc_for(int rc) {
    switch (rc & 0xff) {
        case SQLITE_CONSTRAINT:
        case SQLITE_MISMATCH:
        case SQLITE_RANGE:
        case SQLITE_TOOBIG:
            return base::Errc::InvalidArgument;
        case SQLITE_CORRUPT:
        case SQLITE_NOTADB:
            return base::Errc::Corrupt;
        case SQLITE_CANTOPEN:
        case SQLITE_IOERR:
        case SQLITE_FULL:
        case SQLITE_READONLY:
        case SQLITE_PERM:
            return base::Errc::Io;
        default:
            return base::Errc::Runtime;
    }
}

// indicators_json is left out on purpose: it belongs to the media side (update_call_score); so is
// indicator_state, which the call's end clears.
// escalation is sticky: once set, an upsert without it keeps it.
constexpr std::string_view kUpsertCall =
        "INSERT INTO calls (id, call_control_id, call_leg_id, call_session_id, direction, "
        "from_number, to_number, state, started_at_ms, answered_at_ms, ended_at_ms, "
        "duration_seconds, hangup_cause, final_score, final_llr, verdict, speech_seconds, "
        "flagged, stream_id, stream_auth_token, telnyx_deepfake_result, telnyx_deepfake_score, "
        "telnyx_deepfake_consistency_pct, telnyx_deepfake_error, stir_shaken_attestation, "
        "stir_shaken_verified, last_error, created_at_ms, updated_at_ms, escalation, "
        "escalated_at_ms) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, "
        "?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30, ?31) "
        "ON CONFLICT (id) DO UPDATE SET call_control_id = excluded.call_control_id, "
        "call_leg_id = excluded.call_leg_id, call_session_id = excluded.call_session_id, "
        "direction = excluded.direction, from_number = excluded.from_number, "
        "to_number = excluded.to_number, state = excluded.state, "
        "started_at_ms = excluded.started_at_ms, answered_at_ms = excluded.answered_at_ms, "
        "ended_at_ms = excluded.ended_at_ms, duration_seconds = excluded.duration_seconds, "
        "hangup_cause = excluded.hangup_cause, final_score = excluded.final_score, "
        "final_llr = excluded.final_llr, verdict = excluded.verdict, "
        "speech_seconds = excluded.speech_seconds, flagged = excluded.flagged, "
        "stream_id = excluded.stream_id, stream_auth_token = excluded.stream_auth_token, "
        "telnyx_deepfake_result = excluded.telnyx_deepfake_result, "
        "telnyx_deepfake_score = excluded.telnyx_deepfake_score, "
        "telnyx_deepfake_consistency_pct = excluded.telnyx_deepfake_consistency_pct, "
        "telnyx_deepfake_error = excluded.telnyx_deepfake_error, "
        "stir_shaken_attestation = excluded.stir_shaken_attestation, "
        "stir_shaken_verified = excluded.stir_shaken_verified, last_error = excluded.last_error, "
        "updated_at_ms = excluded.updated_at_ms, "
        "escalation = COALESCE(escalation, excluded.escalation), "
        "escalated_at_ms = COALESCE(escalated_at_ms, excluded.escalated_at_ms), "
        "indicator_state = CASE WHEN excluded.state IN ('ended', 'failed') THEN NULL "
        "ELSE calls.indicator_state END";

constexpr std::string_view kUpdateCallScore =
        "UPDATE calls SET final_score = ?2, final_llr = ?3, verdict = ?4, speech_seconds = ?5, "
        "flagged = MAX(flagged, ?6), updated_at_ms = ?7, "
        "indicators_json = COALESCE(?8, indicators_json), "
        "indicator_state = CASE WHEN state IN ('ended', 'failed') THEN NULL "
        "ELSE COALESCE(?9, indicator_state) END WHERE id = ?1";

constexpr std::string_view kInsertEvent =
        "INSERT INTO webhook_events (event_id, event_type, call_control_id, received_at_ms, "
        "body_json, processed, processed_at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) "
        "ON CONFLICT (event_id) DO NOTHING";

constexpr std::string_view kMarkEventProcessed =
        "UPDATE webhook_events SET processed = 1, processed_at_ms = COALESCE(processed_at_ms, ?2) "
        "WHERE event_id = ?1";

constexpr std::string_view kInsertScorePoint =
        "INSERT INTO score_points (call_id, seq, at_ms, speech_seconds, window_score, window_llr, "
        "call_score, call_llr, verdict, indicators_json) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) "
        "ON CONFLICT (call_id, seq) DO NOTHING";

constexpr std::string_view kUpsertRecording =
        "INSERT INTO recordings (call_id, recording_id, wav_url, mp3_url, public_wav_url, "
        "public_mp3_url, format, channels, duration_seconds, saved_at_ms, kept, archive_status, "
        "archive_attempts, archive_next_attempt_at_ms, archive_error, archive_file, "
        "archive_bytes, archive_sha256, archive_stored_at_ms) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, "
        "?18, ?19) "
        "ON CONFLICT (call_id, recording_id) WHERE recording_id IS NOT NULL DO UPDATE SET "
        "wav_url = COALESCE(excluded.wav_url, wav_url), "
        "mp3_url = COALESCE(excluded.mp3_url, mp3_url), "
        "public_wav_url = COALESCE(excluded.public_wav_url, public_wav_url), "
        "public_mp3_url = COALESCE(excluded.public_mp3_url, public_mp3_url), "
        "format = COALESCE(excluded.format, format), "
        "channels = COALESCE(excluded.channels, channels), "
        "duration_seconds = COALESCE(excluded.duration_seconds, duration_seconds), "
        "saved_at_ms = excluded.saved_at_ms, kept = MAX(kept, excluded.kept) "
        "RETURNING id";

constexpr std::string_view kInsertAlert =
        "INSERT INTO alerts (call_id, level, channel, status, attempts, next_attempt_at_ms, "
        "last_error, payload_json, created_at_ms, sent_at_ms) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) "
        "ON CONFLICT (call_id, level, channel) DO NOTHING";

constexpr std::string_view kInsertAnalysis =
        "INSERT INTO analyses (call_id, trigger_kind, source, risk_level, flagged, escalate, "
        "recommended_action, reason, reasoning, indicators_json, detector_risk_level, "
        "analysis_risk_level, raised_by_analysis, analysis_disagreed, detector_probability, "
        "detector_llr, detector_verdict, speech_seconds, error_code, error, model, "
        "prompt_version, attempts, http_status, elapsed_ms, created_at_ms) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, "
        "?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26)";

constexpr std::string_view kInsertCommand =
        "INSERT INTO command_log (call_id, command, command_id, request_body_json, http_status, "
        "error, at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";

std::string where_clause(const CallFilter& filter) {
    std::string where;
    const auto add = [&where](std::string_view condition) {
        where += where.empty() ? " WHERE " : " AND ";
        where += condition;
    };
    if (filter.state) {
        add("state = ?");
    }
    if (filter.flagged) {
        // A literal, not a parameter: SQLite picks a partial index (WHERE flagged = 1) only when
        // the query's own WHERE implies it at prepare time.
        add(*filter.flagged ? "flagged = 1" : "flagged = 0");
    }
    if (filter.since_ms) {
        add("started_at_ms >= ?");
    }
    return where;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Statement: one use of a cached prepared statement. Binds parameters left to right, and resets
// the statement (and clears its bindings) when it goes out of scope.

class SqliteStore::Statement : public BinderBase<Statement>, public RowReaderBase<Statement> {
public:
    Statement(sqlite3_stmt* stmt, sqlite3* db, std::string_view operation)
        : stmt_(stmt), db_(db), operation_(operation) {}

    Statement(Statement&& other) noexcept
        : stmt_(std::exchange(other.stmt_, nullptr)),
          db_(other.db_),
          operation_(other.operation_),
          next_(other.next_),
          bind_rc_(other.bind_rc_) {}

    Statement(const Statement&) = delete;
    Statement& operator=(const Statement&) = delete;
    Statement& operator=(Statement&&) = delete;

    ~Statement() {
        if (stmt_ != nullptr) {
            sqlite3_reset(stmt_);
            sqlite3_clear_bindings(stmt_);
        }
    }

    /// Text, empty stays ''.
    Statement& text(std::string_view value) {
        check(sqlite3_bind_text64(stmt_, next_++, value.data(), value.size(), SQLITE_TRANSIENT,
                                  SQLITE_UTF8));
        return *this;
    }

    Statement& integer(std::int64_t value) {
        check(sqlite3_bind_int64(stmt_, next_++, value));
        return *this;
    }

    Statement& real(double value) {
        check(sqlite3_bind_double(stmt_, next_++, value));
        return *this;
    }

    Statement& boolean(bool value) { return integer(value ? 1 : 0); }

    Statement& null() {
        check(sqlite3_bind_null(stmt_, next_++));
        return *this;
    }

    /// Runs a statement that returns no rows.
    base::Result<void> run() {
        auto row = step();
        if (!row) {
            return row.error();
        }
        if (*row) {
            return failure(SQLITE_MISUSE, "statement returned a row");
        }
        return {};
    }

    /// Advances: true with a row, false when done.
    base::Result<bool> step() {
        if (bind_rc_ != SQLITE_OK) {
            return failure(bind_rc_, sqlite3_errstr(bind_rc_));
        }
        const int rc = sqlite3_step(stmt_);
        if (rc == SQLITE_ROW) {
            return true;
        }
        if (rc == SQLITE_DONE) {
            return false;
        }
        return failure(rc, sqlite3_errmsg(db_));
    }

    /// Steps past the remaining rows (a RETURNING statement finishes its work at SQLITE_DONE).
    base::Result<void> finish() {
        for (;;) {
            auto row = step();
            if (!row) {
                return row.error();
            }
            if (!*row) {
                return {};
            }
        }
    }

    bool is_null(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }

    std::string column_text(int column) const {
        const unsigned char* text = sqlite3_column_text(stmt_, column);
        if (text == nullptr) {
            return {};
        }
        const int size = sqlite3_column_bytes(stmt_, column);
        return {reinterpret_cast<const char*>(text), static_cast<std::size_t>(size)};
    }

    std::int64_t column_int(int column) const { return sqlite3_column_int64(stmt_, column); }

    double column_real(int column) const { return sqlite3_column_double(stmt_, column); }

    base::Error failure(int rc, std::string_view what) const {
        return base::fail(errc_for(rc), fmt::format("store {}: {}", operation_, what));
    }

private:
    void check(int rc) {
        if (rc != SQLITE_OK && bind_rc_ == SQLITE_OK) {
            bind_rc_ = rc;
        }
    }

    sqlite3_stmt* stmt_;
    sqlite3* db_;
    std::string_view operation_;
    int next_ = 1;
    int bind_rc_ = SQLITE_OK;
};

// ---------------------------------------------------------------------------------------------
// Transaction: BEGIN IMMEDIATE ... COMMIT; rolls back when destroyed uncommitted.

class SqliteStore::Transaction {
public:
    explicit Transaction(SqliteStore& store) : store_(store) {}

    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;

    ~Transaction() {
        // SQLite may already have rolled the transaction back (I/O error, disk full).
        if (open_ && sqlite3_get_autocommit(store_.db_) == 0) {
            sqlite3_exec(store_.db_, "ROLLBACK", nullptr, nullptr, nullptr);
        }
    }

    base::Result<void> begin(std::string_view operation) {
        // IMMEDIATE takes the write lock now, waiting up to busy_timeout for other writers; a
        // deferred transaction could instead fail later on a stale snapshot (SQLITE_BUSY_SNAPSHOT),
        // which the busy handler does not retry.
        auto r = store_.exec("BEGIN IMMEDIATE", operation);
        open_ = r.has_value();
        return r;
    }

    base::Result<void> commit(std::string_view operation) {
        DVD_ASSERT(open_, "commit without begin");
        auto r = store_.exec("COMMIT", operation);
        if (r) {
            open_ = false;
        }
        return r;
    }

    /// True when SQLite rolled the whole transaction back after a failed statement.
    bool aborted() const { return sqlite3_get_autocommit(store_.db_) != 0; }

private:
    SqliteStore& store_;
    bool open_ = false;
};

namespace {

/// Collects every row of `s` through `read` (which returns T or Result<T>).
template <class T, class Reader>
base::Result<std::vector<T>> collect(auto& s, Reader read) {
    std::vector<T> rows;
    for (;;) {
        auto row = s.step();
        if (!row) {
            return row.error();
        }
        if (!*row) {
            return rows;
        }
        if constexpr (std::is_same_v<decltype(read(s)), T>) {
            rows.push_back(read(s));
        } else {
            auto value = read(s);
            if (!value) {
                return value.error();
            }
            rows.push_back(std::move(*value));
        }
    }
}

/// The first row of `s` through `read`, or nullopt.
template <class T, class Reader>
base::Result<std::optional<T>> first_row(auto& s, Reader read) {
    auto row = s.step();
    if (!row) {
        return row.error();
    }
    if (!*row) {
        return std::optional<T>{};
    }
    if constexpr (std::is_same_v<decltype(read(s)), T>) {
        return std::optional<T>{read(s)};
    } else {
        auto value = read(s);
        if (!value) {
            return value.error();
        }
        return std::optional<T>{std::move(*value)};
    }
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Opening, configuration, migrations

SqliteStore::SqliteStore(sqlite3* db, std::string path, const StoreOptions& options)
    : db_(db), path_(std::move(path)), options_(options) {}

SqliteStore::~SqliteStore() {
    for (auto& [sql, stmt] : statements_) {
        sqlite3_finalize(stmt);
    }
    sqlite3_close_v2(db_);
}

base::Result<std::unique_ptr<SqliteStore>> SqliteStore::open(const std::string& path,
                                                             const StoreOptions& options) {
    if (path.empty()) {
        return base::fail(base::Errc::InvalidArgument, "store open: empty database path");
    }
    const int flags =
            (options.read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)
            | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
    sqlite3* db = nullptr;
    const int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
    if (rc != SQLITE_OK) {
        const std::string why = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
        sqlite3_close_v2(db);
        const auto code = options.read_only && (rc & 0xff) == SQLITE_CANTOPEN ? base::Errc::NotFound
                                                                              : errc_for(rc);
        return base::fail(code, fmt::format("store open {}: {}", path, why));
    }
    std::unique_ptr<SqliteStore> store(new SqliteStore(db, path, options));
    auto prefixed = [&path](base::Error e) {
        e.message = fmt::format("{} (database {})", e.message, path);
        return e;
    };
    if (auto r = store->configure(); !r) {
        return prefixed(r.error());
    }
    auto r = options.read_only ? store->check_schema_current() : store->migrate();
    if (!r) {
        return prefixed(r.error());
    }
    return store;
}

base::Result<void> SqliteStore::configure() {
    sqlite3_extended_result_codes(db_, 1);
    const auto timeout_ms = options_.busy_timeout.count();
    sqlite3_busy_timeout(db_, static_cast<int>(std::min<std::int64_t>(
                                      timeout_ms, std::numeric_limits<int>::max())));
    if (!options_.read_only) {
        // WAL: readers never block the writer and the writer never blocks readers; a commit is
        // one append to the -wal file. The mode is stored in the file, so read-only connections
        // inherit it.
        auto s = statement("PRAGMA journal_mode = WAL", "open (journal_mode)");
        if (!s) {
            return s.error();
        }
        auto row = s->step();
        if (!row) {
            return row.error();
        }
        const std::string mode = *row ? s->column_text(0) : std::string{};
        if (mode != "wal" && mode != "memory") {
            return base::fail(base::Errc::Runtime,
                              fmt::format("store open: cannot enable WAL mode (got '{}')", mode));
        }
    }
    // NORMAL in WAL mode: no fsync per commit; a commit survives a process crash, and a power
    // loss can lose the last commits but never corrupts the file (SQLite "WAL mode" docs, sync).
    if (auto r = exec(
                options_.sync_full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL",
                "open (synchronous)");
        !r) {
        return r;
    }
    return exec("PRAGMA foreign_keys = ON", "open (foreign_keys)");
}

base::Result<void> SqliteStore::exec(const char* sql, std::string_view operation) {
    char* message = nullptr;
    const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &message);
    if (rc != SQLITE_OK) {
        std::string why = message != nullptr ? message : sqlite3_errstr(rc);
        sqlite3_free(message);
        return base::fail(errc_for(rc), fmt::format("store {}: {}", operation, why));
    }
    return {};
}

base::Error SqliteStore::error(int rc, std::string_view operation) const {
    return base::fail(errc_for(rc), fmt::format("store {}: {}", operation, sqlite3_errmsg(db_)));
}

base::Result<SqliteStore::Statement> SqliteStore::statement(std::string_view sql,
                                                            std::string_view operation) {
    auto it = statements_.find(sql);
    if (it == statements_.end()) {
        sqlite3_stmt* stmt = nullptr;
        const int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                                          SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
        if (rc != SQLITE_OK) {
            sqlite3_finalize(stmt);
            return error(rc, operation);
        }
        it = statements_.emplace(std::string(sql), stmt).first;
    }
    return Statement(it->second, db_, operation);
}

base::Result<int> SqliteStore::schema_version() {
    UseGuard guard(in_use_);
    auto s = statement(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'",
            "schema_version");
    if (!s) {
        return s.error();
    }
    auto row = s->step();
    if (!row) {
        return row.error();
    }
    if (!*row || s->column_int(0) == 0) {
        return 0;
    }
    auto v = statement("SELECT version FROM schema_version WHERE id = 1", "schema_version");
    if (!v) {
        return v.error();
    }
    auto version_row = v->step();
    if (!version_row) {
        return version_row.error();
    }
    return *version_row ? static_cast<int>(v->column_int(0)) : 0;
}

base::Result<void> SqliteStore::migrate() {
    constexpr std::string_view kOperation = "migrate";
    Transaction tx(*this);
    if (auto r = tx.begin(kOperation); !r) {
        return r;
    }
    if (auto r = exec("CREATE TABLE IF NOT EXISTS schema_version ("
                      "id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL) STRICT",
                      kOperation);
        !r) {
        return r;
    }
    // Read inside the write transaction: a second process opening the same file at the same time
    // waits on the lock and then sees the upgraded version.
    auto version = schema_version();
    if (!version) {
        return version.error();
    }
    if (auto r = check_schema_version(*version, /*allow_older=*/true); !r) {
        return r;
    }
    if (*version == kSchemaVersion) {
        return tx.commit(kOperation);
    }
    const auto migrations = sqlite_migrations();
    for (int v = *version; v < kSchemaVersion; ++v) {
        const std::string sql(migrations[static_cast<std::size_t>(v)]);
        const std::string operation = fmt::format("migration to schema version {}", v + 1);
        if (auto r = exec(sql.c_str(), operation); !r) {
            return r;
        }
    }
    auto s = statement(
            "INSERT INTO schema_version (id, version) VALUES (1, ?1) "
            "ON CONFLICT (id) DO UPDATE SET version = excluded.version",
            kOperation);
    if (!s) {
        return s.error();
    }
    if (auto r = s->integer(kSchemaVersion).run(); !r) {
        return r;
    }
    return tx.commit(kOperation);
}

base::Result<void> SqliteStore::check_schema_current() {
    auto version = schema_version();
    if (!version) {
        return version.error();
    }
    return check_schema_version(*version, /*allow_older=*/false);
}

base::Result<void> SqliteStore::ping() {
    return check_schema_current();  // schema_version() guards the connection
}

// ---------------------------------------------------------------------------------------------
// Calls

base::Result<void> SqliteStore::upsert_call_in_tx(const Call& call) {
    constexpr std::string_view kOperation = "upsert_call";
    if (call.id.empty()) {
        return invalid(kOperation, "empty call id");
    }
    auto s = statement(kUpsertCall, kOperation);
    if (!s) {
        return s.error();
    }
    bind_call(*s, call);
    return s->run();
}

base::Result<void> SqliteStore::upsert_call(const Call& call) {
    UseGuard guard(in_use_);
    Transaction tx(*this);
    if (auto r = tx.begin("upsert_call"); !r) {
        return r;
    }
    if (auto r = upsert_call_in_tx(call); !r) {
        return r;
    }
    return tx.commit("upsert_call");
}

base::Result<void> SqliteStore::update_call_score_in_tx(const CallScoreUpdate& update) {
    constexpr std::string_view kOperation = "update_call_score";
    auto s = statement(kUpdateCallScore, kOperation);
    if (!s) {
        return s.error();
    }
    bind_score_update(*s, update);
    if (auto r = s->run(); !r) {
        return r;
    }
    if (sqlite3_changes(db_) == 0) {
        return base::fail(base::Errc::NotFound,
                          fmt::format("store {}: no call '{}'", kOperation, update.call_id));
    }
    return {};
}

base::Result<void> SqliteStore::update_call_score(const CallScoreUpdate& update) {
    UseGuard guard(in_use_);
    Transaction tx(*this);
    if (auto r = tx.begin("update_call_score"); !r) {
        return r;
    }
    if (auto r = update_call_score_in_tx(update); !r) {
        return r;
    }
    return tx.commit("update_call_score");
}

base::Result<std::optional<Call>> SqliteStore::get_call(std::string_view id) {
    UseGuard guard(in_use_);
    auto s = statement(fmt::format("SELECT {} FROM calls WHERE id = ?1", kCallColumns), "get_call");
    if (!s) {
        return s.error();
    }
    s->text(id);
    return first_row<Call>(*s, [](const Statement& st) { return read_call(st); });
}

base::Result<std::optional<Call>> SqliteStore::get_call_by_control_id(
        std::string_view call_control_id) {
    UseGuard guard(in_use_);
    auto s = statement(fmt::format("SELECT {} FROM calls WHERE call_control_id = ?1", kCallColumns),
                       "get_call_by_control_id");
    if (!s) {
        return s.error();
    }
    s->text(call_control_id);
    return first_row<Call>(*s, [](const Statement& st) { return read_call(st); });
}

namespace {

template <class S>
void bind_filter(S& s, const CallFilter& filter) {
    if (filter.state) {
        s.text(to_string(*filter.state));
    }
    if (filter.since_ms) {
        s.integer(*filter.since_ms);
    }
}

}  // namespace

base::Result<std::vector<Call>> SqliteStore::list_calls(const CallQuery& query) {
    constexpr std::string_view kOperation = "list_calls";
    UseGuard guard(in_use_);
    if (query.limit < 1 || query.limit > kMaxPageSize) {
        return invalid(kOperation,
                       fmt::format("limit {} outside 1..{}", query.limit, kMaxPageSize));
    }
    if (query.offset < 0) {
        return invalid(kOperation, fmt::format("negative offset {}", query.offset));
    }
    const std::string_view direction = query.order == SortOrder::Ascending ? "ASC" : "DESC";
    // Calls without a score sort last whichever the direction; the id breaks ties so that
    // consecutive pages neither overlap nor skip.
    const std::string order = query.sort == CallSortKey::Score
                                      ? fmt::format("final_score {0} NULLS LAST, id {0}", direction)
                                      : fmt::format("started_at_ms {0}, id {0}", direction);
    // At most 2 (state) x 3 (flagged) x 2 (since) x 4 orders = 48 statements in the cache.
    auto s = statement(fmt::format("SELECT {} FROM calls{} ORDER BY {} LIMIT ? OFFSET ?",
                                   kCallColumns, where_clause(query.filter), order),
                       kOperation);
    if (!s) {
        return s.error();
    }
    bind_filter(*s, query.filter);
    s->integer(query.limit).integer(query.offset);
    return collect<Call>(*s, [](const Statement& st) { return read_call(st); });
}

base::Result<std::string> SqliteStore::get_indicator_state(std::string_view id) {
    UseGuard guard(in_use_);
    auto s = statement("SELECT indicator_state FROM calls WHERE id = ?1", "get_indicator_state");
    if (!s) {
        return s.error();
    }
    s->text(id);
    auto row = s->step();
    if (!row) {
        return row.error();
    }
    return *row ? s->column_text(0) : std::string();
}

base::Result<std::int64_t> SqliteStore::count_calls(const CallFilter& filter) {
    UseGuard guard(in_use_);
    auto s = statement(fmt::format("SELECT count(*) FROM calls{}", where_clause(filter)),
                       "count_calls");
    if (!s) {
        return s.error();
    }
    bind_filter(*s, filter);
    auto row = s->step();
    if (!row) {
        return row.error();
    }
    return *row ? s->column_int(0) : 0;
}

base::Result<std::vector<Call>> SqliteStore::list_active_calls() {
    UseGuard guard(in_use_);
    // The non-terminal states (see is_terminal), spelled as in the partial index calls_active.
    auto s = statement(
            fmt::format(
                    "SELECT {} FROM calls WHERE state IN ('initiated', 'answered', 'streaming') "
                    "ORDER BY started_at_ms, id",
                    kCallColumns),
            "list_active_calls");
    if (!s) {
        return s.error();
    }
    return collect<Call>(*s, [](const Statement& st) { return read_call(st); });
}

// ---------------------------------------------------------------------------------------------
// Webhook events

base::Result<bool> SqliteStore::record_webhook_event(const WebhookEvent& event) {
    constexpr std::string_view kOperation = "record_webhook_event";
    UseGuard guard(in_use_);
    if (event.event_id.empty()) {
        return invalid(kOperation, "empty event id");
    }
    Transaction tx(*this);
    if (auto r = tx.begin(kOperation); !r) {
        return r.error();
    }
    auto s = statement(kInsertEvent, kOperation);
    if (!s) {
        return s.error();
    }
    bind_event(*s, event);
    if (auto r = s->run(); !r) {
        return r.error();
    }
    // The primary key decides under the write lock: exactly one connection inserts the row.
    const bool is_new = sqlite3_changes(db_) == 1;
    if (auto r = tx.commit(kOperation); !r) {
        return r.error();
    }
    return is_new;
}

base::Result<void> SqliteStore::mark_event_processed_in_tx(std::string_view event_id,
                                                           UnixMs at_ms) {
    constexpr std::string_view kOperation = "mark_event_processed";
    auto s = statement(kMarkEventProcessed, kOperation);
    if (!s) {
        return s.error();
    }
    if (auto r = s->text(event_id).integer(at_ms).run(); !r) {
        return r;
    }
    if (sqlite3_changes(db_) == 0) {
        return base::fail(base::Errc::NotFound,
                          fmt::format("store {}: no event '{}'", kOperation, event_id));
    }
    return {};
}

base::Result<void> SqliteStore::mark_event_processed(std::string_view event_id,
                                                     UnixMs processed_at_ms) {
    UseGuard guard(in_use_);
    Transaction tx(*this);
    if (auto r = tx.begin("mark_event_processed"); !r) {
        return r;
    }
    if (auto r = mark_event_processed_in_tx(event_id, processed_at_ms); !r) {
        return r;
    }
    return tx.commit("mark_event_processed");
}

base::Result<std::optional<WebhookEvent>> SqliteStore::get_webhook_event(
        std::string_view event_id) {
    UseGuard guard(in_use_);
    auto s = statement(
            fmt::format("SELECT {} FROM webhook_events WHERE event_id = ?1", kEventColumns),
            "get_webhook_event");
    if (!s) {
        return s.error();
    }
    s->text(event_id);
    return first_row<WebhookEvent>(*s, [](const Statement& st) { return read_event(st); });
}

base::Result<std::vector<WebhookEvent>> SqliteStore::list_unprocessed_events(std::int64_t limit) {
    constexpr std::string_view kOperation = "list_unprocessed_events";
    UseGuard guard(in_use_);
    if (auto r = check_limit(limit, kOperation); !r) {
        return r.error();
    }
    auto s = statement(fmt::format("SELECT {} FROM webhook_events WHERE processed = 0 "
                                   "ORDER BY received_at_ms, event_id LIMIT ?1",
                                   kEventColumns),
                       kOperation);
    if (!s) {
        return s.error();
    }
    s->integer(limit);
    return collect<WebhookEvent>(*s, [](const Statement& st) { return read_event(st); });
}

// ---------------------------------------------------------------------------------------------
// Score timeline

base::Result<void> SqliteStore::insert_score_point_in_tx(const ScorePoint& point) {
    constexpr std::string_view kOperation = "append_score_points";
    if (has_nan(point)) {
        return invalid(kOperation,
                       fmt::format("NaN in point {} of call '{}'", point.seq, point.call_id));
    }
    auto s = statement(kInsertScorePoint, kOperation);
    if (!s) {
        return s.error();
    }
    bind_score_point(*s, point);
    return s->run();
}

base::Result<void> SqliteStore::append_score_points(std::span<const ScorePoint> points) {
    constexpr std::string_view kOperation = "append_score_points";
    UseGuard guard(in_use_);
    if (points.empty()) {
        return {};
    }
    Transaction tx(*this);
    if (auto r = tx.begin(kOperation); !r) {
        return r;
    }
    for (const auto& point : points) {
        if (auto r = insert_score_point_in_tx(point); !r) {
            return r;
        }
    }
    return tx.commit(kOperation);
}

base::Result<std::vector<ScorePoint>> SqliteStore::list_timeline(std::string_view call_id,
                                                                 std::int64_t after_seq,
                                                                 std::int64_t limit) {
    constexpr std::string_view kOperation = "list_timeline";
    UseGuard guard(in_use_);
    if (auto r = check_limit(limit, kOperation); !r) {
        return r.error();
    }
    auto s = statement(fmt::format("SELECT {} FROM score_points WHERE call_id = ?1 AND seq > ?2 "
                                   "ORDER BY seq LIMIT ?3",
                                   kScoreColumns),
                       kOperation);
    if (!s) {
        return s.error();
    }
    s->text(call_id).integer(after_seq).integer(limit);
    return collect<ScorePoint>(*s, [](const Statement& st) { return read_score_point(st); });
}

// ---------------------------------------------------------------------------------------------
// Recordings

base::Result<std::int64_t> SqliteStore::add_recording_in_tx(const Recording& recording) {
    constexpr std::string_view kOperation = "add_recording";
    auto s = statement(kUpsertRecording, kOperation);
    if (!s) {
        return s.error();
    }
    bind_recording(*s, recording);
    auto row = s->step();
    if (!row) {
        return row.error();
    }
    if (!*row) {
        return s->failure(SQLITE_INTERNAL, "no id returned");
    }
    const std::int64_t id = s->column_int(0);
    if (auto r = s->finish(); !r) {
        return r.error();
    }
    return id;
}

base::Result<std::int64_t> SqliteStore::add_recording(const Recording& recording) {
    UseGuard guard(in_use_);
    Transaction tx(*this);
    if (auto r = tx.begin("add_recording"); !r) {
        return r.error();
    }
    auto id = add_recording_in_tx(recording);
    if (!id) {
        return id.error();
    }
    if (auto r = tx.commit("add_recording"); !r) {
        return r.error();
    }
    return *id;
}

base::Result<std::vector<Recording>> SqliteStore::list_recordings(std::string_view call_id) {
    UseGuard guard(in_use_);
    auto s = statement(fmt::format("SELECT {} FROM recordings WHERE call_id = ?1 ORDER BY id",
                                   kRecordingColumns),
                       "list_recordings");
    if (!s) {
        return s.error();
    }
    s->text(call_id);
    return collect<Recording>(*s, [](const Statement& st) { return read_recording(st); });
}

base::Result<std::vector<Recording>> SqliteStore::select_recordings(std::string_view operation,
                                                                    std::string_view condition,
                                                                    UnixMs bound,
                                                                    std::int64_t limit) {
    UseGuard guard(in_use_);
    if (auto r = check_limit(limit, operation); !r) {
        return r.error();
    }
    auto s = statement(fmt::format("SELECT {} FROM recordings WHERE {} LIMIT ?2", kRecordingColumns,
                                   condition),
                       operation);
    if (!s) {
        return s.error();
    }
    s->integer(bound).integer(limit);
    return collect<Recording>(*s, [](const Statement& st) { return read_recording(st); });
}

base::Result<std::vector<Recording>> SqliteStore::list_due_recording_archives(UnixMs now_ms,
                                                                              std::int64_t limit) {
    return select_recordings("list_due_recording_archives",
                             "archive_status = 'pending' AND archive_next_attempt_at_ms <= ?1 "
                             "ORDER BY archive_next_attempt_at_ms, id",
                             now_ms, limit);
}

base::Result<void> SqliteStore::update_recording_archive(std::int64_t recording_id,
                                                         const RecordingArchive& archive) {
    constexpr std::string_view kOperation = "update_recording_archive";
    UseGuard guard(in_use_);
    Transaction tx(*this);
    if (auto r = tx.begin(kOperation); !r) {
        return r;
    }
    auto s = statement(
            "UPDATE recordings SET archive_status = ?2, archive_attempts = ?3, "
            "archive_next_attempt_at_ms = ?4, archive_error = ?5, archive_file = ?6, "
            "archive_bytes = ?7, archive_sha256 = ?8, archive_stored_at_ms = ?9 WHERE id = ?1",
            kOperation);
    if (!s) {
        return s.error();
    }
    if (auto r = bind_archive(s->integer(recording_id), archive).run(); !r) {
        return r;
    }
    if (sqlite3_changes(db_) == 0) {
        return invalid(kOperation, fmt::format("no recording with id {}", recording_id));
    }
    return tx.commit(kOperation);
}

base::Result<std::vector<Recording>> SqliteStore::list_expired_recording_archives(
        UnixMs stored_before_ms, std::int64_t limit) {
    return select_recordings("list_expired_recording_archives",
                             "archive_status = 'stored' AND kept = 0 AND archive_stored_at_ms < ?1 "
                             "ORDER BY archive_stored_at_ms, id",
                             stored_before_ms, limit);
}

base::Result<bool> SqliteStore::mark_recording_archive_deleted(std::int64_t recording_id) {
    constexpr std::string_view kOperation = "mark_recording_archive_deleted";
    UseGuard guard(in_use_);
    Transaction tx(*this);
    if (auto r = tx.begin(kOperation); !r) {
        return r.error();
    }
    auto s = statement(
            "UPDATE recordings SET archive_status = 'deleted', archive_file = NULL "
            "WHERE id = ?1 AND archive_status = 'stored' AND kept = 0",
            kOperation);
    if (!s) {
        return s.error();
    }
    if (auto r = s->integer(recording_id).run(); !r) {
        return r.error();
    }
    const bool changed = sqlite3_changes(db_) > 0;
    if (auto r = tx.commit(kOperation); !r) {
        return r.error();
    }
    return changed;
}

base::Result<std::int64_t> SqliteStore::keep_recordings(std::string_view call_id) {
    constexpr std::string_view kOperation = "keep_recordings";
    UseGuard guard(in_use_);
    Transaction tx(*this);
    if (auto r = tx.begin(kOperation); !r) {
        return r.error();
    }
    auto s =
            statement("UPDATE recordings SET kept = 1 WHERE call_id = ?1 AND kept = 0", kOperation);
    if (!s) {
        return s.error();
    }
    if (auto r = s->text(call_id).run(); !r) {
        return r.error();
    }
    const auto changed = static_cast<std::int64_t>(sqlite3_changes(db_));
    if (auto r = tx.commit(kOperation); !r) {
        return r.error();
    }
    return changed;
}

// ---------------------------------------------------------------------------------------------
// Risk analyses

base::Result<std::int64_t> SqliteStore::add_analysis(const AnalysisRecord& r) {
    constexpr std::string_view kOperation = "add_analysis";
    UseGuard guard(in_use_);
    if (r.call_id.empty()) {
        return invalid(kOperation, "empty call id");
    }
    Transaction tx(*this);
    if (auto begun = tx.begin(kOperation); !begun) {
        return begun.error();
    }
    auto s = statement(kInsertAnalysis, kOperation);
    if (!s) {
        return s.error();
    }
    bind_analysis(*s, r);
    if (auto ran = s->run(); !ran) {
        return ran.error();
    }
    const auto id = static_cast<std::int64_t>(sqlite3_last_insert_rowid(db_));
    if (auto committed = tx.commit(kOperation); !committed) {
        return committed.error();
    }
    return id;
}

base::Result<std::vector<AnalysisRecord>> SqliteStore::list_analyses(std::string_view call_id) {
    UseGuard guard(in_use_);
    auto s = statement(
            fmt::format("SELECT {} FROM analyses WHERE call_id = ?1 ORDER BY id", kAnalysisColumns),
            "list_analyses");
    if (!s) {
        return s.error();
    }
    s->text(call_id);
    return collect<AnalysisRecord>(*s, [](const Statement& st) { return read_analysis(st); });
}

// ---------------------------------------------------------------------------------------------
// Alerts

base::Result<AlertCreation> SqliteStore::create_alert_if_absent(const Alert& alert) {
    constexpr std::string_view kOperation = "create_alert_if_absent";
    UseGuard guard(in_use_);
    Transaction tx(*this);
    if (auto r = tx.begin(kOperation); !r) {
        return r.error();
    }
    auto insert = statement(kInsertAlert, kOperation);
    if (!insert) {
        return insert.error();
    }
    bind_alert(*insert, alert);
    if (auto r = insert->run(); !r) {
        return r.error();
    }
    const bool created = sqlite3_changes(db_) == 1;
    auto s = statement(fmt::format("SELECT {} FROM alerts WHERE call_id = ?1 AND level = ?2 "
                                   "AND channel = ?3",
                                   kAlertColumns),
                       kOperation);
    if (!s) {
        return s.error();
    }
    s->text(alert.call_id).integer(alert.level).text(to_string(alert.channel));
    auto stored = first_row<Alert>(*s, [](const Statement& st) { return read_alert(st); });
    if (!stored) {
        return stored.error();
    }
    if (!*stored) {
        return s->failure(SQLITE_INTERNAL, "alert vanished inside its transaction");
    }
    if (auto r = tx.commit(kOperation); !r) {
        return r.error();
    }
    return AlertCreation{std::move(**stored), created};
}

base::Result<std::vector<Alert>> SqliteStore::list_due_alerts(UnixMs now_ms, std::int64_t limit) {
    constexpr std::string_view kOperation = "list_due_alerts";
    UseGuard guard(in_use_);
    if (auto r = check_limit(limit, kOperation); !r) {
        return r.error();
    }
    auto s = statement(fmt::format("SELECT {} FROM alerts WHERE status = 'pending' AND "
                                   "next_attempt_at_ms <= ?1 ORDER BY next_attempt_at_ms, id "
                                   "LIMIT ?2",
                                   kAlertColumns),
                       kOperation);
    if (!s) {
        return s.error();
    }
    s->integer(now_ms).integer(limit);
    return collect<Alert>(*s, [](const Statement& st) { return read_alert(st); });
}

base::Result<std::vector<Alert>> SqliteStore::list_alerts(std::string_view call_id) {
    UseGuard guard(in_use_);
    auto s = statement(fmt::format("SELECT {} FROM alerts WHERE call_id = ?1 ORDER BY level, "
                                   "channel",
                                   kAlertColumns),
                       "list_alerts");
    if (!s) {
        return s.error();
    }
    s->text(call_id);
    return collect<Alert>(*s, [](const Statement& st) { return read_alert(st); });
}

base::Result<void> SqliteStore::explain_unchanged_alert(std::int64_t alert_id,
                                                        std::string_view operation) {
    auto s = statement("SELECT status FROM alerts WHERE id = ?1", operation);
    if (!s) {
        return s.error();
    }
    s->integer(alert_id);
    auto row = s->step();
    if (!row) {
        return row.error();
    }
    if (!*row) {
        return base::fail(base::Errc::NotFound,
                          fmt::format("store {}: no alert {}", operation, alert_id));
    }
    return invalid(operation,
                   fmt::format("alert {} is {}, not pending", alert_id, s->column_text(0)));
}

base::Result<void> SqliteStore::mark_alert_sent(std::int64_t alert_id, UnixMs sent_at_ms) {
    constexpr std::string_view kOperation = "mark_alert_sent";
    UseGuard guard(in_use_);
    Transaction tx(*this);
    if (auto r = tx.begin(kOperation); !r) {
        return r;
    }
    auto s = statement(
            "UPDATE alerts SET status = 'sent', attempts = attempts + 1, "
            "sent_at_ms = ?2, last_error = NULL WHERE id = ?1 AND status = 'pending'",
            kOperation);
    if (!s) {
        return s.error();
    }
    if (auto r = s->integer(alert_id).integer(sent_at_ms).run(); !r) {
        return r;
    }
    if (sqlite3_changes(db_) == 0) {
        return explain_unchanged_alert(alert_id, kOperation);
    }
    return tx.commit(kOperation);
}

base::Result<void> SqliteStore::mark_alert_failed(std::int64_t alert_id, std::string_view error) {
    constexpr std::string_view kOperation = "mark_alert_failed";
    UseGuard guard(in_use_);
    Transaction tx(*this);
    if (auto r = tx.begin(kOperation); !r) {
        return r;
    }
    auto s = statement(
            "UPDATE alerts SET status = 'failed', attempts = attempts + 1, "
            "last_error = ?2 WHERE id = ?1 AND status = 'pending'",
            kOperation);
    if (!s) {
        return s.error();
    }
    if (auto r = s->integer(alert_id).text_or_null(error).run(); !r) {
        return r;
    }
    if (sqlite3_changes(db_) == 0) {
        return explain_unchanged_alert(alert_id, kOperation);
    }
    return tx.commit(kOperation);
}

base::Result<void> SqliteStore::mark_alert_retry(std::int64_t alert_id, std::string_view error,
                                                 UnixMs next_attempt_at_ms) {
    constexpr std::string_view kOperation = "mark_alert_retry";
    UseGuard guard(in_use_);
    Transaction tx(*this);
    if (auto r = tx.begin(kOperation); !r) {
        return r;
    }
    auto s = statement(
            "UPDATE alerts SET attempts = attempts + 1, last_error = ?2, "
            "next_attempt_at_ms = ?3 WHERE id = ?1 AND status = 'pending'",
            kOperation);
    if (!s) {
        return s.error();
    }
    if (auto r = s->integer(alert_id).text_or_null(error).integer(next_attempt_at_ms).run(); !r) {
        return r;
    }
    if (sqlite3_changes(db_) == 0) {
        return explain_unchanged_alert(alert_id, kOperation);
    }
    return tx.commit(kOperation);
}

// ---------------------------------------------------------------------------------------------
// Command log

base::Result<std::int64_t> SqliteStore::append_command_log_in_tx(const CommandLog& entry) {
    constexpr std::string_view kOperation = "append_command_log";
    if (entry.call_id.empty() || entry.command.empty()) {
        return invalid(kOperation, "empty call id or command");
    }
    auto s = statement(kInsertCommand, kOperation);
    if (!s) {
        return s.error();
    }
    bind_command(*s, entry);
    if (auto r = s->run(); !r) {
        return r.error();
    }
    return static_cast<std::int64_t>(sqlite3_last_insert_rowid(db_));
}

base::Result<std::int64_t> SqliteStore::append_command_log(const CommandLog& entry) {
    UseGuard guard(in_use_);
    Transaction tx(*this);
    if (auto r = tx.begin("append_command_log"); !r) {
        return r.error();
    }
    auto id = append_command_log_in_tx(entry);
    if (!id) {
        return id.error();
    }
    if (auto r = tx.commit("append_command_log"); !r) {
        return r.error();
    }
    return *id;
}

base::Result<std::vector<CommandLog>> SqliteStore::list_command_log(std::string_view call_id) {
    UseGuard guard(in_use_);
    auto s = statement(fmt::format("SELECT {} FROM command_log WHERE call_id = ?1 ORDER BY id",
                                   kCommandColumns),
                       "list_command_log");
    if (!s) {
        return s.error();
    }
    s->text(call_id);
    return collect<CommandLog>(*s, [](const Statement& st) { return read_command(st); });
}

// ---------------------------------------------------------------------------------------------
// Batches

base::Result<BatchOutcome> SqliteStore::write_batch(std::span<const WriteOp> ops) {
    constexpr std::string_view kOperation = "write_batch";
    UseGuard guard(in_use_);
    BatchOutcome outcome;
    if (ops.empty()) {
        return outcome;
    }
    Transaction tx(*this);
    if (auto r = tx.begin(kOperation); !r) {
        return r.error();
    }
    for (const auto& op : ops) {
        auto r = apply_write_op(*this, op);
        if (r) {
            ++outcome.applied;
            continue;
        }
        // A constraint failure undoes only its own statement (SQLite's default ON CONFLICT
        // ABORT); anything else (I/O, disk full, corruption) fails the whole batch.
        if (!is_per_op_error(r.error()) || tx.aborted()) {
            base::Error whole = r.error();
            whole.message = fmt::format("store {}: the batch of {} ops failed: {}", kOperation,
                                        ops.size(), whole.message);
            return whole;
        }
        if (outcome.failed == 0) {
            outcome.first_error = r.error().message;
        }
        ++outcome.failed;
    }
    if (auto r = tx.commit(kOperation); !r) {
        return r.error();
    }
    return outcome;
}

}  // namespace dvd::store
