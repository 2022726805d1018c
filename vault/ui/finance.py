"""The finance overview page: 12 months as an SVG chart and a table, transactions by category.

Everything is computed by :mod:`vault.finance`; this module lays it out. The chart is
drawn here, on the server, as SVG with classes from ``kluis.css`` (no script, no inline
style, so the strict CSP holds); the same numbers stand in a table beside it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as WerkzeugResponse

from vault import formats
from vault.finance import overview as finance
from vault.finance.errors import NoBankData, TransactionNotFound, UnknownCategory
from vault.finance.models import Month, Overview
from vault.finance.rules import CATEGORIES
from vault.records.display import MONTHS
from vault.ui import common
from vault.ui.i18n import current_language, register, t
from vault.web.auth import owner_vault

bp = Blueprint("finance_ui", __name__)

#: Transactions listed on the page, newest first.
MAX_LISTED = 500

#: Short Dutch month names (the long ones, in both languages, are records.display.MONTHS).
_SHORT_NL = ("jan", "feb", "mrt", "apr", "mei", "jun", "jul", "aug", "sep", "okt", "nov", "dec")

register({
    "nav.finance": {"nl": "Financiën", "en": "Finances"},
    **{f"fin.month.{i + 1}": {"nl": MONTHS["nl"][i], "en": MONTHS["en"][i]} for i in range(12)},
    **{f"fin.month_short.{i + 1}": {"nl": _SHORT_NL[i], "en": MONTHS["en"][i][:3]}
       for i in range(12)},
    "fin.title": {"nl": "Inkomsten en uitgaven", "en": "Income and expenses"},
    "fin.intro": {
        "nl": "Per maand wat er binnenkwam en wat eruit ging, over de twaalf maanden tot en met "
              "je laatste banktransactie. Kluis rekent dit uit in je kluis; niemand anders ziet "
              "het, tenzij je het maandoverzicht deelt.",
        "en": "Per month what came in and what went out, over the twelve months up to your "
              "latest bank transaction. Kluis works this out inside your vault; nobody else "
              "sees it unless you share the monthly overview.",
    },
    "fin.empty": {
        "nl": "Nog geen banktransacties. Koppel je bankrekening bij Bronnen, of voeg "
              "transacties toe bij Mijn gegevens.",
        "en": "No bank transactions yet. Connect your bank account under Sources, or add "
              "transactions under My data.",
    },
    "fin.connect": {"nl": "Bankrekening koppelen", "en": "Connect a bank account"},
    "fin.period": {"nl": "{start} tot en met {end}", "en": "{start} to {end}"},
    "fin.chart_title": {"nl": "Inkomsten en uitgaven per maand",
                        "en": "Income and expenses per month"},
    "fin.chart_desc": {
        "nl": "Staafdiagram van {start} tot en met {end}. Per maand een staaf voor inkomsten "
              "en een voor uitgaven. Hoogste maandbedrag: {max}. De tabel hiernaast geeft "
              "dezelfde bedragen.",
        "en": "Bar chart from {start} to {end}. Per month one bar for income and one for "
              "expenses. Highest monthly amount: {max}. The table beside it gives the same "
              "amounts.",
    },
    "fin.legend_income": {"nl": "Inkomsten", "en": "Income"},
    "fin.legend_expenses": {"nl": "Uitgaven", "en": "Expenses"},
    "fin.table_caption": {"nl": "Bedragen per maand", "en": "Amounts per month"},
    "fin.col_month": {"nl": "Maand", "en": "Month"},
    "fin.income": {"nl": "Inkomsten", "en": "Income"},
    "fin.expenses": {"nl": "Uitgaven", "en": "Expenses"},
    "fin.net": {"nl": "Saldo", "en": "Net"},
    "fin.balance": {"nl": "Stand eind maand", "en": "Balance at month end"},
    "fin.declared": {"nl": "Opgegeven inkomen", "en": "Declared income"},
    "fin.unknown": {"nl": "onbekend", "en": "unknown"},
    "fin.total": {"nl": "Totaal", "en": "Total"},
    "fin.average": {"nl": "Gemiddeld per maand", "en": "Average per month"},
    "fin.average_text": {
        "nl": "Gemiddeld per maand (over {n} maanden met gegevens): {income} inkomsten, "
              "{expenses} uitgaven.",
        "en": "Average per month (over {n} months with data): {income} income, "
              "{expenses} expenses.",
    },
    "fin.declared_note": {
        "nl": "Je inkomensgegevens (een twaalfde van het jaarbedrag) staan ernaast ter "
              "vergelijking; ze tellen niet mee in de inkomsten.",
        "en": "Your income records (a twelfth of the yearly amount) stand beside them for "
              "comparison; they are not added to the income.",
    },
    "fin.foreign": {"nl": "{n} transacties in een andere valuta tellen niet mee.",
                    "en": "{n} transactions in another currency are not counted."},
    "fin.categories_title": {"nl": "Per categorie", "en": "By category"},
    "fin.categories_caption": {"nl": "Totaal per categorie over de twaalf maanden",
                               "en": "Total per category over the twelve months"},
    "fin.category": {"nl": "Categorie", "en": "Category"},
    "fin.transactions_title": {"nl": "Transacties", "en": "Transactions"},
    "fin.transactions_intro": {
        "nl": "Staat een transactie in de verkeerde categorie? Kies de goede. Kluis onthoudt "
              "het voor die tegenpartij, ook voor latere transacties.",
        "en": "Is a transaction in the wrong category? Choose the right one. Kluis remembers "
              "it for that counterparty, for later transactions too.",
    },
    "fin.transactions_more": {"nl": "De nieuwste {n} van {total} transacties.",
                              "en": "The newest {n} of {total} transactions."},
    "fin.no_counterparty": {"nl": "(geen tegenpartij)", "en": "(no counterparty)"},
    "fin.change_category": {"nl": "Categorie wijzigen", "en": "Change category"},
    "fin.category_for": {"nl": "Categorie van {what}", "en": "Category of {what}"},
    "fin.recategorised": {
        "nl": "Categorie gewijzigd. Kluis onthoudt dit voor {who}.",
        "en": "Category changed. Kluis remembers this for {who}.",
    },
    "fin.bad_category": {"nl": "Kies een van de categorieën.", "en": "Choose one of the categories."},
    "fin.reason.owner": {"nl": "door jou gekozen", "en": "chosen by you"},
    "fin.reason.learnt": {"nl": "geleerd van je keuze", "en": "learnt from your choice"},
    "fin.reason.rule": {"nl": "volgens de regels", "en": "by the rules"},
    "fin.reason.default": {"nl": "geen regel van toepassing", "en": "no rule applied"},
    "fin.summary_title": {"nl": "Delen zonder je transacties", "en": "Share without your transactions"},
    "fin.summary_intro": {
        "nl": "Een organisatie die je inkomsten en uitgaven wil zien, kan om het maandoverzicht "
              "vragen in plaats van om je transacties. Het maandoverzicht is één gegeven met de "
              "twaalf maanden hierboven; maak het opnieuw als er nieuwe transacties zijn.",
        "en": "An organisation that wants to see your income and expenses can ask for the "
              "monthly overview instead of your transactions. The monthly overview is one record "
              "with the twelve months above; make it again when there are new transactions.",
    },
    "fin.make_summary": {"nl": "Maak maandoverzicht", "en": "Make monthly overview"},
    "fin.summary_made": {"nl": "Maandoverzicht gemaakt.", "en": "Monthly overview made."},
    "fin.summary_same": {"nl": "Het maandoverzicht was al bij.",
                         "en": "The monthly overview was up to date."},
    "fin.summary_none": {"nl": "Er zijn nog geen banktransacties om samen te vatten.",
                         "en": "There are no bank transactions to summarise yet."},
    "fin.summary_view": {"nl": "Bekijk het maandoverzicht", "en": "View the monthly overview"},
    "source.finance": {"nl": "afgeleid uit je banktransacties",
                       "en": "derived from your bank transactions"},
    **{f"fin.cat.{key}": {"nl": nl, "en": en} for key, (nl, en) in {
        "salary": ("Salaris", "Salary"),
        "benefits": ("Uitkeringen en toeslagen", "Benefits"),
        "housing": ("Huur of hypotheek", "Rent or mortgage"),
        "utilities": ("Energie, water, telefoon en internet", "Utilities"),
        "insurance": ("Verzekeringen", "Insurance"),
        "groceries": ("Boodschappen", "Groceries"),
        "transport": ("Vervoer", "Transport"),
        "other": ("Overig", "Other"),
    }.items()},
})
common.NAV_LINKS.append(("finance_ui.overview", "nav.finance"))


# -- formats --------------------------------------------------------------------------------


def money(cents: int | None) -> str:
    """``EUR 48.250,00`` (nl) or ``EUR 48,250.00`` (en)."""
    if cents is None:
        return t("fin.unknown")
    return formats.money(cents, current_language())


def long_date(day: date) -> str:
    """``14 maart 2026`` (nl) or ``14 March 2026`` (en)."""
    return formats.day(day, current_language())


def month_name(key: str, *, short: bool = False) -> str:
    """``maart 2026`` or, short, ``mrt 2026``."""
    return f"{t(('fin.month_short.' if short else 'fin.month.') + str(int(key[5:7])))} {key[:4]}"


def reason_label(reason: str) -> str:
    return t("fin.reason." + reason.split(":", 1)[0])


# -- the chart ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bar:
    x: int
    y: int
    width: int
    height: int
    kind: str  # income or expenses
    label: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    baseline: int
    bars: list[Bar]
    ticks: list[tuple[int, str]]  # (x of the month's middle, short month name)
    top: int  # cents at the top of the scale


CHART_W, CHART_H, PLOT_TOP, PLOT_BOTTOM, LEFT = 720, 260, 16, 220, 8


def chart(months: list[Month]) -> Chart:
    """Bars in whole SVG units: integer arithmetic on cents, no floats."""
    top = max([m.income_cents for m in months] + [m.expenses_cents for m in months] + [1])
    slot = (CHART_W - LEFT) // len(months)
    bar_w = slot * 3 // 8
    plot = PLOT_BOTTOM - PLOT_TOP
    bars, ticks = [], []
    for i, m in enumerate(months):
        x = LEFT + i * slot + slot // 8
        for j, (kind, cents) in enumerate((("income", m.income_cents),
                                           ("expenses", m.expenses_cents))):
            h = cents * plot // top
            if cents and h == 0:
                h = 1  # a small amount stays visible
            bars.append(Bar(x + j * bar_w, PLOT_BOTTOM - h, bar_w, h, kind,
                            f"{month_name(m.month)}: {t('fin.legend_' + kind)} {money(cents)}"))
        ticks.append((LEFT + i * slot + slot // 2, t(f"fin.month_short.{int(m.month[5:7])}")))
    return Chart(CHART_W, CHART_H, PLOT_BOTTOM, bars, ticks, top)


# -- pages ----------------------------------------------------------------------------------


def _view(result: Overview) -> dict[str, Any]:
    months = result.months
    start, end = month_name(months[0].month), month_name(months[-1].month)
    listed = result.transactions[:MAX_LISTED]
    return {
        "result": result, "months": months, "start": start, "end": end,
        "chart": chart(months) if result.has_data else None,
        "listed": listed, "categories": [(c, t(f"fin.cat.{c}")) for c in CATEGORIES],
        "has_balance": any(m.closing_balance_cents is not None for m in months),
        "has_declared": any(m.declared_income_cents is not None for m in months),
    }


@bp.get("/finance")
@common.owner_page
def overview() -> str:
    result = finance.overview(owner_vault())
    return render_template("finance/overview.html", **_view(result), money=money,
                           long_date=long_date, month_name=month_name,
                           reason_label=reason_label,
                           summary=finance.summary_record(owner_vault()))


@bp.post("/finance/transactions/<record_id>/category")
@common.owner_page
def recategorise(record_id: str) -> WerkzeugResponse:
    vault = owner_vault()
    try:
        changed = finance.recategorise(vault, record_id, request.form.get("category", ""))
    except TransactionNotFound:
        abort(404)
    except UnknownCategory:
        flash(t("fin.bad_category"), "error")
        return redirect(url_for("finance_ui.overview"))
    who = changed.counterparty_name or changed.counterparty_iban or t("fin.no_counterparty")
    flash(t("fin.recategorised", who=who), "ok")
    return redirect(url_for("finance_ui.overview", _anchor=f"tx-{record_id}"))


@bp.post("/finance/summary")
@common.owner_page
def make_summary() -> WerkzeugResponse:
    try:
        record, changed = finance.derive_summary(owner_vault())
    except NoBankData:
        flash(t("fin.summary_none"), "error")
        return redirect(url_for("finance_ui.overview"))
    flash(t("fin.summary_made" if changed else "fin.summary_same"), "ok")
    return redirect(url_for("records_ui.record_detail", record_id=record.id))
