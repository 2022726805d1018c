"""portal.db: migrations apply to an empty database, the key file is private, another key
does not open the file, and a template becomes the RFC 9396 request instances understand."""

from __future__ import annotations

import stat

import pytest

from vault.crypto.errors import WrongKey
from vault.portal import templates_repo
from vault.portal.config import PortalSettings
from vault.portal.store import DB_FILE, KEY_FILE, Store, init_home
from vault.storage import db, migrations


def test_init_creates_a_private_key_and_a_migrated_database(tmp_path) -> None:
    settings = PortalSettings(home=str(tmp_path / "p"))
    assert init_home(settings) is True
    assert init_home(settings) is False
    assert stat.S_IMODE((tmp_path / "p" / KEY_FILE).stat().st_mode) == 0o600
    store = Store(settings)
    assert migrations.current_version(store.conn) == len(migrations.load("portal"))
    tables = {r[0] for r in store.conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"staff", "invites", "audit", "templates", "dossiers", "dossier_items",
            "registrations", "signing_keys", "webhook_events"} <= tables
    assert templates_repo.seed_examples(store) == 2
    assert templates_repo.seed_examples(store) == 0
    store.close()
    assert (tmp_path / "p" / DB_FILE).read_bytes()[:16] != b"SQLite format 3\x00"


def test_another_key_does_not_open_the_database(tmp_path) -> None:
    settings = PortalSettings(home=str(tmp_path / "p"))
    init_home(settings)
    with pytest.raises(WrongKey):
        Store(settings.with_overrides(key="ab" * 32))


def test_the_rental_template_asks_the_last_two_years_and_the_annual_statement() -> None:
    rental = templates_repo.validate(templates_repo.EXAMPLES[0])
    [details] = templates_repo.authorization_details(rental, year=2026)
    assert details["purpose"] == "rental-eligibility"
    assert details["retention"] == "P60D" and details["duration"] == "P30D"
    by_type = {r["record_type"]: r for r in details["records"]}
    assert by_type["income"] == {"record_type": "income", "period": {"from": 2024, "to": 2025},
                                 "evidence": True}
    assert by_type["document"]["categories"] == ["annual-statement"]
    assert "household-member" in by_type


def test_a_template_with_unknown_types_or_bad_terms_is_refused_naming_each() -> None:
    with pytest.raises(templates_repo.TemplateError) as err:
        templates_repo.validate({"name": "", "purpose": "spying", "records": [
            {"record_type": "dna"}], "duration_days": 0, "retention_days": 99999})
    assert set(err.value.errors) == {"name", "purpose", "records", "duration_days",
                                     "retention_days"}


def test_the_migration_keeps_earlier_registrations_with_their_secret(tmp_path) -> None:
    conn = db.connect(tmp_path / "p.db", b"k" * 32)
    first = [m for m in migrations.load("portal") if m.number == 1]
    for statement in migrations._split(first[0].sql):  # noqa: SLF001 - the runner's own split
        conn.execute(statement)
    conn.execute("PRAGMA user_version = 1")
    conn.execute("INSERT INTO registrations (issuer, metadata, client_id, wrapped_secret,"
                 " created_at) VALUES ('https://k.example', '{}', 'org_1', x'00', 'now')")
    migrations.apply(conn, "portal")
    row = conn.execute("SELECT * FROM registrations").fetchone()
    assert row["auth_method"] == "client_secret_basic" and bytes(row["wrapped_secret"]) == b"\0"
    conn.execute("INSERT INTO registrations (issuer, metadata, client_id, created_at)"
                 " VALUES ('https://l.example', '{}', 'org_2', 'now')")
    assert conn.execute("SELECT auth_method FROM registrations WHERE client_id = 'org_2'"
                        ).fetchone()[0] == "private_key_jwt"
    conn.close()
