"""Errors of the finance overview."""

from __future__ import annotations

from vault.errors import KluisError


class FinanceError(KluisError):
    status = 400
    code = "finance-error"


class UnknownCategory(FinanceError):
    status = 422
    code = "validation"
    title = "Unknown category"

    def __init__(self, category: str) -> None:
        super().__init__(f"unknown category {category!r}")
        self.errors = {"category": ["Choose one of the categories."]}


class TransactionNotFound(FinanceError):
    status = 404
    code = "not-found"
    title = "No such transaction"


class NoBankData(FinanceError):
    status = 409
    code = "no-bank-data"
    title = "There are no bank transactions to summarise"
