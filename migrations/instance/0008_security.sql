-- Security page: passkeys (WebAuthn credentials) and their key slots.
-- A passkey's public key and counter are public material: they sit here so a passwordless
-- login can find the credential before any vault is open. A passkey whose authenticator gave
-- a WebAuthn PRF output has its own key slot (kind 'passkey'); the others are a second factor.

-- key_slots gains the kind 'passkey': SQLite cannot alter a CHECK, so the table is rebuilt
-- (same columns, indexes and trigger as 0001 and 0007).
DROP TRIGGER key_slots_fate;

CREATE TABLE key_slots_new (
    id          TEXT PRIMARY KEY,
    vault_id    TEXT NOT NULL REFERENCES vaults(id) ON DELETE CASCADE,
    kind        TEXT NOT NULL CHECK (kind IN ('password', 'recovery', 'app-token', 'grant',
                                              'passkey')),
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
INSERT INTO key_slots_new (id, vault_id, kind, kdf, params, salt, nonce, wrapped, check_value,
                           token_hash, label, grant_id, created_at, expires_at)
SELECT id, vault_id, kind, kdf, params, salt, nonce, wrapped, check_value,
       token_hash, label, grant_id, created_at, expires_at FROM key_slots;
DROP TABLE key_slots;
ALTER TABLE key_slots_new RENAME TO key_slots;
CREATE INDEX key_slots_vault ON key_slots (vault_id, kind);
CREATE INDEX key_slots_expiry ON key_slots (expires_at) WHERE expires_at IS NOT NULL;

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

CREATE TABLE passkeys (
    id            TEXT PRIMARY KEY,
    vault_id      TEXT NOT NULL REFERENCES vaults(id) ON DELETE CASCADE,
    credential_id TEXT NOT NULL UNIQUE,          -- base64url, as the browser sends it
    public_key    BLOB NOT NULL,                 -- COSE key
    sign_count    INTEGER NOT NULL DEFAULT 0,
    label         TEXT NOT NULL DEFAULT '',
    -- the key slot this passkey opens (NULL: a second factor only, no PRF)
    slot_id       TEXT,
    created_at    TEXT NOT NULL,
    last_used_at  TEXT
);
CREATE INDEX passkeys_vault ON passkeys (vault_id);
