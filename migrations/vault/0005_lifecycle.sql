-- Lifecycle inside the vault: which pushed request a bound request came from (so its state can
-- be told to the organisation), deletion statements, notifications and their e-mail settings.

CREATE TABLE request_refs (
    request_id TEXT PRIMARY KEY,
    ref_hash   TEXT NOT NULL,
    client_id  TEXT NOT NULL
);

-- A verified "we deleted the data received under this grant" from the organisation.
CREATE TABLE deletion_statements (
    id          TEXT PRIMARY KEY,
    grant_id    TEXT NOT NULL,
    client_id   TEXT NOT NULL,
    deleted_at  TEXT NOT NULL,
    received_at TEXT NOT NULL,
    jws         TEXT NOT NULL,
    alg         TEXT NOT NULL,
    kid         TEXT
);
CREATE INDEX deletion_statements_grant ON deletion_statements (grant_id);

-- The owner's notifications. group_key folds repeats (reads of one grant on one day) into one.
CREATE TABLE notifications (
    id         TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,
    group_key  TEXT NOT NULL UNIQUE,
    grant_id   TEXT,
    detail     TEXT NOT NULL,
    count      INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    read_at    TEXT,
    mailed_at  TEXT
);
CREATE INDEX notifications_updated ON notifications (updated_at);

-- One row: the owner's e-mail address (double opt-in) and which kinds to mail.
CREATE TABLE notification_settings (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    email         TEXT,
    pending_email TEXT,
    confirm_hash  TEXT,
    confirm_until TEXT,
    confirmed_at  TEXT,
    mail_kinds    TEXT NOT NULL DEFAULT '[]'
);
