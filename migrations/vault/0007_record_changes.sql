-- Lifecycle, second part: which records changed since organisations were last told
-- (records.updated webhooks), and a grant whose conditions change (the owner narrowed it)
-- makes a web worker's cached answers for it stale, as a record change does.

-- One row per record created or given a new version since the last flush
-- (vault.grants.events.records_changed, run when the vault opens and after an owner's
-- request). Triggers fill it, so no writer (owner, connector merge, import) can forget.
CREATE TABLE record_changes (
    record_id TEXT PRIMARY KEY,
    type      TEXT NOT NULL,
    at        TEXT NOT NULL
);

CREATE TRIGGER records_changed_insert AFTER INSERT ON records
BEGIN
    INSERT OR REPLACE INTO record_changes (record_id, type, at)
        VALUES (NEW.id, NEW.type, NEW.updated_at);
END;

CREATE TRIGGER records_changed_update AFTER UPDATE OF current_version ON records
WHEN NEW.current_version <> OLD.current_version
BEGIN
    INSERT OR REPLACE INTO record_changes (record_id, type, at)
        VALUES (NEW.id, NEW.type, NEW.updated_at);
END;

-- The read path rebuilds its cached answer (and re-reads the grant) when records_rev moves.
CREATE TRIGGER grants_conditions_rev AFTER UPDATE OF conditions ON grants
BEGIN UPDATE meta SET value = value + 1 WHERE key = 'records_rev'; END;
