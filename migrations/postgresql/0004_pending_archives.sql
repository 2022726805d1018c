-- Finished vault archives waiting for their one download (vault/portability/pending.py), in
-- the database so that any web node can hand out what another built. Each is already
-- encrypted under its owner's passphrase (Argon2id + AES-GCM, vault/portability/archive.py);
-- what the database sees is its size, its vault id and when it was made. Removed when taken,
-- after an hour, and with the vault's row (erasure).
CREATE TABLE kluis_pending_archives (
    name       text PRIMARY KEY,
    vault_id   text NOT NULL REFERENCES vaults (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    data       bytea NOT NULL
);
CREATE INDEX kluis_pending_archives_vault ON kluis_pending_archives (vault_id);
CREATE INDEX kluis_pending_archives_created ON kluis_pending_archives (created_at);
