-- instance.db: what the instance must know to find and open vaults.
-- Record contents, grants and the organisations a member shares with live inside the vaults.

CREATE TABLE instance_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE vaults (
    id               TEXT PRIMARY KEY,
    username         TEXT NOT NULL UNIQUE,
    created_at       TEXT NOT NULL,
    inbox_public_key BLOB NOT NULL
);

CREATE TABLE key_slots (
    id          TEXT PRIMARY KEY,
    vault_id    TEXT NOT NULL REFERENCES vaults(id) ON DELETE CASCADE,
    kind        TEXT NOT NULL CHECK (kind IN ('password', 'recovery', 'app-token', 'grant')),
    kdf         TEXT NOT NULL,
    params      TEXT NOT NULL,
    salt        BLOB NOT NULL,
    nonce       BLOB NOT NULL,
    wrapped     BLOB NOT NULL,
    check_value BLOB NOT NULL,
    token_hash  TEXT UNIQUE,
    label       TEXT NOT NULL DEFAULT '',
    grant_id    TEXT,
    created_at  TEXT NOT NULL,
    expires_at  TEXT
);
CREATE INDEX key_slots_vault ON key_slots (vault_id, kind);
CREATE INDEX key_slots_expiry ON key_slots (expires_at) WHERE expires_at IS NOT NULL;

-- Sealed (HPKE) payloads waiting to be merged into a vault the next time it is opened.
CREATE TABLE inbox_items (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    vault_id   TEXT NOT NULL REFERENCES vaults(id) ON DELETE CASCADE,
    source     TEXT NOT NULL,
    created_at TEXT NOT NULL,
    sealed     BLOB NOT NULL
);
CREATE INDEX inbox_items_vault ON inbox_items (vault_id, id);

CREATE TABLE invites (
    code_hash  TEXT PRIMARY KEY,
    note       TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at    TEXT
);

CREATE TABLE signing_keys (
    kid         TEXT PRIMARY KEY,
    private_jwk TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    retired_at  TEXT
);

-- Anonymous counters the instance keeps (e.g. number of erased vaults).
CREATE TABLE counters (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL DEFAULT 0
);
