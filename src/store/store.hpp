#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "store/types.hpp"

namespace dvd::store {

/// How a store connection is opened (`open_store`, `SqliteStore::open`, `PostgresStore::open`).
struct StoreOptions {
    /// A read-only connection (the service's query connection). It never migrates: it fails when
    /// the database does not exist or its schema is not the current version.
    bool read_only = false;
    /// How long a statement waits for another connection's lock before failing (SQLite: the busy
    /// timeout; PostgreSQL: `lock_timeout`).
    std::chrono::milliseconds busy_timeout{5000};
    /// SQLite only. false (default): `synchronous=NORMAL` in WAL mode. A committed transaction
    /// survives a crash of the process (it is in the WAL file), but the last transactions before a
    /// power loss or kernel crash may be rolled back (never corrupted). true: `synchronous=FULL`,
    /// which fsyncs the WAL on every commit and also survives power loss, at the cost of one fsync
    /// per batch. PostgreSQL follows the server's `synchronous_commit` (on by default: every
    /// commit survives a power loss).
    bool sync_full = false;
};

/// The service's database: calls, webhook events, score timelines, recordings, alerts and the
/// Call Control command log: SQLite (`SqliteStore`, the embedded default) or PostgreSQL
/// (`PostgresStore`, for a database shared by several machines or run by a DBA).
///
/// Threads: one `Store` object is one database connection and belongs to one thread at a time; it
/// is not safe to call from two threads at once. Open one per thread (the service: one writer
/// connection on the `store-writer` thread, one read-only connection on the `store-reader`
/// thread). Different connections to the same database may be used concurrently.
///
/// Durability: a write method that returned success has committed its transaction; committed
/// data survives a crash of the process (see `StoreOptions::sync_full` for power loss).
///
/// Errors: every method returns a `base::Result`; the message names the operation. Not finding a
/// row is not an error for getters (they return an empty optional) but is `NotFound` for updates.
class Store {
public:
    virtual ~Store() = default;

    // ---- health ----

    /// Proves that the database answers on this connection: reads the schema version (a lost
    /// PostgreSQL connection is re-opened first). An error when the database cannot be reached or
    /// read, or its schema is not the one this build writes. Cheap enough for a readiness probe.
    [[nodiscard]] virtual base::Result<void> ping() = 0;

    // ---- calls ----

    /// Inserts the call, or replaces every field of the call with the same id except
    /// `created_at_ms`. InvalidArgument when `id` is empty or `call_control_id` belongs to another
    /// call.
    [[nodiscard]] virtual base::Result<void> upsert_call(const Call& call) = 0;

    /// Applies the scorer's fields to an existing call; NotFound when there is no such call.
    [[nodiscard]] virtual base::Result<void> update_call_score(const CallScoreUpdate& update) = 0;

    [[nodiscard]] virtual base::Result<std::optional<Call>> get_call(std::string_view id) = 0;

    /// The call's saved indicator state (`CallScoreUpdate::indicator_state`); empty when there
    /// is none (no such call, an ended call, nothing saved yet). Not part of `Call`: a few kB per
    /// active call that no listing needs.
    [[nodiscard]] virtual base::Result<std::string> get_indicator_state(std::string_view id) = 0;

    [[nodiscard]] virtual base::Result<std::optional<Call>> get_call_by_control_id(
            std::string_view call_control_id) = 0;

    /// One page of calls (see `CallQuery`); InvalidArgument for a limit outside 1..kMaxPageSize
    /// or a negative offset.
    [[nodiscard]] virtual base::Result<std::vector<Call>> list_calls(const CallQuery& query) = 0;

    /// How many calls match the filter (the total behind `list_calls` pages).
    [[nodiscard]] virtual base::Result<std::int64_t> count_calls(const CallFilter& filter) = 0;

    /// Calls not in a terminal state, oldest first: what to resume after a restart.
    [[nodiscard]] virtual base::Result<std::vector<Call>> list_active_calls() = 0;

    // ---- webhook events ----

    /// Records the event unless one with the same `event_id` exists. Returns true when this call
    /// inserted it (the event is new), false for a duplicate. Atomic across connections and
    /// processes: of concurrent calls with one id exactly one returns true.
    [[nodiscard]] virtual base::Result<bool> record_webhook_event(const WebhookEvent& event) = 0;

    /// NotFound when no event has that id. Marking twice keeps the first time.
    [[nodiscard]] virtual base::Result<void> mark_event_processed(std::string_view event_id,
                                                                  UnixMs processed_at_ms) = 0;

    [[nodiscard]] virtual base::Result<std::optional<WebhookEvent>> get_webhook_event(
            std::string_view event_id) = 0;

    /// Recorded but not processed events, oldest first (to re-run after a crash).
    [[nodiscard]] virtual base::Result<std::vector<WebhookEvent>> list_unprocessed_events(
            std::int64_t limit) = 0;

    // ---- score timeline ----

    /// Appends points in one transaction. A point whose (call_id, seq) exists is ignored, so a
    /// replay after a restart is harmless. InvalidArgument (nothing written) when a point names
    /// an unknown call or holds a NaN.
    [[nodiscard]] virtual base::Result<void> append_score_points(
            std::span<const ScorePoint> points) = 0;

    /// Points of one call with seq > after_seq, in seq order, at most `limit`.
    [[nodiscard]] virtual base::Result<std::vector<ScorePoint>> list_timeline(
            std::string_view call_id, std::int64_t after_seq, std::int64_t limit) = 0;

    // ---- recordings ----

    /// Adds a recording, or updates the URLs and metadata of the one with the same
    /// (call_id, recording_id). Returns its id. InvalidArgument for an unknown call.
    [[nodiscard]] virtual base::Result<std::int64_t> add_recording(const Recording& recording) = 0;

    [[nodiscard]] virtual base::Result<std::vector<Recording>> list_recordings(
            std::string_view call_id) = 0;

    /// Pending recording downloads with archive.next_attempt_at_ms <= now_ms, earliest first, at
    /// most `limit`.
    [[nodiscard]] virtual base::Result<std::vector<Recording>> list_due_recording_archives(
            UnixMs now_ms, std::int64_t limit) = 0;

    /// Replaces the archive fields of recording `recording_id` (the download worker's record of
    /// its copy). InvalidArgument for an unknown id.
    [[nodiscard]] virtual base::Result<void> update_recording_archive(
            std::int64_t recording_id, const RecordingArchive& archive) = 0;

    /// Stored copies of recordings that are not kept, stored before `stored_before_ms`, oldest
    /// first, at most `limit` (what the retention policy may delete).
    [[nodiscard]] virtual base::Result<std::vector<Recording>> list_expired_recording_archives(
            UnixMs stored_before_ms, std::int64_t limit) = 0;

    /// The retention policy removes a copy: status deleted and no file, if the row is still
    /// stored and not kept (checked in the same statement, so a call flagged meanwhile keeps its
    /// copy). Returns whether it changed; delete the file only then.
    [[nodiscard]] virtual base::Result<bool> mark_recording_archive_deleted(
            std::int64_t recording_id) = 0;

    /// Marks every recording of the call as kept (a flagged call's evidence); returns how many
    /// rows changed. Recordings added later are kept when `Recording::kept` is set.
    [[nodiscard]] virtual base::Result<std::int64_t> keep_recordings(std::string_view call_id) = 0;

    // ---- alerts ----

    /// Creates the alert unless one exists for (call_id, level, channel); returns the stored
    /// alert either way (`id`, `status`, ... are the store's, not the argument's when it existed).
    [[nodiscard]] virtual base::Result<AlertCreation> create_alert_if_absent(
            const Alert& alert) = 0;

    /// Pending alerts with next_attempt_at_ms <= now_ms, earliest first, at most `limit`.
    [[nodiscard]] virtual base::Result<std::vector<Alert>> list_due_alerts(UnixMs now_ms,
                                                                           std::int64_t limit) = 0;

    [[nodiscard]] virtual base::Result<std::vector<Alert>> list_alerts(
            std::string_view call_id) = 0;

    /// Delivery succeeded: status sent, attempts + 1.
    [[nodiscard]] virtual base::Result<void> mark_alert_sent(std::int64_t alert_id,
                                                             UnixMs sent_at_ms) = 0;

    /// Delivery failed for good (4xx, retries exhausted): status failed, attempts + 1.
    [[nodiscard]] virtual base::Result<void> mark_alert_failed(std::int64_t alert_id,
                                                               std::string_view error) = 0;

    /// Delivery failed, try again later: stays pending, attempts + 1, new next_attempt_at_ms.
    [[nodiscard]] virtual base::Result<void> mark_alert_retry(std::int64_t alert_id,
                                                              std::string_view error,
                                                              UnixMs next_attempt_at_ms) = 0;

    // ---- risk analyses ----

    /// Appends one risk decision; returns its id. InvalidArgument for an unknown call.
    [[nodiscard]] virtual base::Result<std::int64_t> add_analysis(const AnalysisRecord& record) = 0;

    /// The call's risk decisions, oldest first.
    [[nodiscard]] virtual base::Result<std::vector<AnalysisRecord>> list_analyses(
            std::string_view call_id) = 0;

    // ---- command log ----

    /// Appends one entry; returns its id.
    [[nodiscard]] virtual base::Result<std::int64_t> append_command_log(
            const CommandLog& entry) = 0;

    [[nodiscard]] virtual base::Result<std::vector<CommandLog>> list_command_log(
            std::string_view call_id) = 0;

    // ---- batches ----

    /// Applies the ops in order in ONE transaction (the `StoreWriter`'s unit of work). An op that
    /// fails on its own is skipped and counted in the outcome; the rest commit. An error result
    /// means the transaction as a whole failed (busy, disk full, I/O) and nothing was written.
    [[nodiscard]] virtual base::Result<BatchOutcome> write_batch(std::span<const WriteOp> ops) = 0;
};

namespace detail {

/// Internal (defined in row_codec.hpp): one `WriteOp` of `write_batch` through a store's
/// single-op bodies; `SqliteStore` and `PostgresStore` befriend it.
template <class Backend>
base::Result<void> apply_write_op(Backend& store, const WriteOp& op);

}  // namespace detail

}  // namespace dvd::store
