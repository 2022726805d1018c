"""Building benchmark state with the domain functions directly (no HTTP round trips).

A :class:`World` is one temporary KLUIS_HOME with the production settings (only the
home, the Redis URL, the bind address and, for the connector stand-in on loopback,
``allow_private_urls`` differ), opened in this process through ``vault.services``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vault import services as services_mod
from vault.clock import now_iso
from vault.config import Settings, load_settings
from vault.crypto import keys, slots
from vault.grants.organisations import PICKUP_GRANT_TYPE
from vault.records.service import create_record
from vault.storage.instance import init_home
from vault.storage.vaults import create_vault_file, new_vault_id

PASSWORD = "correct horse staple 42"  # noqa: S105 - a benchmark account's password

# The three granted record types of the authorized read (a housing corporation's request).
PERSON = {"given_names": "Annemarie", "surname": "de Vries", "bsn": "111222333",
          "birth_date": "1991-04-02", "birth_place": "Utrecht", "nationality": "NL"}
ADDRESS = {"street": "Oudegracht", "house_number": 231, "postcode": "3511NK",
           "city": "Utrecht", "country": "NL"}
INCOME = {"year": 2025, "source": "ACME BV", "kind": "employment",
          "gross_amount_cents": 5_400_000, "net_amount_cents": 3_900_000}
GRANTED: dict[str, dict[str, Any]] = {"person": PERSON, "address": ADDRESS, "income": INCOME}
# Records of a type the organisation is not granted, used to grow a vault.
FILLER_TYPE = "employment"


def filler(i: int) -> dict:
    return {"employer": f"Werkgever {i}", "role": "Medewerker", "start_date": "2020-01-01",
            "hours_per_week": 32}


def _bench_slots(dek: bytes, vault_id: str) -> tuple[str, list[slots.KeySlot]]:
    """An app token that opens the vault, and the password and recovery slots a real account
    has beside it (random bytes: only their rows count, nobody unwraps them)."""
    token = keys.new_token("kluis_at_")
    slot = slots.wrap_token(dek, token, vault_id=vault_id, kind=slots.APP_TOKEN,
                            token_hash=keys.token_hash(token), created_at=now_iso())
    fakes = [slots.KeySlot(id=slots.new_slot_id(), vault_id=vault_id, kind=kind,
                           kdf="argon2id", params={}, salt=os.urandom(16),
                           nonce=os.urandom(12), wrapped=os.urandom(48),
                           check=os.urandom(16), created_at=now_iso())
             for kind in (slots.PASSWORD, slots.RECOVERY)]
    return token, [slot, *fakes]


@dataclass
class Owner:
    username: str
    vault_id: str
    dek: bytes


@dataclass
class Grant:
    owner: Owner
    grant_id: str
    token: str
    client_id: str


class World:
    def __init__(self, home: Path, redis_url: str, port: int, **overrides) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("KLUIS_")}
        values = {"home": str(home), "redis_url": redis_url, "bind": f"127.0.0.1:{port}",
                  "allow_private_urls": True}
        values.update(overrides)
        self.settings: Settings = load_settings(env, **values)
        init_home(self.settings)
        self.svc = services_mod.build(self.settings)
        self.grants = self.svc.grants
        self._org: str | None = None
        self._count = 0
        self._template: tuple[Path, bytes, bytes] | None = None
        self._pg_template: tuple[list[tuple[str, int, tuple[str, ...], list[Any] | None]],
                                 int, bytes, bytes] | None = None

    def close(self) -> None:
        self.svc.close()

    # -- owners and records ---------------------------------------------------------------

    def make_owner(self, records: dict[str, list[dict]] | None = None) -> Owner:
        """Sign up (Argon2id at the configured parameters) and add ``records``."""
        self._count += 1
        username = f"bench{self._count:05d}"
        vault_id, _code = self.svc.accounts.register(username, PASSWORD)
        dek = self.svc.accounts.unlock_password(username, PASSWORD).dek
        owner = Owner(username, vault_id, dek)
        if records:
            self.add_records(owner, records)
        return owner

    def add_records(self, owner: Owner, records: dict[str, list[dict]]) -> None:
        with self.svc.accounts.open(owner.vault_id, owner.dek) as vault, \
                vault.transaction() as tx:
            for type_id, items in records.items():
                for data in items:
                    create_record(vault, type_id, data, conn=tx)

    def app_token(self, owner: Owner) -> str:
        return self.svc.accounts.create_app_token(owner.vault_id, owner.dek, "bench")[1]

    # -- organisations and grants -----------------------------------------------------------

    def org(self) -> str:
        if self._org is None:
            info, _secret = self.grants.orgs.register({
                "client_name": "Woonstichting De Kern", "client_uri": "https://dekern.nl",
                "redirect_uris": ["https://dekern.nl/cb"], "contacts": ["privacy@dekern.nl"],
            })
            self._org = info["client_id"]
        return self._org

    def grant(self, owner: Owner, fields: dict[str, list[str]] | None = None,
              duration: str = "P30D") -> Grant:
        """An owner-created grant (person, address, income; optionally only ``fields``),
        picked up by the organisation: returns its access token."""
        client_id = self.org()
        fields = fields or {t: [] for t in GRANTED}
        records = [{"record_type": t} | ({"fields": f} if f else {}) for t, f in fields.items()]
        details = [{"type": "kluis_records", "records": records,
                    "purpose": "rental-eligibility", "retention": "P60D",
                    "duration": duration}]
        with self.svc.accounts.open(owner.vault_id, owner.dek) as vault:
            decision = self.grants.create_owner_grant(
                vault, owner.dek, client_id=client_id, authorization_details=details)
        if decision.grant is None or decision.pickup_code is None:
            raise RuntimeError("an owner-created grant comes with a pickup code")
        token = self.grants.exchange(client_id, PICKUP_GRANT_TYPE,
                                     {"code": decision.pickup_code})
        return Grant(owner, decision.grant.id, token["access_token"], client_id)

    def count_events(self, owner: Owner, action: str, grant_id: str | None = None) -> int:
        with self.svc.accounts.open(owner.vault_id, owner.dek) as vault:
            query = "SELECT count(*) FROM events WHERE action = ?"
            args: list = [action]
            if grant_id:
                query += " AND grant_id = ?"
                args.append(grant_id)
            return int(vault.conn.execute(query, args).fetchone()[0])

    # -- many small vaults (vault-opening scale) ------------------------------------------

    def add_small_vaults(self, n: int) -> list[tuple[str, str]]:
        """``n`` minimal vaults made through the storage layer, quickly. Files: one migrated vault
        file is created with ``create_vault_file`` and copied (a fresh migrated vault is
        the same bytes whatever its id); instance.db gets, per vault, its directory row, an
        app-token slot and two password-like slots (random bytes, never unwrapped) so that
        key_slots grows as with real accounts. The copies share one data key.

        With ``KLUIS_DATABASE_URL`` (PostgreSQL) see :meth:`_add_small_pg_vaults`.

        Returns ``(vault_id, token)`` per vault.
        """
        import shutil

        instance = self.svc.instance
        if instance.pg is not None:
            return self._add_small_pg_vaults(n)
        if self._template is None:
            template_id = new_vault_id()
            dek = keys.random_key()
            vault, public = create_vault_file(instance, template_id, dek)
            vault.close()
            self._template = (instance.vault_path(template_id), dek, public)
        source, dek, public = self._template
        out = []
        batch: list = []
        for _ in range(n):
            vault_id = new_vault_id()
            shutil.copyfile(source, instance.vault_path(vault_id))
            token, vault_slots = _bench_slots(dek, vault_id)
            batch.append((vault_id, public, vault_slots))
            out.append((vault_id, token))
            if len(batch) >= 1000:
                self._flush_small(batch)
        self._flush_small(batch)
        return out

    def _flush_small(self, batch: list) -> None:
        instance = self.svc.instance
        with instance.transaction() as tx:
            for vault_id, public, vault_slots in batch:
                instance.add_vault(tx, vault_id, f"small-{vault_id[:12]}", public)
                for slot in vault_slots:
                    instance.put_slot(tx, slot)
        batch.clear()

    def _add_small_pg_vaults(self, n: int) -> list[tuple[str, str]]:
        """PostgreSQL: ``create_vault_file`` costs about 60 ms a vault (migrations in memory
        and two durable commits), too slow for 10,000. One vault is made with it; its rows
        (read from its mirror, the ``meta.vault_id`` row rewritten per copy) are sealed
        afresh for each new vault id with that vault's row keys, exactly as
        :func:`vault.storage.pgvault.flush` would write them at version 1, and inserted in
        batches. Every copy opens through :func:`open_vault` (which checks the header's
        digest over every row). The copies share one data key; instance rows as for files.
        """
        from vault.crypto.rowseal import RowKeys, add
        from vault.storage import pgvault

        instance = self.svc.instance
        database = instance.pg
        assert database is not None  # noqa: S101 - the caller checked
        if self._pg_template is None:
            template_id = new_vault_id()
            dek = keys.random_key()
            vault, public = create_vault_file(instance, template_id, dek)
            mirror = vault._mirror
            assert mirror is not None  # noqa: S101 - a PostgreSQL vault has one
            rows = []
            for table in mirror.schema.columns:
                for (rowid,) in mirror.conn.execute(
                        f'SELECT rowid FROM main."{table}"').fetchall():
                    row = mirror.conn.execute(f'SELECT * FROM main."{table}" WHERE rowid = ?',
                                              (rowid,)).fetchone()
                    values: list[Any] | None = list(row)
                    if table == "meta" and row["key"] == "vault_id":
                        values = None  # rewritten per copy
                    rows.append((table, rowid, tuple(row.keys()), values))
            schema_version = mirror.schema.version
            vault.close()
            self._pg_template = (rows, schema_version, dek, public)
        rows, schema_version, dek, public = self._pg_template
        out = []
        batch: list = []
        pg_batch: list = []
        for _ in range(n):
            vault_id = new_vault_id()
            row_keys = RowKeys(dek, vault_id)
            digest = 0
            sealed_rows = []
            for table, rowid, names, values in rows:
                if values is None:
                    values = [vault_id if name == "value" else "vault_id" for name in names]
                row_key = row_keys.row_id(table, rowid)
                plain = pgvault.encode_row(table, rowid, names, values)
                sealed_rows.append((vault_id, row_key, 1, row_keys.seal_row(row_key, 1, plain)))
                digest = add(digest, row_keys.element(row_key, 1))
            header = pgvault._seal_header(row_keys, 1, schema_version, digest)
            pg_batch.append((vault_id, header, sealed_rows))
            token, vault_slots = _bench_slots(dek, vault_id)
            batch.append((vault_id, public, vault_slots))
            out.append((vault_id, token))
            if len(batch) >= 1000:
                self._flush_pg(pg_batch)
                self._flush_small(batch)
        self._flush_pg(pg_batch)
        self._flush_small(batch)
        return out

    def _flush_pg(self, batch: list) -> None:
        database = self.svc.instance.pg
        assert database is not None  # noqa: S101 - only called so
        with database.connection() as pgc, pgc.cursor() as cur:
            cur.executemany("INSERT INTO kluis_vaults (vault_id, version, header)"
                            " VALUES (%s, 1, %s)", [(v, h) for v, h, _ in batch])
            cur.executemany("INSERT INTO kluis_journal_heads (vault_id) VALUES (%s)",
                            [(v,) for v, _, _ in batch])
            cur.executemany("INSERT INTO kluis_rows (vault_id, row_key, version, sealed)"
                            " VALUES (%s, %s, %s, %s)", [r for _, _, rows in batch for r in rows])
        batch.clear()
