"""The record type catalogue: every type a vault can hold, with its labels and schema."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from marshmallow import Schema, fields

from vault.records import schemas

LANGUAGES = ("nl", "en")


@dataclass(frozen=True)
class RecordType:
    id: str
    category: str
    labels: dict[str, str]
    schema: type[Schema]
    # Fields that, together, name the record in lists ("Income 2025, ACME BV").
    title_fields: tuple[str, ...]

    def label(self, lang: str = "nl") -> str:
        return self.labels.get(lang) or self.labels["en"]

    def field_names(self) -> list[str]:
        return list(self.schema().fields)

    def field_label(self, name: str, lang: str = "nl") -> str:
        field = self.schema().fields[name]
        labels = field.metadata.get("label", {})
        return labels.get(lang) or labels.get("en") or name

    def fields(self) -> dict[str, fields.Field[Any]]:
        return dict(self.schema().fields)

    def title(self, data: dict[str, Any], lang: str = "nl") -> str:
        """What names one record in lists and in the log: its title fields as a person reads
        them ("2025 ACME BV" for an income); empty when none is filled in."""
        from vault.records.display import format_value

        schema_fields = self.fields()
        return " ".join(format_value(schema_fields[name], data.get(name), lang)
                        for name in self.title_fields
                        if name in schema_fields and data.get(name) not in (None, ""))

    def describe(self, lang: str | None = None) -> dict[str, Any]:
        """A plain description for APIs and forms."""
        out: dict[str, Any] = {
            "id": self.id,
            "category": self.category,
            "label": self.labels if lang is None else self.label(lang),
            "fields": [],
        }
        for name, field in self.schema().fields.items():
            labels = field.metadata.get("label", {})
            entry: dict[str, Any] = {
                "name": name,
                "label": labels if lang is None else (labels.get(lang) or name),
                "type": field_kind(field),
                "required": field.required,
            }
            if "choices" in field.metadata:
                entry["choices"] = list(field.metadata["choices"])
            out["fields"].append(entry)
        return out


def field_kind(field: fields.Field[Any]) -> str:
    if field.metadata.get("unit") == "cents":
        return "cents"
    if isinstance(field, fields.Date):
        return "date"
    if isinstance(field, fields.Integer):
        return "integer"
    if isinstance(field, fields.Decimal):
        return "decimal"
    if isinstance(field, fields.List):
        return "list"
    if "choices" in field.metadata:
        return "choice"
    return "text"


CATEGORIES = {
    "identity": {"nl": "Identiteit en huishouden", "en": "Identity and household"},
    "finance": {"nl": "Inkomen en financiën", "en": "Income and finances"},
    "housing": {"nl": "Wonen", "en": "Housing"},
    "documents": {"nl": "Documenten", "en": "Documents"},
}

_TYPES = [
    RecordType("person", "identity", {"nl": "Persoon", "en": "Person"},
               schemas.PersonSchema, ("given_names", "surname")),
    RecordType("address", "identity", {"nl": "Adres", "en": "Address"},
               schemas.AddressSchema, ("street", "house_number", "city")),
    RecordType("household-member", "identity", {"nl": "Huisgenoot", "en": "Household member"},
               schemas.HouseholdMemberSchema, ("relation", "given_names", "surname")),
    RecordType("income", "finance", {"nl": "Inkomen", "en": "Income"},
               schemas.IncomeSchema, ("year", "source")),
    RecordType("pension", "finance", {"nl": "Pensioenaanspraak", "en": "Pension entitlement"},
               schemas.PensionSchema, ("provider",)),
    RecordType("student-debt", "finance", {"nl": "Studieschuld", "en": "Student debt"},
               schemas.StudentDebtSchema, ("lender",)),
    RecordType("employment", "finance", {"nl": "Dienstverband", "en": "Employment"},
               schemas.EmploymentSchema, ("employer", "start_date")),
    RecordType("bank-account", "finance", {"nl": "Bankrekening", "en": "Bank account"},
               schemas.BankAccountSchema, ("iban",)),
    RecordType("bank-transaction", "finance", {"nl": "Banktransactie", "en": "Bank transaction"},
               schemas.BankTransactionSchema, ("booking_date", "counterparty_name")),
    RecordType("monthly-finances", "finance",
               {"nl": "Maandoverzicht inkomsten en uitgaven",
                "en": "Monthly income and expenses"},
               schemas.MonthlyFinancesSchema, ("period_start", "period_end")),
    RecordType("property", "housing", {"nl": "Woning (WOZ)", "en": "Property (WOZ)"},
               schemas.PropertySchema, ("address",)),
    RecordType("document", "documents", {"nl": "Document", "en": "Document"},
               schemas.DocumentSchema, ("name",)),
]

RECORD_TYPES: dict[str, RecordType] = {t.id: t for t in _TYPES}


class UnknownRecordType(KeyError):
    pass


def get_type(type_id: str) -> RecordType:
    try:
        return RECORD_TYPES[type_id]
    except KeyError:
        raise UnknownRecordType(type_id) from None
