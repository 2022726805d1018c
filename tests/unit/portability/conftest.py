"""A real instance and vault (SQLCipher files in a temporary KLUIS_HOME) with sample records."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import redis as redis_lib

from vault.accounts.service import Accounts
from vault.config import Settings
from vault.records import service as records
from vault.records.models import Provenance
from vault.storage.instance import Instance
from vault.storage.vaults import VaultDB

PASSWORD = "correct horse staple 42"

SAMPLE = [
    ("person", {"given_names": "Anna Maria", "surname_prefix": "van der", "surname": "Brügge",
                "bsn": "111222333", "birth_date": "1990-05-17", "gender": "V"}),
    ("address", {"street": "Prinsengracht", "house_number": 263, "postcode": "1016 GV",
                 "city": "Amsterdam"}),
    ("income", {"year": 2025, "source": "ACME Zuivel BV", "kind": "employment",
                "gross_amount_cents": 5234567, "net_amount_cents": 3456789}),
    ("property", {"address": "Prinsengracht 263, Amsterdam", "woz_object_id": "036300001234",
                  "woz_values": [{"reference_date": "2024-01-01", "value_cents": 45000000,
                                  "tax_year": 2025}]}),
    ("student-debt", {"lender": "DUO", "outstanding_cents": 1875000, "interest_rate": "2.560"}),
]
DOCUMENT = b"%PDF-1.4 fake payslip for Anna \xe2\x82\xac 1.234,56\n" + bytes(range(256))


@dataclass
class Made:
    instance: Instance
    accounts: Accounts
    settings: Settings
    username: str
    vault_id: str
    dek: bytes
    recovery_code: str

    def open(self) -> VaultDB:
        return self.accounts.open(self.vault_id, self.dek)


@pytest.fixture
def make_accounts(redis_url):
    made: list[tuple[Instance, redis_lib.Redis]] = []

    def make(settings: Settings) -> Accounts:
        instance = Instance(settings)
        client = redis_lib.Redis.from_url(redis_url)
        made.append((instance, client))
        return Accounts(instance, client, settings)

    yield make
    for instance, client in made:
        instance.close()
        client.close()


@pytest.fixture
def make_vault(make_settings, make_accounts):
    """``make_vault(home="home", sample=True)``: a signed-up owner, optionally with records."""

    def make(home: str = "home", username: str = "anna", sample: bool = True) -> Made:
        settings = make_settings(home, base_url=f"https://{home}.kluis.test")
        accounts = make_accounts(settings)
        vault_id, code = accounts.register(username, PASSWORD)
        dek = accounts.unlock_password(username, PASSWORD).dek
        made = Made(accounts.instance, accounts, settings, username, vault_id, dek, code)
        if sample:
            with made.open() as vault:
                for type_id, data in SAMPLE:
                    records.create_record(vault, type_id, data)
                income = records.list_records(vault, ["income"])[0]
                records.update_record(
                    vault, income.id, {**income.data, "net_amount_cents": 3456790},
                    provenance=Provenance("belastingdienst", "2025-03-01T10:00:00.000000Z",
                                          {"signature": "sig-abc"}),
                )
                records.add_document(vault, DOCUMENT, name="loonstrook-maart.pdf",
                                     media_type="application/pdf", category="payslip",
                                     description="Loonstrook maart € 1.234,56")
        return made

    return make
