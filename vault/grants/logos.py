"""Organisations' logos: fetched by the server once, at registration; served from our origin.

A consent screen that loaded the logo from the organisation's own server would tell
the organisation when the person opens it, and would let it probe her network. So
the logo named in the client metadata (``logo_uri``) is fetched here, through
:func:`vault.urlsafety.fetch` (public addresses only, https, bounded size and time),
accepted only as a raster image whose bytes say what its type says (PNG, JPEG, GIF,
WebP; no SVG, which can carry script), and stored in instance.db. Anything else: no
logo, and the registration goes on without one. No Flask.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

from vault.clock import now_iso
from vault.config import Settings
from vault.storage.instance import Instance
from vault.urlsafety import UnsafeURL, fetch

log = logging.getLogger("kluis.grants")

# Media type -> the bytes a file of that type starts with.
SIGNATURES: dict[str, tuple[bytes, ...]] = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "image/webp": (b"RIFF",),
}


@dataclass(frozen=True)
class Logo:
    media_type: str
    content: bytes


def sniff(content_type: str, body: bytes) -> str | None:
    """The image's media type when the declared type is an accepted one and the bytes agree."""
    media_type = content_type.split(";", 1)[0].strip().lower()
    signatures = SIGNATURES.get(media_type)
    if not signatures or not any(body.startswith(s) for s in signatures):
        return None
    if media_type == "image/webp" and body[8:12] != b"WEBP":
        return None
    return media_type


def fetch_logo(url: str, settings: Settings) -> Logo | None:
    """The logo at ``url``, or None (unsafe URL, too large, not an accepted image)."""
    try:
        fetched = fetch(url, allow_private=settings.allow_private_urls,
                        max_bytes=settings.logo_max_bytes, accept="image/png, image/jpeg, "
                        "image/gif, image/webp")
    except UnsafeURL as exc:
        log.info("organisation logo not fetched: %s", exc)
        return None
    if fetched.status != 200:
        return None
    media_type = sniff(fetched.content_type, fetched.body)
    if media_type is None:
        log.info("organisation logo refused: not a PNG, JPEG, GIF or WebP image")
        return None
    return Logo(media_type, fetched.body)


def store_logo(instance: Instance, settings: Settings, client_id: str,
               logo_uri: str | None) -> bool:
    """Fetch and store the logo of a newly registered organisation; True when stored.
    Never raises for a bad logo: the organisation simply has none."""
    if not logo_uri:
        return False
    logo = fetch_logo(logo_uri, settings)
    if logo is None:
        return False
    with instance.transaction() as tx:
        tx.execute(
            "INSERT INTO oauth_client_logos (client_id, media_type, content, sha256,"
            " source_url, fetched_at) VALUES (?, ?, ?, ?, ?, ?)"
            " ON CONFLICT(client_id) DO UPDATE SET media_type = excluded.media_type,"
            " content = excluded.content, sha256 = excluded.sha256,"
            " source_url = excluded.source_url, fetched_at = excluded.fetched_at",
            (client_id, logo.media_type, logo.content,
             hashlib.sha256(logo.content).hexdigest(), logo_uri, now_iso()))
    return True


def get_logo(instance: Instance, client_id: str) -> Logo | None:
    row = instance.conn.execute(
        "SELECT media_type, content FROM oauth_client_logos WHERE client_id = ?",
        (client_id,)).fetchone()
    return Logo(row[0], bytes(row[1])) if row else None


def has_logo(instance: Instance, client_id: str) -> bool:
    return instance.conn.execute(
        "SELECT 1 FROM oauth_client_logos WHERE client_id = ?", (client_id,)).fetchone() \
        is not None
