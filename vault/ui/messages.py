"""Error messages from marshmallow and the domain packages, in the owner's language.

Domain packages import no Flask and answer the JSON APIs and the CLI in English; they do not
know who reads. Their messages are stable templates (marshmallow's ``"Length must be between
{min} and {max}."``, ``validators.bsn``'s ``"A BSN has nine digits."``): each template here is a
catalogue key of :mod:`vault.ui.i18n` with its Dutch and English text, and
:func:`vault.ui.i18n.translate` turns a message back into its key and parameters by matching
the template. So one catalogue holds every string a person sees, the API keeps its English
problem+json detail, and no domain raise site changes. A message with no template here is
shown as it is; ``tests/integration/web/test_language.py`` fails when one reaches a Dutch page.

Templates use ``{name}`` for a parameter (matched lazily, anything but a line break).
"""

from __future__ import annotations

from vault.ui.i18n import register_templates

# marshmallow's own messages (fields' default_error_messages and validate's defaults, 4.x).
MARSHMALLOW: dict[str, tuple[str, ...]] = {
    "mm.required": ("Missing data for required field.", "Dit veld is verplicht."),
    "mm.null": ("Field may not be null.", "Dit veld mag niet leeg zijn."),
    "mm.invalid_value": ("Invalid value.", "Deze waarde klopt niet."),
    "mm.invalid_input": ("Invalid input.", "Deze invoer klopt niet."),
    "mm.invalid_type": ("Invalid type.", "Dit soort waarde past hier niet."),
    "mm.invalid_input_type": ("Invalid input type.", "Dit soort invoer past hier niet."),
    "mm.unknown": ("Unknown field.", "Onbekend veld."),
    "mm.string": ("Not a valid string.", "Dit is geen tekst."),
    "mm.utf8": ("Not a valid utf-8 string.", "Dit is geen geldige tekst (UTF-8)."),
    "mm.integer": ("Not a valid integer.", "Dit is geen geheel getal."),
    "mm.number": ("Not a valid number.", "Dit is geen getal."),
    "mm.too_large": ("Number too large.", "Dit getal is te groot."),
    "mm.special": ("Special numeric values (nan or infinity) are not permitted.",
                   "Alleen gewone getallen zijn toegestaan."),
    "mm.boolean": ("Not a valid boolean.", "Dit is geen ja of nee."),
    "mm.date": ("Not a valid date.", "Dit is geen geldige datum (bijv. 1992-03-14)."),
    "mm.datetime": ("Not a valid {obj_type}.", "Dit is geen geldig tijdstip."),
    "mm.datetime_awareness": ("Not a valid {awareness} {obj_type}.",
                              "Dit is geen geldig tijdstip met tijdzone."),
    "mm.date_format": ('"{input}" cannot be formatted as a date.',
                       '"{input}" is niet als datum te schrijven.'),
    "mm.datetime_format": ('"{input}" cannot be formatted as a {obj_type}.',
                           '"{input}" is niet als tijdstip te schrijven.'),
    "mm.timedelta_format": ("{input} cannot be formatted as a timedelta.",
                            "{input} is niet als tijdsduur te schrijven."),
    "mm.timedelta": ("Not a valid period of time.", "Dit is geen geldige tijdsduur."),
    "mm.list": ("Not a valid list.", "Dit is geen lijst."),
    "mm.tuple": ("Not a valid tuple.", "Dit is geen reeks."),
    "mm.mapping": ("Not a valid mapping type.", "Dit is geen verzameling van velden."),
    "mm.uuid": ("Not a valid UUID.", "Dit is geen geldige UUID."),
    "mm.url": ("Not a valid URL.", "Dit is geen geldig webadres (URL)."),
    "mm.email": ("Not a valid email address.", "Dit is geen geldig e-mailadres."),
    "mm.ip": ("Not a valid IP address.", "Dit is geen geldig IP-adres."),
    "mm.ipv4": ("Not a valid IPv4 address.", "Dit is geen geldig IPv4-adres."),
    "mm.ipv6": ("Not a valid IPv6 address.", "Dit is geen geldig IPv6-adres."),
    "mm.length_between": ("Length must be between {min} and {max}.",
                          "Gebruik {min} tot en met {max} tekens."),
    "mm.length_equal": ("Length must be {equal}.", "Gebruik precies {equal} tekens."),
    "mm.length_max": ("Longer than maximum length {max}.", "Hooguit {max} tekens."),
    "mm.length_min": ("Shorter than minimum length {min}.", "Minstens {min} tekens."),
    "mm.equal": ("Must be equal to {other}.", "Moet gelijk zijn aan {other}."),
    "mm.one_of": ("Must be one of: {choices}.", "Kies een van: {choices}."),
    "mm.contains_only": ("One or more of the choices you made was not in: {choices}.",
                         "Niet alles wat je koos staat in: {choices}."),
    "mm.contains_none_of": ("One or more of the choices you made was in: {values}.",
                            "Iets wat je koos mag niet: {values}."),
    "mm.pattern": ("String does not match expected pattern.", "Dit heeft niet de juiste vorm."),
    # validate.Range, with each combination of its operators written out.
    "mm.range_gte": ("Must be greater than or equal to {min}.", "Minstens {min}."),
    "mm.range_gt": ("Must be greater than {min}.", "Groter dan {min}."),
    "mm.range_lte": ("Must be less than or equal to {max}.", "Hooguit {max}."),
    "mm.range_lt": ("Must be less than {max}.", "Kleiner dan {max}."),
    "mm.range_gte_lte": ("Must be greater than or equal to {min} and less than or equal to {max}.",
                         "Van {min} tot en met {max}."),
    "mm.range_gt_lte": ("Must be greater than {min} and less than or equal to {max}.",
                        "Groter dan {min} en hooguit {max}."),
    "mm.range_gte_lt": ("Must be greater than or equal to {min} and less than {max}.",
                        "Minstens {min} en kleiner dan {max}."),
    "mm.range_gt_lt": ("Must be greater than {min} and less than {max}.",
                       "Groter dan {min} en kleiner dan {max}."),
}

# vault.records.validators and the record schemas.
RECORDS: dict[str, tuple[str, ...]] = {
    "val.bsn_digits": ("A BSN has nine digits.", "Een BSN heeft negen cijfers."),
    "val.bsn_check": ("This is not a valid BSN (eleven test fails).",
                      "Dit is geen geldig BSN (de elfproef klopt niet)."),
    "val.postcode": ("A Dutch postcode looks like 1234 AB.",
                     "Een postcode ziet eruit als 1234 AB."),
    "val.iban": ("This is not an IBAN.", "Dit is geen IBAN."),
    "val.iban_check": ("This IBAN's check digits are wrong.",
                       "De controlecijfers van dit IBAN kloppen niet."),
    "val.sha256": ("A SHA-256 digest is 64 lower-case hex characters.",
                   "Een SHA-256-vingerafdruk heeft 64 tekens (0-9, a-f)."),
    "val.record_too_large": ("The record is too large", "Dit gegeven is te groot"),
    "val.record_invalid": ("The record is not valid", "Dit gegeven klopt niet"),
}

# vault.accounts: sign-up, password rules, logins, recovery, tokens.
ACCOUNTS: dict[str, tuple[str, ...]] = {
    "acc.username_rules": (
        "A username has 3 to 64 characters: letters, digits, '.', '_' or '-'.",
        "Een gebruikersnaam heeft 3 tot 64 tekens: letters, cijfers, '.', '_' of '-'."),
    "acc.closed": ("This instance does not accept new accounts.",
                   "Deze Kluis neemt geen nieuwe accounts aan."),
    "acc.invite_needed": ("An invitation code is needed to sign up here.",
                          "Hier heb je een uitnodigingscode nodig om een account te maken."),
    "acc.invite_invalid": ("This invitation code is not valid (any more).",
                           "Deze uitnodigingscode is niet (meer) geldig."),
    "acc.invite_used": ("This invitation code was used already.",
                        "Deze uitnodigingscode is al gebruikt."),
    "acc.username_taken": ("This username is taken.", "Deze gebruikersnaam is al in gebruik."),
    "acc.login_failed": ("Username or password is wrong.",
                         "Gebruikersnaam of wachtwoord klopt niet."),
    "acc.totp_needed": ("This account needs a code from the authenticator app.",
                        "Voor dit account is een code uit je authenticator-app nodig."),
    "acc.totp_also": ("Also give a code from your authenticator app.",
                      "Vul ook een code uit je authenticator-app in."),
    "acc.token_invalid": ("The token is not valid.", "Dit token is niet geldig."),
    "acc.wrong_password": ("The current password is not right.",
                           "Je huidige wachtwoord klopt niet."),
    "acc.unknown_token": ("No such app token: {names}.", "Dit app-token bestaat niet: {names}."),
    "acc.recovery_failed": ("Username or recovery code is wrong.",
                            "Gebruikersnaam of herstelcode klopt niet."),
    "acc.recovery_totp_failed": ("Username, password or recovery code is wrong.",
                                 "Gebruikersnaam, wachtwoord of herstelcode klopt niet."),
    "acc.rate_limited": ("too many attempts; try again in {seconds} seconds",
                         "Te veel pogingen. Probeer het over {seconds} seconden opnieuw."),
    "acc.password_short": ("A password has at least {n} characters.",
                           "Een wachtwoord heeft minstens {n} tekens."),
    "acc.password_long": ("A password has at most {n} characters.",
                          "Een wachtwoord heeft hooguit {n} tekens."),
    "acc.password_common": ("This password is in a list of common passwords; choose another.",
                            "Dit wachtwoord staat in een lijst van veelgebruikte wachtwoorden; "
                            "kies een ander."),
    "acc.password_username": ("A password must not be the username.",
                              "Je wachtwoord mag niet je gebruikersnaam zijn."),
    "acc.password_repeats": ("This password repeats too few characters.",
                             "Dit wachtwoord heeft te weinig verschillende tekens."),
}

# vault.portability: archives, exports.
PORTABILITY: dict[str, tuple[str, ...]] = {
    "arc.passphrase_short": ("A passphrase has at least {n} characters.",
                             "Een wachtzin heeft minstens {n} tekens."),
    "arc.passphrase_long": ("A passphrase has at most {n} characters.",
                            "Een wachtzin heeft hooguit {n} tekens."),
    "arc.not_archive": ("This is not a Kluis vault archive.",
                        "Dit is geen archief van een Kluis."),
    "arc.header": ("The archive header is damaged.", "Het begin van het archief is beschadigd."),
    "arc.unknown_version": ("This archive was made by an unknown version of Kluis.",
                            "Dit archief is gemaakt door een onbekende versie van Kluis."),
    "arc.costs": ("The archive asks for unreasonable key-derivation costs.",
                  "Het archief vraagt onredelijk veel rekenwerk om te openen."),
    "arc.weak": ("The archive's key derivation is weaker than Kluis allows.",
                 "De sleutel van het archief is zwakker beveiligd dan Kluis toestaat."),
    "arc.wrong_passphrase": ("The passphrase does not open this archive (or the file was "
                             "changed).",
                             "Deze wachtzin opent dit archief niet (of het bestand is "
                             "veranderd)."),
    "arc.damaged": ("The archive's contents are damaged.",
                    "De inhoud van het archief is beschadigd."),
    "arc.not_vault": ("The archive's contents are not a Kluis vault.",
                      "De inhoud van het archief is geen kluis."),
    "arc.newer": ("This archive comes from a newer Kluis; upgrade this instance first.",
                  "Dit archief komt van een nieuwere Kluis; werk deze Kluis eerst bij."),
    "arc.table": ("The archive's table {name} is damaged.",
                  "Tabel {name} in het archief is beschadigd."),
    "exp.choose": ('Choose what to export: "all" or at least one record type.',
                   "Kies wat je wilt exporteren: alles, of één of meer soorten gegevens."),
    "exp.unknown_types": ("Unknown record type(s): {types}.",
                          "Onbekende soort(en) gegevens: {types}."),
    "exp.give": ('Give "all" or a non-empty list of record types.',
                 "Kies alles, of één of meer soorten gegevens."),
    "exp.choose_one": ("Choose one of: {choices}.", "Kies een van: {choices}."),
    "exp.too_large": ("The chosen documents hold more than {mb} MiB; export fewer types at a "
                      "time.",
                      "De gekozen documenten zijn samen groter dan {mb} MiB; exporteer minder "
                      "soorten tegelijk."),
}

# vault.grants: the owner's own grants, consent decisions, links.
GRANTS: dict[str, tuple[str, ...]] = {
    "gr.duration_zero": ("The duration must be longer than zero.",
                         "De duur moet langer zijn dan nul."),
    "gr.duration_max": ("The duration may be at most {days} days.",
                        "De duur is hooguit {days} dagen."),
    "gr.period": ("Give from, to or both.", "Geef een begin, een eind of allebei."),
    "gr.year_or_date": ("A year or an ISO date.", "Een jaartal of een datum (bijv. 2025-01-31)."),
    "gr.unknown_type": ("Unknown record type {type}; known: {known}.",
                        "Onbekende soort gegevens {type}; bekend zijn: {known}."),
    "gr.categories": ("Only documents have categories.", "Alleen documenten hebben categorieën."),
    "gr.unknown_fields": ("Unknown field(s) of {type}: {fields}; known: {known}.",
                          "Onbekende velden van {type}: {fields}; bekend zijn: {known}."),
    "gr.unknown_purpose": ("Unknown purpose; use one of: {choices}.",
                           "Onbekend doel; kies een van: {choices}."),
    "gr.type_once": ("Each record type may appear once.",
                     "Elke soort gegevens mag maar één keer voorkomen."),
    # vault.grants.selection: the records and fields chosen on the consent and grant forms.
    "gr.choose_one": ("Choose at least one record, or refuse.",
                      "Kies minstens één gegeven, of weiger."),
    "gr.not_asked": ("This record type was not asked for.",
                     "Om deze soort gegevens is niet gevraagd."),
    "gr.evidence_added": ("Evidence may be left out, not added.",
                          "Bewijsstukken kun je weglaten, niet toevoegen."),
    # OAuth errors an owner meets: opening a link, naming an organisation.
    "oa.not_link": ("not an authorization link of this server",
                    "Dit is geen link voor een verzoek aan deze Kluis."),
    "oa.not_request_uri": ("not a request_uri from this server",
                           "Dit verzoek komt niet van deze Kluis."),
    "oa.request_gone": ("this request is unknown, expired or was opened already",
                        "Dit verzoek is onbekend, verlopen of al geopend."),
    "oa.client_missing": ("client_id is missing", "Vul de organisatie in."),
    "oa.unknown_client": ("unknown client", "Deze organisatie is hier niet bekend."),
    "oa.pending": ("this organisation waits for approval by the operator",
                   "Deze organisatie wacht nog op goedkeuring door de beheerder."),
    "oa.disabled": ("this organisation is disabled", "Deze organisatie is uitgeschakeld."),
    "oa.metadata_url": ("the client metadata URL cannot be used: {why}",
                        "Het adres van de organisatie is niet te gebruiken: {why}"),
    "oa.metadata_status": ("the client metadata URL answered {status}",
                           "Het adres van de organisatie antwoordde {status}."),
    "oa.metadata_json": ("the client metadata is not JSON",
                         "Het adres van de organisatie gaf geen geldige gegevens."),
    "oa.metadata_invalid": ("the client metadata is not valid",
                            "De gegevens van de organisatie kloppen niet."),
}

# vault.connectors: the connection forms and the state of a connection.
CONNECTORS: dict[str, tuple[str, ...]] = {
    "con.unknown": ("Unknown connector {id}.", "Onbekende bron {id}."),
    "con.interval": ("Refresh at most every {n} seconds.", "Ververs hooguit elke {n} seconden."),
    "con.max": ("A vault has at most {n} connections.", "Een kluis heeft hooguit {n} bronnen."),
    "con.woz_number": ("A WOZ object number has 12 digits.",
                       "Een WOZ-objectnummer heeft 12 cijfers."),
    "con.woz_either": ("Give either the WOZ object number or postcode and house number.",
                       "Vul het WOZ-objectnummer in, of postcode en huisnummer."),
    "con.woz_both": ("Give both postcode and house number.", "Vul postcode én huisnummer in."),
    "con.ipv4": ("Not an IPv4 address.", "Dit is geen IPv4-adres."),
    "con.gone": ("This kind of source is no longer installed.",
                 "Dit soort bron is niet meer geïnstalleerd."),
    "con.failed": ("The connector failed unexpectedly.", "Het ophalen ging onverwacht mis."),
    # Connectors' source_organisation, where it is not a proper name.
    "con.src_psd2": ("Your bank (Berlin Group NextGenPSD2)", "Je bank (Berlin Group NextGenPSD2)"),
    "con.src_upload": ("UWV, DUO, pensioenuitvoerder, werkgever",
                       "UWV, DUO, pensioenuitvoerder, werkgever",
                       "UWV, DUO, pension fund, employer"),
    "con.src_woz": ("Gemeente / Waarderingskamer", "Gemeente / Waarderingskamer",
                    "Municipality / Waarderingskamer"),
}

for _table in (MARSHMALLOW, RECORDS, ACCOUNTS, PORTABILITY, GRANTS, CONNECTORS):
    register_templates(_table)
