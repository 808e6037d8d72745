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

struct sqlite3;
struct sqlite3_stmt;

namespace dvd::store {

/// `Store` on one SQLite connection (SQLite 3.37+, STRICT tables).
///
/// Opening sets WAL mode, the synchronous level of `StoreOptions`, foreign_keys=ON and the busy
/// timeout, then brings the schema to `kSchemaVersion` with the versioned migrations of
/// `sqlite_migrations.hpp`, all pending ones in one transaction (an upgrade that fails leaves the
/// file as it was). A database whose schema is newer than this build is refused with
/// `Unsupported`; a file that is not a database with `Corrupt`.
///
/// Every write runs in a `BEGIN IMMEDIATE` transaction (one per method call, one per
/// `write_batch`), so concurrent writers on other connections wait for the lock
/// (`busy_timeout`) instead of failing on a stale snapshot. Statements are prepared once per
/// connection and cached.
///
/// Threads: the connection is opened in SQLite's multi-thread mode (no internal mutex). The
/// object may be created on one thread and handed to another, but only one thread may use it at a
/// time; debug builds assert that.
class SqliteStore final : public Store {
public:
    /// Opens (creating the file, not its folder, unless read-only) and migrates. `path` is a file
    /// path or ":memory:".
    [[nodiscard]] static base::Result<std::unique_ptr<SqliteStore>> open(
            const std::string& path, const StoreOptions& options = {});

    ~SqliteStore() override;
    SqliteStore(const SqliteStore&) = delete;
    SqliteStore& operator=(const SqliteStore&) = delete;

    /// The schema version of the open database (== kSchemaVersion after a successful open).
    [[nodiscard]] base::Result<int> schema_version();

    const std::string& path() const { return path_; }

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
    [[nodiscard]] base::Result<std::vector<Recording>> list_due_recording_archives(
            UnixMs now_ms, std::int64_t limit) override;
    [[nodiscard]] base::Result<void> update_recording_archive(
            std::int64_t recording_id, const RecordingArchive& archive) override;
    [[nodiscard]] base::Result<std::vector<Recording>> list_expired_recording_archives(
            UnixMs stored_before_ms, std::int64_t limit) override;
    [[nodiscard]] base::Result<bool> mark_recording_archive_deleted(
            std::int64_t recording_id) override;
    [[nodiscard]] base::Result<std::vector<Recording>> list_recordings(
            std::string_view call_id) override;
    [[nodiscard]] base::Result<std::int64_t> keep_recordings(std::string_view call_id) override;

    [[nodiscard]] base::Result<std::int64_t> add_analysis(const AnalysisRecord& record) override;
    [[nodiscard]] base::Result<std::vector<AnalysisRecord>> list_analyses(
            std::string_view call_id) override;

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

    [[nodiscard]] base::Result<std::int64_t> append_command_log(const CommandLog& entry) override;
    [[nodiscard]] base::Result<std::vector<CommandLog>> list_command_log(
            std::string_view call_id) override;

    [[nodiscard]] base::Result<BatchOutcome> write_batch(std::span<const WriteOp> ops) override;

private:
    template <class Backend>
    friend base::Result<void> detail::apply_write_op(Backend& store, const WriteOp& op);

    class Statement;
    class Transaction;

    SqliteStore(sqlite3* db, std::string path, const StoreOptions& options);

    base::Result<void> configure();
    base::Result<void> migrate();
    base::Result<void> check_schema_current();
    base::Result<void> exec(const char* sql, std::string_view operation);
    base::Result<Statement> statement(std::string_view sql, std::string_view operation);
    base::Error error(int rc, std::string_view operation) const;

    // The single-op bodies; they run inside a transaction that the caller opened.
    base::Result<void> upsert_call_in_tx(const Call& call);
    base::Result<void> update_call_score_in_tx(const CallScoreUpdate& update);
    base::Result<void> mark_event_processed_in_tx(std::string_view event_id, UnixMs at_ms);
    base::Result<void> insert_score_point_in_tx(const ScorePoint& point);
    base::Result<std::int64_t> add_recording_in_tx(const Recording& recording);
    // `SELECT <recording columns> FROM recordings WHERE <condition> LIMIT limit`; the condition
    // (with its ORDER BY) uses ?1, bound to `bound`.
    base::Result<std::vector<Recording>> select_recordings(std::string_view operation,
                                                           std::string_view condition, UnixMs bound,
                                                           std::int64_t limit);
    base::Result<std::int64_t> append_command_log_in_tx(const CommandLog& entry);
    base::Result<void> explain_unchanged_alert(std::int64_t alert_id, std::string_view operation);

    sqlite3* db_;
    std::string path_;
    StoreOptions options_;

    struct SqlHash {
        using is_transparent = void;

        std::size_t operator()(std::string_view sql) const noexcept {
            return std::hash<std::string_view>{}(sql);
        }
    };

    /// Prepared statements keyed by their SQL text; finalised in the destructor.
    std::unordered_map<std::string, sqlite3_stmt*, SqlHash, std::equal_to<>> statements_;
    /// Debug check of the one-thread-at-a-time rule.
    std::atomic<bool> in_use_{false};
};

}  // namespace dvd::store
