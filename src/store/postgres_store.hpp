#pragma once

#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "base/result.hpp"
#include "store/store.hpp"

struct pg_conn;
struct pg_result;

namespace dvd::store {

/// A libpq connection with the store's defaults (see PostgresStore: a 10 s connect timeout, TCP
/// keepalives, a 60 s `tcp_user_timeout`, UTF8, application name `deepfake-voice-detector`;
/// the URL may override each) and the server's notices silenced. The caller owns it (PQfinish).
/// Io with libpq's reason, prefixed by `what`, when it cannot connect; never repeats the URL.
[[nodiscard]] base::Result<pg_conn*> connect_postgres(const std::string& url, std::string_view what);

/// libpq's last error on `conn` (PQerrorMessage) without its trailing newline.
[[nodiscard]] std::string postgres_error_message(pg_conn* conn);

/// `Store` on one PostgreSQL connection (libpq; PostgreSQL 12 or newer), for a database that
/// outgrows one machine's SQLite file: a managed server, a DBA's backups, a standby service
/// instance on another machine (one instance per database at a time: `InstanceLock`).
///
/// `url` is any libpq connection string or URI (`postgresql://user:pass@host:5432/dvd?sslmode=
/// require`, `postgres:///dvd?host=/run/postgresql`); libpq's environment variables (PGPASSWORD,
/// PGSSLMODE, ...) and ~/.pgpass apply as usual. The database must exist and the role must be
/// able to create tables in its schema (the first read-write open creates them). Error messages
/// never repeat the URL (it may hold a password).
///
/// Opening connects (unless the URL says otherwise: a 10 s connect timeout, TCP keepalives after
/// 30 s idle and a 60 s `tcp_user_timeout`, so that a server gone silent is noticed in about a
/// minute), sets `lock_timeout` from
/// `StoreOptions::busy_timeout` (read-only connections also `default_transaction_read_only`),
/// then brings the schema to `kSchemaVersion` with `postgres_migrations()` in one transaction,
/// serialised across processes by an advisory lock. A newer schema is refused with `Unsupported`.
///
/// Semantics are the SQLite store's, method for method (the same contract tests run on both):
/// the same tables and constraints, one transaction per write method, `write_batch` in one
/// transaction with a savepoint per op so that a failing op is skipped alone. Text that
/// PostgreSQL cannot hold (a NUL byte, invalid UTF-8) is `InvalidArgument` for that op.
/// Statements are prepared once per connection and cached, so a pooler in front of the server
/// must keep sessions (PgBouncer `pool_mode = session`, not `transaction`).
///
/// A lost connection (server restart, failover, network) is re-established at the next call; a
/// read that failed because the connection had dropped is retried once on the new one. A write
/// that was cut off returns an `Io` error and is not retried here: its commit may or may not have
/// happened, and the callers' own retries are idempotent where it matters (upserts, events,
/// score points, alerts).
///
/// Threads: as `Store`: one thread at a time; debug builds assert that.
class PostgresStore final : public Store {
public:
    /// Connects and migrates (or, read-only, checks the schema version).
    [[nodiscard]] static base::Result<std::unique_ptr<PostgresStore>> open(
            const std::string& url, const StoreOptions& options = {});

    ~PostgresStore() override;
    PostgresStore(const PostgresStore&) = delete;
    PostgresStore& operator=(const PostgresStore&) = delete;

    /// The schema version of the database (== kSchemaVersion after a successful open).
    [[nodiscard]] base::Result<int> schema_version();

    [[nodiscard]] base::Result<void> ping() override;
    [[nodiscard]] base::Result<void> upsert_call(const Call& call) override;
    [[nodiscard]] base::Result<void> update_call_score(const CallScoreUpdate& update) override;
    [[nodiscard]] base::Result<std::optional<Call>> get_call(std::string_view id) override;
    [[nodiscard]] base::Result<std::optional<Call>> get_call_by_control_id(
            std::string_view call_control_id) override;
    [[nodiscard]] base::Result<std::vector<Call>> list_calls(const CallQuery& query) override;
    [[nodiscard]] base::Result<std::int64_t> count_calls(const CallFilter& filter) override;
    [[nodiscard]] base::Result<std::string> get_indicator_state(std::string_view id) override;
    [[nodiscard]] base::Result<std::vector<Call>> list_active_calls() override;

    [[nodiscard]] base::Result<bool> record_webhook_event(const WebhookEvent& event) override;
    [[nodiscard]] base::Result<void> mark_event_processed(std::string_view event_id,
                                                          UnixMs processed_at_ms) override;
    [[nodiscard]] base::Result<std::optional<WebhookEvent>> get_webhook_event(
            std::string_view event_id) override;
    [[nodiscard]] base::Result<std::vector<WebhookEvent>> list_unprocessed_events(
            std::int64_t limit) override;

    [[nodiscard]] base::Result<void> append_score_points(
            std::span<const ScorePoint> points) override;
    [[nodiscard]] base::Result<std::vector<ScorePoint>> list_timeline(std::string_view call_id,
                                                                      std::int64_t after_seq,
                                                                      std::int64_t limit) override;

    [[nodiscard]] base::Result<std::int64_t> add_recording(const Recording& recording) override;
    [[nodiscard]] base::Result<std::vector<Recording>> list_recordings(
            std::string_view call_id) override;
    [[nodiscard]] base::Result<std::vector<Recording>> list_due_recording_archives(
            UnixMs now_ms, std::int64_t limit) override;
    [[nodiscard]] base::Result<void> update_recording_archive(
            std::int64_t recording_id, const RecordingArchive& archive) override;
    [[nodiscard]] base::Result<std::vector<Recording>> list_expired_recording_archives(
            UnixMs stored_before_ms, std::int64_t limit) override;
    [[nodiscard]] base::Result<bool> mark_recording_archive_deleted(
            std::int64_t recording_id) override;
    [[nodiscard]] base::Result<std::int64_t> keep_recordings(std::string_view call_id) override;

    [[nodiscard]] base::Result<AlertCreation> create_alert_if_absent(const Alert& alert) override;
    [[nodiscard]] base::Result<std::vector<Alert>> list_due_alerts(UnixMs now_ms,
                                                                   std::int64_t limit) override;
    [[nodiscard]] base::Result<std::vector<Alert>> list_alerts(std::string_view call_id) override;
    [[nodiscard]] base::Result<void> mark_alert_sent(std::int64_t alert_id,
                                                     UnixMs sent_at_ms) override;
    [[nodiscard]] base::Result<void> mark_alert_failed(std::int64_t alert_id,
                                                       std::string_view error) override;
    [[nodiscard]] base::Result<void> mark_alert_retry(std::int64_t alert_id, std::string_view error,
                                                      UnixMs next_attempt_at_ms) override;

    [[nodiscard]] base::Result<std::int64_t> add_analysis(const AnalysisRecord& record) override;
    [[nodiscard]] base::Result<std::vector<AnalysisRecord>> list_analyses(
            std::string_view call_id) override;

    [[nodiscard]] base::Result<std::int64_t> append_command_log(const CommandLog& entry) override;
    [[nodiscard]] base::Result<std::vector<CommandLog>> list_command_log(
            std::string_view call_id) override;

    [[nodiscard]] base::Result<BatchOutcome> write_batch(std::span<const WriteOp> ops) override;

    /// For tests: this connection's server process id (pg_backend_pid), so that a test can cut
    /// the connection from another one (pg_terminate_backend) and watch it come back.
    [[nodiscard]] base::Result<int> backend_pid();

private:
    template <class Backend>
    friend base::Result<void> detail::apply_write_op(Backend& store, const WriteOp& op);

    class Params;
    class Rows;
    class Transaction;

    PostgresStore(pg_conn* conn, const StoreOptions& options);

    base::Result<void> configure_session();
    base::Result<void> reconnect_if_lost(std::string_view operation);
    base::Result<void> migrate();
    base::Result<void> check_schema_current();
    base::Result<int> schema_version_unguarded();
    /// `result` as Rows when it succeeded, else its error (the result is cleared either way).
    base::Result<Rows> checked(pg_result* result, std::string_view operation) const;
    /// One statement without parameters, not prepared (BEGIN, SAVEPOINT, SET, DDL).
    base::Result<void> simple(const char* sql, std::string_view operation);
    /// Runs `sql` (prepared once per connection) with `params`.
    base::Result<Rows> run(std::string_view sql, const Params& params, std::string_view operation);
    /// Runs a read; when it failed because the connection was lost, reconnects and runs it once
    /// more.
    template <class F>
    auto read(std::string_view operation, F&& body) -> decltype(body());

    // Bodies that run inside a transaction the caller opened.
    base::Result<void> upsert_call_in_tx(const Call& call);
    base::Result<void> update_call_score_in_tx(const CallScoreUpdate& update);
    base::Result<void> mark_event_processed_in_tx(std::string_view event_id, UnixMs at_ms);
    base::Result<void> insert_score_point_in_tx(const ScorePoint& point);
    base::Result<std::int64_t> add_recording_in_tx(const Recording& recording);
    base::Result<std::int64_t> append_command_log_in_tx(const CommandLog& entry);
    base::Result<std::vector<Recording>> select_recordings(std::string_view operation,
                                                           std::string_view condition, UnixMs bound,
                                                           std::int64_t limit);
    base::Result<void> explain_unchanged_alert(std::int64_t alert_id, std::string_view operation);
    /// Runs one single-statement write in its own transaction (autocommit) and returns the
    /// number of rows it changed.
    base::Result<std::int64_t> write(std::string_view sql, const Params& params,
                                     std::string_view operation);

    pg_conn* conn_;
    StoreOptions options_;

    struct SqlHash {
        using is_transparent = void;

        std::size_t operator()(std::string_view sql) const noexcept {
            return std::hash<std::string_view>{}(sql);
        }
    };

    /// Prepared statement names keyed by SQL text; they live as long as the server session, so
    /// a reconnect clears the map.
    std::unordered_map<std::string, std::string, SqlHash, std::equal_to<>> prepared_;
    int next_statement_ = 0;
    std::atomic<bool> in_use_{false};
};

}  // namespace dvd::store
