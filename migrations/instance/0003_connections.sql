-- Connections: one configured source per (vault, connector instance).
-- Options, credentials and connector state are AES-GCM encrypted with an instance subkey
-- ("connector-credentials"): the worker must use them while the owner is away.
-- Plain columns hold no personal data: ids, states, times and error messages in plain words.

CREATE TABLE connections (
    id               TEXT PRIMARY KEY,
    vault_id         TEXT NOT NULL REFERENCES vaults(id) ON DELETE CASCADE,
    connector        TEXT NOT NULL,
    options_enc      BLOB NOT NULL,
    credentials_enc  BLOB NOT NULL,
    state_enc        BLOB,
    interval_seconds INTEGER NOT NULL,
    created_at       TEXT NOT NULL,
    status           TEXT NOT NULL DEFAULT 'new'
        CHECK (status IN ('new', 'queued', 'running', 'retrying', 'ok', 'failed',
                          'needs_attention')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    job_id           TEXT,
    scheduled_job_id TEXT,
    last_run_at      TEXT,
    last_success_at  TEXT,
    last_error       TEXT,
    next_run_at      TEXT
);
CREATE INDEX connections_vault ON connections (vault_id, created_at);
