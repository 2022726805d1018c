-- Authorization and pickup codes already redeemed (RFC 6749 section 4.1.2, RFC 9700): a
-- second use of a code revokes what the first issued. Only the code's SHA-256 and the ids of
-- the grant and its key slot are kept (no token, nothing sealed), until no token issued from
-- the code can still be alive (the grant's end). replayed_at marks a replay whose grant
-- still has to be marked revoked inside its vault (at the vault's next open).
CREATE TABLE oauth_used_codes (
    code_hash   TEXT PRIMARY KEY,
    grant_id    TEXT NOT NULL,
    slot_id     TEXT NOT NULL,
    used_at     TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    replayed_at TEXT
);
CREATE INDEX oauth_used_codes_expiry ON oauth_used_codes (expires_at);
CREATE INDEX oauth_used_codes_replayed ON oauth_used_codes (replayed_at)
    WHERE replayed_at IS NOT NULL;
