"""The baseline: a bare Flask endpoint returning fixed bytes, under ``kluis serve``'s gunicorn.

``python -m bench.bare --bind HOST:PORT`` runs the real ``kluis serve`` command with
``vault.app.create_app`` replaced by a factory for this bare app, so the gunicorn
configuration (worker class and count, keep-alive, timeouts) is exactly production's.
The body is read from the file named by ``KLUIS_BENCH_BODY``. With ``KLUIS_BENCH_FLOOR``
set (``commit`` or ``group``) each request first commits one event, see :mod:`bench.floor`.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from flask import Flask, Response


def create_bare_app(test_config=None) -> Flask:
    body = Path(os.environ["KLUIS_BENCH_BODY"]).read_bytes()
    app = Flask("bench_bare")
    floor = os.environ.get("KLUIS_BENCH_FLOOR")
    commit = None
    if floor:
        from bench.floor import Committer

        commit = Committer(floor, Path(os.environ["KLUIS_BENCH_FLOOR_DIR"]),
                           os.environ.get("KLUIS_SQLITE_SYNCHRONOUS", "FULL"))

    @app.get("/", defaults={"path": ""})
    @app.get("/<path:path>")
    def fixed(path: str) -> Response:
        if commit is not None and path:  # not the harness's readiness probe of "/"
            commit()
        return Response(body, mimetype="application/json")

    return app


def main(argv: list[str]) -> None:
    import vault.app
    from vault.cli import cli

    vault.app.create_app = create_bare_app
    cli.main(["serve", *argv], prog_name="kluis", standalone_mode=True)


if __name__ == "__main__":
    main(sys.argv[1:])
