-- The counterpart of migrations/instance/0009: each vault's inbox public key carries a tag
-- (HMAC-SHA256 under an instance subkey over vault id and key), written with the vault and
-- checked before anything is sealed to the key, so a database administrator who swaps the key
-- for one of their own makes sealing fail instead of reading what connectors deliver. Rows
-- copied from instance.db (vault/storage/pgcopy.py) are tagged by the copy; a row without a
-- tag in the database is refused, never tagged there.
ALTER TABLE vaults ADD COLUMN inbox_key_tag bytea;
