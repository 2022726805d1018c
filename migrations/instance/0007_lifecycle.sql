-- Lifecycle: what an organisation can ask about its requests and dead tokens, the webhook
-- outbox with its delivery attempts, the mail outbox, and RFC 7592 registration access tokens.
-- No record contents and no e-mail addresses at rest here: a queued mail's payload is
-- encrypted with an instance subkey and wiped once sent (the address lives in the vault).

-- The state of a pushed request (RFC 9126) after the vault bound it and the pushed row went.
CREATE TABLE request_states (
    ref_hash   TEXT PRIMARY KEY,
    client_id  TEXT NOT NULL,
    status     TEXT NOT NULL DEFAULT 'pending'
               CHECK (status IN ('pending', 'approved', 'refused', 'expired')),
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    -- the request_uri itself only once a vault bound it (then it no longer opens anything)
    request_uri TEXT,
    opened_at  TEXT,
    decided_at TEXT,
    updated_at TEXT NOT NULL
);
CREATE INDEX request_states_client ON request_states (client_id, status);

-- Why a grant token stopped working, kept after its key slot is gone so a 401 can say which.
-- The trigger notes every deleted grant slot (expired or revoked); a revocation event adds who.
CREATE TABLE token_fates (
    token_hash TEXT PRIMARY KEY,
    grant_id   TEXT,
    reason     TEXT NOT NULL CHECK (reason IN ('revoked', 'expired', 'used_up', 'narrowed')),
    by_whom    TEXT,
    detail     TEXT,
    at         TEXT NOT NULL
);
CREATE INDEX token_fates_grant ON token_fates (grant_id);
CREATE INDEX token_fates_at ON token_fates (at);

CREATE TRIGGER key_slots_fate AFTER DELETE ON key_slots
WHEN old.kind = 'grant' AND old.token_hash IS NOT NULL
BEGIN
    INSERT OR IGNORE INTO token_fates (token_hash, grant_id, reason, at)
    VALUES (old.token_hash, old.grant_id,
            CASE WHEN old.expires_at IS NOT NULL
                      AND old.expires_at <= strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
                 THEN 'expired' ELSE 'revoked' END,
            strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
END;

-- One row per event for one organisation: the body is what is sent (no record contents).
CREATE TABLE webhook_events (
    id              TEXT PRIMARY KEY,
    client_id       TEXT NOT NULL,
    type            TEXT NOT NULL,
    body            TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'queued'
                    CHECK (status IN ('queued', 'delivered', 'failed', 'no-endpoint')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT,
    delivered_at    TEXT,
    last_error      TEXT
);
CREATE INDEX webhook_events_client ON webhook_events (client_id, created_at);
CREATE INDEX webhook_events_status ON webhook_events (status, next_attempt_at);

-- Every attempt to deliver an event to one endpoint.
CREATE TABLE webhook_attempts (
    id          INTEGER PRIMARY KEY,
    event_id    TEXT NOT NULL REFERENCES webhook_events (id) ON DELETE CASCADE,
    url         TEXT NOT NULL,
    attempt     INTEGER NOT NULL,
    at          TEXT NOT NULL,
    status_code INTEGER,
    error       TEXT,
    ok          INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX webhook_attempts_event ON webhook_attempts (event_id);

-- Mails waiting for the worker. payload (recipient, subject, text) is AES-GCM under an
-- instance subkey and set to NULL once the mail was sent or given up.
CREATE TABLE mail_outbox (
    id         TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,
    payload    BLOB,
    status     TEXT NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'sent', 'failed')),
    attempts   INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    sent_at    TEXT,
    last_error TEXT
);
CREATE INDEX mail_outbox_status ON mail_outbox (status);

-- RFC 7592: the SHA-256 of each registered client's registration access token.
CREATE TABLE client_management (
    client_id  TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL,
    created_at TEXT NOT NULL
);

-- Which organisation a grant is for and until when, so the worker can announce its expiry
-- (grant.expired) while the owner is away; ended_at once revoked or announced. vault_id lets
-- the organisation's deletion statement reach the owner's vault (sealed to its inbox); it is
-- the link the grant's key slot held while active, and goes when the statement came.
CREATE TABLE grant_watch (
    grant_id   TEXT PRIMARY KEY,
    client_id  TEXT NOT NULL,
    vault_id   TEXT,
    expires_at TEXT NOT NULL,
    ended_at   TEXT
);
CREATE INDEX grant_watch_expiry ON grant_watch (ended_at, expires_at);
