-- The organisation's read path (see vault/grants/redemption.py).
--
-- records_rev changes whenever a record or a record version changes, so a web worker
-- may keep the filtered answer of a grant and know, with one lookup inside the read's
-- transaction, whether it is still current. The triggers run for every writer
-- (owner, connector merge, import), so no code path can forget to bump it.
INSERT INTO meta (key, value) VALUES ('records_rev', 0)
    ON CONFLICT(key) DO NOTHING;

CREATE TRIGGER records_rev_insert AFTER INSERT ON records
BEGIN UPDATE meta SET value = value + 1 WHERE key = 'records_rev'; END;
CREATE TRIGGER records_rev_update AFTER UPDATE ON records
BEGIN UPDATE meta SET value = value + 1 WHERE key = 'records_rev'; END;
CREATE TRIGGER records_rev_delete AFTER DELETE ON records
BEGIN UPDATE meta SET value = value + 1 WHERE key = 'records_rev'; END;
CREATE TRIGGER record_versions_rev_insert AFTER INSERT ON record_versions
BEGIN UPDATE meta SET value = value + 1 WHERE key = 'records_rev'; END;
CREATE TRIGGER record_versions_rev_update AFTER UPDATE ON record_versions
BEGIN UPDATE meta SET value = value + 1 WHERE key = 'records_rev'; END;
CREATE TRIGGER record_versions_rev_delete AFTER DELETE ON record_versions
BEGIN UPDATE meta SET value = value + 1 WHERE key = 'records_rev'; END;

-- The head of the hash chain ("<seq>:<hash>", to detect truncation) follows every
-- appended event in the same statement, instead of a second round trip per event.
CREATE TRIGGER events_log_head AFTER INSERT ON events
BEGIN
    INSERT INTO meta (key, value) VALUES ('log_head', NEW.seq || ':' || NEW.hash)
        ON CONFLICT(key) DO UPDATE SET value = excluded.value;
END;
