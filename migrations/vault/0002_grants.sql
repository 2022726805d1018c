-- Data requests and grants live inside the vault: who the owner shares with, and why.

CREATE TABLE data_requests (
    id             TEXT PRIMARY KEY,
    origin         TEXT NOT NULL DEFAULT 'oauth' CHECK (origin IN ('oauth', 'owner')),
    organisation   TEXT NOT NULL,
    details        TEXT NOT NULL,
    redirect_uri   TEXT,
    state          TEXT,
    code_challenge TEXT,
    received_at    TEXT NOT NULL,
    expires_at     TEXT NOT NULL,
    status         TEXT NOT NULL DEFAULT 'pending'
                   CHECK (status IN ('pending', 'approved', 'denied', 'expired')),
    decided_at     TEXT,
    grant_id       TEXT
);
CREATE INDEX data_requests_status ON data_requests (status, received_at);

CREATE TABLE grants (
    id                  TEXT PRIMARY KEY,
    request_id          TEXT,
    origin              TEXT NOT NULL DEFAULT 'oauth' CHECK (origin IN ('oauth', 'owner')),
    client_id           TEXT NOT NULL,
    organisation        TEXT NOT NULL,
    purpose             TEXT NOT NULL,
    purpose_description TEXT NOT NULL DEFAULT '',
    retention           TEXT NOT NULL,
    conditions          TEXT NOT NULL,
    not_before          TEXT NOT NULL,
    expires_at          TEXT NOT NULL,
    created_at          TEXT NOT NULL,
    status              TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'revoked')),
    revoked_at          TEXT,
    revoked_by          TEXT,
    slot_id             TEXT,
    access_count        INTEGER NOT NULL DEFAULT 0,
    last_access_at      TEXT,
    picked_up           INTEGER NOT NULL DEFAULT 0,
    receipt_id          TEXT,
    receipt             TEXT
);
CREATE INDEX grants_status ON grants (status, expires_at);
