-- Modem health (issue 7). Times are integer milliseconds since the Unix epoch (UTC).

-- One row per modem about once a minute (and on each state change), pruned by age.
CREATE TABLE health_samples (
    id            INTEGER PRIMARY KEY,
    modem_id      TEXT    NOT NULL,
    at            INTEGER NOT NULL,
    state         TEXT    NOT NULL,
    sim_state     TEXT,
    registration  INTEGER,
    operator      TEXT,
    signal_dbm    INTEGER,
    storage_used  INTEGER,
    storage_total INTEGER
);
CREATE INDEX health_samples_modem ON health_samples (modem_id, at);
CREATE INDEX health_samples_age ON health_samples (at);

-- Alerts raised (and when they recovered); open ones survive a restart, so they are neither
-- raised twice nor left without their recovery.
CREATE TABLE health_alerts (
    id         INTEGER PRIMARY KEY,
    modem_id   TEXT    NOT NULL,
    kind       TEXT    NOT NULL,
    raised_at  INTEGER NOT NULL,
    cleared_at INTEGER,
    value      TEXT,
    threshold  TEXT,
    detail     TEXT    NOT NULL
);
CREATE UNIQUE INDEX health_alerts_open ON health_alerts (modem_id, kind) WHERE cleared_at IS NULL;
CREATE INDEX health_alerts_age ON health_alerts (raised_at);

-- Prepaid balance answers by USSD. `answer` is the operator's own text.
CREATE TABLE sim_balances (
    id       INTEGER PRIMARY KEY,
    modem_id TEXT    NOT NULL,
    iccid    TEXT,
    at       INTEGER NOT NULL,
    code     TEXT    NOT NULL,
    amount   TEXT,                                  -- a decimal; NULL when no amount was found
    currency TEXT,
    answer   TEXT,
    error    TEXT                                   -- why there is no answer
);
CREATE INDEX sim_balances_modem ON sim_balances (modem_id, at);
