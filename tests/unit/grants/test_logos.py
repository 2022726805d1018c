"""Organisation logos: fetched by the server at registration, checked, stored; or none."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from vault.grants import logos

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
FILES = {
    "/logo.png": ("image/png", PNG),
    "/logo.svg": ("image/svg+xml", b"<svg onload='alert(1)'/>"),
    "/fake.png": ("image/png", b"<html>not a png</html>"),
    "/huge.png": ("image/png", PNG + b"\x00" * 300_000),
}


@pytest.fixture
def server():
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            media_type, body = FILES.get(self.path, ("text/plain", b"missing"))
            self.send_response(200 if self.path in FILES else 404)
            self.send_header("Content-Type", media_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _register(grants, logo_uri):
    info, _secret = grants.orgs.register({
        "client_name": "Woonstichting De Kern", "client_uri": "https://dekern.nl",
        "redirect_uris": ["https://dekern.nl/cb"], "logo_uri": logo_uri})
    return info["client_id"]


def test_a_png_logo_is_fetched_once_and_stored(grants, server):
    client_id = _register(grants, f"{server}/logo.png")
    logo = logos.get_logo(grants.instance, client_id)
    assert logo == logos.Logo("image/png", PNG)
    assert logos.has_logo(grants.instance, client_id)


@pytest.mark.parametrize("path", ["/logo.svg", "/fake.png", "/huge.png", "/missing.png"])
def test_anything_but_a_small_raster_image_means_no_logo(grants, server, path):
    client_id = _register(grants, f"{server}{path}")
    assert logos.get_logo(grants.instance, client_id) is None


def test_sniffing_wants_the_bytes_to_agree_with_the_type():
    assert logos.sniff("image/png; charset=binary", PNG) == "image/png"
    assert logos.sniff("image/jpeg", PNG) is None
    assert logos.sniff("image/webp", b"RIFF0000WEBPVP8 ") == "image/webp"
    assert logos.sniff("image/webp", b"RIFF0000WAVEfmt ") is None
