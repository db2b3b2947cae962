-- smsgw store, schema 4: customer-service messaging (gateway/messaging).
-- Times are integer milliseconds since the Unix epoch (UTC). Numbers are E.164.

-- Contacts with consent per category: NULL = not recorded (transactional is implied, marketing
-- is refused); opted_out = the number texted STOP (blocks every category on every SIM).
CREATE TABLE msg_contacts (
    number        TEXT    PRIMARY KEY,
    opted_out     INTEGER NOT NULL DEFAULT 0,
    transactional TEXT,                               -- granted | revoked | NULL
    marketing     TEXT,                               -- granted | revoked | NULL
    language      TEXT,
    time_zone     TEXT,
    fields        TEXT,                               -- JSON object: template fields
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
) WITHOUT ROWID;

-- Every consent change, kept: what, which category (NULL: all), source and when.
CREATE TABLE msg_consent_events (
    id       INTEGER PRIMARY KEY,
    number   TEXT    NOT NULL,
    category TEXT,
    action   TEXT    NOT NULL,                        -- opt_out | opt_in | granted | revoked
    source   TEXT    NOT NULL,                        -- keyword | api | import
    detail   TEXT,
    at       INTEGER NOT NULL
);
CREATE INDEX msg_consent_events_number ON msg_consent_events (number, id);
CREATE INDEX msg_consent_events_at ON msg_consent_events (at);

-- Frequency caps: one row per accepted message of a capped category.
CREATE TABLE msg_sends (
    id       INTEGER PRIMARY KEY,
    number   TEXT    NOT NULL,
    category TEXT    NOT NULL,
    at       INTEGER NOT NULL,
    dedupe   TEXT    UNIQUE                           -- api key + idempotency key: no recount
);
CREATE INDEX msg_sends_key ON msg_sends (number, category, at);

CREATE TABLE msg_templates (
    name        TEXT    PRIMARY KEY,
    text        TEXT    NOT NULL,
    category    TEXT    NOT NULL,
    description TEXT,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE msg_campaigns (
    id            TEXT    PRIMARY KEY,
    name          TEXT    NOT NULL,
    template      TEXT    NOT NULL,
    category      TEXT    NOT NULL,
    status        TEXT    NOT NULL,                   -- running | paused | canceled | completed
    rate          REAL,                               -- messages per second; NULL: no own rate
    window_start  TEXT,                               -- HH:MM recipient local time
    window_end    TEXT,
    start_at      INTEGER,
    total         INTEGER NOT NULL,
    accepted      INTEGER NOT NULL,
    refused       INTEGER NOT NULL,
    api_key       TEXT    NOT NULL DEFAULT '',
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
) WITHOUT ROWID;

-- One row per recipient row of the upload: its message, or why it was refused.
CREATE TABLE msg_campaign_rows (
    campaign_id TEXT    NOT NULL,
    row         INTEGER NOT NULL,                     -- 1-based data row of the upload
    number      TEXT    NOT NULL,
    state       TEXT    NOT NULL,                     -- queued | refused | paused | canceled
    message_id  TEXT,
    problem     TEXT,                                 -- invalid_number | opted_out | missing_field ...
    detail      TEXT,
    PRIMARY KEY (campaign_id, row)
) WITHOUT ROWID;
CREATE INDEX msg_campaign_rows_message ON msg_campaign_rows (message_id)
    WHERE message_id IS NOT NULL;

-- Conversation threads per (customer number, SIM); the messages are the store's own.
CREATE TABLE msg_threads (
    id               TEXT    PRIMARY KEY,
    number           TEXT    NOT NULL,
    modem_id         TEXT    NOT NULL,
    status           TEXT    NOT NULL,                -- open | closed
    assignee         TEXT,
    needs_agent      INTEGER NOT NULL DEFAULT 0,
    flag_reason      TEXT,
    opened_at        INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    last_inbound_at  INTEGER,
    last_outbound_at INTEGER,
    UNIQUE (number, modem_id)
) WITHOUT ROWID;
CREATE INDEX msg_threads_status ON msg_threads (status, updated_at);

CREATE TABLE msg_rules (
    id         TEXT    PRIMARY KEY,
    name       TEXT    NOT NULL,
    priority   INTEGER NOT NULL,
    spec       TEXT    NOT NULL,                      -- JSON: match + actions
    enabled    INTEGER NOT NULL DEFAULT 1,
    api_key    TEXT    NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) WITHOUT ROWID;

-- What the messaging layer made of each received message (and which message it answered).
CREATE TABLE msg_inbound_log (
    inbound_seq INTEGER PRIMARY KEY,
    inbound_id  TEXT    NOT NULL,
    number      TEXT    NOT NULL,
    modem_id    TEXT    NOT NULL,
    thread_id   TEXT,
    kind        TEXT    NOT NULL,                     -- stop | start | help | rule | handoff | text
    rule        TEXT,
    in_reply_to TEXT,                                 -- outbound message id
    campaign_id TEXT,
    template    TEXT,
    at          INTEGER NOT NULL
);
CREATE INDEX msg_inbound_log_reply ON msg_inbound_log (in_reply_to) WHERE in_reply_to IS NOT NULL;
CREATE INDEX msg_inbound_log_at ON msg_inbound_log (at);

-- Auto-replies owed (confirmations, rule replies): submitted with an idempotency key derived
-- from `dedupe`, so a crash between commit and submit neither loses nor doubles one.
CREATE TABLE msg_replies (
    id         INTEGER PRIMARY KEY,
    dedupe     TEXT    NOT NULL UNIQUE,
    number     TEXT    NOT NULL,
    modem_id   TEXT,                                  -- the SIM to answer through
    text       TEXT    NOT NULL,
    kind       TEXT    NOT NULL,
    category   TEXT    NOT NULL,
    lane       TEXT    NOT NULL,
    metadata   TEXT,
    state      TEXT    NOT NULL,                      -- pending | done | refused
    message_id TEXT,
    detail     TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX msg_replies_pending ON msg_replies (id) WHERE state = 'pending';

-- Events: triggered by apps (POST /api/v1/events) and raised by rules, keywords and surveys.
CREATE TABLE msg_events (
    id         TEXT    PRIMARY KEY,
    type       TEXT    NOT NULL,
    source     TEXT    NOT NULL,                      -- api | rule | keyword | survey | handoff
    number     TEXT,
    data       TEXT    NOT NULL,                      -- JSON
    inbound_id TEXT,
    message_id TEXT,
    at         INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX msg_events_type ON msg_events (type, at);
CREATE INDEX msg_events_at ON msg_events (at);

CREATE TABLE msg_event_bindings (
    type       TEXT    PRIMARY KEY,
    template   TEXT    NOT NULL,
    category   TEXT    NOT NULL,
    lane       TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE msg_survey_answers (
    inbound_id  TEXT    PRIMARY KEY,
    message_id  TEXT,
    number      TEXT    NOT NULL,
    score       INTEGER NOT NULL,
    campaign_id TEXT,
    template    TEXT,
    rule        TEXT,
    at          INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX msg_survey_message ON msg_survey_answers (message_id);

-- One-time codes: only an HMAC of the code is kept.
CREATE TABLE msg_otp (
    id           TEXT    PRIMARY KEY,
    number       TEXT    NOT NULL,
    code_hash    TEXT    NOT NULL,
    state        TEXT    NOT NULL,                    -- pending | verified | locked | expired
    attempts     INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    message_id   TEXT,
    redacted     INTEGER NOT NULL DEFAULT 0,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    verified_at  INTEGER
) WITHOUT ROWID;
CREATE INDEX msg_otp_number ON msg_otp (number, created_at);
CREATE INDEX msg_otp_unredacted ON msg_otp (created_at) WHERE redacted = 0;

-- How far the messaging layer has read the inbound feed (inbound_messages.seq).
CREATE TABLE msg_cursors (
    feed     TEXT    PRIMARY KEY,
    position INTEGER NOT NULL
) WITHOUT ROWID;
-- An upgraded database starts at its present end: old messages are not replayed as keywords.
INSERT INTO msg_cursors (feed, position)
    VALUES ('inbound', (SELECT coalesce(max(seq), 0) FROM inbound_messages));
