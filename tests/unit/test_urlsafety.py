import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from vault.urlsafety import UnsafeURL, check_url, fetch


@pytest.mark.parametrize("url", [
    "http://example.com/x",  # not https
    "https://127.0.0.1/x",
    "https://localhost/x",
    "https://10.1.2.3/x",
    "https://192.168.1.1/x",
    "https://169.254.169.254/latest/meta-data",
    "https://[::1]/x",
    "https://[::ffff:127.0.0.1]/x",
    "https://0.0.0.0/x",
    "https://user:pw@example.com/x",
    "file:///etc/passwd",
])
def test_private_targets_and_odd_urls_are_refused(url):
    with pytest.raises(UnsafeURL):
        check_url(url, allow_private=False)


@pytest.fixture
def local_server():
    routes: dict[str, tuple[int, dict, bytes]] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server API
            status, headers, body = routes.get(self.path, (404, {}, b""))
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", routes
    server.shutdown()
    server.server_close()


def test_loopback_is_fetched_only_when_allowed(local_server):
    base, routes = local_server
    routes["/ok"] = (200, {"Content-Type": "application/json"}, b"{}")
    assert fetch(base + "/ok", allow_private=True).body == b"{}"
    with pytest.raises(UnsafeURL):
        fetch(base + "/ok", allow_private=False)


def test_large_bodies_are_cut_off(local_server):
    base, routes = local_server
    routes["/big"] = (200, {}, b"x" * 70_000)
    with pytest.raises(UnsafeURL, match="larger"):
        fetch(base + "/big", allow_private=True)


def test_redirects_are_checked_and_limited(local_server):
    base, routes = local_server
    routes["/loop"] = (302, {"Location": "/loop"}, b"")
    with pytest.raises(UnsafeURL, match="redirects"):
        fetch(base + "/loop", allow_private=True)
    routes["/file"] = (302, {"Location": "file:///etc/passwd"}, b"")
    with pytest.raises(UnsafeURL):
        fetch(base + "/file", allow_private=True)
