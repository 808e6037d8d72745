#include "store/postgres_migrations.hpp"

#include <array>

namespace dvd::store {
namespace {

// Version 4, the SQLite schema's versions 1-4 in PostgreSQL's types: TEXT, BIGINT for integers
// and *_at_ms, DOUBLE PRECISION for REAL, BOOLEAN for the 0/1 flags, identity columns for the
// INTEGER PRIMARY KEY ids. Keys that pages are ordered by use the "C" collation, so that ids sort
// by byte as in SQLite whatever the database's locale.
constexpr std::string_view kV4 = R"sql(
CREATE TABLE calls (
    id                TEXT COLLATE "C" PRIMARY KEY,
    call_control_id   TEXT,
    call_leg_id       TEXT,
    call_session_id   TEXT,
    direction         TEXT NOT NULL CHECK (direction IN ('inbound', 'outbound')),
    from_number       TEXT,
    to_number         TEXT,
    state             TEXT NOT NULL
                      CHECK (state IN ('initiated', 'answered', 'streaming', 'ended', 'failed')),
    started_at_ms     BIGINT NOT NULL,
    answered_at_ms    BIGINT,
    ended_at_ms       BIGINT,
    duration_seconds  DOUBLE PRECISION,
    hangup_cause      TEXT,
    final_score       DOUBLE PRECISION,
    final_llr         DOUBLE PRECISION,
    verdict           TEXT,
    speech_seconds    DOUBLE PRECISION NOT NULL DEFAULT 0,
    flagged           BOOLEAN NOT NULL DEFAULT FALSE,
    stream_id         TEXT,
    stream_auth_token TEXT,
    stir_shaken_attestation TEXT,
    stir_shaken_verified    BOOLEAN,
    last_error        TEXT,
    created_at_ms     BIGINT NOT NULL,
    updated_at_ms     BIGINT NOT NULL,
    telnyx_deepfake_result          TEXT,
    telnyx_deepfake_score           DOUBLE PRECISION,
    telnyx_deepfake_consistency_pct DOUBLE PRECISION,
    telnyx_deepfake_error           TEXT,
    indicators_json   TEXT,
    escalation        TEXT CHECK (escalation IN ('warn', 'transfer', 'hangup')),
    escalated_at_ms   BIGINT
);
CREATE UNIQUE INDEX calls_call_control_id ON calls (call_control_id)
    WHERE call_control_id IS NOT NULL;
CREATE INDEX calls_started_at ON calls (started_at_ms, id);
CREATE INDEX calls_final_score ON calls (final_score, id);
CREATE INDEX calls_flagged_started_at ON calls (started_at_ms, id) WHERE flagged;
CREATE INDEX calls_flagged_final_score ON calls (final_score, id) WHERE flagged;
CREATE INDEX calls_active ON calls (started_at_ms, id)
    WHERE state IN ('initiated', 'answered', 'streaming');

CREATE TABLE webhook_events (
    event_id        TEXT COLLATE "C" PRIMARY KEY,
    event_type      TEXT NOT NULL,
    call_control_id TEXT,
    received_at_ms  BIGINT NOT NULL,
    body_json       TEXT NOT NULL,
    processed       BOOLEAN NOT NULL DEFAULT FALSE,
    processed_at_ms BIGINT
);
CREATE INDEX webhook_events_call_control_id ON webhook_events (call_control_id);
CREATE INDEX webhook_events_unprocessed ON webhook_events (received_at_ms, event_id)
    WHERE NOT processed;

CREATE TABLE score_points (
    call_id         TEXT COLLATE "C" NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
    seq             BIGINT NOT NULL,
    at_ms           BIGINT NOT NULL,
    speech_seconds  DOUBLE PRECISION NOT NULL,
    window_score    DOUBLE PRECISION NOT NULL,
    window_llr      DOUBLE PRECISION NOT NULL,
    call_score      DOUBLE PRECISION NOT NULL,
    call_llr        DOUBLE PRECISION NOT NULL,
    verdict         TEXT,
    indicators_json TEXT,
    PRIMARY KEY (call_id, seq)
);

CREATE TABLE recordings (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    call_id          TEXT COLLATE "C" NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
    recording_id     TEXT,
    wav_url          TEXT,
    mp3_url          TEXT,
    public_wav_url   TEXT,
    public_mp3_url   TEXT,
    format           TEXT,
    channels         TEXT,
    duration_seconds DOUBLE PRECISION,
    saved_at_ms      BIGINT NOT NULL,
    kept             BOOLEAN NOT NULL DEFAULT FALSE,
    archive_status   TEXT NOT NULL DEFAULT 'pending'
                     CHECK (archive_status IN ('pending', 'stored', 'failed', 'deleted')),
    archive_attempts INTEGER NOT NULL DEFAULT 0,
    archive_next_attempt_at_ms BIGINT NOT NULL DEFAULT 0,
    archive_error    TEXT,
    archive_file     TEXT,
    archive_bytes    BIGINT,
    archive_sha256   TEXT,
    archive_stored_at_ms BIGINT
);
CREATE UNIQUE INDEX recordings_call_recording ON recordings (call_id, recording_id)
    WHERE recording_id IS NOT NULL;
CREATE INDEX recordings_call ON recordings (call_id);
CREATE INDEX recordings_archive_due ON recordings (archive_next_attempt_at_ms)
    WHERE archive_status = 'pending';

CREATE TABLE alerts (
    id                 BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    call_id            TEXT COLLATE "C" NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
    level              INTEGER NOT NULL,
    channel            TEXT COLLATE "C" NOT NULL CHECK (channel IN ('slack', 'json')),
    status             TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
    attempts           INTEGER NOT NULL DEFAULT 0,
    next_attempt_at_ms BIGINT NOT NULL,
    last_error         TEXT,
    payload_json       TEXT NOT NULL,
    created_at_ms      BIGINT NOT NULL,
    sent_at_ms         BIGINT,
    UNIQUE (call_id, level, channel)
);
CREATE INDEX alerts_due ON alerts (next_attempt_at_ms) WHERE status = 'pending';

-- No foreign key: a command (dial) may be logged before its call row is written.
CREATE TABLE command_log (
    id                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    call_id           TEXT COLLATE "C" NOT NULL,
    command           TEXT NOT NULL,
    command_id        TEXT,
    request_body_json TEXT,
    http_status       INTEGER,
    error             TEXT,
    at_ms             BIGINT NOT NULL
);
CREATE INDEX command_log_call ON command_log (call_id, id);

CREATE TABLE analyses (
    id                   BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    call_id              TEXT COLLATE "C" NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
    trigger_kind         TEXT NOT NULL CHECK (trigger_kind IN ('threshold', 'hangup', 'api')),
    source               TEXT NOT NULL,
    risk_level           TEXT NOT NULL,
    flagged              BOOLEAN NOT NULL,
    escalate             BOOLEAN NOT NULL,
    recommended_action   TEXT NOT NULL,
    reason               TEXT NOT NULL,
    reasoning            TEXT NOT NULL,
    indicators_json      TEXT NOT NULL,
    detector_risk_level  TEXT NOT NULL,
    analysis_risk_level  TEXT,
    raised_by_analysis   BOOLEAN NOT NULL,
    analysis_disagreed   BOOLEAN NOT NULL,
    detector_probability DOUBLE PRECISION,
    detector_llr         DOUBLE PRECISION,
    detector_verdict     TEXT,
    speech_seconds       DOUBLE PRECISION,
    error_code           TEXT,
    error                TEXT,
    model                TEXT,
    prompt_version       TEXT,
    attempts             INTEGER NOT NULL DEFAULT 0,
    http_status          INTEGER,
    elapsed_ms           BIGINT NOT NULL DEFAULT 0,
    created_at_ms        BIGINT NOT NULL
);
CREATE INDEX analyses_call ON analyses (call_id, id);
)sql";

// Version 5 (as SQLite's): the acoustic indicators' call-level sums while a call lasts.
constexpr std::string_view kV5 = R"sql(
ALTER TABLE calls ADD COLUMN indicator_state TEXT;
)sql";

constexpr std::array<PostgresMigration, 2> kMigrations{{{4, kV4}, {5, kV5}}};
static_assert(kMigrations.back().version == kSchemaVersion,
              "the last PostgreSQL migration must reach kSchemaVersion");

}  // namespace

std::span<const PostgresMigration> postgres_migrations() {
    return kMigrations;
}

}  // namespace dvd::store
