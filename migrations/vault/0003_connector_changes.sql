-- What each merged connector refresh changed, for the owner's "what changed" view.
CREATE TABLE connector_changes (
    item_key      TEXT PRIMARY KEY,
    connection_id TEXT NOT NULL,
    connector     TEXT NOT NULL,
    fetched_at    TEXT NOT NULL,
    merged_at     TEXT NOT NULL,
    created       INTEGER NOT NULL DEFAULT 0,
    updated       INTEGER NOT NULL DEFAULT 0,
    unchanged     INTEGER NOT NULL DEFAULT 0,
    rejected      INTEGER NOT NULL DEFAULT 0,
    -- JSON list of {"record": id, "type": t, "label": "...", "change": "created|updated"}
    changes       TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX connector_changes_merged ON connector_changes (merged_at);
