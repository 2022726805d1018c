"""Notification mail over STARTTLS, to a real SMTP server on loopback with its own certificate,
set up through the owner's mail settings page (double opt-in)."""

from __future__ import annotations

import datetime
import ipaddress
import re
import ssl
import threading
import time

import pytest
import requests
from aiosmtpd.controller import Controller
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.conftest import free_port
from tests.integration.grants.test_ui_pages import CSRF, signed_in


def self_signed(tmp_path) -> tuple[str, str]:
    """A certificate for localhost and 127.0.0.1 and its key, as PEM files; made here."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "smtp-cert.pem", tmp_path / "smtp-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_path), str(key_path)


class TlsInbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], str, bool]] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        with self.lock:
            self.messages.append((list(envelope.rcpt_tos),
                                  envelope.content.decode("utf-8", "replace"),
                                  session.ssl is not None))
        return "250 OK"


@pytest.fixture
def smtp_tls(tmp_path):
    cert, key = self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    inbox = TlsInbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, tls_context=context,
                            require_starttls=True)
    controller.start()
    inbox.port, inbox.cert = port, cert
    yield inbox
    controller.stop()


@pytest.fixture
def settings(make_settings, smtp_tls):
    return make_settings(webhook_pump_seconds=0.3, smtp_from="kluis@kluis.test",
                         smtp_url=f"smtp://127.0.0.1:{smtp_tls.port}?cafile={smtp_tls.cert}")


def _wait(predicate, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_the_settings_page_confirms_the_address_and_mail_goes_over_starttls(
        live_server, granted, start_worker, smtp_tls):
    base = live_server.url
    owner, _org, token = granted()
    start_worker()
    http = signed_in(base, owner)
    page = http.get(f"{base}/notifications/settings", timeout=30)
    assert page.status_code == 200 and 'id="mail-form"' in page.text
    assert 'id="confirm-form"' not in page.text and 'id="no-smtp"' not in page.text
    saved = http.post(f"{base}/notifications/settings", timeout=30, data={
        "csrf_token": CSRF.search(page.text).group(1), "action": "save",
        "email": "annemarie@example.test", "kind": ["grant.read", "request.waiting"]})
    assert saved.status_code == 200 and 'id="mail-pending"' in saved.text
    assert 'value="grant.read" checked' in saved.text
    assert 'value="grant.expiring" checked' not in saved.text
    _wait(lambda: smtp_tls.messages)
    rcpt, confirmation, over_tls = smtp_tls.messages[0]
    assert rcpt == ["annemarie@example.test"] and over_tls
    code = re.search(r"bevestigingscode voor meldingen van je kluis: (\S+)", confirmation)
    assert code

    wrong = http.post(f"{base}/notifications/settings", timeout=30, data={
        "csrf_token": CSRF.search(saved.text).group(1), "action": "confirm", "code": "nope"})
    assert wrong.status_code == 422 and "Die bevestigingscode klopt niet" in wrong.text
    confirmed = http.post(f"{base}/notifications/settings", timeout=30, data={
        "csrf_token": CSRF.search(wrong.text).group(1), "action": "confirm",
        "code": code.group(1)})
    assert confirmed.status_code == 200
    assert "Bevestigd: annemarie@example.test" in confirmed.text
    assert 'id="confirm-form"' not in confirmed.text

    assert requests.get(f"{base}/api/v1/grant/records", timeout=30, headers={
        "Authorization": f"Bearer {token['access_token']}"}).status_code == 200
    owner.get("/api/v1/notifications")  # the owner's open merges the read
    _wait(lambda: len(smtp_tls.messages) >= 2)
    rcpt, mail, over_tls = smtp_tls.messages[1]
    assert rcpt == ["annemarie@example.test"] and over_tls
    assert "Woonstichting De Kern las je inkomen; bekijk het in je kluis" in mail
    assert "5400000" not in mail and "ACME" not in mail


def test_without_the_ca_the_certificate_is_refused_and_nothing_is_sent(
        make_settings, smtp_tls):
    from vault import services as services_mod
    from vault.grants import notifications

    settings = make_settings("no-ca", smtp_url=f"smtp://127.0.0.1:{smtp_tls.port}")
    svc = services_mod.build(settings)
    try:
        mail = notifications.queue_mail(svc.instance, kind="grant.read",
                                        to="annemarie@example.test", subject="s", body="b")
        assert notifications.send(svc.instance, settings, mail) == "queued"
        row = svc.instance.conn.execute("SELECT last_error FROM mail_outbox WHERE id = ?",
                                        (mail,)).fetchone()
        assert row["last_error"] == "SSLCertVerificationError"
    finally:
        svc.close()
    assert smtp_tls.messages == []


def test_the_settings_page_is_in_english_too(live_server, make_owner):
    base = live_server.url
    owner = make_owner()
    http = signed_in(base, owner)
    page = http.get(f"{base}/notifications/settings", timeout=30).text
    http.post(f"{base}/lang", data={"csrf_token": CSRF.search(page).group(1), "lang": "en",
                                    "next": "/notifications/settings"}, timeout=30)
    english = http.get(f"{base}/notifications/settings", timeout=30).text
    assert "Notifications by e-mail" in english and "a grant ending within 7 days" in english
