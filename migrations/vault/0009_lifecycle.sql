-- Lifecycle, second part: a grant whose conditions change (the owner narrowed it) makes a
-- web worker's cached answers for it stale, as a record change does.

-- The read path rebuilds its cached answer (and re-reads the grant) when records_rev moves.
CREATE TRIGGER grants_conditions_rev AFTER UPDATE OF conditions ON grants
BEGIN UPDATE meta SET value = value + 1 WHERE key = 'records_rev'; END;
