"""The categoriser's rule set: each category, directions, the order, learnt rules."""

from __future__ import annotations

import pytest

from vault.finance.rules import CATEGORIES, RULES, categorise, counterparty_keys, fold


@pytest.mark.parametrize(("amount", "fields", "category", "reason"), [
    (250_000, {"counterparty_name": "ACME BV", "remittance": "Salaris maart 2026"},
     "salary", "rule:salary"),
    (250_000, {"counterparty_name": "Werkgever", "purpose_code": "SALA"}, "salary",
     "rule:salary"),
    (250_000, {"counterparty_name": "Werkgever", "booking_code": "PMNT-RCDT-SALA"}, "salary",
     "rule:salary"),
    (120_000, {"counterparty_name": "UWV", "remittance": "WW-uitkering"}, "benefits",
     "rule:benefits"),
    (15_400, {"counterparty_name": "Dienst Toeslagen", "remittance": "ZORGTOESLAG 2026"},
     "benefits", "rule:benefits"),
    (15_400, {"counterparty_iban": "NL86 INGB 0002 4455 88"}, "benefits", "rule:benefits"),
    (-95_000, {"counterparty_name": "Woonstichting De Kern", "remittance": "maart"},
     "housing", "rule:housing"),
    (-140_000, {"counterparty_name": "Bank", "remittance": "Hypotheek 123"}, "housing",
     "rule:housing"),
    (-12_000, {"counterparty_name": "Eneco Retail", "remittance": "termijnbedrag"},
     "utilities", "rule:utilities"),
    (-4_500, {"counterparty_name": "Ziggo"}, "utilities", "rule:utilities"),
    (-13_800, {"counterparty_name": "Zilveren Kruis", "remittance": "premie"}, "insurance",
     "rule:insurance"),
    (-13_800, {"counterparty_name": "X", "purpose_code": "insu"}, "insurance",
     "rule:insurance"),
    (-4_312, {"counterparty_name": "ALBERT HEIJN 1234 UTRECHT"}, "groceries", "rule:groceries"),
    (-2_150, {"counterparty_name": "AH to go"}, "groceries", "rule:groceries"),
    (-1_220, {"counterparty_name": "NS GROEP IZ NS REIZIGERS"}, "transport", "rule:transport"),
    (-5_000, {"counterparty_name": "Shell Utrecht"}, "transport", "rule:transport"),
    (-25_667, {"counterparty_name": "John Miles", "remittance": "Example 1"}, "other",
     "default"),
    (34_301, {"counterparty_name": "Paul Simpson", "remittance": "Example 2"}, "other",
     "default"),
])
def test_each_category_has_a_rule_that_matches(amount, fields, category, reason):
    assert categorise(amount_cents=amount, **fields) == (category, reason)


def test_rules_apply_in_their_direction_only():
    # Rent received (a sublet) is not housing; a refund from a supermarket is not groceries.
    assert categorise(amount_cents=50_000, remittance="huur kamer")[0] == "other"
    assert categorise(amount_cents=1_000, counterparty_name="Albert Heijn")[0] == "other"
    # Paying back a salary advance is not salary.
    assert categorise(amount_cents=-50_000, remittance="salaris voorschot")[0] == "other"


def test_names_match_whole_words_only():
    assert categorise(amount_cents=-1_000, counterparty_name="Ahold Delhaize")[0] == "other"
    assert categorise(amount_cents=-1_000, counterparty_name="Plusmarkt")[0] == "other"
    assert categorise(amount_cents=-1_000, counterparty_name="PLUS Vos")[0] == "groceries"


def test_benefits_come_before_salary():
    # An UWV payment that mentions "loon" is a benefit.
    assert categorise(amount_cents=90_000, counterparty_name="UWV",
                      remittance="loondoorbetaling")[0] == "benefits"


def test_owner_choice_then_learnt_rule_then_built_in_rules():
    learnt = {"iban:NL91ABNA0417164300": "salary", "name:albert heijn": "other"}
    assert categorise(amount_cents=-4_000, counterparty_name="Albert Heijn",
                      learnt=learnt) == ("other", "learnt")
    assert categorise(amount_cents=10, counterparty_iban="nl91 abna 0417 1643 00",
                      learnt=learnt) == ("salary", "learnt")
    assert categorise(amount_cents=10, counterparty_iban="NL91ABNA0417164300",
                      override="benefits", learnt=learnt) == ("benefits", "owner")


def test_the_iban_rule_wins_over_the_name_rule():
    learnt = {"iban:NL91ABNA0417164300": "housing", "name:jan": "transport"}
    assert categorise(amount_cents=-10, counterparty_name="Jan", counterparty_iban="NL91ABNA0417164300",
                      learnt=learnt)[0] == "housing"
    assert categorise(amount_cents=-10, counterparty_name="JAN", learnt=learnt)[0] == "transport"


def test_counterparty_keys_and_folding():
    assert counterparty_keys("nl91 abna 0417 1643 00", "Woonstichting  De Kérn!") == [
        "iban:NL91ABNA0417164300", "name:woonstichting de kern"]
    assert counterparty_keys(None, None) == []
    assert fold("NS-Groep") == " ns groep "


def test_every_rule_names_a_known_category_and_the_list_is_complete():
    assert {r.category for r in RULES} | {"other"} == set(CATEGORIES)
    assert len(CATEGORIES) == 8
