"""One marshmallow schema per record type: the single definition of what a record holds.

Every field carries Dutch and English labels in ``metadata["label"]``; forms,
the consent screen, the PDF export and the OpenAPI document read them from here.
Amounts are whole euro cents; dates are ISO 8601.
"""

from __future__ import annotations

from typing import Any

from marshmallow import RAISE, Schema, fields, validate

from vault.records import validators

MAX_TEXT = 200
MAX_CENTS = 10**13  # 100 billion euro: larger is a typing error


def label(nl: str, en: str, **extra: Any) -> dict[str, Any]:
    return {"label": {"nl": nl, "en": en}, **extra}


def Text(nl: str, en: str, *, required: bool = False, max_length: int = MAX_TEXT,  # noqa: N802
         **kw: Any) -> fields.String:
    return fields.String(
        required=required,
        validate=validate.Length(min=1 if required else 0, max=max_length),
        metadata=label(nl, en),
        **kw,
    )


def Cents(nl: str, en: str, *, required: bool = False,  # noqa: N802
          signed: bool = False) -> fields.Integer:
    low = -MAX_CENTS if signed else 0
    return fields.Integer(
        required=required,
        strict=True,
        validate=validate.Range(min=low, max=MAX_CENTS),
        metadata=label(nl, en, unit="cents"),
    )


def Choice(nl: str, en: str, choices: dict[str, tuple[str, str]], *,  # noqa: N802
           required: bool = False) -> fields.String:
    return fields.String(
        required=required,
        validate=validate.OneOf(list(choices)),
        metadata=label(nl, en, choices={k: {"nl": v[0], "en": v[1]} for k, v in choices.items()}),
    )


class RecordSchema(Schema):
    class Meta:
        unknown = RAISE
        ordered = True


class PersonSchema(RecordSchema):
    given_names = Text("Voornamen", "Given names", required=True)
    surname_prefix = Text("Voorvoegsel", "Surname prefix", max_length=20)
    surname = Text("Geslachtsnaam", "Surname", required=True)
    bsn = fields.String(validate=validators.bsn, metadata=label("BSN", "Citizen service number (BSN)"))
    birth_date = fields.Date(metadata=label("Geboortedatum", "Date of birth"))
    birth_place = Text("Geboorteplaats", "Place of birth")
    birth_country = Text("Geboorteland", "Country of birth")
    nationality = Text("Nationaliteit", "Nationality")
    gender = Choice(
        "Geslacht", "Gender",
        {"M": ("man", "male"), "V": ("vrouw", "female"), "O": ("onbekend", "unknown")},
    )


class AddressSchema(RecordSchema):
    street = Text("Straat", "Street", required=True)
    house_number = fields.Integer(
        required=True, strict=True, validate=validate.Range(min=1, max=99999),
        metadata=label("Huisnummer", "House number"),
    )
    house_number_addition = Text("Toevoeging", "Addition", max_length=10)
    postcode = fields.String(validate=validators.postcode, metadata=label("Postcode", "Postcode"))
    city = Text("Woonplaats", "City", required=True)
    municipality = Text("Gemeente", "Municipality")
    country = Text("Land", "Country")
    valid_from = fields.Date(metadata=label("Adres sinds", "Living here since"))


RELATIONS = {
    "partner": ("partner", "partner"),
    "child": ("kind", "child"),
    "parent": ("ouder", "parent"),
    "other": ("overig", "other"),
}


class HouseholdMemberSchema(RecordSchema):
    relation = Choice("Relatie", "Relation", RELATIONS, required=True)
    given_names = Text("Voornamen", "Given names", required=True)
    surname_prefix = Text("Voorvoegsel", "Surname prefix", max_length=20)
    surname = Text("Geslachtsnaam", "Surname", required=True)
    birth_date = fields.Date(metadata=label("Geboortedatum", "Date of birth"))
    bsn = fields.String(validate=validators.bsn, metadata=label("BSN", "Citizen service number (BSN)"))


INCOME_KINDS = {
    "employment": ("loondienst", "employment"),
    "benefit": ("uitkering", "benefit"),
    "pension": ("pensioen", "pension"),
    "self-employed": ("eigen onderneming", "self-employed"),
    "other": ("overig", "other"),
}


class IncomeSchema(RecordSchema):
    year = fields.Integer(
        required=True, strict=True, validate=validate.Range(min=1900, max=2200),
        metadata=label("Jaar", "Year"),
    )
    source = Text("Werkgever of bron", "Employer or source", required=True)
    kind = Choice("Soort inkomen", "Kind of income", INCOME_KINDS)
    gross_amount_cents = Cents("Bruto bedrag", "Gross amount", required=True)
    net_amount_cents = Cents("Netto bedrag", "Net amount")
    document_sha256 = fields.String(
        validate=validators.sha256_hex, metadata=label("Bewijsstuk", "Supporting document")
    )


class PensionSchema(RecordSchema):
    provider = Text("Pensioenuitvoerder", "Pension provider", required=True)
    scheme = Text("Regeling", "Scheme")
    accrued_annual_cents = Cents("Opgebouwd per jaar", "Accrued per year")
    projected_annual_cents = Cents("Te bereiken per jaar", "Projected per year")
    start_date = fields.Date(metadata=label("Ingangsdatum", "Start date"))
    as_of = fields.Date(metadata=label("Peildatum", "As of"))
    document_sha256 = fields.String(
        validate=validators.sha256_hex, metadata=label("Bewijsstuk", "Supporting document")
    )


class StudentDebtSchema(RecordSchema):
    lender = Text("Uitlener", "Lender", required=True)
    principal_cents = Cents("Oorspronkelijke schuld", "Original debt")
    outstanding_cents = Cents("Openstaande schuld", "Outstanding debt", required=True)
    monthly_payment_cents = Cents("Maandtermijn", "Monthly payment")
    interest_rate = fields.Decimal(
        as_string=True, places=3, validate=validate.Range(min=0, max=100),
        metadata=label("Rente (%)", "Interest rate (%)"),
    )
    repayment_start = fields.Date(metadata=label("Start aflossing", "Repayment starts"))
    as_of = fields.Date(metadata=label("Peildatum", "As of"))
    document_sha256 = fields.String(
        validate=validators.sha256_hex, metadata=label("Bewijsstuk", "Supporting document")
    )


class WozValueSchema(RecordSchema):
    reference_date = fields.Date(required=True, metadata=label("Waardepeildatum", "Valuation date"))
    value_cents = Cents("WOZ-waarde", "WOZ value", required=True)
    tax_year = fields.Integer(
        strict=True, validate=validate.Range(min=1990, max=2200),
        metadata=label("Belastingjaar", "Tax year"),
    )


class PropertySchema(RecordSchema):
    woz_object_id = Text("WOZ-objectnummer", "WOZ object number", max_length=20)
    address = Text("Adres", "Address", required=True)
    postcode = fields.String(validate=validators.postcode, metadata=label("Postcode", "Postcode"))
    ownership = Text("Eigendom", "Ownership")
    woz_values = fields.List(
        fields.Nested(WozValueSchema),
        validate=validate.Length(max=100),
        metadata=label("WOZ-waarden", "WOZ values"),
    )


class EmploymentSchema(RecordSchema):
    employer = Text("Werkgever", "Employer", required=True)
    role = Text("Functie", "Role")
    start_date = fields.Date(required=True, metadata=label("Begindatum", "Start date"))
    end_date = fields.Date(metadata=label("Einddatum", "End date"))
    hours_per_week = fields.Decimal(
        as_string=True, places=1, validate=validate.Range(min=0, max=168),
        metadata=label("Uren per week", "Hours per week"),
    )
    contract = Choice(
        "Contract", "Contract",
        {
            "permanent": ("vast", "permanent"),
            "temporary": ("tijdelijk", "temporary"),
            "on-call": ("oproep", "on call"),
        },
    )


class BankAccountSchema(RecordSchema):
    iban = fields.String(required=True, validate=validators.iban, metadata=label("IBAN", "IBAN"))
    bank = Text("Bank", "Bank")
    owner_name = Text("Tenaamstelling", "Account holder")
    currency = fields.String(
        validate=validate.Regexp(r"^[A-Z]{3}$"), metadata=label("Valuta", "Currency")
    )
    balance_cents = Cents("Saldo", "Balance", signed=True)
    balance_date = fields.Date(metadata=label("Saldodatum", "Balance date"))
    monthly_income_cents = Cents("Gemiddeld inkomend per maand", "Average monthly income")
    monthly_expenses_cents = Cents("Gemiddeld uitgaand per maand", "Average monthly expenses")


DOCUMENT_CATEGORIES = {
    "payslip": ("loonstrook", "payslip"),
    "annual-statement": ("jaaropgave", "annual statement"),
    "uwv": ("UWV-verzekeringsbericht", "UWV insurance statement"),
    "duo": ("DUO-overzicht", "DUO statement"),
    "pension": ("pensioenoverzicht", "pension overview"),
    "identity": ("identiteitsbewijs", "identity document"),
    "other": ("overig", "other"),
}


class DocumentSchema(RecordSchema):
    name = Text("Bestandsnaam", "File name", required=True, max_length=255)
    media_type = fields.String(
        required=True,
        validate=validate.Regexp(r"^[a-z]+/[a-z0-9.+-]+$"),
        metadata=label("Bestandstype", "Media type"),
    )
    size = fields.Integer(
        required=True, strict=True, validate=validate.Range(min=0),
        metadata=label("Grootte (bytes)", "Size (bytes)"),
    )
    sha256 = fields.String(
        required=True, validate=validators.sha256_hex, metadata=label("SHA-256", "SHA-256")
    )
    category = Choice("Soort document", "Kind of document", DOCUMENT_CATEGORIES)
    description = Text("Omschrijving", "Description", max_length=1000)


class BankTransactionSchema(RecordSchema):
    """One booked transaction of a bank account (PSD2 ``transactions/booked``, or typed in).

    ``amount_cents`` is signed from the account holder's side: money in is positive,
    money out negative. The counterparty is the creditor of a payment out and the
    debtor of a payment in.
    """

    account_iban = fields.String(required=True, validate=validators.iban,
                                 metadata=label("Rekening (IBAN)", "Account (IBAN)"))
    booking_date = fields.Date(required=True, metadata=label("Boekdatum", "Booking date"))
    value_date = fields.Date(metadata=label("Valutadatum", "Value date"))
    amount_cents = Cents("Bedrag", "Amount", required=True, signed=True)
    currency = fields.String(
        validate=validate.Regexp(r"^[A-Z]{3}$"), metadata=label("Valuta", "Currency")
    )
    counterparty_name = Text("Tegenpartij", "Counterparty")
    counterparty_iban = Text("Rekening tegenpartij", "Counterparty account", max_length=34)
    remittance = Text("Omschrijving", "Description", max_length=500)
    booking_code = Text("Transactiecode", "Transaction code", max_length=35)
    purpose_code = Text("Doelcode", "Purpose code", max_length=4)
    transaction_id = Text("Transactie-id bij de bank", "Bank's transaction id", max_length=100)
    document_sha256 = fields.String(
        validate=validators.sha256_hex, metadata=label("Bewijsstuk", "Supporting document")
    )


FINANCE_CATEGORIES = {
    "salary": ("salaris", "salary"),
    "benefits": ("uitkeringen en toeslagen", "benefits"),
    "housing": ("huur of hypotheek", "rent or mortgage"),
    "utilities": ("energie, water, telefoon en internet", "utilities"),
    "insurance": ("verzekeringen", "insurance"),
    "groceries": ("boodschappen", "groceries"),
    "transport": ("vervoer", "transport"),
    "other": ("overig", "other"),
}


class FinanceMonthSchema(RecordSchema):
    month = fields.String(required=True, validate=validate.Regexp(r"^\d{4}-(0[1-9]|1[0-2])$"),
                          metadata=label("Maand", "Month"))
    income_cents = Cents("Inkomsten", "Income", required=True)
    expenses_cents = Cents("Uitgaven", "Expenses", required=True)
    net_cents = Cents("Saldo van de maand", "Net for the month", required=True, signed=True)
    closing_balance_cents = Cents("Stand aan het eind van de maand", "Balance at month end",
                                  signed=True)


class FinanceCategoryTotalSchema(RecordSchema):
    category = Choice("Categorie", "Category", FINANCE_CATEGORIES, required=True)
    income_cents = Cents("Inkomsten", "Income", required=True)
    expenses_cents = Cents("Uitgaven", "Expenses", required=True)


class MonthlyFinancesSchema(RecordSchema):
    """Income, expenses and net per month over 12 months, derived from bank transactions.

    What an organisation can ask for instead of the raw transactions.
    """

    period_start = fields.Date(required=True, metadata=label("Eerste maand", "First month"))
    period_end = fields.Date(required=True, metadata=label("Laatste maand", "Last month"))
    months = fields.List(
        fields.Nested(FinanceMonthSchema), required=True, validate=validate.Length(min=1, max=12),
        metadata=label("Per maand", "Per month"),
    )
    average_income_cents = Cents("Gemiddelde inkomsten per maand", "Average monthly income",
                                 required=True)
    average_expenses_cents = Cents("Gemiddelde uitgaven per maand", "Average monthly expenses",
                                   required=True)
    category_totals = fields.List(
        fields.Nested(FinanceCategoryTotalSchema), validate=validate.Length(max=20),
        metadata=label("Totaal per categorie", "Total per category"),
    )
    transaction_count = fields.Integer(
        strict=True, validate=validate.Range(min=0),
        metadata=label("Aantal transacties", "Number of transactions"),
    )
