-- Organisations' logos, fetched once by the server at registration (vault/grants/logos.py)
-- and served from this instance, so a person's browser never contacts the organisation's
-- server when she opens a consent screen.

CREATE TABLE oauth_client_logos (
    client_id  TEXT PRIMARY KEY,
    media_type TEXT NOT NULL,
    content    BLOB NOT NULL,
    sha256     TEXT NOT NULL,
    source_url TEXT NOT NULL,
    fetched_at TEXT NOT NULL
);
