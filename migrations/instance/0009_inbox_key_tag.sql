-- Each vault's inbox public key carries a tag: HMAC-SHA256 under an instance subkey over the
-- vault id and the key (vault/storage/instance.py). Connectors and organisations seal new
-- records to that key without opening the vault; the tag lets them refuse a key that someone
-- who can write the instance's tables but lacks the instance key put in (a database
-- administrator, with KLUIS_DATABASE_URL). Rows from before this migration are tagged at their
-- next use (instance.db is under the instance key itself).
ALTER TABLE vaults ADD COLUMN inbox_key_tag BLOB;
