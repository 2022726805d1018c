-- A template may say to read again while access lasts (at most once a day, by the sweep).

ALTER TABLE templates ADD COLUMN refresh INTEGER NOT NULL DEFAULT 0;
ALTER TABLE dossiers ADD COLUMN refreshed_at TEXT;
