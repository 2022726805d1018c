-- A keyed commitment to each vault's newest log event (sequence number and hash), kept outside
-- the vault: a vault file rolled back to an older copy is refused when it is opened
-- (vault/storage/heads.py). mac = HMAC-SHA256(instance subkey "vault-log-head",
-- "<vault id>:<seq>:<hash>"). No foreign key: a vault's first event is written before its
-- directory row; the trigger drops the commitment with the row (erasure).

CREATE TABLE vault_heads (
    vault_id   TEXT PRIMARY KEY,
    seq        INTEGER NOT NULL,
    head       TEXT NOT NULL,
    mac        BLOB NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TRIGGER vault_heads_follow_vaults AFTER DELETE ON vaults
BEGIN
    DELETE FROM vault_heads WHERE vault_id = OLD.id;
END;
