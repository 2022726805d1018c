-- PostgreSQL backend (KLUIS_DATABASE_URL): vaults as rows that are ciphertext to the database.
-- Applied by vault/storage/pg.py, tracked in kluis_migrations (one transaction per file).
-- Nothing here is readable without a vault's data key: see vault/storage/pgvault.py and
-- docs/threat-model.md ("PostgreSQL backend") for what the database does see.

-- One row per vault: its version (moves by one with every committed write) and its header,
-- AES-GCM under the vault's row key, bound to (vault id, version): schema level and the
-- keyed digest over every live row's (row key, version), so a row put back from an older
-- copy, or a row removed, does not go unnoticed.
CREATE TABLE kluis_vaults (
    vault_id    text PRIMARY KEY,
    version     bigint NOT NULL,
    -- Tombstones with a version up to this were removed: a copy older than it reloads whole.
    purged_upto bigint NOT NULL DEFAULT 0,
    header      bytea NOT NULL
);

-- Every row of every table of a vault, one PostgreSQL row each. row_key is an HMAC (under a
-- key derived from the vault's data key) of the table name and the row's id, so neither
-- shows; sealed is AES-GCM of the whole row (table, id, columns) bound to vault id, row key
-- and version. sealed NULL: the row was deleted at that version (a tombstone, so that other
-- web workers catch up by version instead of reading every row).
CREATE TABLE kluis_rows (
    vault_id text NOT NULL REFERENCES kluis_vaults (vault_id) ON DELETE CASCADE,
    row_key  bytea NOT NULL,
    version  bigint NOT NULL,
    sealed   bytea,
    PRIMARY KEY (vault_id, row_key)
);
CREATE INDEX kluis_rows_version ON kluis_rows (vault_id, version);

-- The access journal (vault/storage/journal.py): organisation reads committed without the
-- vault's write lock. last numbers the rows of one vault; taking it (UPDATE ... RETURNING)
-- locks the journal, so rows commit in the order of their numbers.
CREATE TABLE kluis_journal_heads (
    vault_id text PRIMARY KEY REFERENCES kluis_vaults (vault_id) ON DELETE CASCADE,
    last     bigint NOT NULL DEFAULT 0
);

-- One row per access event not yet merged into the vault's log; sealed is AES-GCM under a key
-- derived from the journal key (kept inside the vault), bound to vault id and seq.
CREATE TABLE kluis_journal (
    vault_id text NOT NULL REFERENCES kluis_journal_heads (vault_id) ON DELETE CASCADE,
    seq      bigint NOT NULL,
    sealed   bytea NOT NULL,
    PRIMARY KEY (vault_id, seq)
);
