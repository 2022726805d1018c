-- Organisations (OAuth 2.0 clients), pushed authorization requests and one-time codes.
-- Which vault a request or code belongs to is not stored here: that lives inside the vault.

CREATE TABLE oauth_clients (
    client_id       TEXT PRIMARY KEY,
    -- 'registered' (RFC 7591) or 'metadata-url' (client id is the URL of its metadata document)
    source          TEXT NOT NULL CHECK (source IN ('registered', 'metadata-url')),
    secret_hash     TEXT,
    metadata        TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'pending', 'disabled')),
    domain_verified INTEGER NOT NULL DEFAULT 0,
    created_at      TEXT NOT NULL,
    fetched_at      TEXT
);

-- RFC 9126 pushed authorization requests, waiting for a person to open them.
-- ref_hash is the SHA-256 of the request_uri's random part; the row goes when a vault binds it.
CREATE TABLE oauth_pushed_requests (
    ref_hash   TEXT PRIMARY KEY,
    client_id  TEXT NOT NULL,
    params     TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX oauth_pushed_requests_expiry ON oauth_pushed_requests (expires_at);

-- Authorization codes and pickup codes. The access token is stored only encrypted under a key
-- derived from the code (which the instance does not keep); the row is deleted when redeemed.
CREATE TABLE oauth_codes (
    code_hash      TEXT PRIMARY KEY,
    kind           TEXT NOT NULL CHECK (kind IN ('authorization_code', 'pickup')),
    client_id      TEXT NOT NULL,
    redirect_uri   TEXT,
    code_challenge TEXT,
    sealed         BLOB NOT NULL,
    created_at     TEXT NOT NULL,
    expires_at     TEXT NOT NULL
);
CREATE INDEX oauth_codes_expiry ON oauth_codes (expires_at);
