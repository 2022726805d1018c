-- Staff sign-in: failed attempts counted per account and per client address (a lockout), and
-- an authenticator an administrator reset, to be enrolled again at the next sign-in.

ALTER TABLE staff ADD COLUMN must_enrol INTEGER NOT NULL DEFAULT 0;

-- One row per counted key: the SHA-256 of "account:<username>" or "address:<ip>" (neither is
-- kept as it is). Updated in one write transaction per failure, so concurrent attempts count.
CREATE TABLE login_failures (
    key_hash TEXT PRIMARY KEY,
    failures INTEGER NOT NULL,
    window_start TEXT NOT NULL,
    locked_until TEXT
);
