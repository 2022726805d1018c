"""``psd2``: Berlin Group NextGenPSD2 XS2A 1.3.9 account information service.

1. A consent (``POST /v1/consents``) for the chosen IBAN, recurring, with
   ``validUntil`` and ``frequencyPerDay``; kept in the connection's state and
   reused until it expires. A consent the person has not approved at the bank
   yet makes the connection "need attention" with the bank's approval link.
2. ``GET /v1/accounts``, ``/balances``, ``/transactions?bookingStatus=booked``
   with the ``Consent-ID`` header. At most ``frequencyPerDay`` unattended
   refreshes a day.
3. One ``bank-account`` record with balance and average monthly income and expenses,
   and one ``bank-transaction`` record per booked transaction (keyed by the bank's
   ``transactionId``), which the finance overview (``vault.finance``) categorises.
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate

from vault.connectors.base import (
    Connector,
    CredentialKind,
    Draft,
    FetchContext,
    NeedsAttention,
    TransientError,
)
from vault.connectors.common import base_url_field, join_url, prune
from vault.records import validators

CONSENT_DAYS = 89
FREQUENCY_PER_DAY = 4
HISTORY_DAYS = 365
BALANCE_PREFERENCE = ("closingBooked", "interimBooked", "interimAvailable", "expected",
                      "openingBooked")


def _ipv4(value: str) -> None:
    try:
        ipaddress.IPv4Address(value)
    except ValueError:
        raise ValidationError("Not an IPv4 address.") from None


class Psd2Options(Schema):
    base_url = base_url_field()
    iban = fields.String(
        required=True, validate=validators.iban,
        metadata={"label": {"nl": "IBAN", "en": "IBAN"}},
    )
    psu_ip_address = fields.String(
        load_default="127.0.0.1", validate=_ipv4,
        metadata={"label": {"nl": "IP-adres doorgeven aan de bank",
                            "en": "IP address passed to the bank"}},
    )
    frequency_per_day = fields.Integer(
        load_default=FREQUENCY_PER_DAY, validate=validate.Range(min=1, max=4),
        metadata={"label": {"nl": "Keren per dag", "en": "Times per day"}},
    )


def cents(amount: Any) -> int:
    try:
        return int((Decimal(str(amount)) * 100).to_integral_value())
    except (InvalidOperation, ValueError):
        raise TransientError("The bank sent an amount that is not a number.") from None


def signed_cents(tx: dict[str, Any]) -> int | None:
    """The amount from the account holder's side (in > 0, out < 0), or None."""
    amount = (tx.get("transactionAmount") or {}).get("amount")
    if amount is None:
        return None
    value = cents(amount)
    # Amounts are signed from the account holder's side; unsigned debits name a creditor.
    if value > 0 and tx.get("creditorName") and not tx.get("debtorName"):
        value = -value
    return value


def transaction_draft(iban: str, tx: dict[str, Any], evidence: dict[str, Any]) -> Draft | None:
    """A ``bank-transaction`` draft for one booked transaction, or None without date/amount."""
    day = tx.get("bookingDate") or tx.get("valueDate")
    value = signed_cents(tx)
    if not day or value is None:
        return None
    outgoing = value < 0
    party = "creditor" if outgoing else "debtor"
    remittance = tx.get("remittanceInformationUnstructured")
    if not remittance and isinstance(tx.get("remittanceInformationUnstructuredArray"), list):
        remittance = " ".join(str(r) for r in tx["remittanceInformationUnstructuredArray"])
    data = prune({
        "account_iban": iban,
        "booking_date": str(day)[:10],
        "value_date": str(tx["valueDate"])[:10] if tx.get("valueDate") else None,
        "amount_cents": value,
        "currency": (tx.get("transactionAmount") or {}).get("currency"),
        "counterparty_name": (tx.get(f"{party}Name") or "")[:200] or None,
        "counterparty_iban": ((tx.get(f"{party}Account") or {}).get("iban") or "")[:34] or None,
        "remittance": (remittance or "")[:500] or None,
        "booking_code": (tx.get("bankTransactionCode") or "")[:35] or None,
        "purpose_code": (tx.get("purposeCode") or "")[:4] or None,
        "transaction_id": (tx.get("transactionId") or "")[:100] or None,
    })
    natural = tx.get("transactionId") or tx.get("entryReference") or "|".join(
        str(data.get(k, "")) for k in ("booking_date", "amount_cents", "counterparty_iban",
                                       "remittance"))
    return Draft("bank-transaction", f"tx:{iban}:{natural}", data, evidence,
                 f"transaction {data['booking_date']}")


def monthly_summary(transactions: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """``{"2025-03": {"income": cents, "expenses": cents}}`` from booked transactions."""
    months: dict[str, dict[str, int]] = defaultdict(lambda: {"income": 0, "expenses": 0})
    for tx in transactions:
        day = tx.get("bookingDate") or tx.get("valueDate")
        amount = (tx.get("transactionAmount") or {}).get("amount")
        if not day or amount is None:
            continue
        value = cents(amount)
        # Amounts are signed from the account holder's side; unsigned debits name a creditor.
        if value > 0 and tx.get("creditorName") and not tx.get("debtorName"):
            value = -value
        month = str(day)[:7]
        if value >= 0:
            months[month]["income"] += value
        else:
            months[month]["expenses"] += -value
    return dict(sorted(months.items()))


def pick_balance(balances: list[dict[str, Any]]) -> dict[str, Any] | None:
    by_type = {b.get("balanceType"): b for b in balances}
    for kind in BALANCE_PREFERENCE:
        if kind in by_type:
            return by_type[kind]
    return balances[0] if balances else None


class Psd2Connector(Connector):
    id = "psd2"
    title = {"nl": "Bankrekening (PSD2)", "en": "Bank account (PSD2)"}
    source_organisation = "Your bank (Berlin Group NextGenPSD2)"
    record_types = ("bank-account", "bank-transaction")
    options_schema = Psd2Options
    credential = CredentialKind.PSD2_CONSENT
    default_interval = 24 * 3600

    def _headers(self, context: FetchContext, **extra: str) -> dict[str, str]:
        headers = {"Accept": "application/json",
                   "PSU-IP-Address": context.options.get("psu_ip_address", "127.0.0.1")}
        if context.credentials.get("psu_id"):
            headers["PSU-ID"] = context.credentials["psu_id"]
        headers.update(extra)
        return headers

    def _consent(self, context: FetchContext) -> str:
        """A valid consent id: the stored one, or a new one."""
        today = context.now().date()
        consent = context.state.get("consent") or {}
        if consent.get("id") and consent.get("valid_until", "") >= today.isoformat():
            return consent["id"]
        base = context.options["base_url"]
        iban = context.options["iban"].replace(" ", "")
        valid_until = (today + timedelta(days=CONSENT_DAYS)).isoformat()
        body, _ = context.json(
            "POST", join_url(base, "v1/consents"), headers=self._headers(context),
            json={
                "access": {"accounts": [{"iban": iban}], "balances": [{"iban": iban}],
                           "transactions": [{"iban": iban}]},
                "recurringIndicator": True,
                "validUntil": valid_until,
                "frequencyPerDay": int(context.options.get("frequency_per_day",
                                                           FREQUENCY_PER_DAY)),
                "combinedServiceIndicator": False,
            },
        )
        if not isinstance(body, dict) or not body.get("consentId"):
            raise TransientError("The bank sent a consent answer in an unexpected shape.")
        context.state["consent"] = {"id": body["consentId"], "valid_until": valid_until,
                                    "status": body.get("consentStatus", "")}
        if body.get("consentStatus") not in ("valid",):
            link = ((body.get("_links") or {}).get("scaRedirect") or {}).get("href", "")
            raise NeedsAttention("Approve the consent at your bank, then refresh."
                                 + (f" Link: {link}" if link else ""))
        return body["consentId"]

    def _count_access(self, context: FetchContext) -> None:
        today = context.now().date().isoformat()
        limit = int(context.options.get("frequency_per_day", FREQUENCY_PER_DAY))
        accesses = context.state.get("accesses") or {}
        count = accesses.get("count", 0) if accesses.get("date") == today else 0
        if count >= limit:
            now = context.now()
            midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(),
                                        tzinfo=now.tzinfo)
            raise TransientError(f"The bank allows {limit} refreshes a day; trying tomorrow.",
                                 retry_after=(midnight - now).total_seconds())
        context.state["accesses"] = {"date": today, "count": count + 1}

    def fetch(self, context: FetchContext) -> Iterator[Draft]:
        base = context.options["base_url"]
        iban = context.options["iban"].replace(" ", "")
        context.progress(0, 4)
        self._count_access(context)
        consent_id = self._consent(context)
        headers = self._headers(context, **{"Consent-ID": consent_id})
        context.progress(1, 4)
        body, evidence = context.json("GET", join_url(base, "v1/accounts"), headers=headers)
        accounts = body.get("accounts") if isinstance(body, dict) else None
        if not isinstance(accounts, list):
            raise TransientError("The bank sent an account list in an unexpected shape.")
        account = next((a for a in accounts if (a.get("iban") or "").replace(" ", "") == iban),
                       None)
        if account is None:
            raise NeedsAttention("The bank does not show this IBAN under the consent.")
        resource = account.get("resourceId")
        context.progress(2, 4)
        balances_body, _ = context.json(
            "GET", join_url(base, f"v1/accounts/{resource}/balances"), headers=headers)
        balance = pick_balance((balances_body or {}).get("balances") or [])
        context.progress(3, 4)
        since = (context.now().date() - timedelta(days=HISTORY_DAYS)).isoformat()
        tx_body, tx_evidence = context.json(
            "GET", join_url(base, f"v1/accounts/{resource}/transactions"), headers=headers,
            params={"bookingStatus": "booked", "dateFrom": since},
        )
        booked = ((tx_body or {}).get("transactions") or {}).get("booked") or []
        months = monthly_summary(booked)
        n = len(months) or 1
        data = prune({
            "iban": iban,
            "bank": account.get("bic") or None,
            "owner_name": account.get("ownerName") or account.get("name"),
            "currency": account.get("currency"),
            "balance_cents": cents(balance["balanceAmount"]["amount"]) if balance else None,
            "balance_date": _balance_date(balance),
            "monthly_income_cents": sum(m["income"] for m in months.values()) // n
            if months else None,
            "monthly_expenses_cents": sum(m["expenses"] for m in months.values()) // n
            if months else None,
        })
        evidence = {**evidence, "months": months}
        context.progress(4, 4)
        yield Draft("bank-account", f"iban:{iban}", data, evidence, f"bank account {iban[-4:]}")
        for tx in booked:
            draft = transaction_draft(iban, tx, tx_evidence) if isinstance(tx, dict) else None
            if draft is not None:
                yield draft


def _balance_date(balance: dict[str, Any] | None) -> str | None:
    if not balance:
        return None
    if balance.get("referenceDate"):
        return str(balance["referenceDate"])[:10]
    if balance.get("lastChangeDateTime"):
        return str(balance["lastChangeDateTime"])[:10]
    return date.today().isoformat()
