#pragma once

// Internal to the store layer: the column lists, row readers, write binders and checks that the
// SQLite and PostgreSQL stores share. Both select the columns of a table in the same order, so one
// reader per table serves both. A reader takes any row type `s` with column_text / column_int /
// column_real / column_optional_{int,real,bool} (SqliteStore::Statement, PostgresStore's Row; the
// optional ones come from RowReaderBase); a binder is any type with text / integer / real /
// boolean / null (text_or_null and optional come from BinderBase).

#include <atomic>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string_view>
#include <type_traits>
#include <variant>

#include <fmt/format.h>

#include "base/check.hpp"
#include "base/result.hpp"
#include "store/sqlite_migrations.hpp"
#include "store/types.hpp"

namespace dvd::store::detail {

/// What every backend's binder derives from its own text / integer / real / boolean / null (CRTP):
/// empty text as NULL (the store's "not known"), and an optional of any column type.
template <class Derived>
class BinderBase {
public:
    Derived& text_or_null(std::string_view value) {
        return value.empty() ? self().null() : self().text(value);
    }

    template <class T>
    Derived& optional(const std::optional<T>& value) {
        if (!value) {
            return self().null();
        }
        if constexpr (std::is_same_v<T, double>) {
            return self().real(*value);
        } else if constexpr (std::is_same_v<T, bool>) {
            return self().boolean(*value);
        } else {
            return self().integer(static_cast<std::int64_t>(*value));
        }
    }

private:
    Derived& self() { return static_cast<Derived&>(*this); }
};

/// What every backend's row type derives from its own is_null / column_int / column_real (CRTP).
template <class Derived>
class RowReaderBase {
public:
    std::optional<std::int64_t> column_optional_int(int column) const {
        return self().is_null(column) ? std::nullopt : std::optional(self().column_int(column));
    }

    std::optional<double> column_optional_real(int column) const {
        return self().is_null(column) ? std::nullopt : std::optional(self().column_real(column));
    }

    std::optional<bool> column_optional_bool(int column) const {
        return self().is_null(column) ? std::nullopt
                                      : std::optional(self().column_int(column) != 0);
    }

private:
    const Derived& self() const { return static_cast<const Derived&>(*this); }
};

/// Debug check of the `Store` rule that one connection is used by one thread at a time.
class UseGuard {
public:
    explicit UseGuard(std::atomic<bool>& in_use) : in_use_(in_use) {
        [[maybe_unused]] const bool was_in_use = in_use_.exchange(true, std::memory_order_acquire);
        DVD_ASSERT(!was_in_use, "a store connection is used by one thread at a time");
    }

    UseGuard(const UseGuard&) = delete;
    UseGuard& operator=(const UseGuard&) = delete;

    ~UseGuard() { in_use_.store(false, std::memory_order_release); }

private:
    std::atomic<bool>& in_use_;
};

/// Whether a database at schema `version` may be used: a newer schema never (run a newer build);
/// an older one only by a connection that migrates it (`allow_older`), not a read-only one.
inline base::Result<void> check_schema_version(int version, bool allow_older) {
    if (version > kSchemaVersion) {
        return base::fail(base::Errc::Unsupported,
                          fmt::format("store open: the database schema is version {}, newer than "
                                      "this build knows ({}); run a newer deepfake-voice-detector",
                                      version, kSchemaVersion));
    }
    if (version < kSchemaVersion && !allow_older) {
        return base::fail(base::Errc::Unsupported,
                          fmt::format("store open (read-only): the database schema is version {}, "
                                      "expected {}; open it read-write first to migrate it",
                                      version, kSchemaVersion));
    }
    return {};
}

/// True for errors that concern one operation (bad input, a missing row) rather than the
/// connection or the file; `write_batch` skips such an op and keeps the others.
inline bool is_per_op_error(const base::Error& error) {
    return error.code == base::make_error_code(base::Errc::InvalidArgument)
           || error.code == base::make_error_code(base::Errc::NotFound);
}

inline base::Error invalid(std::string_view operation, std::string_view why) {
    return base::fail(base::Errc::InvalidArgument, fmt::format("store {}: {}", operation, why));
}

constexpr std::string_view kCallColumns =
        "id, call_control_id, call_leg_id, call_session_id, direction, from_number, to_number, "
        "state, started_at_ms, answered_at_ms, ended_at_ms, duration_seconds, hangup_cause, "
        "final_score, final_llr, verdict, speech_seconds, flagged, stream_id, stream_auth_token, "
        "telnyx_deepfake_result, telnyx_deepfake_score, telnyx_deepfake_consistency_pct, "
        "telnyx_deepfake_error, stir_shaken_attestation, stir_shaken_verified, last_error, "
        "created_at_ms, updated_at_ms, escalation, escalated_at_ms, indicators_json";

constexpr std::string_view kEventColumns =
        "event_id, event_type, call_control_id, received_at_ms, body_json, processed, "
        "processed_at_ms";

constexpr std::string_view kScoreColumns =
        "call_id, seq, at_ms, speech_seconds, window_score, window_llr, call_score, call_llr, "
        "verdict, indicators_json";

constexpr std::string_view kRecordingColumns =
        "id, call_id, recording_id, wav_url, mp3_url, public_wav_url, public_mp3_url, format, "
        "channels, duration_seconds, saved_at_ms, kept, archive_status, archive_attempts, "
        "archive_next_attempt_at_ms, archive_error, archive_file, archive_bytes, archive_sha256, "
        "archive_stored_at_ms";

constexpr std::string_view kAlertColumns =
        "id, call_id, level, channel, status, attempts, next_attempt_at_ms, last_error, "
        "payload_json, created_at_ms, sent_at_ms";

constexpr std::string_view kAnalysisColumns =
        "id, call_id, trigger_kind, source, risk_level, flagged, escalate, recommended_action, "
        "reason, reasoning, indicators_json, detector_risk_level, analysis_risk_level, "
        "raised_by_analysis, analysis_disagreed, detector_probability, detector_llr, "
        "detector_verdict, speech_seconds, error_code, error, model, prompt_version, attempts, "
        "http_status, elapsed_ms, created_at_ms";

constexpr std::string_view kCommandColumns =
        "id, call_id, command, command_id, request_body_json, http_status, error, at_ms";

inline bool has_nan(const ScorePoint& p) {
    return std::isnan(p.speech_seconds) || std::isnan(p.window_score) || std::isnan(p.window_llr)
           || std::isnan(p.call_score) || std::isnan(p.call_llr);
}

base::Result<Call> read_call(const auto& s) {
    Call call;
    call.id = s.column_text(0);
    call.call_control_id = s.column_text(1);
    call.call_leg_id = s.column_text(2);
    call.call_session_id = s.column_text(3);
    auto direction = parse_call_direction(s.column_text(4));
    auto state = parse_call_state(s.column_text(7));
    if (!direction || !state) {
        return base::fail(base::Errc::Corrupt,
                          fmt::format("store: call {} has an unknown direction or state", call.id));
    }
    call.direction = *direction;
    call.from = s.column_text(5);
    call.to = s.column_text(6);
    call.state = *state;
    call.started_at_ms = s.column_int(8);
    call.answered_at_ms = s.column_optional_int(9);
    call.ended_at_ms = s.column_optional_int(10);
    call.duration_seconds = s.column_optional_real(11);
    call.hangup_cause = s.column_text(12);
    call.final_score = s.column_optional_real(13);
    call.final_llr = s.column_optional_real(14);
    call.verdict = s.column_text(15);
    call.speech_seconds = s.column_real(16);
    call.flagged = s.column_int(17) != 0;
    call.stream_id = s.column_text(18);
    call.stream_auth_token = s.column_text(19);
    call.telnyx_deepfake_result = s.column_text(20);
    call.telnyx_deepfake_score = s.column_optional_real(21);
    call.telnyx_deepfake_consistency_pct = s.column_optional_real(22);
    call.telnyx_deepfake_error = s.column_text(23);
    call.stir_shaken_attestation = s.column_text(24);
    call.stir_shaken_verified = s.column_optional_bool(25);
    call.last_error = s.column_text(26);
    call.created_at_ms = s.column_int(27);
    call.updated_at_ms = s.column_int(28);
    call.escalation = s.column_text(29);
    call.escalated_at_ms = s.column_optional_int(30);
    call.indicators_json = s.column_text(31);
    return call;
}

WebhookEvent read_event(const auto& s) {
    WebhookEvent event;
    event.event_id = s.column_text(0);
    event.event_type = s.column_text(1);
    event.call_control_id = s.column_text(2);
    event.received_at_ms = s.column_int(3);
    event.body_json = s.column_text(4);
    event.processed = s.column_int(5) != 0;
    event.processed_at_ms = s.column_optional_int(6);
    return event;
}

ScorePoint read_score_point(const auto& s) {
    ScorePoint point;
    point.call_id = s.column_text(0);
    point.seq = s.column_int(1);
    point.at_ms = s.column_int(2);
    point.speech_seconds = s.column_real(3);
    point.window_score = s.column_real(4);
    point.window_llr = s.column_real(5);
    point.call_score = s.column_real(6);
    point.call_llr = s.column_real(7);
    point.verdict = s.column_text(8);
    point.indicators_json = s.column_text(9);
    return point;
}

base::Result<Recording> read_recording(const auto& s) {
    Recording recording;
    recording.id = s.column_int(0);
    recording.call_id = s.column_text(1);
    recording.recording_id = s.column_text(2);
    recording.wav_url = s.column_text(3);
    recording.mp3_url = s.column_text(4);
    recording.public_wav_url = s.column_text(5);
    recording.public_mp3_url = s.column_text(6);
    recording.format = s.column_text(7);
    recording.channels = s.column_text(8);
    recording.duration_seconds = s.column_optional_real(9);
    recording.saved_at_ms = s.column_int(10);
    recording.kept = s.column_int(11) != 0;
    auto status = parse_archive_status(s.column_text(12));
    if (!status) {
        return base::fail(
                base::Errc::Corrupt,
                fmt::format("store: recording {} has an unknown archive status", recording.id));
    }
    RecordingArchive& archive = recording.archive;
    archive.status = *status;
    archive.attempts = static_cast<int>(s.column_int(13));
    archive.next_attempt_at_ms = s.column_int(14);
    archive.last_error = s.column_text(15);
    archive.file = s.column_text(16);
    archive.bytes = s.column_optional_int(17);
    archive.sha256 = s.column_text(18);
    archive.stored_at_ms = s.column_optional_int(19);
    return recording;
}

// Binds the eight archive_* columns, in kRecordingColumns order, at a Statement's next
// parameters (the upsert's ?12..?19, the update's ?2..?9).
auto& bind_archive(auto& s, const RecordingArchive& archive) {
    return s.text(to_string(archive.status))
            .integer(archive.attempts)
            .integer(archive.next_attempt_at_ms)
            .text_or_null(archive.last_error)
            .text_or_null(archive.file)
            .optional(archive.bytes)
            .text_or_null(archive.sha256)
            .optional(archive.stored_at_ms);
}

// The parameter lists of the writes, in the order of the INSERT/UPDATE column lists of both
// stores (SQLite's ?1.., PostgreSQL's $1..), for any binder `s` (see the top of this file).

/// upsert_call: the 31 columns of kCallColumns except indicators_json.
auto& bind_call(auto& s, const Call& call) {
    return s.text(call.id)
            .text_or_null(call.call_control_id)
            .text_or_null(call.call_leg_id)
            .text_or_null(call.call_session_id)
            .text(to_string(call.direction))
            .text_or_null(call.from)
            .text_or_null(call.to)
            .text(to_string(call.state))
            .integer(call.started_at_ms)
            .optional(call.answered_at_ms)
            .optional(call.ended_at_ms)
            .optional(call.duration_seconds)
            .text_or_null(call.hangup_cause)
            .optional(call.final_score)
            .optional(call.final_llr)
            .text_or_null(call.verdict)
            .real(call.speech_seconds)
            .boolean(call.flagged)
            .text_or_null(call.stream_id)
            .text_or_null(call.stream_auth_token)
            .text_or_null(call.telnyx_deepfake_result)
            .optional(call.telnyx_deepfake_score)
            .optional(call.telnyx_deepfake_consistency_pct)
            .text_or_null(call.telnyx_deepfake_error)
            .text_or_null(call.stir_shaken_attestation)
            .optional(call.stir_shaken_verified)
            .text_or_null(call.last_error)
            .integer(call.created_at_ms)
            .integer(call.updated_at_ms)
            .text_or_null(call.escalation)
            .optional(call.escalated_at_ms);
}

/// update_call_score: id, final_score, final_llr, verdict, speech_seconds, flagged,
/// updated_at_ms, indicators_json, indicator_state.
auto& bind_score_update(auto& s, const CallScoreUpdate& update) {
    return s.text(update.call_id)
            .optional(update.final_score)
            .optional(update.final_llr)
            .text_or_null(update.verdict)
            .real(update.speech_seconds)
            .boolean(update.flagged)
            .integer(update.updated_at_ms)
            .text_or_null(update.indicators_json)
            .text_or_null(update.indicator_state);
}

/// record_webhook_event: the columns of kEventColumns.
auto& bind_event(auto& s, const WebhookEvent& event) {
    return s.text(event.event_id)
            .text(event.event_type)
            .text_or_null(event.call_control_id)
            .integer(event.received_at_ms)
            .text(event.body_json)
            .boolean(event.processed)
            .optional(event.processed_at_ms);
}

/// A score point: the columns of kScoreColumns.
auto& bind_score_point(auto& s, const ScorePoint& point) {
    return s.text(point.call_id)
            .integer(point.seq)
            .integer(point.at_ms)
            .real(point.speech_seconds)
            .real(point.window_score)
            .real(point.window_llr)
            .real(point.call_score)
            .real(point.call_llr)
            .text_or_null(point.verdict)
            .text_or_null(point.indicators_json);
}

/// add_recording: the columns of kRecordingColumns except id.
auto& bind_recording(auto& s, const Recording& recording) {
    s.text(recording.call_id)
            .text_or_null(recording.recording_id)
            .text_or_null(recording.wav_url)
            .text_or_null(recording.mp3_url)
            .text_or_null(recording.public_wav_url)
            .text_or_null(recording.public_mp3_url)
            .text_or_null(recording.format)
            .text_or_null(recording.channels)
            .optional(recording.duration_seconds)
            .integer(recording.saved_at_ms)
            .boolean(recording.kept);
    return bind_archive(s, recording.archive);
}

/// create_alert_if_absent: the columns of kAlertColumns except id.
auto& bind_alert(auto& s, const Alert& alert) {
    return s.text(alert.call_id)
            .integer(alert.level)
            .text(to_string(alert.channel))
            .text(to_string(alert.status))
            .integer(alert.attempts)
            .integer(alert.next_attempt_at_ms)
            .text_or_null(alert.last_error)
            .text(alert.payload_json)
            .integer(alert.created_at_ms)
            .optional(alert.sent_at_ms);
}

/// add_analysis: the columns of kAnalysisColumns except id.
auto& bind_analysis(auto& s, const AnalysisRecord& r) {
    return s.text(r.call_id)
            .text(to_string(r.trigger))
            .text(r.source)
            .text(r.risk_level)
            .boolean(r.flagged)
            .boolean(r.escalate)
            .text(r.recommended_action)
            .text(r.reason)
            .text(r.reasoning)
            .text(r.indicators_json.empty() ? std::string_view("[]") : r.indicators_json)
            .text(r.detector_risk_level)
            .text_or_null(r.analysis_risk_level)
            .boolean(r.raised_by_analysis)
            .boolean(r.analysis_disagreed)
            .optional(r.detector_probability)
            .optional(r.detector_llr)
            .text_or_null(r.detector_verdict)
            .optional(r.speech_seconds)
            .text_or_null(r.error_code)
            .text_or_null(r.error)
            .text_or_null(r.model)
            .text_or_null(r.prompt_version)
            .integer(r.attempts)
            .optional(r.http_status)
            .integer(r.elapsed_ms)
            .integer(r.created_at_ms);
}

/// append_command_log: the columns of kCommandColumns except id.
auto& bind_command(auto& s, const CommandLog& entry) {
    return s.text(entry.call_id)
            .text(entry.command)
            .text_or_null(entry.command_id)
            .text_or_null(entry.request_body_json)
            .optional(entry.http_status)
            .text_or_null(entry.error)
            .integer(entry.at_ms);
}

/// One `WriteOp` of `write_batch` through a store's single-op bodies (`upsert_call_in_tx`, ...),
/// inside the transaction the store opened. Each store declares it a friend.
template <class Backend>
base::Result<void> apply_write_op(Backend& store, const WriteOp& op) {
    return std::visit(
            [&store](const auto& value) -> base::Result<void> {
                using T = std::decay_t<decltype(value)>;
                if constexpr (std::is_same_v<T, Call>) {
                    return store.upsert_call_in_tx(value);
                } else if constexpr (std::is_same_v<T, CallScoreUpdate>) {
                    return store.update_call_score_in_tx(value);
                } else if constexpr (std::is_same_v<T, EventProcessed>) {
                    return store.mark_event_processed_in_tx(value.event_id, value.processed_at_ms);
                } else if constexpr (std::is_same_v<T, ScorePoint>) {
                    return store.insert_score_point_in_tx(value);
                } else if constexpr (std::is_same_v<T, Recording>) {
                    if (auto id = store.add_recording_in_tx(value); !id) {
                        return id.error();
                    }
                    return {};
                } else {
                    static_assert(std::is_same_v<T, CommandLog>);
                    if (auto id = store.append_command_log_in_tx(value); !id) {
                        return id.error();
                    }
                    return {};
                }
            },
            op);
}

base::Result<Alert> read_alert(const auto& s) {
    Alert alert;
    alert.id = s.column_int(0);
    alert.call_id = s.column_text(1);
    alert.level = static_cast<int>(s.column_int(2));
    auto channel = parse_alert_channel(s.column_text(3));
    auto status = parse_alert_status(s.column_text(4));
    if (!channel || !status) {
        return base::fail(
                base::Errc::Corrupt,
                fmt::format("store: alert {} has an unknown channel or status", alert.id));
    }
    alert.channel = *channel;
    alert.status = *status;
    alert.attempts = static_cast<int>(s.column_int(5));
    alert.next_attempt_at_ms = s.column_int(6);
    alert.last_error = s.column_text(7);
    alert.payload_json = s.column_text(8);
    alert.created_at_ms = s.column_int(9);
    alert.sent_at_ms = s.column_optional_int(10);
    return alert;
}

base::Result<AnalysisRecord> read_analysis(const auto& s) {
    AnalysisRecord r;
    r.id = s.column_int(0);
    r.call_id = s.column_text(1);
    auto trigger = parse_analysis_trigger(s.column_text(2));
    if (!trigger) {
        return base::fail(base::Errc::Corrupt,
                          fmt::format("store: analysis {} has an unknown trigger", r.id));
    }
    r.trigger = *trigger;
    r.source = s.column_text(3);
    r.risk_level = s.column_text(4);
    r.flagged = s.column_int(5) != 0;
    r.escalate = s.column_int(6) != 0;
    r.recommended_action = s.column_text(7);
    r.reason = s.column_text(8);
    r.reasoning = s.column_text(9);
    r.indicators_json = s.column_text(10);
    r.detector_risk_level = s.column_text(11);
    r.analysis_risk_level = s.column_text(12);
    r.raised_by_analysis = s.column_int(13) != 0;
    r.analysis_disagreed = s.column_int(14) != 0;
    r.detector_probability = s.column_optional_real(15);
    r.detector_llr = s.column_optional_real(16);
    r.detector_verdict = s.column_text(17);
    r.speech_seconds = s.column_optional_real(18);
    r.error_code = s.column_text(19);
    r.error = s.column_text(20);
    r.model = s.column_text(21);
    r.prompt_version = s.column_text(22);
    r.attempts = static_cast<int>(s.column_int(23));
    if (auto status = s.column_optional_int(24)) {
        r.http_status = static_cast<int>(*status);
    }
    r.elapsed_ms = s.column_int(25);
    r.created_at_ms = s.column_int(26);
    return r;
}

CommandLog read_command(const auto& s) {
    CommandLog entry;
    entry.id = s.column_int(0);
    entry.call_id = s.column_text(1);
    entry.command = s.column_text(2);
    entry.command_id = s.column_text(3);
    entry.request_body_json = s.column_text(4);
    if (auto status = s.column_optional_int(5)) {
        entry.http_status = static_cast<int>(*status);
    }
    entry.error = s.column_text(6);
    entry.at_ms = s.column_int(7);
    return entry;
}

inline base::Result<void> check_limit(std::int64_t limit, std::string_view operation) {
    if (limit < 1 || limit > std::numeric_limits<std::int32_t>::max()) {
        return invalid(operation, fmt::format("limit {} out of range", limit));
    }
    return {};
}

}  // namespace dvd::store::detail
