-- The organisation portal's own database (portal.db, SQLCipher under the portal key).
-- Received record values and documents are stored AES-GCM-encrypted under a per-dossier key
-- (dossiers.data_key, wrapped by a key derived from the portal key), so deleting a dossier's
-- key row makes its data unreadable even in an old backup.

CREATE TABLE staff (
    id TEXT PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'caseworker')),
    password_hash BLOB NOT NULL,
    password_salt BLOB NOT NULL,
    password_params TEXT NOT NULL,
    totp_secret TEXT NOT NULL,
    totp_last_step INTEGER,
    active INTEGER NOT NULL DEFAULT 1,
    session_version INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    invited_by TEXT
);

CREATE TABLE invites (
    code_hash TEXT PRIMARY KEY,
    role TEXT NOT NULL CHECK (role IN ('admin', 'caseworker')),
    note TEXT NOT NULL DEFAULT '',
    created_by TEXT,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at TEXT,
    used_by TEXT
);

CREATE TABLE audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    staff_id TEXT,
    staff_name TEXT NOT NULL,
    action TEXT NOT NULL,
    dossier_id TEXT,
    reference TEXT,
    detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_by_dossier ON audit (dossier_id, at);

CREATE TABLE templates (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    purpose TEXT NOT NULL,
    purpose_text TEXT NOT NULL DEFAULT '',
    records TEXT NOT NULL,             -- JSON list of {record_type, fields?, categories?, years?, evidence?}
    duration_days INTEGER NOT NULL,
    retention_days INTEGER NOT NULL,
    delete_on_revoke INTEGER NOT NULL DEFAULT 0,
    active INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- The portal's own signing key (ES256), wrapped under a key derived from the portal key.
CREATE TABLE signing_keys (
    kid TEXT PRIMARY KEY,
    wrapped_jwk BLOB NOT NULL,
    created_at TEXT NOT NULL
);

-- One registration per Kluis instance (RFC 7591), found by the instance's issuer.
CREATE TABLE registrations (
    issuer TEXT PRIMARY KEY,
    metadata TEXT NOT NULL,            -- the instance's RFC 8414 metadata
    client_id TEXT NOT NULL,
    wrapped_secret BLOB NOT NULL,
    wrapped_registration_token BLOB,
    registration_client_uri TEXT,
    created_at TEXT NOT NULL
);
CREATE UNIQUE INDEX registrations_by_client ON registrations (client_id);

CREATE TABLE dossiers (
    id TEXT PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,         -- the short link /a/<code>
    template_id TEXT NOT NULL,
    template TEXT NOT NULL,            -- JSON snapshot of the template when the request was made
    applicant_name TEXT,
    reference TEXT NOT NULL,
    email TEXT,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    status TEXT NOT NULL,              -- new, waiting, approved, refused, expired, revoked
    issuer TEXT,
    request_uri TEXT,
    request_ref_sha256 TEXT,
    oauth_state TEXT UNIQUE,
    wrapped_verifier BLOB,
    grant_id TEXT,
    wrapped_token BLOB,
    received_at TEXT,
    access_ends_at TEXT,
    retention_ends_at TEXT,
    revoked_at TEXT,
    status_checked_at TEXT,
    receipt_verified INTEGER,
    data_key BLOB,                     -- the dossier's data key, wrapped; NULL once deleted
    deleted_at TEXT,
    deletion_reason TEXT,
    deletion_statement TEXT,
    deletion_sent_at TEXT,
    deletion_status TEXT
);
CREATE INDEX dossiers_by_grant ON dossiers (issuer, grant_id);
CREATE INDEX dossiers_by_request ON dossiers (request_uri);

CREATE TABLE dossier_items (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    dossier_id TEXT NOT NULL REFERENCES dossiers (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('record', 'document', 'receipt', 'details')),
    record_id TEXT,
    blob BLOB NOT NULL                 -- AES-GCM under the dossier's data key
);
CREATE INDEX dossier_items_by_dossier ON dossier_items (dossier_id, kind);

CREATE TABLE webhook_events (
    id TEXT PRIMARY KEY,
    issuer TEXT NOT NULL,
    type TEXT NOT NULL,
    received_at TEXT NOT NULL
);
