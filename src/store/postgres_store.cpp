#include "store/postgres_store.hpp"

#include <array>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <libpq-fe.h>

#include "base/check.hpp"
#include "store/postgres_migrations.hpp"
#include "store/row_codec.hpp"

namespace dvd::store {

using namespace detail;  // NOLINT(google-build-using-namespace): the store layer's own helpers

namespace {

/// Serialises schema migrations of concurrent processes (pg_advisory_xact_lock key: "dvd_sch").
constexpr std::int64_t kMigrationLockKey = 0x6476645f736368;

base::Errc errc_for_sqlstate(std::string_view sqlstate) {
    if (sqlstate.size() != 5) {
        return base::Errc::Io;  // libpq's own failures (connection lost) carry no SQLSTATE
    }
    const std::string_view klass = sqlstate.substr(0, 2);
    if (klass == "23" || klass == "22") {
        return base::Errc::InvalidArgument;  // integrity constraint; data exception (encoding)
    }
    if (klass == "08" || klass == "53" || klass == "57" || klass == "58") {
        return base::Errc::Io;  // connection, resources (disk full), shutdown, system error
    }
    if (sqlstate == "XX001" || sqlstate == "XX002") {
        return base::Errc::Corrupt;
    }
    return base::Errc::Runtime;
}

std::string trimmed(const char* text) {
    std::string s = text != nullptr ? text : "";
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) {
        s.pop_back();
    }
    return s;
}

std::int64_t parse_int(const char* text, int length) {
    if (length == 1 && (text[0] == 't' || text[0] == 'f')) {
        return text[0] == 't' ? 1 : 0;  // a BOOLEAN column
    }
    std::int64_t value = 0;
    std::from_chars(text, text + length, value);
    return value;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Params: text-format parameters $1, $2, ... in order; the same binder interface as SQLite's
// Statement, so that row_codec's binders serve both.

class PostgresStore::Params : public BinderBase<Params> {
public:
    Params& text(std::string_view value) {
        if (value.find('\0') != std::string_view::npos && error_.empty()) {
            error_ = fmt::format("parameter ${} holds a NUL byte, which PostgreSQL text cannot",
                                 values_.size() + 1);
        }
        values_.emplace_back(value);
        return *this;
    }

    Params& integer(std::int64_t value) {
        values_.emplace_back(std::to_string(value));
        return *this;
    }

    Params& real(double value) {
        if (std::isnan(value)) {
            values_.emplace_back("NaN");
        } else if (std::isinf(value)) {
            values_.emplace_back(value > 0 ? "Infinity" : "-Infinity");
        } else {
            values_.emplace_back(fmt::format("{}", value));  // shortest text that round-trips
        }
        return *this;
    }

    Params& boolean(bool value) {
        values_.emplace_back(value ? "true" : "false");
        return *this;
    }

    Params& null() {
        values_.emplace_back(std::nullopt);
        return *this;
    }

    /// Why a value cannot be sent; empty when all can.
    const std::string& error() const { return error_; }

    /// The C strings libpq takes (nullptr = SQL NULL); valid while this object lives.
    std::vector<const char*> pointers() const {
        std::vector<const char*> out;
        out.reserve(values_.size());
        for (const auto& value : values_) {
            out.push_back(value ? value->c_str() : nullptr);
        }
        return out;
    }

    int size() const { return static_cast<int>(values_.size()); }

private:
    std::vector<std::optional<std::string>> values_;
    std::string error_;
};

// ---------------------------------------------------------------------------------------------
// Rows: an owned PGresult, and a view of one row with the reader interface of row_codec.

class PostgresStore::Rows {
public:
    /// One row of the result.
    class Row : public RowReaderBase<Row> {
    public:
        Row(const PGresult* result, int row) : result_(result), row_(row) {}

        bool is_null(int column) const { return PQgetisnull(result_, row_, column) != 0; }

        std::string column_text(int column) const {
            return {PQgetvalue(result_, row_, column),
                    static_cast<std::size_t>(PQgetlength(result_, row_, column))};
        }

        std::int64_t column_int(int column) const {
            return parse_int(PQgetvalue(result_, row_, column), PQgetlength(result_, row_, column));
        }

        double column_real(int column) const {
            return std::strtod(PQgetvalue(result_, row_, column), nullptr);
        }

    private:
        const PGresult* result_;
        int row_;
    };

    explicit Rows(PGresult* result) : result_(result) {}

    Rows(Rows&& other) noexcept : result_(std::exchange(other.result_, nullptr)) {}

    Rows(const Rows&) = delete;
    Rows& operator=(const Rows&) = delete;
    Rows& operator=(Rows&&) = delete;

    ~Rows() { PQclear(result_); }

    int size() const { return PQntuples(result_); }

    Row row(int index) const { return {result_, index}; }

    /// Rows an INSERT/UPDATE/DELETE changed.
    std::int64_t affected() const {
        const char* text = PQcmdTuples(result_);
        return parse_int(text, static_cast<int>(std::char_traits<char>::length(text)));
    }

    /// Every row through `read` (which returns T or Result<T>).
    template <class T, class Reader>
    base::Result<std::vector<T>> collect(Reader read) const {
        std::vector<T> out;
        out.reserve(static_cast<std::size_t>(size()));
        for (int i = 0; i < size(); ++i) {
            if constexpr (std::is_same_v<decltype(read(row(i))), T>) {
                out.push_back(read(row(i)));
            } else {
                auto value = read(row(i));
                if (!value) {
                    return value.error();
                }
                out.push_back(std::move(*value));
            }
        }
        return out;
    }

    /// The first row through `read`, or nullopt.
    template <class T, class Reader>
    base::Result<std::optional<T>> first(Reader read) const {
        auto rows = collect<T>(read);
        if (!rows) {
            return rows.error();
        }
        if (rows->empty()) {
            return std::optional<T>{};
        }
        return std::optional<T>{std::move(rows->front())};
    }

private:
    PGresult* result_;
};

// ---------------------------------------------------------------------------------------------
// Transaction: BEGIN ... COMMIT; rolls back when destroyed uncommitted.

class PostgresStore::Transaction {
public:
    explicit Transaction(PostgresStore& store) : store_(store) {}

    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;

    ~Transaction() {
        if (open_ && PQtransactionStatus(store_.conn_) != PQTRANS_IDLE) {
            PQclear(PQexec(store_.conn_, "ROLLBACK"));
        }
    }

    base::Result<void> begin(std::string_view operation) {
        if (auto r = store_.reconnect_if_lost(operation); !r) {
            return r;
        }
        auto r = store_.simple("BEGIN", operation);
        open_ = r.has_value();
        return r;
    }

    base::Result<void> commit(std::string_view operation) {
        DVD_ASSERT(open_, "commit without begin");
        // COMMIT of a transaction that an error aborted answers ROLLBACK without an error, so
        // check that it is still healthy first.
        if (PQtransactionStatus(store_.conn_) != PQTRANS_INTRANS) {
            return base::fail(base::Errc::Runtime,
                              fmt::format("store {}: the transaction was aborted", operation));
        }
        auto r = store_.simple("COMMIT", operation);
        if (r) {
            open_ = false;
        }
        return r;
    }

private:
    PostgresStore& store_;
    bool open_ = false;
};

// ---------------------------------------------------------------------------------------------
// Connection, session, migrations

PostgresStore::PostgresStore(pg_conn* conn, const StoreOptions& options)
    : conn_(conn), options_(options) {}

PostgresStore::~PostgresStore() {
    PQfinish(conn_);
}

std::string postgres_error_message(pg_conn* conn) {
    return trimmed(PQerrorMessage(conn));
}

base::Result<pg_conn*> connect_postgres(const std::string& url, std::string_view what) {
    if (url.empty()) {
        return base::fail(base::Errc::InvalidArgument, fmt::format("{}: empty PostgreSQL URL", what));
    }
    // Keywords before dbname are defaults that the URL may override; the URL itself is expanded.
    // A server that vanishes without closing the TCP connection (a network partition, a host
    // that died) is noticed within about a minute instead of the kernel's two hours: TCP
    // keepalives after 30 s idle, and unacknowledged data gives up after 60 s.
    const std::array<const char*, 9> keywords{"connect_timeout",
                                              "client_encoding",
                                              "keepalives_idle",
                                              "keepalives_interval",
                                              "keepalives_count",
                                              "tcp_user_timeout",
                                              "dbname",
                                              "fallback_application_name",
                                              nullptr};
    const std::array<const char*, 9> values{"10",   "UTF8",  "30",        "10",
                                            "3",    "60000", url.c_str(), "deepfake-voice-detector",
                                            nullptr};
    PGconn* conn = PQconnectdbParams(keywords.data(), values.data(), 1);
    if (conn == nullptr) {
        return base::fail(base::Errc::Runtime, fmt::format("{}: libpq is out of memory", what));
    }
    if (PQstatus(conn) != CONNECTION_OK) {
        std::string why = postgres_error_message(conn);
        PQfinish(conn);
        return base::fail(base::Errc::Io, fmt::format("{} (PostgreSQL): {}", what, why));
    }
    // The server's notices ("relation ... already exists, skipping") are not errors; libpq would
    // print each one to stderr.
    PQsetNoticeProcessor(
            conn, [](void*, const char*) {}, nullptr);
    return conn;
}

base::Result<std::unique_ptr<PostgresStore>> PostgresStore::open(const std::string& url,
                                                                 const StoreOptions& options) {
    auto connected = connect_postgres(url, "store open");
    if (!connected) {
        return connected.error();
    }
    PGconn* conn = *connected;
    std::unique_ptr<PostgresStore> store(new PostgresStore(conn, options));
    if (auto r = store->configure_session(); !r) {
        return r.error();
    }
    auto r = options.read_only ? store->check_schema_current() : store->migrate();
    if (!r) {
        return r.error();
    }
    return store;
}

base::Result<void> PostgresStore::configure_session() {
    constexpr std::string_view kOperation = "open (session)";
    const auto timeout_ms = std::min<std::int64_t>(options_.busy_timeout.count(),
                                                   std::numeric_limits<std::int32_t>::max());
    const std::string lock_timeout = fmt::format("SET lock_timeout = {}", timeout_ms);
    if (auto r = simple(lock_timeout.c_str(), kOperation); !r) {
        return r;
    }
    if (options_.read_only) {
        return simple("SET default_transaction_read_only = on", kOperation);
    }
    return {};
}

base::Result<void> PostgresStore::reconnect_if_lost(std::string_view operation) {
    if (PQstatus(conn_) == CONNECTION_OK) {
        return {};
    }
    PQreset(conn_);
    prepared_.clear();  // prepared statements died with the old session
    if (PQstatus(conn_) != CONNECTION_OK) {
        return base::fail(base::Errc::Io,
                          fmt::format("store {}: the PostgreSQL connection is lost and cannot be "
                                      "re-established: {}",
                                      operation, postgres_error_message(conn_)));
    }
    return configure_session();
}

namespace {

/// The error of a failed result (nullptr: libpq could not even send the query).
base::Error result_error(PGconn* conn, const PGresult* result, std::string_view operation) {
    if (result == nullptr) {
        return base::fail(base::Errc::Io,
                          fmt::format("store {}: {}", operation, postgres_error_message(conn)));
    }
    const char* sqlstate = PQresultErrorField(result, PG_DIAG_SQLSTATE);
    const char* primary = PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY);
    const char* detail = PQresultErrorField(result, PG_DIAG_MESSAGE_DETAIL);
    std::string message = primary != nullptr ? trimmed(primary) : postgres_error_message(conn);
    if (detail != nullptr) {
        message += fmt::format(" ({})", trimmed(detail));
    }
    return base::fail(errc_for_sqlstate(sqlstate != nullptr ? sqlstate : ""),
                      fmt::format("store {}: {}", operation, message));
}

}  // namespace

base::Result<PostgresStore::Rows> PostgresStore::checked(PGresult* result,
                                                         std::string_view operation) const {
    Rows rows(result);  // owns (and clears) the result either way
    const auto status = PQresultStatus(result);
    if (result == nullptr || (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK)) {
        return result_error(conn_, result, operation);
    }
    return rows;
}

base::Result<void> PostgresStore::simple(const char* sql, std::string_view operation) {
    auto rows = checked(PQexec(conn_, sql), operation);
    if (!rows) {
        return rows.error();
    }
    return {};
}

base::Result<PostgresStore::Rows> PostgresStore::run(std::string_view sql, const Params& params,
                                                     std::string_view operation) {
    if (!params.error().empty()) {
        return invalid(operation, params.error());
    }
    auto it = prepared_.find(sql);
    if (it == prepared_.end()) {
        std::string name = fmt::format("dvd_{}", next_statement_++);
        const std::string text(sql);
        if (auto prepared =
                    checked(PQprepare(conn_, name.c_str(), text.c_str(), 0, nullptr), operation);
            !prepared) {
            return prepared.error();
        }
        it = prepared_.emplace(text, std::move(name)).first;
    }
    const auto values = params.pointers();
    return checked(PQexecPrepared(conn_, it->second.c_str(), params.size(), values.data(), nullptr,
                                  nullptr, 0),
                   operation);
}

template <class F>
auto PostgresStore::read(std::string_view operation, F&& body) -> decltype(body()) {
    if (auto r = reconnect_if_lost(operation); !r) {
        return r.error();
    }
    auto first = body();
    if (first || PQstatus(conn_) == CONNECTION_OK) {
        return first;
    }
    // The server went away under this read (restart, failover): once more on a new connection.
    if (auto r = reconnect_if_lost(operation); !r) {
        return first;
    }
    return body();
}

base::Result<std::int64_t> PostgresStore::write(std::string_view sql, const Params& params,
                                                std::string_view operation) {
    if (auto r = reconnect_if_lost(operation); !r) {
        return r.error();
    }
    auto rows = run(sql, params, operation);
    if (!rows) {
        return rows.error();
    }
    return rows->affected();
}

base::Result<int> PostgresStore::backend_pid() {
    UseGuard guard(in_use_);
    return read("backend_pid", [&]() -> base::Result<int> {
        auto rows = run("SELECT pg_backend_pid()", Params{}, "backend_pid");
        if (!rows) {
            return rows.error();
        }
        return static_cast<int>(rows->row(0).column_int(0));
    });
}

base::Result<int> PostgresStore::schema_version() {
    UseGuard guard(in_use_);
    return schema_version_unguarded();
}

base::Result<int> PostgresStore::schema_version_unguarded() {
    constexpr std::string_view kOperation = "schema_version";
    auto exists = run("SELECT to_regclass('schema_version') IS NOT NULL", Params{}, kOperation);
    if (!exists) {
        return exists.error();
    }
    if (exists->row(0).column_int(0) == 0) {
        return 0;
    }
    auto rows = run("SELECT version FROM schema_version WHERE id = 1", Params{}, kOperation);
    if (!rows) {
        return rows.error();
    }
    return rows->size() == 0 ? 0 : static_cast<int>(rows->row(0).column_int(0));
}

base::Result<void> PostgresStore::migrate() {
    constexpr std::string_view kOperation = "migrate";
    Transaction tx(*this);
    if (auto r = tx.begin(kOperation); !r) {
        return r;
    }
    // Two processes opening a new database at once: the second waits here, then sees version 4.
    const std::string lock = fmt::format("SELECT pg_advisory_xact_lock({})", kMigrationLockKey);
    if (auto r = simple(lock.c_str(), kOperation); !r) {
        return r;
    }
    if (auto r = simple("CREATE TABLE IF NOT EXISTS schema_version ("
                        "id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL)",
                        kOperation);
        !r) {
        return r;
    }
    auto version = schema_version_unguarded();
    if (!version) {
        return version.error();
    }
    if (auto r = check_schema_version(*version, /*allow_older=*/true); !r) {
        return r;
    }
    if (*version == kSchemaVersion) {
        return tx.commit(kOperation);
    }
    for (const auto& migration : postgres_migrations()) {
        if (migration.version <= *version) {
            continue;
        }
        const std::string sql(migration.sql);
        const std::string operation =
                fmt::format("migration to schema version {}", migration.version);
        if (auto r = simple(sql.c_str(), operation); !r) {
            return r;
        }
    }
    auto stored =
            run("INSERT INTO schema_version (id, version) VALUES (1, $1) "
                "ON CONFLICT (id) DO UPDATE SET version = excluded.version",
                Params{}.integer(kSchemaVersion), kOperation);
    if (!stored) {
        return stored.error();
    }
    return tx.commit(kOperation);
}

base::Result<void> PostgresStore::check_schema_current() {
    auto version = schema_version_unguarded();
    if (!version) {
        return version.error();
    }
    return check_schema_version(*version, /*allow_older=*/false);
}

base::Result<void> PostgresStore::ping() {
    UseGuard guard(in_use_);
    return read("ping", [&]() -> base::Result<void> { return check_schema_current(); });
}

// ---------------------------------------------------------------------------------------------
// Calls

namespace {

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
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, "
        "$19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30, $31) "
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
        "escalation = COALESCE(calls.escalation, excluded.escalation), "
        "escalated_at_ms = COALESCE(calls.escalated_at_ms, excluded.escalated_at_ms), "
        "indicator_state = CASE WHEN excluded.state IN ('ended', 'failed') THEN NULL "
        "ELSE calls.indicator_state END";

constexpr std::string_view kUpdateCallScore =
        "UPDATE calls SET final_score = $2, final_llr = $3, verdict = $4, speech_seconds = $5, "
        "flagged = flagged OR $6, updated_at_ms = $7, "
        "indicators_json = COALESCE($8, indicators_json), "
        "indicator_state = CASE WHEN state IN ('ended', 'failed') THEN NULL "
        "ELSE COALESCE($9, indicator_state) END WHERE id = $1";

/// ` WHERE ...` for the filter, with its parameters numbered from $1.
std::string where_clause(const CallFilter& filter) {
    std::string where;
    int next = 1;
    const auto add = [&where](std::string_view condition) {
        where += where.empty() ? " WHERE " : " AND ";
        where += condition;
    };
    if (filter.state) {
        add(fmt::format("state = ${}", next++));
    }
    if (filter.flagged) {
        add(*filter.flagged ? "flagged" : "NOT flagged");  // a literal: matches the partial index
    }
    if (filter.since_ms) {
        add(fmt::format("started_at_ms >= ${}", next++));
    }
    return where;
}

int filter_parameters(const CallFilter& filter) {
    return (filter.state ? 1 : 0) + (filter.since_ms ? 1 : 0);
}

template <class P>
void bind_filter(P& params, const CallFilter& filter) {
    if (filter.state) {
        params.text(to_string(*filter.state));
    }
    if (filter.since_ms) {
        params.integer(*filter.since_ms);
    }
}

const auto kReadCall = [](const auto& row) {
    return read_call(row);
};

}  // namespace

base::Result<void> PostgresStore::upsert_call_in_tx(const Call& call) {
    constexpr std::string_view kOperation = "upsert_call";
    if (call.id.empty()) {
        return invalid(kOperation, "empty call id");
    }
    Params p;
    bind_call(p, call);
    auto rows = run(kUpsertCall, p, kOperation);
    if (!rows) {
        return rows.error();
    }
    return {};
}

base::Result<void> PostgresStore::upsert_call(const Call& call) {
    UseGuard guard(in_use_);
    if (auto r = reconnect_if_lost("upsert_call"); !r) {
        return r;
    }
    return upsert_call_in_tx(call);
}

base::Result<void> PostgresStore::update_call_score_in_tx(const CallScoreUpdate& update) {
    constexpr std::string_view kOperation = "update_call_score";
    Params p;
    bind_score_update(p, update);
    auto rows = run(kUpdateCallScore, p, kOperation);
    if (!rows) {
        return rows.error();
    }
    if (rows->affected() == 0) {
        return base::fail(base::Errc::NotFound,
                          fmt::format("store {}: no call '{}'", kOperation, update.call_id));
    }
    return {};
}

base::Result<void> PostgresStore::update_call_score(const CallScoreUpdate& update) {
    UseGuard guard(in_use_);
    if (auto r = reconnect_if_lost("update_call_score"); !r) {
        return r;
    }
    return update_call_score_in_tx(update);
}

base::Result<std::optional<Call>> PostgresStore::get_call(std::string_view id) {
    constexpr std::string_view kOperation = "get_call";
    UseGuard guard(in_use_);
    return read(kOperation, [&]() -> base::Result<std::optional<Call>> {
        auto rows = run(fmt::format("SELECT {} FROM calls WHERE id = $1", kCallColumns),
                        Params{}.text(id), kOperation);
        if (!rows) {
            return rows.error();
        }
        return rows->first<Call>(kReadCall);
    });
}

base::Result<std::optional<Call>> PostgresStore::get_call_by_control_id(
        std::string_view call_control_id) {
    constexpr std::string_view kOperation = "get_call_by_control_id";
    UseGuard guard(in_use_);
    return read(kOperation, [&]() -> base::Result<std::optional<Call>> {
        auto rows =
                run(fmt::format("SELECT {} FROM calls WHERE call_control_id = $1", kCallColumns),
                    Params{}.text(call_control_id), kOperation);
        if (!rows) {
            return rows.error();
        }
        return rows->first<Call>(kReadCall);
    });
}

base::Result<std::vector<Call>> PostgresStore::list_calls(const CallQuery& query) {
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
    const int next = filter_parameters(query.filter) + 1;
    const std::string sql =
            fmt::format("SELECT {} FROM calls{} ORDER BY {} LIMIT ${} OFFSET ${}", kCallColumns,
                        where_clause(query.filter), order, next, next + 1);
    return read(kOperation, [&]() -> base::Result<std::vector<Call>> {
        Params p;
        bind_filter(p, query.filter);
        p.integer(query.limit).integer(query.offset);
        auto rows = run(sql, p, kOperation);
        if (!rows) {
            return rows.error();
        }
        return rows->collect<Call>(kReadCall);
    });
}

base::Result<std::string> PostgresStore::get_indicator_state(std::string_view id) {
    constexpr std::string_view kOperation = "get_indicator_state";
    UseGuard guard(in_use_);
    return read(kOperation, [&]() -> base::Result<std::string> {
        auto rows = run("SELECT indicator_state FROM calls WHERE id = $1", Params{}.text(id),
                        kOperation);
        if (!rows) {
            return rows.error();
        }
        return rows->size() > 0 ? rows->row(0).column_text(0) : std::string();
    });
}

base::Result<std::int64_t> PostgresStore::count_calls(const CallFilter& filter) {
    constexpr std::string_view kOperation = "count_calls";
    UseGuard guard(in_use_);
    const std::string sql = fmt::format("SELECT count(*) FROM calls{}", where_clause(filter));
    return read(kOperation, [&]() -> base::Result<std::int64_t> {
        Params p;
        bind_filter(p, filter);
        auto rows = run(sql, p, kOperation);
        if (!rows) {
            return rows.error();
        }
        return rows->row(0).column_int(0);
    });
}

base::Result<std::vector<Call>> PostgresStore::list_active_calls() {
    constexpr std::string_view kOperation = "list_active_calls";
    UseGuard guard(in_use_);
    return read(kOperation, [&]() -> base::Result<std::vector<Call>> {
        // The non-terminal states (see is_terminal), spelled as in the partial index calls_active.
        auto rows = run(fmt::format("SELECT {} FROM calls WHERE state IN ('initiated', "
                                    "'answered', 'streaming') ORDER BY started_at_ms, id",
                                    kCallColumns),
                        Params{}, kOperation);
        if (!rows) {
            return rows.error();
        }
        return rows->collect<Call>(kReadCall);
    });
}

// ---------------------------------------------------------------------------------------------
// Webhook events

base::Result<bool> PostgresStore::record_webhook_event(const WebhookEvent& event) {
    constexpr std::string_view kOperation = "record_webhook_event";
    UseGuard guard(in_use_);
    if (event.event_id.empty()) {
        return invalid(kOperation, "empty event id");
    }
    Params p;
    bind_event(p, event);
    // The primary key decides: of concurrent inserts of one id exactly one changes a row.
    auto changed =
            write("INSERT INTO webhook_events (event_id, event_type, call_control_id, "
                  "received_at_ms, body_json, processed, processed_at_ms) "
                  "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (event_id) DO NOTHING",
                  p, kOperation);
    if (!changed) {
        return changed.error();
    }
    return *changed == 1;
}

base::Result<void> PostgresStore::mark_event_processed_in_tx(std::string_view event_id,
                                                             UnixMs at_ms) {
    constexpr std::string_view kOperation = "mark_event_processed";
    auto rows =
            run("UPDATE webhook_events SET processed = TRUE, "
                "processed_at_ms = COALESCE(processed_at_ms, $2) WHERE event_id = $1",
                Params{}.text(event_id).integer(at_ms), kOperation);
    if (!rows) {
        return rows.error();
    }
    if (rows->affected() == 0) {
        return base::fail(base::Errc::NotFound,
                          fmt::format("store {}: no event '{}'", kOperation, event_id));
    }
    return {};
}

base::Result<void> PostgresStore::mark_event_processed(std::string_view event_id,
                                                       UnixMs processed_at_ms) {
    UseGuard guard(in_use_);
    if (auto r = reconnect_if_lost("mark_event_processed"); !r) {
        return r;
    }
    return mark_event_processed_in_tx(event_id, processed_at_ms);
}

base::Result<std::optional<WebhookEvent>> PostgresStore::get_webhook_event(
        std::string_view event_id) {
    constexpr std::string_view kOperation = "get_webhook_event";
    UseGuard guard(in_use_);
    return read(kOperation, [&]() -> base::Result<std::optional<WebhookEvent>> {
        auto rows =
                run(fmt::format("SELECT {} FROM webhook_events WHERE event_id = $1", kEventColumns),
                    Params{}.text(event_id), kOperation);
        if (!rows) {
            return rows.error();
        }
        return rows->first<WebhookEvent>([](const auto& row) { return read_event(row); });
    });
}

base::Result<std::vector<WebhookEvent>> PostgresStore::list_unprocessed_events(std::int64_t limit) {
    constexpr std::string_view kOperation = "list_unprocessed_events";
    UseGuard guard(in_use_);
    if (auto r = check_limit(limit, kOperation); !r) {
        return r.error();
    }
    return read(kOperation, [&]() -> base::Result<std::vector<WebhookEvent>> {
        auto rows = run(fmt::format("SELECT {} FROM webhook_events WHERE NOT processed "
                                    "ORDER BY received_at_ms, event_id LIMIT $1",
                                    kEventColumns),
                        Params{}.integer(limit), kOperation);
        if (!rows) {
            return rows.error();
        }
        return rows->collect<WebhookEvent>([](const auto& row) { return read_event(row); });
    });
}

// ---------------------------------------------------------------------------------------------
// Score timeline

base::Result<void> PostgresStore::insert_score_point_in_tx(const ScorePoint& point) {
    constexpr std::string_view kOperation = "append_score_points";
    if (has_nan(point)) {
        return invalid(kOperation,
                       fmt::format("NaN in point {} of call '{}'", point.seq, point.call_id));
    }
    Params p;
    bind_score_point(p, point);
    auto rows =
            run("INSERT INTO score_points (call_id, seq, at_ms, speech_seconds, "
                "window_score, window_llr, call_score, call_llr, verdict, indicators_json) "
                "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) "
                "ON CONFLICT (call_id, seq) DO NOTHING",
                p, kOperation);
    if (!rows) {
        return rows.error();
    }
    return {};
}

base::Result<void> PostgresStore::append_score_points(std::span<const ScorePoint> points) {
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

base::Result<std::vector<ScorePoint>> PostgresStore::list_timeline(std::string_view call_id,
                                                                   std::int64_t after_seq,
                                                                   std::int64_t limit) {
    constexpr std::string_view kOperation = "list_timeline";
    UseGuard guard(in_use_);
    if (auto r = check_limit(limit, kOperation); !r) {
        return r.error();
    }
    return read(kOperation, [&]() -> base::Result<std::vector<ScorePoint>> {
        auto rows = run(fmt::format("SELECT {} FROM score_points WHERE call_id = $1 AND seq > $2 "
                                    "ORDER BY seq LIMIT $3",
                                    kScoreColumns),
                        Params{}.text(call_id).integer(after_seq).integer(limit), kOperation);
        if (!rows) {
            return rows.error();
        }
        return rows->collect<ScorePoint>([](const auto& row) { return read_score_point(row); });
    });
}

// ---------------------------------------------------------------------------------------------
// Recordings

base::Result<std::int64_t> PostgresStore::add_recording_in_tx(const Recording& recording) {
    constexpr std::string_view kOperation = "add_recording";
    Params p;
    bind_recording(p, recording);
    auto rows = run(
            "INSERT INTO recordings (call_id, recording_id, wav_url, mp3_url, public_wav_url, "
            "public_mp3_url, format, channels, duration_seconds, saved_at_ms, kept, "
            "archive_status, archive_attempts, archive_next_attempt_at_ms, archive_error, "
            "archive_file, archive_bytes, archive_sha256, archive_stored_at_ms) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, "
            "$18, $19) "
            "ON CONFLICT (call_id, recording_id) WHERE recording_id IS NOT NULL DO UPDATE SET "
            "wav_url = COALESCE(excluded.wav_url, recordings.wav_url), "
            "mp3_url = COALESCE(excluded.mp3_url, recordings.mp3_url), "
            "public_wav_url = COALESCE(excluded.public_wav_url, recordings.public_wav_url), "
            "public_mp3_url = COALESCE(excluded.public_mp3_url, recordings.public_mp3_url), "
            "format = COALESCE(excluded.format, recordings.format), "
            "channels = COALESCE(excluded.channels, recordings.channels), "
            "duration_seconds = COALESCE(excluded.duration_seconds, recordings.duration_seconds), "
            "saved_at_ms = excluded.saved_at_ms, kept = recordings.kept OR excluded.kept "
            "RETURNING id",
            p, kOperation);
    if (!rows) {
        return rows.error();
    }
    return rows->row(0).column_int(0);
}

base::Result<std::int64_t> PostgresStore::add_recording(const Recording& recording) {
    UseGuard guard(in_use_);
    if (auto r = reconnect_if_lost("add_recording"); !r) {
        return r.error();
    }
    return add_recording_in_tx(recording);
}

base::Result<std::vector<Recording>> PostgresStore::list_recordings(std::string_view call_id) {
    constexpr std::string_view kOperation = "list_recordings";
    UseGuard guard(in_use_);
    return read(kOperation, [&]() -> base::Result<std::vector<Recording>> {
        auto rows = run(fmt::format("SELECT {} FROM recordings WHERE call_id = $1 ORDER BY id",
                                    kRecordingColumns),
                        Params{}.text(call_id), kOperation);
        if (!rows) {
            return rows.error();
        }
        return rows->collect<Recording>([](const auto& row) { return read_recording(row); });
    });
}

base::Result<std::vector<Recording>> PostgresStore::select_recordings(std::string_view operation,
                                                                      std::string_view condition,
                                                                      UnixMs bound,
                                                                      std::int64_t limit) {
    UseGuard guard(in_use_);
    if (auto r = check_limit(limit, operation); !r) {
        return r.error();
    }
    const std::string sql = fmt::format("SELECT {} FROM recordings WHERE {} LIMIT $2",
                                        kRecordingColumns, condition);
    return read(operation, [&]() -> base::Result<std::vector<Recording>> {
        auto rows = run(sql, Params{}.integer(bound).integer(limit), operation);
        if (!rows) {
            return rows.error();
        }
        return rows->collect<Recording>([](const auto& row) { return read_recording(row); });
    });
}

base::Result<std::vector<Recording>> PostgresStore::list_due_recording_archives(
        UnixMs now_ms, std::int64_t limit) {
    return select_recordings("list_due_recording_archives",
                             "archive_status = 'pending' AND archive_next_attempt_at_ms <= $1 "
                             "ORDER BY archive_next_attempt_at_ms, id",
                             now_ms, limit);
}

base::Result<void> PostgresStore::update_recording_archive(std::int64_t recording_id,
                                                           const RecordingArchive& archive) {
    constexpr std::string_view kOperation = "update_recording_archive";
    UseGuard guard(in_use_);
    Params p;
    bind_archive(p.integer(recording_id), archive);
    auto changed = write(
            "UPDATE recordings SET archive_status = $2, archive_attempts = $3, "
            "archive_next_attempt_at_ms = $4, archive_error = $5, archive_file = $6, "
            "archive_bytes = $7, archive_sha256 = $8, archive_stored_at_ms = $9 WHERE id = $1",
            p, kOperation);
    if (!changed) {
        return changed.error();
    }
    if (*changed == 0) {
        return invalid(kOperation, fmt::format("no recording with id {}", recording_id));
    }
    return {};
}

base::Result<std::vector<Recording>> PostgresStore::list_expired_recording_archives(
        UnixMs stored_before_ms, std::int64_t limit) {
    return select_recordings("list_expired_recording_archives",
                             "archive_status = 'stored' AND NOT kept AND archive_stored_at_ms < $1 "
                             "ORDER BY archive_stored_at_ms, id",
                             stored_before_ms, limit);
}

base::Result<bool> PostgresStore::mark_recording_archive_deleted(std::int64_t recording_id) {
    UseGuard guard(in_use_);
    auto changed =
            write("UPDATE recordings SET archive_status = 'deleted', archive_file = NULL "
                  "WHERE id = $1 AND archive_status = 'stored' AND NOT kept",
                  Params{}.integer(recording_id), "mark_recording_archive_deleted");
    if (!changed) {
        return changed.error();
    }
    return *changed > 0;
}

base::Result<std::int64_t> PostgresStore::keep_recordings(std::string_view call_id) {
    UseGuard guard(in_use_);
    return write("UPDATE recordings SET kept = TRUE WHERE call_id = $1 AND NOT kept",
                 Params{}.text(call_id), "keep_recordings");
}

// ---------------------------------------------------------------------------------------------
// Risk analyses

base::Result<std::int64_t> PostgresStore::add_analysis(const AnalysisRecord& r) {
    constexpr std::string_view kOperation = "add_analysis";
    UseGuard guard(in_use_);
    if (r.call_id.empty()) {
        return invalid(kOperation, "empty call id");
    }
    if (auto connected = reconnect_if_lost(kOperation); !connected) {
        return connected.error();
    }
    Params p;
    bind_analysis(p, r);
    auto rows =
            run("INSERT INTO analyses (call_id, trigger_kind, source, risk_level, flagged, "
                "escalate, recommended_action, reason, reasoning, indicators_json, "
                "detector_risk_level, analysis_risk_level, raised_by_analysis, "
                "analysis_disagreed, detector_probability, detector_llr, detector_verdict, "
                "speech_seconds, error_code, error, model, prompt_version, attempts, "
                "http_status, elapsed_ms, created_at_ms) "
                "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, "
                "$16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26) RETURNING id",
                p, kOperation);
    if (!rows) {
        return rows.error();
    }
    return rows->row(0).column_int(0);
}

base::Result<std::vector<AnalysisRecord>> PostgresStore::list_analyses(std::string_view call_id) {
    constexpr std::string_view kOperation = "list_analyses";
    UseGuard guard(in_use_);
    return read(kOperation, [&]() -> base::Result<std::vector<AnalysisRecord>> {
        auto rows = run(fmt::format("SELECT {} FROM analyses WHERE call_id = $1 ORDER BY id",
                                    kAnalysisColumns),
                        Params{}.text(call_id), kOperation);
        if (!rows) {
            return rows.error();
        }
        return rows->collect<AnalysisRecord>([](const auto& row) { return read_analysis(row); });
    });
}

// ---------------------------------------------------------------------------------------------
// Alerts

base::Result<AlertCreation> PostgresStore::create_alert_if_absent(const Alert& alert) {
    constexpr std::string_view kOperation = "create_alert_if_absent";
    UseGuard guard(in_use_);
    Transaction tx(*this);
    if (auto r = tx.begin(kOperation); !r) {
        return r.error();
    }
    Params p;
    bind_alert(p, alert);
    auto inserted =
            run("INSERT INTO alerts (call_id, level, channel, status, attempts, "
                "next_attempt_at_ms, last_error, payload_json, created_at_ms, sent_at_ms) "
                "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) "
                "ON CONFLICT (call_id, level, channel) DO NOTHING",
                p, kOperation);
    if (!inserted) {
        return inserted.error();
    }
    const bool created = inserted->affected() == 1;
    // READ COMMITTED: this statement sees a row that a concurrent transaction committed while
    // the insert above waited on it.
    auto rows =
            run(fmt::format("SELECT {} FROM alerts WHERE call_id = $1 AND level = $2 "
                            "AND channel = $3",
                            kAlertColumns),
                Params{}.text(alert.call_id).integer(alert.level).text(to_string(alert.channel)),
                kOperation);
    if (!rows) {
        return rows.error();
    }
    auto stored = rows->first<Alert>([](const auto& row) { return read_alert(row); });
    if (!stored) {
        return stored.error();
    }
    if (!*stored) {
        return base::fail(
                base::Errc::Runtime,
                fmt::format("store {}: alert vanished inside its transaction", kOperation));
    }
    if (auto r = tx.commit(kOperation); !r) {
        return r.error();
    }
    return AlertCreation{std::move(**stored), created};
}

base::Result<std::vector<Alert>> PostgresStore::list_due_alerts(UnixMs now_ms, std::int64_t limit) {
    constexpr std::string_view kOperation = "list_due_alerts";
    UseGuard guard(in_use_);
    if (auto r = check_limit(limit, kOperation); !r) {
        return r.error();
    }
    return read(kOperation, [&]() -> base::Result<std::vector<Alert>> {
        auto rows = run(fmt::format("SELECT {} FROM alerts WHERE status = 'pending' AND "
                                    "next_attempt_at_ms <= $1 ORDER BY next_attempt_at_ms, id "
                                    "LIMIT $2",
                                    kAlertColumns),
                        Params{}.integer(now_ms).integer(limit), kOperation);
        if (!rows) {
            return rows.error();
        }
        return rows->collect<Alert>([](const auto& row) { return read_alert(row); });
    });
}

base::Result<std::vector<Alert>> PostgresStore::list_alerts(std::string_view call_id) {
    constexpr std::string_view kOperation = "list_alerts";
    UseGuard guard(in_use_);
    return read(kOperation, [&]() -> base::Result<std::vector<Alert>> {
        auto rows = run(fmt::format("SELECT {} FROM alerts WHERE call_id = $1 ORDER BY level, "
                                    "channel",
                                    kAlertColumns),
                        Params{}.text(call_id), kOperation);
        if (!rows) {
            return rows.error();
        }
        return rows->collect<Alert>([](const auto& row) { return read_alert(row); });
    });
}

base::Result<void> PostgresStore::explain_unchanged_alert(std::int64_t alert_id,
                                                          std::string_view operation) {
    auto rows =
            run("SELECT status FROM alerts WHERE id = $1", Params{}.integer(alert_id), operation);
    if (!rows) {
        return rows.error();
    }
    if (rows->size() == 0) {
        return base::fail(base::Errc::NotFound,
                          fmt::format("store {}: no alert {}", operation, alert_id));
    }
    return invalid(operation, fmt::format("alert {} is {}, not pending", alert_id,
                                          rows->row(0).column_text(0)));
}

base::Result<void> PostgresStore::mark_alert_sent(std::int64_t alert_id, UnixMs sent_at_ms) {
    constexpr std::string_view kOperation = "mark_alert_sent";
    UseGuard guard(in_use_);
    auto changed =
            write("UPDATE alerts SET status = 'sent', attempts = attempts + 1, "
                  "sent_at_ms = $2, last_error = NULL WHERE id = $1 AND status = 'pending'",
                  Params{}.integer(alert_id).integer(sent_at_ms), kOperation);
    if (!changed) {
        return changed.error();
    }
    return *changed == 0 ? explain_unchanged_alert(alert_id, kOperation) : base::Result<void>{};
}

base::Result<void> PostgresStore::mark_alert_failed(std::int64_t alert_id, std::string_view error) {
    constexpr std::string_view kOperation = "mark_alert_failed";
    UseGuard guard(in_use_);
    auto changed =
            write("UPDATE alerts SET status = 'failed', attempts = attempts + 1, "
                  "last_error = $2 WHERE id = $1 AND status = 'pending'",
                  Params{}.integer(alert_id).text_or_null(error), kOperation);
    if (!changed) {
        return changed.error();
    }
    return *changed == 0 ? explain_unchanged_alert(alert_id, kOperation) : base::Result<void>{};
}

base::Result<void> PostgresStore::mark_alert_retry(std::int64_t alert_id, std::string_view error,
                                                   UnixMs next_attempt_at_ms) {
    constexpr std::string_view kOperation = "mark_alert_retry";
    UseGuard guard(in_use_);
    auto changed = write(
            "UPDATE alerts SET attempts = attempts + 1, last_error = $2, "
            "next_attempt_at_ms = $3 WHERE id = $1 AND status = 'pending'",
            Params{}.integer(alert_id).text_or_null(error).integer(next_attempt_at_ms), kOperation);
    if (!changed) {
        return changed.error();
    }
    return *changed == 0 ? explain_unchanged_alert(alert_id, kOperation) : base::Result<void>{};
}

// ---------------------------------------------------------------------------------------------
// Command log

base::Result<std::int64_t> PostgresStore::append_command_log_in_tx(const CommandLog& entry) {
    constexpr std::string_view kOperation = "append_command_log";
    if (entry.call_id.empty() || entry.command.empty()) {
        return invalid(kOperation, "empty call id or command");
    }
    Params p;
    bind_command(p, entry);
    auto rows =
            run("INSERT INTO command_log (call_id, command, command_id, request_body_json, "
                "http_status, error, at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
                p, kOperation);
    if (!rows) {
        return rows.error();
    }
    return rows->row(0).column_int(0);
}

base::Result<std::int64_t> PostgresStore::append_command_log(const CommandLog& entry) {
    UseGuard guard(in_use_);
    if (auto r = reconnect_if_lost("append_command_log"); !r) {
        return r.error();
    }
    return append_command_log_in_tx(entry);
}

base::Result<std::vector<CommandLog>> PostgresStore::list_command_log(std::string_view call_id) {
    constexpr std::string_view kOperation = "list_command_log";
    UseGuard guard(in_use_);
    return read(kOperation, [&]() -> base::Result<std::vector<CommandLog>> {
        auto rows = run(fmt::format("SELECT {} FROM command_log WHERE call_id = $1 ORDER BY id",
                                    kCommandColumns),
                        Params{}.text(call_id), kOperation);
        if (!rows) {
            return rows.error();
        }
        return rows->collect<CommandLog>([](const auto& row) { return read_command(row); });
    });
}

// ---------------------------------------------------------------------------------------------
// Batches

base::Result<BatchOutcome> PostgresStore::write_batch(std::span<const WriteOp> ops) {
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
        // A failed statement aborts a PostgreSQL transaction; the savepoint confines it to its op.
        if (auto r = simple("SAVEPOINT dvd_op", kOperation); !r) {
            return r.error();
        }
        auto r = apply_write_op(*this, op);
        if (r) {
            if (auto released = simple("RELEASE SAVEPOINT dvd_op", kOperation); !released) {
                return released.error();
            }
            ++outcome.applied;
            continue;
        }
        if (!is_per_op_error(r.error()) || PQstatus(conn_) != CONNECTION_OK) {
            base::Error whole = r.error();
            whole.message = fmt::format("store {}: the batch of {} ops failed: {}", kOperation,
                                        ops.size(), whole.message);
            return whole;
        }
        if (auto undone = simple("ROLLBACK TO SAVEPOINT dvd_op", kOperation); !undone) {
            return undone.error();
        }
        if (auto released = simple("RELEASE SAVEPOINT dvd_op", kOperation); !released) {
            return released.error();
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
