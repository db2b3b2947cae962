-- smsgw store, schema 2: what the HTTP API keeps (API keys, idempotent responses, webhooks).
-- Times are integer milliseconds since the Unix epoch (UTC).

-- API keys: only a SHA-256 of each key is kept. `salt` lets the gateway re-derive a key from
-- its keyring file (never from this database alone) to sign Twilio-style callbacks.
CREATE TABLE api_keys (
    id         INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL,                  -- AccountSid / Kannel username
    hash       TEXT    NOT NULL UNIQUE,           -- sha256 hex of the whole key
    salt       TEXT    NOT NULL,                  -- hex; input of the keyring derivation
    hint       TEXT    NOT NULL,                  -- prefix and last characters, for listings
    scopes     TEXT    NOT NULL,                  -- comma separated: send, read, admin
    rate_limit REAL,                              -- requests/s; NULL: [api] rate_limit_per_second
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);
CREATE UNIQUE INDEX api_keys_active_name ON api_keys (name) WHERE revoked_at IS NULL;

-- Responses replayed for a repeated Idempotency-Key (kept 24 hours).
CREATE TABLE api_idempotency (
    api_key      TEXT    NOT NULL,
    route        TEXT    NOT NULL,
    key          TEXT    NOT NULL,
    request_hash TEXT    NOT NULL,
    status       INTEGER NOT NULL,
    content_type TEXT    NOT NULL,
    body         BLOB    NOT NULL,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (api_key, route, key)
) WITHOUT ROWID;
CREATE INDEX api_idempotency_age ON api_idempotency (created_at);

CREATE TABLE webhook_endpoints (
    id              TEXT    PRIMARY KEY,
    url             TEXT    NOT NULL,
    events          TEXT    NOT NULL,             -- comma separated event types
    format          TEXT    NOT NULL,             -- standard | twilio
    secret          TEXT    NOT NULL,             -- whsec_...: needed to sign, shown once
    api_key         TEXT    NOT NULL,             -- the key that created it (twilio signing)
    description     TEXT,
    enabled         INTEGER NOT NULL DEFAULT 1,
    disabled_reason TEXT,
    created_at      INTEGER NOT NULL,
    deleted_at      INTEGER
) WITHOUT ROWID;

-- The durable outbox: one row per (event, destination); retried with backoff until a 2xx.
CREATE TABLE webhook_outbox (
    id              INTEGER PRIMARY KEY,
    dedupe          TEXT    NOT NULL UNIQUE,      -- event id + destination: fan-out is idempotent
    event_id        TEXT    NOT NULL,             -- webhook-id header: stable across retries
    event_type      TEXT    NOT NULL,
    endpoint_id     TEXT,                         -- NULL: a per-message status callback
    target          TEXT    NOT NULL,
    format          TEXT    NOT NULL,             -- standard | twilio | kannel
    payload         TEXT    NOT NULL,             -- JSON
    signer          TEXT,                         -- API key name whose key signs (callbacks)
    state           TEXT    NOT NULL,             -- pending | delivered | failed | canceled
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_status     INTEGER,
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX webhook_outbox_due ON webhook_outbox (next_attempt_at) WHERE state = 'pending';
CREATE INDEX webhook_outbox_endpoint ON webhook_outbox (endpoint_id, id);
CREATE INDEX webhook_outbox_age ON webhook_outbox (updated_at) WHERE state != 'pending';

-- How far the fan-out has read each feed (transitions.id, inbound_messages.seq).
CREATE TABLE webhook_cursors (
    feed     TEXT    PRIMARY KEY,
    position INTEGER NOT NULL
) WITHOUT ROWID;
-- An upgraded database starts at its present end: history from before is not replayed.
INSERT INTO webhook_cursors (feed, position)
    VALUES ('transitions', (SELECT coalesce(max(id), 0) FROM transitions)),
           ('inbound', (SELECT coalesce(max(seq), 0) FROM inbound_messages));
