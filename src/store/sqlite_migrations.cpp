#include "store/sqlite_migrations.hpp"

#include <array>

namespace dvd::store {
namespace {

// Version 1: calls, webhook events, score timeline, recordings.
constexpr std::string_view kV1 = R"sql(
CREATE TABLE calls (
    id                TEXT PRIMARY KEY NOT NULL,
    call_control_id   TEXT,
    call_leg_id       TEXT,
    call_session_id   TEXT,
    direction         TEXT NOT NULL CHECK (direction IN ('inbound', 'outbound')),
    from_number       TEXT,
    to_number         TEXT,
    state             TEXT NOT NULL
                      CHECK (state IN ('initiated', 'answered', 'streaming', 'ended', 'failed')),
    started_at_ms     INTEGER NOT NULL,
    answered_at_ms    INTEGER,
    ended_at_ms       INTEGER,
    duration_seconds  REAL,
    hangup_cause      TEXT,
    final_score       REAL,
    final_llr         REAL,
    verdict           TEXT,
    speech_seconds    REAL NOT NULL DEFAULT 0,
    flagged           INTEGER NOT NULL DEFAULT 0 CHECK (flagged IN (0, 1)),
    stream_id         TEXT,
    stream_auth_token TEXT,
    stir_shaken_attestation TEXT,
    stir_shaken_verified    INTEGER CHECK (stir_shaken_verified IN (0, 1)),
    last_error        TEXT,
    created_at_ms     INTEGER NOT NULL,
    updated_at_ms     INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX calls_call_control_id ON calls (call_control_id)
    WHERE call_control_id IS NOT NULL;
-- The listing orders (time or score, then id) are served by an index each, so a page stops after
-- `limit` rows; flagged calls (the dashboard's usual filter) and active calls (the restart scan)
-- have partial indexes of their own.
CREATE INDEX calls_started_at ON calls (started_at_ms, id);
CREATE INDEX calls_final_score ON calls (final_score, id);
CREATE INDEX calls_flagged_started_at ON calls (started_at_ms, id) WHERE flagged = 1;
CREATE INDEX calls_flagged_final_score ON calls (final_score, id) WHERE flagged = 1;
CREATE INDEX calls_active ON calls (started_at_ms, id)
    WHERE state IN ('initiated', 'answered', 'streaming');

CREATE TABLE webhook_events (
    event_id        TEXT PRIMARY KEY NOT NULL,
    event_type      TEXT NOT NULL,
    call_control_id TEXT,
    received_at_ms  INTEGER NOT NULL,
    body_json       TEXT NOT NULL,
    processed       INTEGER NOT NULL DEFAULT 0 CHECK (processed IN (0, 1)),
    processed_at_ms INTEGER
) STRICT;
CREATE INDEX webhook_events_call_control_id ON webhook_events (call_control_id);
CREATE INDEX webhook_events_unprocessed ON webhook_events (received_at_ms) WHERE processed = 0;

CREATE TABLE score_points (
    call_id        TEXT NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
    seq            INTEGER NOT NULL,
    at_ms          INTEGER NOT NULL,
    speech_seconds REAL NOT NULL,
    window_score   REAL NOT NULL,
    window_llr     REAL NOT NULL,
    call_score     REAL NOT NULL,
    call_llr       REAL NOT NULL,
    verdict        TEXT,
    PRIMARY KEY (call_id, seq)
) STRICT, WITHOUT ROWID;

CREATE TABLE recordings (
    id               INTEGER PRIMARY KEY,
    call_id          TEXT NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
    recording_id     TEXT,
    wav_url          TEXT,
    mp3_url          TEXT,
    public_wav_url   TEXT,
    public_mp3_url   TEXT,
    format           TEXT,
    channels         TEXT,
    duration_seconds REAL,
    saved_at_ms      INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX recordings_call_recording ON recordings (call_id, recording_id)
    WHERE recording_id IS NOT NULL;
CREATE INDEX recordings_call ON recordings (call_id);
)sql";

// Version 2: alerts, the Call Control command log, Telnyx's own deepfake verdict on calls.
constexpr std::string_view kV2 = R"sql(
ALTER TABLE calls ADD COLUMN telnyx_deepfake_result TEXT;
ALTER TABLE calls ADD COLUMN telnyx_deepfake_score REAL;
ALTER TABLE calls ADD COLUMN telnyx_deepfake_consistency_pct REAL;
ALTER TABLE calls ADD COLUMN telnyx_deepfake_error TEXT;

CREATE TABLE alerts (
    id                 INTEGER PRIMARY KEY,
    call_id            TEXT NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
    level              INTEGER NOT NULL,
    channel            TEXT NOT NULL CHECK (channel IN ('slack', 'json')),
    status             TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
    attempts           INTEGER NOT NULL DEFAULT 0,
    next_attempt_at_ms INTEGER NOT NULL,
    last_error         TEXT,
    payload_json       TEXT NOT NULL,
    created_at_ms      INTEGER NOT NULL,
    sent_at_ms         INTEGER,
    UNIQUE (call_id, level, channel)
) STRICT;
CREATE INDEX alerts_due ON alerts (next_attempt_at_ms) WHERE status = 'pending';

-- No foreign key: a command (dial) may be logged before its call row is written.
CREATE TABLE command_log (
    id                INTEGER PRIMARY KEY,
    call_id           TEXT NOT NULL,
    command           TEXT NOT NULL,
    command_id        TEXT,
    request_body_json TEXT,
    http_status       INTEGER,
    error             TEXT,
    at_ms             INTEGER NOT NULL
) STRICT;
CREATE INDEX command_log_call ON command_log (call_id, id);
)sql";

// Version 3 (risk analysis, issue 4): acoustic indicators on calls and score points, the
// escalation applied to a flagged call, kept recordings, and the risk decisions of each call.
constexpr std::string_view kV3 = R"sql(
ALTER TABLE calls ADD COLUMN indicators_json TEXT;
ALTER TABLE calls ADD COLUMN escalation TEXT
    CHECK (escalation IN ('warn', 'transfer', 'hangup'));
ALTER TABLE calls ADD COLUMN escalated_at_ms INTEGER;
ALTER TABLE score_points ADD COLUMN indicators_json TEXT;
ALTER TABLE recordings ADD COLUMN kept INTEGER NOT NULL DEFAULT 0 CHECK (kept IN (0, 1));

CREATE TABLE analyses (
    id                   INTEGER PRIMARY KEY,
    call_id              TEXT NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
    trigger_kind         TEXT NOT NULL CHECK (trigger_kind IN ('threshold', 'hangup', 'api')),
    source               TEXT NOT NULL,
    risk_level           TEXT NOT NULL,
    flagged              INTEGER NOT NULL CHECK (flagged IN (0, 1)),
    escalate             INTEGER NOT NULL CHECK (escalate IN (0, 1)),
    recommended_action   TEXT NOT NULL,
    reason               TEXT NOT NULL,
    reasoning            TEXT NOT NULL,
    indicators_json      TEXT NOT NULL,
    detector_risk_level  TEXT NOT NULL,
    analysis_risk_level  TEXT,
    raised_by_analysis   INTEGER NOT NULL CHECK (raised_by_analysis IN (0, 1)),
    analysis_disagreed   INTEGER NOT NULL CHECK (analysis_disagreed IN (0, 1)),
    detector_probability REAL,
    detector_llr         REAL,
    detector_verdict     TEXT,
    speech_seconds       REAL,
    error_code           TEXT,
    error                TEXT,
    model                TEXT,
    prompt_version       TEXT,
    attempts             INTEGER NOT NULL DEFAULT 0,
    http_status          INTEGER,
    elapsed_ms           INTEGER NOT NULL DEFAULT 0,
    created_at_ms        INTEGER NOT NULL
) STRICT;
CREATE INDEX analyses_call ON analyses (call_id, id);
)sql";

// Version 4: the service's own copy of each recording (downloaded before Telnyx's URLs expire).
// Rows of earlier versions start pending; the worker marks those whose URLs expired as failed.
constexpr std::string_view kV4 = R"sql(
ALTER TABLE recordings ADD COLUMN archive_status TEXT NOT NULL DEFAULT 'pending'
    CHECK (archive_status IN ('pending', 'stored', 'failed', 'deleted'));
ALTER TABLE recordings ADD COLUMN archive_attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE recordings ADD COLUMN archive_next_attempt_at_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE recordings ADD COLUMN archive_error TEXT;
ALTER TABLE recordings ADD COLUMN archive_file TEXT;
ALTER TABLE recordings ADD COLUMN archive_bytes INTEGER;
ALTER TABLE recordings ADD COLUMN archive_sha256 TEXT;
ALTER TABLE recordings ADD COLUMN archive_stored_at_ms INTEGER;
CREATE INDEX recordings_archive_due ON recordings (archive_next_attempt_at_ms)
    WHERE archive_status = 'pending';
)sql";

// Version 5: the acoustic indicators' call-level sums while a call lasts (cleared when it ends),
// so that a service restart in the middle of a call keeps the figures of the audio before it.
constexpr std::string_view kV5 = R"sql(
ALTER TABLE calls ADD COLUMN indicator_state TEXT;
)sql";

constexpr std::array<std::string_view, 5> kMigrations{kV1, kV2, kV3, kV4, kV5};
static_assert(kMigrations.size() == static_cast<std::size_t>(kSchemaVersion),
              "kSchemaVersion must equal the number of migrations");

}  // namespace

std::span<const std::string_view> sqlite_migrations() {
    return kMigrations;
}

}  // namespace dvd::store
