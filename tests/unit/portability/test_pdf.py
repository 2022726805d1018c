"""The PDF of a bundle: rendered to text, it holds every exported value and label."""

from __future__ import annotations

import io
import re

import pytest
from pypdf import PdfReader

from vault.portability import bundle as bundles
from vault.portability import pdf
from vault.records.catalogue import get_type


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _pdf_text(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() for page in reader.pages)


@pytest.mark.parametrize("lang", ["nl", "en"])
def test_the_pdf_text_holds_every_field_value_and_label(make_vault, lang):
    made = make_vault()
    with made.open() as vault:
        bundle = bundles.export_bundle(made.instance, vault, types=None, language=lang)
    data = pdf.render_pdf(bundle.payload, bundle.digest, lang)
    assert data.startswith(b"%PDF")
    text = _squash(_pdf_text(data))
    expected: list[str] = []
    for record in bundle.payload["records"]:
        record_type = get_type(record["type"])
        expected.append(record_type.label(lang))
        for label, value in pdf.record_rows(record_type, record["data"], lang):
            expected += [label, value]
        expected += [record["provenance"]["fetched_at"], record["digest"]]
    for doc in bundle.payload["documents"]:
        expected.append(doc["sha256"])
    expected += [bundle.digest, bundle.payload["vault"], bundle.payload["exported_at"],
                 bundle.kid]
    missing = [e for e in expected if _squash(e) not in text]
    assert not missing


def test_values_are_shown_as_people_read_them(make_vault):
    made = make_vault()
    with made.open() as vault:
        bundle = bundles.export_bundle(made.instance, vault, types=None, language="nl")
    text = _squash(_pdf_text(pdf.render_pdf(bundle.payload, bundle.digest, "nl")))
    for shown in ["EUR 52.345,67", "Brügge", "vrouw (V)", "Bruto bedrag", "WOZ-waarde: EUR 450.000,00",
                  "Loonstrook maart € 1.234,56", "Herkomst", "belastingdienst", "sig-abc",
                  "Gewaarmerkt overzicht van mijn gegevens"]:
        assert _squash(shown) in text, shown


def test_the_qr_code_holds_the_verification_url_with_the_digest(make_vault):
    made = make_vault(sample=False)
    url = pdf.verification_url("https://home.kluis.test", "ab" * 32)
    assert url == "https://home.kluis.test/verify?digest=sha256%3A" + "ab" * 32
    with made.open() as vault:
        bundle = bundles.export_bundle(made.instance, vault, types=None)
    data = pdf.render_pdf(bundle.payload, bundle.digest, "en")
    reader = PdfReader(io.BytesIO(data))
    assert any(page.images for page in reader.pages)
    assert "No records chosen." in _pdf_text(data)
