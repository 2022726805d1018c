"""Validators for Dutch identifiers used in record schemas."""

from __future__ import annotations

import re

from marshmallow import ValidationError

_BSN = re.compile(r"^\d{9}$")
_POSTCODE = re.compile(r"^[1-9]\d{3} ?[A-Z]{2}$")
_IBAN = re.compile(r"^[A-Z]{2}\d{2}[A-Z0-9]{10,30}$")


def bsn(value: str) -> None:
    """Burgerservicenummer: nine digits passing the eleven test (elfproef)."""
    if not _BSN.match(value or ""):
        raise ValidationError("A BSN has nine digits.")
    digits = [int(c) for c in value]
    total = sum(d * w for d, w in zip(digits[:8], range(9, 1, -1), strict=True)) - digits[8]
    if total % 11 != 0:
        raise ValidationError("This is not a valid BSN (eleven test fails).")


def postcode(value: str) -> None:
    if not _POSTCODE.match(value or ""):
        raise ValidationError("A Dutch postcode looks like 1234 AB.")


def iban(value: str) -> None:
    compact = (value or "").replace(" ", "").upper()
    if not _IBAN.match(compact):
        raise ValidationError("This is not an IBAN.")
    rearranged = compact[4:] + compact[:4]
    number = int("".join(str(int(ch, 36)) for ch in rearranged))
    if number % 97 != 1:
        raise ValidationError("This IBAN's check digits are wrong.")


def sha256_hex(value: str) -> None:
    if not re.fullmatch(r"[0-9a-f]{64}", value or ""):
        raise ValidationError("A SHA-256 digest is 64 lower-case hex characters.")
