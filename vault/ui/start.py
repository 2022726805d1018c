"""A start for newcomers: the page ``/`` shows a visitor who is not logged in, and the
checklist on the dashboard that ticks itself off from the vault's real state."""

from __future__ import annotations

from dataclasses import dataclass

from flask import url_for

from vault.connectors.service import list_connections
from vault.records import service as records
from vault.storage.vaults import VaultDB
from vault.ui.i18n import register, t
from vault.web.auth import services


@dataclass(frozen=True)
class Step:
    id: str
    label: str
    href: str
    done: bool


def checklist(vault: VaultDB, vault_id: str) -> list[Step]:
    """The four first steps, each ticked from state (not from clicks): a person record, TOTP
    or a passkey, the recovery code confirmed stored, a connection or a document."""
    accounts = services().accounts
    counts = records.count_by_type(vault)
    two_step = vault.get_meta("totp_secret") is not None or accounts.has_passkeys(vault_id)
    source = bool(counts.get("document")) or bool(list_connections(services().instance, vault_id))
    return [
        Step("details", t("start.step_details"),
             url_for("records_ui.new_record", type_id="person"), bool(counts.get("person"))),
        Step("two-step", t("start.step_two_step"), url_for("accounts_ui.security"), two_step),
        Step("recovery", t("start.step_recovery"), url_for("accounts_ui.security") + "#recovery",
             vault.get_meta("recovery_saved_at") is not None),
        Step("source", t("start.step_source"), url_for("connectors_ui.connections_page"), source),
    ]


register({
    "start.title": {"nl": "Jouw gegevens veilig op één plek", "en": "Your data safe in one place"},
    "start.what": {
        "nl": "Kluis is een digitale kluis voor je persoonlijke papieren: je gegevens, inkomen, "
              "woning, bankrekeningen en documenten.",
        "en": "Kluis is a digital safe for your personal paperwork: your details, income, home, "
              "bank accounts and documents."},
    "start.keys": {
        "nl": "Alles staat versleuteld en alleen jij hebt de sleutel: ook de beheerder kan er "
              "niet in.",
        "en": "Everything is encrypted and only you hold the key: not even the operator can "
              "look inside."},
    "start.share": {
        "nl": "Vraagt een organisatie om gegevens, dan kies jij wat ze mogen zien en hoe lang, "
              "en je ziet precies wie wat heeft ingezien.",
        "en": "When an organisation asks for data, you choose what it may see and for how "
              "long, and you see exactly who looked at what."},
    "start.signup": {"nl": "Maak je kluis aan", "en": "Create your vault"},
    "start.login": {"nl": "Ik heb al een kluis: inloggen", "en": "I have a vault: log in"},
    "start.checklist": {"nl": "Zo begin je", "en": "How to start"},
    "start.checklist_done": {"nl": "klaar", "en": "done"},
    "start.checklist_open": {"nl": "nog te doen", "en": "to do"},
    "start.step_details": {"nl": "Vul je persoonsgegevens in", "en": "Add your details"},
    "start.step_two_step": {"nl": "Zet tweestapsverificatie aan",
                            "en": "Turn on two-step verification"},
    "start.step_recovery": {"nl": "Print je herstelcode en bewaar hem",
                            "en": "Print your recovery code and keep it"},
    "start.step_source": {"nl": "Koppel een bron of voeg een document toe",
                          "en": "Connect a source or upload a document"},
})
