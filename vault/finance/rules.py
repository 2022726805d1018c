"""The categoriser: a small rule set, and what the owner taught it.

Every transaction gets exactly one of eight categories::

    salary      money in: wages and salary
    benefits    money in: UWV, SVB, Belastingdienst (toeslagen), municipality (bijstand)
    housing     money out: rent or mortgage
    utilities   money out: energy, water, telephone and internet
    insurance   money out: health, home, car and other insurance
    groceries   money out: supermarkets
    transport   money out: public transport, fuel, parking
    other       everything else

How a category is chosen, first match wins:

1. **The owner's choice for this transaction** (``reason = "owner"``).
2. **What the owner taught for this counterparty** (``reason = "learnt"``): recategorising
   one transaction stores a rule for its counterparty, by IBAN and by name, so every
   other transaction with that counterparty, earlier or later, lands in the same
   category. The IBAN rule wins over the name rule.
3. **The built-in rules** in :data:`RULES`, in order (``reason = "rule:<id>"``). A rule
   applies only in its direction (salary and benefits to money in, the others to money
   out) and matches on any of:

   - the ISO 20022 *purpose code* (``purposeCode``: ``SALA``, ``BENE``, ``RENT``, ...);
   - the ISO 20022 *bank transaction code* (``bankTransactionCode``, e.g.
     ``PMNT-RCDT-SALA``: its sub-family, the last part);
   - the counterparty's IBAN (a short list of well-known ones);
   - the counterparty's name (brand names, e.g. "Albert Heijn", "NS", "Eneco");
   - a word or phrase in the counterparty's name or the description ("salaris",
     "huur", "zorgverzekering").

   Names and words match whole words after folding case and turning punctuation into
   spaces, so "AH" matches "AH 1234 UTRECHT" but not "Ahold".
4. Otherwise **other** (``reason = "default"``).

docs/finance.md lists the same rules for people.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

CATEGORIES = ("salary", "benefits", "housing", "utilities", "insurance", "groceries",
              "transport", "other")
INCOME_CATEGORIES = ("salary", "benefits")


@dataclass(frozen=True)
class Rule:
    id: str
    category: str
    incoming: bool  # True: applies to money in; False: to money out
    purpose_codes: tuple[str, ...] = ()
    booking_codes: tuple[str, ...] = ()  # sub-family of an ISO 20022 bank transaction code
    ibans: tuple[str, ...] = ()
    names: tuple[str, ...] = ()  # counterparty name only
    words: tuple[str, ...] = ()  # counterparty name or description


RULES: tuple[Rule, ...] = (
    Rule("benefits", "benefits", True,
         purpose_codes=("BENE", "SSBE", "GOVT", "PENS"),
         # Belastingdienst: toeslagen and tax refunds.
         ibans=("NL86INGB0002445588",),
         names=("uwv", "svb", "sociale verzekeringsbank", "belastingdienst", "toeslagen",
                "duo"),
         words=("uitkering", "toeslag", "zorgtoeslag", "huurtoeslag", "kinderbijslag",
                "kindgebonden budget", "kinderopvangtoeslag", "bijstand", "participatiewet",
                "aow", "ww uitkering", "wia", "wajong", "studiefinanciering", "benefit")),
    Rule("salary", "salary", True,
         purpose_codes=("SALA", "BONU", "PAYR"),
         booking_codes=("SALA",),
         words=("salaris", "loon", "nettoloon", "salary", "wage", "wages", "payroll",
                "vakantiegeld", "vakantietoeslag", "13e maand", "eindejaarsuitkering")),
    Rule("housing", "housing", False,
         purpose_codes=("RENT",),
         names=("woonstichting", "woningstichting", "woningcorporatie", "wooncorporatie",
                "vve"),
         words=("huur", "kale huur", "huurpenning", "servicekosten", "rent", "hypotheek",
                "hypotheekrente", "mortgage")),
    Rule("utilities", "utilities", False,
         purpose_codes=("ELEC", "GASB", "WTER", "PHON", "CBTV", "NWCH", "UBIL"),
         names=("eneco", "vattenfall", "essent", "greenchoice", "budget energie",
                "energiedirect", "vandebron", "oxxio", "waternet", "vitens", "evides",
                "brabant water", "dunea", "pwn", "ziggo", "kpn", "odido", "t mobile",
                "vodafone", "tele2", "simpel", "delta fiber"),
         words=("energie", "stroom", "elektriciteit", "gas en licht", "drinkwater",
                "waterschap", "internet", "telefoon", "mobiel abonnement")),
    Rule("insurance", "insurance", False,
         purpose_codes=("INSU", "HLTI", "LIFI", "PPTI", "INPC"),
         names=("zilveren kruis", "cz", "vgz", "menzis", "dsw", "zorg en zekerheid",
                "centraal beheer", "nationale nederlanden", "ohra", "interpolis", "achmea",
                "unive", "fbto", "asr", "anwb verzekeringen", "ditzo", "inshared"),
         words=("verzekering", "zorgverzekering", "premie", "insurance", "polis")),
    Rule("groceries", "groceries", False,
         names=("albert heijn", "ah", "ah to go", "jumbo", "lidl", "aldi", "plus", "dirk",
                "coop", "spar", "ekoplaza", "picnic", "vomar", "hoogvliet", "dekamarkt",
                "poiesz", "boni", "nettorama"),
         words=("supermarkt", "boodschappen", "groceries")),
    Rule("transport", "transport", False,
         names=("ns", "ns groep", "ns reizigers", "gvb", "ret", "htm", "arriva",
                "connexxion", "qbuzz", "ebs", "keolis", "translink", "ov chipkaart",
                "shell", "bp", "esso", "tinq", "tango", "texaco", "total", "q park",
                "parkmobile", "yellowbrick", "swapfiets", "ov fiets"),
         words=("ov chipkaart", "parkeren", "parkeergeld", "tankstation", "benzine",
                "brandstof", "treinkaartje", "reiskosten")),
)


def fold(text: str | None) -> str:
    """Lower case, punctuation as spaces, one space between words, a space either side."""
    plain = unicodedata.normalize("NFKD", (text or "").casefold())
    words = re.sub(r"[^0-9a-z]+", " ", "".join(c for c in plain if not unicodedata.combining(c)))
    return f" {' '.join(words.split())} "


def normalise_iban(iban: str | None) -> str:
    return (iban or "").replace(" ", "").upper()


def counterparty_keys(counterparty_iban: str | None, counterparty_name: str | None) -> list[str]:
    """The keys a learnt rule is stored under: ``iban:...`` first, then ``name:...``."""
    keys = []
    iban = normalise_iban(counterparty_iban)
    if iban:
        keys.append(f"iban:{iban}")
    name = fold(counterparty_name).strip()
    if name:
        keys.append(f"name:{name}")
    return keys


def _has(haystack: str, phrases: tuple[str, ...]) -> bool:
    return any(fold(p) in haystack for p in phrases)


def match_rule(*, amount_cents: int, counterparty_name: str = "", counterparty_iban: str = "",
               remittance: str = "", booking_code: str = "",
               purpose_code: str = "") -> Rule | None:
    """The first built-in rule that matches, or None."""
    incoming = amount_cents > 0
    name = fold(counterparty_name)
    text = fold(f"{counterparty_name} {remittance}")
    purpose = (purpose_code or "").strip().upper()
    sub_family = (booking_code or "").strip().upper().rsplit("-", 1)[-1]
    iban = normalise_iban(counterparty_iban)
    for rule in RULES:
        if rule.incoming != incoming:
            continue
        if ((purpose and purpose in rule.purpose_codes)
                or (booking_code and sub_family in rule.booking_codes)
                or (iban and iban in rule.ibans)
                or _has(name, rule.names)
                or _has(text, rule.words)):
            return rule
    return None


def categorise(*, amount_cents: int, counterparty_name: str = "", counterparty_iban: str = "",
               remittance: str = "", booking_code: str = "", purpose_code: str = "",
               override: str | None = None,
               learnt: Mapping[str, str] | None = None) -> tuple[str, str]:
    """``(category, reason)`` for one transaction; see the module docstring for the order."""
    if override:
        return override, "owner"
    for key in counterparty_keys(counterparty_iban, counterparty_name):
        if learnt and key in learnt:
            return learnt[key], "learnt"
    rule = match_rule(amount_cents=amount_cents, counterparty_name=counterparty_name,
                      counterparty_iban=counterparty_iban, remittance=remittance,
                      booking_code=booking_code, purpose_code=purpose_code)
    if rule is not None:
        return rule.category, f"rule:{rule.id}"
    return "other", "default"
