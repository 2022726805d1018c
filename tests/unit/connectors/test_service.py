"""Connections: validation, URL safety, encrypted options and credentials."""

from __future__ import annotations

import pytest

from vault.connectors import service
from vault.connectors.jobs import retry_delay
from vault.urlsafety import UnsafeURL, check_url

BSN = "900194054"


def test_credentials_and_options_are_stored_encrypted(instance, make_vault):
    vault = make_vault()
    made = service.create_connection(instance, vault.id, "brp",
                                     {"base_url": "http://127.0.0.1:9/api", "bsn": BSN},
                                     {"api_key": "s3cret-key-value"})
    row = instance.conn.execute("SELECT * FROM connections WHERE id = ?", (made.id,)).fetchone()
    stored = b"".join(bytes(v) if isinstance(v, bytes) else str(v).encode() for v in tuple(row))
    assert b"s3cret-key-value" not in stored and BSN.encode() not in stored
    loaded = service.get_connection(instance, made.id, secrets=True)
    assert loaded.credentials == {"api_key": "s3cret-key-value"}
    assert loaded.options["bsn"] == BSN
    assert "api_key" not in str(loaded.public())


def test_connection_of_another_vault_is_not_found(instance, make_vault):
    mine, theirs = make_vault(), make_vault()
    made = service.create_connection(instance, mine.id, "woz",
                                     {"base_url": "http://127.0.0.1:9", "identificatie":
                                      "800000014669"}, {"api_key": "k"})
    with pytest.raises(service.ConnectionNotFound):
        service.get_connection(instance, made.id, vault_id=theirs.id)
    with pytest.raises(service.ConnectionNotFound):
        service.delete_connection(instance, made.id, vault_id=theirs.id)


@pytest.mark.parametrize(("options", "field"), [
    ({"base_url": "http://127.0.0.1:9"}, "options.identificatie"),
    ({"base_url": "http://127.0.0.1:9", "postcode": "2517 GN"}, "options.postcode"),
    ({"base_url": "http://127.0.0.1:9", "identificatie": "1", "postcode": "2517 GN",
      "huisnummer": 3}, "options.identificatie"),
])
def test_woz_needs_an_id_or_a_whole_address(instance, make_vault, options, field):
    vault = make_vault()
    with pytest.raises(service.InvalidConnection) as info:
        service.create_connection(instance, vault.id, "woz", options, {"api_key": "k"})
    assert field in info.value.errors


def test_private_base_url_is_refused_unless_allowed(settings, make_vault):
    from vault.storage.instance import Instance

    strict = Instance(settings.with_overrides(allow_private_urls=False))
    try:
        vault = make_vault()
        with pytest.raises(service.InvalidConnection) as info:
            service.create_connection(strict, vault.id, "brp",
                                      {"base_url": "http://10.0.0.8/api", "bsn": BSN},
                                      {"api_key": "k"})
        assert "options.base_url" in info.value.errors
    finally:
        strict.close()


@pytest.mark.parametrize("url", ["http://127.0.0.1/x", "http://localhost:80", "http://[::1]/",
                                 "http://192.168.1.4", "http://169.254.169.254/latest",
                                 "file:///etc/passwd", "http://user:pw@93.184.215.14/"])
def test_unsafe_source_urls_are_refused(url):
    with pytest.raises(UnsafeURL):
        check_url(url)


def test_public_https_address_and_allowed_private_pass():
    assert check_url("https://93.184.215.14/api") == ["93.184.215.14"]
    assert check_url("http://127.0.0.1:5000", allow_private=True) == ["127.0.0.1"]
    with pytest.raises(UnsafeURL):
        check_url("http://93.184.215.14/api")  # sources are reached over https


def test_retry_delay_backs_off_and_honours_retry_after():
    assert [retry_delay(n, None, 30) for n in (1, 2, 3)] == [30, 60, 120]
    assert retry_delay(1, 600, 30) == 601  # Retry-After, padded for whole-second scheduling
    assert retry_delay(1, 1.5, 30) == 30
    assert retry_delay(20, None, 30) == 3600


@pytest.mark.parametrize(("base_url", "refused"), [
    ("https://[2002:7f00:1::]/api", True),  # 6to4 of 127.0.0.1 (issue "Hardening" item 7)
    ("https://[2002:a9fe:a9fe::]/api", True),  # 6to4 of 169.254.169.254
    ("https://[64:ff9b::a00:8]/api", True),  # NAT64 of 10.0.0.8
    ("https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/api", True),  # Teredo
    ("https://[::ffff:a9fe:a9fe]/api", True),  # IPv4-mapped 169.254.169.254
    ("https://[2002:5db8:d70e::1]/api", False),  # 6to4 of 93.184.215.14
    ("https://[64:ff9b::5db8:d70e]/api", False),  # NAT64 of 93.184.215.14
])
def test_transition_forms_of_inward_base_urls_are_refused_at_create(settings, make_vault,
                                                                    base_url, refused):
    from vault.storage.instance import Instance

    strict = Instance(settings.with_overrides(allow_private_urls=False))
    try:
        vault = make_vault()
        if refused:
            with pytest.raises(service.InvalidConnection) as info:
                service.create_connection(strict, vault.id, "brp",
                                          {"base_url": base_url, "bsn": BSN}, {"api_key": "k"})
            assert "non-public" in info.value.errors["options.base_url"][0]
            count = strict.conn.execute("SELECT count(*) FROM connections").fetchone()[0]
            assert count == 0
        else:
            made = service.create_connection(strict, vault.id, "brp",
                                             {"base_url": base_url, "bsn": BSN},
                                             {"api_key": "k"})
            assert service.get_connection(strict, made.id, secrets=True).options["base_url"] \
                == base_url
    finally:
        strict.close()
