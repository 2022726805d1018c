-- A vault: one SQLCipher file per owner, keyed with the vault's data key.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value BLOB NOT NULL
);

CREATE TABLE records (
    id              TEXT PRIMARY KEY,
    type            TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    current_version INTEGER NOT NULL,
    -- Set for records a connector keeps fresh: "<connector>:<natural key>", so a refresh
    -- updates the same record instead of adding one.
    source_key      TEXT UNIQUE
);
CREATE INDEX records_type ON records (type);

CREATE TABLE record_versions (
    record_id  TEXT NOT NULL REFERENCES records(id) ON DELETE CASCADE,
    version    INTEGER NOT NULL,
    data       TEXT NOT NULL,
    digest     TEXT NOT NULL,
    source     TEXT NOT NULL,
    fetched_at TEXT NOT NULL,
    evidence   TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL,
    PRIMARY KEY (record_id, version)
);

-- Uploaded files; the bytes are encrypted with the rest of the vault file.
CREATE TABLE documents (
    sha256     TEXT PRIMARY KEY,
    media_type TEXT NOT NULL,
    size       INTEGER NOT NULL,
    content    BLOB NOT NULL,
    created_at TEXT NOT NULL
);

-- The owner's log: every sign-in, grant change and organisation read. Hash-chained.
CREATE TABLE events (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    at        TEXT NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    grant_id  TEXT,
    detail    TEXT NOT NULL DEFAULT '{}',
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
);
CREATE INDEX events_grant ON events (grant_id, seq);

-- Inbox items already merged, so merging is idempotent.
CREATE TABLE merged_inbox (
    item_key  TEXT PRIMARY KEY,
    merged_at TEXT NOT NULL
);
