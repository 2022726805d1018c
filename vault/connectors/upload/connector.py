"""``upload``: the owner uploads a PDF; it is kept as a ``document`` record with its sha256,
and typed fields (income for a year, pension, student debt) cite it as evidence.

This connector fetches nothing and has no schedule: the owner's upload opens the
vault anyway, so :func:`vault.connectors.upload.service.add_upload` writes directly.
"""

from __future__ import annotations

from collections.abc import Iterator

from marshmallow import Schema, fields

from vault.connectors.base import Connector, CredentialKind, Draft, FetchContext
from vault.records.schemas import DOCUMENT_CATEGORIES

SOURCES = {
    "uwv": {"nl": "UWV-verzekeringsbericht", "en": "UWV insurance statement"},
    "duo": {"nl": "DUO-overzicht studieschuld", "en": "DUO student debt statement"},
    "pension": {"nl": "Pensioenoverzicht (mijnpensioenoverzicht.nl)", "en": "Pension overview"},
    "payslip": {"nl": "Loonstrook of jaaropgave", "en": "Payslip or annual statement"},
}


class UploadOptions(Schema):
    category = fields.String(
        load_default="other",
        metadata={"label": {"nl": "Soort document", "en": "Kind of document"},
                  "choices": list(DOCUMENT_CATEGORIES)},
    )


class UploadConnector(Connector):
    id = "upload"
    title = {"nl": "Document uploaden", "en": "Upload a document"}
    source_organisation = "UWV, DUO, pensioenuitvoerder, werkgever"
    record_types = ("document", "income", "pension", "student-debt", "employment")
    options_schema = UploadOptions
    credential = CredentialKind.NONE
    default_interval = 365 * 24 * 3600
    fetches = False

    def fetch(self, context: FetchContext) -> Iterator[Draft]:
        return iter(())
