-- The portal authenticates at instances with private_key_jwt (its own ES256 key): a new
-- registration has no client secret. A registration made before keeps its secret and the
-- method it registered with. SQLite cannot drop NOT NULL, so the table is rebuilt.

CREATE TABLE registrations_new (
    issuer TEXT PRIMARY KEY,
    metadata TEXT NOT NULL,            -- the instance's RFC 8414 metadata
    client_id TEXT NOT NULL,
    auth_method TEXT NOT NULL DEFAULT 'private_key_jwt'
        CHECK (auth_method IN ('private_key_jwt', 'client_secret_basic')),
    wrapped_secret BLOB,               -- client_secret_basic registrations only
    wrapped_registration_token BLOB,
    registration_client_uri TEXT,
    created_at TEXT NOT NULL
);

INSERT INTO registrations_new (issuer, metadata, client_id, auth_method, wrapped_secret,
                               wrapped_registration_token, registration_client_uri, created_at)
    SELECT issuer, metadata, client_id, 'client_secret_basic', wrapped_secret,
           wrapped_registration_token, registration_client_uri, created_at FROM registrations;

DROP TABLE registrations;
ALTER TABLE registrations_new RENAME TO registrations;
CREATE UNIQUE INDEX registrations_by_client ON registrations (client_id);
