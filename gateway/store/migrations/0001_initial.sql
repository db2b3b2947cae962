-- smsgw store, schema 1. Times are integer milliseconds since the Unix epoch (UTC).
-- Lanes are stored by rank (0 otp, 1 high, 2 normal, 3 bulk) so the ready index stays small.

CREATE TABLE messages (
    seq                   INTEGER PRIMARY KEY,          -- insertion order: FIFO inside a lane
    id                    TEXT    NOT NULL UNIQUE,      -- sortable public id
    to_number             TEXT    NOT NULL,
    text                  TEXT    NOT NULL,
    encoding              TEXT    NOT NULL,
    segments              INTEGER NOT NULL,
    lane                  INTEGER NOT NULL,
    sender                TEXT    NOT NULL DEFAULT '',  -- fairness key (API key / campaign)
    category              TEXT,
    pool                  TEXT    NOT NULL DEFAULT '',  -- routing decision ('' = any SIM)
    carrier               TEXT,
    pin_modem             TEXT,                         -- sticky SIM (or the SIM of a partial send)
    excluded_modems       TEXT,                         -- JSON list of modems not to use again
    status                TEXT    NOT NULL,
    uncertain             INTEGER NOT NULL DEFAULT 0,
    attempts              INTEGER NOT NULL DEFAULT 0,
    modem_id              TEXT,
    concat_ref            INTEGER,
    send_at               INTEGER,
    expires_at            INTEGER,
    held_until            INTEGER,                      -- retry backoff: out of the ready index
    error_code            TEXT,
    error_class           TEXT,
    error_detail          TEXT,
    status_callback       TEXT,
    metadata              TEXT,
    api_key               TEXT    NOT NULL DEFAULT '',
    idempotency_key       TEXT,
    request_hash          TEXT,
    request_status_report INTEGER NOT NULL DEFAULT 1,
    created_at            INTEGER NOT NULL,
    updated_at            INTEGER NOT NULL
);

-- The claim walks this index only: lane, then pool, then sender (round robin), then FIFO.
CREATE INDEX messages_ready ON messages (lane, pool, sender, seq)
    WHERE status = 'queued' AND held_until IS NULL;
CREATE INDEX messages_scheduled ON messages (send_at) WHERE status = 'scheduled';
CREATE INDEX messages_held ON messages (held_until)
    WHERE status = 'queued' AND held_until IS NOT NULL;
CREATE INDEX messages_expiry ON messages (expires_at)
    WHERE expires_at IS NOT NULL AND status IN ('queued', 'scheduled');
CREATE INDEX messages_status ON messages (status, seq);
CREATE INDEX messages_to ON messages (to_number, seq);
CREATE UNIQUE INDEX messages_idempotency ON messages (api_key, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

CREATE TABLE parts (
    message_seq   INTEGER NOT NULL,
    seq           INTEGER NOT NULL,                     -- 1-based part number
    status        TEXT    NOT NULL,
    modem_id      TEXT,
    mr            INTEGER,
    pdu           TEXT,
    tpdu_length   INTEGER,
    sent_at       INTEGER,
    report_status INTEGER,
    report_at     INTEGER,
    PRIMARY KEY (message_seq, seq)
) WITHOUT ROWID;

-- Status-report matching: (modem, TP-MR) among parts still waiting for a final report.
CREATE INDEX parts_awaiting_report ON parts (modem_id, mr, sent_at) WHERE status = 'sent';

CREATE TABLE transitions (
    id          INTEGER PRIMARY KEY,
    message_seq INTEGER NOT NULL,
    from_status TEXT,
    to_status   TEXT    NOT NULL,
    at          INTEGER NOT NULL,
    modem_id    TEXT,
    error_code  TEXT,
    error_class TEXT,
    detail      TEXT
);
CREATE INDEX transitions_message ON transitions (message_seq, id);

-- Concatenation reference per destination: parallel long messages to one number never share one.
CREATE TABLE concat_refs (
    to_number TEXT    PRIMARY KEY,
    next_ref  INTEGER NOT NULL
) WITHOUT ROWID;

-- Status reports that arrived before their part was recorded as sent (fast networks).
CREATE TABLE orphan_reports (
    id          INTEGER PRIMARY KEY,
    modem_id    TEXT    NOT NULL,
    mr          INTEGER NOT NULL,
    recipient   TEXT    NOT NULL,
    status      INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    discharge   INTEGER
);
CREATE INDEX orphan_reports_key ON orphan_reports (modem_id, mr);

CREATE TABLE inbound_messages (
    seq            INTEGER PRIMARY KEY,
    id             TEXT    NOT NULL UNIQUE,
    modem_id       TEXT    NOT NULL,
    sender         TEXT    NOT NULL,
    text           TEXT    NOT NULL,
    encoding       TEXT    NOT NULL,
    smsc_timestamp INTEGER NOT NULL,
    received_at    INTEGER NOT NULL,
    parts_expected INTEGER NOT NULL,
    parts_received INTEGER NOT NULL,
    complete       INTEGER NOT NULL,
    missing        TEXT
);
CREATE INDEX inbound_messages_sender ON inbound_messages (sender, seq);

CREATE TABLE inbound_parts (
    id             INTEGER PRIMARY KEY,
    dedupe_key     TEXT    NOT NULL UNIQUE,
    modem_id       TEXT    NOT NULL,
    sender         TEXT    NOT NULL,
    concat_ref     INTEGER,
    concat_total   INTEGER,
    concat_seq     INTEGER,
    text           TEXT    NOT NULL,
    encoding       TEXT    NOT NULL,
    pdu            TEXT,
    smsc_timestamp INTEGER NOT NULL,
    received_at    INTEGER NOT NULL,
    message_seq    INTEGER                              -- NULL while waiting for reassembly
);
CREATE INDEX inbound_parts_pending ON inbound_parts (modem_id, sender, concat_ref, concat_total)
    WHERE message_seq IS NULL;
CREATE INDEX inbound_parts_age ON inbound_parts (received_at);

-- Sticky SIM: who last talked to this number, and when.
CREATE TABLE conversations (
    number   TEXT    PRIMARY KEY,
    modem_id TEXT    NOT NULL,
    last_at  INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE reachability (
    number     TEXT    PRIMARY KEY,
    state      TEXT    NOT NULL,
    reason     TEXT    NOT NULL,
    updated_at INTEGER NOT NULL,
    expires_at INTEGER
) WITHOUT ROWID;

-- Per-SIM counters: one row per modem and period ('d:2024-05-01' or 'm:2024-05').
CREATE TABLE sim_usage (
    modem_id TEXT    NOT NULL,
    period   TEXT    NOT NULL,
    count    INTEGER NOT NULL,
    PRIMARY KEY (modem_id, period)
) WITHOUT ROWID;

CREATE TABLE sim_recipients (
    modem_id TEXT NOT NULL,
    month    TEXT NOT NULL,
    number   TEXT NOT NULL,
    PRIMARY KEY (modem_id, month, number)
) WITHOUT ROWID;
