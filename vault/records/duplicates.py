"""Records that look like one the vault already holds (same income year and source, same
IBAN, ...): the form warns before adding a second. Imports no Flask.

Only the fields in :data:`KEYS` are compared, case and spaces aside; a type without keys is
never a duplicate.
"""

from __future__ import annotations

from typing import Any

from vault.records.models import Record
from vault.records.service import list_records
from vault.storage.vaults import VaultDB

#: The fields that together say "the same thing" per record type.
KEYS: dict[str, tuple[str, ...]] = {
    "person": ("given_names", "surname", "birth_date"),
    "address": ("postcode", "house_number", "house_number_addition"),
    "household-member": ("given_names", "surname", "birth_date"),
    "income": ("year", "source"),
    "pension": ("provider", "scheme"),
    "student-debt": ("lender",),
    "employment": ("employer", "start_date"),
    "bank-account": ("iban",),
    "bank-transaction": ("account_iban", "booking_date", "amount_cents", "counterparty_name"),
    "property": ("address",),
}


def _norm(value: Any) -> str:
    return " ".join(str(value).split()).casefold().replace(" ", "") if value is not None else ""


def find(vault: VaultDB, type_id: str, data: dict[str, Any], *,
         exclude: str | None = None) -> Record | None:
    """An existing record of ``type_id`` with the same key fields as ``data`` (not ``exclude``)."""
    keys = KEYS.get(type_id)
    if not keys or not any(data.get(k) not in (None, "") for k in keys):
        return None
    wanted = [_norm(data.get(k)) for k in keys]
    for record in list_records(vault, [type_id]):
        if record.id != exclude and [_norm(record.data.get(k)) for k in keys] == wanted:
            return record
    return None
