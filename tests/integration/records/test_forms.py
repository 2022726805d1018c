"""Record forms over real HTTP: a sentence with an example beside each wrong field,
plausibility errors, duplicate warnings that keep the typed values, lengths shown, never cut."""

from __future__ import annotations

import html
import re

import requests

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
INCOME = {"year": "2025", "source": "Gemeente Utrecht", "kind": "employment",
          "gross_amount_cents": "48.250,00"}


def login(base: str, owner, lang: str = "nl") -> requests.Session:
    http = requests.Session()
    http.headers["Accept-Language"] = lang
    page = http.get(f"{base}/login", timeout=30).text
    resp = http.post(f"{base}/login", timeout=30, data={
        "csrf_token": CSRF.search(page).group(1), "username": owner.username,
        "password": owner.password})
    assert resp.url.endswith("/dashboard")
    return http


def post(http: requests.Session, url: str, data: dict) -> requests.Response:
    token = CSRF.search(http.get(url, timeout=30).text).group(1)
    return http.post(url, data={"csrf_token": token, **data}, timeout=30)


def error_of(page: str, name: str) -> str:
    found = re.search(rf'<span class="field-error" id="error-{name}">([^<]*)</span>', page)
    assert found, f"no message beside {name}"
    return html.unescape(found.group(1))


def field_tag(page: str, name: str) -> str:
    return re.search(rf'<(?:input|textarea|select)[^>]*id="field-{name}"[^>]*>', page).group(0)


def records_of(owner, type_id: str) -> list[dict]:
    return [r for r in owner.get("/api/v1/records").json()["records"] if r["type"] == type_id]


def test_a_house_number_with_a_letter_says_where_the_letter_goes(live_server, make_owner):
    owner = make_owner()
    http = login(live_server.url, owner)
    resp = post(http, f"{live_server.url}/records/new/address",
                {"street": "Dorpsstraat", "house_number": "12a", "city": "Utrecht"})
    assert resp.status_code == 422
    assert error_of(resp.text, "house_number") == (
        "Huisnummer: alleen cijfers; zet 'a' bij Toevoeging.")
    tag = field_tag(resp.text, "house_number")
    assert 'aria-invalid="true"' in tag and "error-house_number" in tag
    assert 'value="12a"' in tag  # what was typed stays
    assert records_of(owner, "address") == []


def test_an_amount_in_words_gets_the_euro_format_with_an_example(live_server, make_owner):
    owner = make_owner()
    http = login(live_server.url, owner)
    resp = post(http, f"{live_server.url}/records/new/income",
                dict(INCOME, gross_amount_cents="veel"))
    assert error_of(resp.text, "gross_amount_cents") == (
        "Bruto bedrag: een getal in euro, bijv. 1234,56.")
    en = login(live_server.url, owner, lang="en")
    resp = post(en, f"{live_server.url}/records/new/income", dict(INCOME, gross_amount_cents="lots"))
    assert error_of(resp.text, "gross_amount_cents") == (
        "Gross amount: a number in euro, e.g. 1234.56.")
    neg = post(http, f"{live_server.url}/records/new/income", dict(INCOME, net_amount_cents="-5"))
    assert error_of(neg.text, "net_amount_cents") == "Netto bedrag: kan niet negatief zijn."
    assert records_of(owner, "income") == []


def test_a_bad_woz_line_says_which_line_and_what_fits(live_server, make_owner):
    owner = make_owner()
    http = login(live_server.url, owner)
    resp = post(http, f"{live_server.url}/records/new/property", {
        "address": "Dorpsstraat 1", "woz_values": "2024-01-01 = 350000\n2025 driehonderdduizend"})
    assert resp.status_code == 422
    assert error_of(resp.text, "woz_values") == (
        "WOZ-waarden, regel 2: verwacht datum = bedrag, bijv. 2025-01-01 = 350000.")
    assert "hint-woz_values" in field_tag(resp.text, "woz_values")


def test_implausible_dates_and_years_are_errors(live_server, make_owner):
    owner = make_owner()
    http = login(live_server.url, owner)
    person = {"given_names": "Annemarie", "surname": "de Vries"}
    future = post(http, f"{live_server.url}/records/new/person", dict(person, birth_date="2099-01-01"))
    assert future.status_code == 422
    assert error_of(future.text, "birth_date") == "Geboortedatum: die datum ligt in de toekomst."
    old = post(http, f"{live_server.url}/records/new/person", dict(person, birth_date="1850-05-01"))
    assert error_of(old.text, "birth_date") == "Geboortedatum: een datum vanaf 1900."
    year = post(http, f"{live_server.url}/records/new/income", dict(INCOME, year="2150"))
    assert re.fullmatch(r"Jaar: een jaartal van 1900 tot en met \d{4}\.",
                        error_of(year.text, "year"))
    assert records_of(owner, "person") == [] and records_of(owner, "income") == []
    ok = post(http, f"{live_server.url}/records/new/person", dict(person, birth_date="1992-03-14"))
    assert ok.status_code == 200 and len(records_of(owner, "person")) == 1


def test_schema_errors_get_sentences_with_examples(live_server, make_owner):
    owner = make_owner()
    http = login(live_server.url, owner)
    resp = post(http, f"{live_server.url}/records/new/person",
                {"given_names": "A", "surname": "B", "bsn": "123"})
    assert error_of(resp.text, "bsn") == (
        "BSN: negen cijfers die de elfproef doorstaan, bijv. 111222333.")
    missing = post(http, f"{live_server.url}/records/new/income", dict(INCOME, source=""))
    assert error_of(missing.text, "source") == "Werkgever of bron: vul dit in."
    postcode = post(http, f"{live_server.url}/records/new/address", {
        "street": "Dorpsstraat", "house_number": "12", "city": "Utrecht", "postcode": "12345"})
    assert error_of(postcode.text, "postcode") == (
        "Postcode: vier cijfers en twee letters, bijv. 1234 AB.")


def test_a_duplicate_income_is_a_warning_that_can_be_confirmed(live_server, make_owner):
    owner = make_owner()
    http = login(live_server.url, owner)
    url = f"{live_server.url}/records/new/income"
    assert post(http, url, INCOME).status_code == 200
    again = post(http, url, dict(INCOME, source="gemeente utrecht", net_amount_cents="30000"))
    assert again.status_code == 409
    warning = html.unescape(re.search(r'id="duplicate-warning">\s*<p>([^<]*)</p>',
                                      again.text).group(1))
    assert warning == "Je hebt al een inkomen 2025 van Gemeente Utrecht; toch toevoegen?"
    assert 'value="30000"' in field_tag(again.text, "net_amount_cents")  # typed values kept
    assert len(records_of(owner, "income")) == 1
    confirm = re.search(r'name="confirm_duplicate" value="([^"]+)"', again.text).group(1)
    done = post(http, url, dict(INCOME, source="gemeente utrecht", net_amount_cents="30000",
                                confirm_duplicate=confirm))
    assert done.status_code == 200 and "/records/" in done.url
    assert len(records_of(owner, "income")) == 2
    other_year = post(http, url, dict(INCOME, year="2024"))
    assert other_year.status_code == 200 and len(records_of(owner, "income")) == 3


def test_max_lengths_are_shown_and_a_longer_value_is_an_error_not_cut(live_server, make_owner):
    owner = make_owner()
    http = login(live_server.url, owner)
    url = f"{live_server.url}/records/new/income"
    form = http.get(url, timeout=30).text
    tag = field_tag(form, "source")
    assert 'maxlength="200"' in tag and "hint-source" in tag
    assert "hoogstens 200 tekens" in form
    resp = post(http, url, dict(INCOME, source="x" * 201))
    assert resp.status_code == 422
    assert error_of(resp.text, "source") == "Werkgever of bron: hoogstens 200 tekens (nu 201)."
    assert records_of(owner, "income") == []
    exact = post(http, url, dict(INCOME, source="y" * 200))
    assert exact.status_code == 200
    assert records_of(owner, "income")[0]["data"]["source"] == "y" * 200


def test_an_uploaded_documents_long_description_is_an_error_not_cut(live_server, make_owner):
    owner = make_owner()
    http = login(live_server.url, owner)
    url = f"{live_server.url}/documents/upload"
    token = CSRF.search(http.get(url, timeout=30).text).group(1)
    resp = http.post(url, timeout=30, data={"csrf_token": token, "description": "z" * 1001},
                     files={"file": ("loon.pdf", b"%PDF-1.4 test", "application/pdf")})
    assert resp.status_code == 422
    assert "Omschrijving: hoogstens 1000 tekens (nu 1001)." in html.unescape(resp.text)
    assert records_of(owner, "document") == []
