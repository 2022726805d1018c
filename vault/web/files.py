"""Files over HTTP: reading a bounded upload, and the headers of a download."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import quote

from flask import Response, request

from vault.web.auth import services
from vault.web.problems import Problem


@dataclass(frozen=True)
class Upload:
    name: str
    media_type: str
    content: bytes


def read_upload(field: str = "file") -> Upload:
    """The uploaded file of a multipart request, bounded by KLUIS_MAX_UPLOAD_BYTES."""
    limit = services().settings.max_upload_bytes
    if (request.content_length or 0) > limit + 64 * 1024:
        raise Problem(413, "too-large", "The file is too large", f"At most {limit} bytes.")
    upload = request.files.get(field)
    if upload is None or not upload.filename:
        raise Problem(422, "validation", "No file was sent", errors={field: ["Required."]})
    content = upload.read(limit + 1)
    if len(content) > limit:
        raise Problem(413, "too-large", "The file is too large", f"At most {limit} bytes.")
    media_type = (upload.mimetype or "application/octet-stream").lower()
    return Upload(safe_filename(upload.filename), media_type, content)


def safe_filename(name: str) -> str:
    """The last path component of a client-given file name, printable, at most 255 chars."""
    name = name.replace("\\", "/").rsplit("/", 1)[-1].strip() or "document"
    return "".join(ch for ch in name if ch.isprintable())[:255]


def attachment_header(name: str) -> str:
    ascii_name = name.encode("ascii", "replace").decode().replace('"', "")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"


class Download(Protocol):
    """A file to stream (:class:`vault.grants.redemption.DocumentDownload`)."""

    name: str
    media_type: str
    size: int
    sha256: str

    def __iter__(self): ...  # type: ignore[no-untyped-def]  # an iterator of byte chunks

    def close(self) -> None: ...


def document_response(download: Download) -> Response:
    """Stream ``download`` with its media type, length, RFC 9530 ``Repr-Digest`` and a safe
    ``Content-Disposition``; its ``close`` runs when the response is closed."""
    digest = base64.b64encode(bytes.fromhex(download.sha256)).decode()
    resp = Response(iter(download), mimetype=download.media_type, direct_passthrough=True)
    resp.headers["Content-Length"] = str(download.size)
    resp.headers["Repr-Digest"] = f"sha-256=:{digest}:"
    resp.headers["Content-Disposition"] = attachment_header(safe_filename(download.name))
    resp.headers["Cache-Control"] = "no-store"
    resp.call_on_close(download.close)
    return resp
