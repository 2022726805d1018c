"""The import contracts in pyproject.toml ([tool.importlinter]) hold, and they bite.

Each breaking case runs the real ``lint-imports`` with the real contracts on a copy of the
package's Python files in a temporary directory, with one module added that breaks a rule.
Nothing is written into the repository.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "pyproject.toml"
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(package_parent: Path) -> subprocess.CompletedProcess[str]:
    """Run lint-imports with the repository's contracts on the ``vault`` under ``package_parent``."""
    env = {**os.environ, "PYTHONPATH": str(package_parent)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(CONFIG), "--no-cache"],
        cwd=package_parent, env=env, capture_output=True, text=True, timeout=60, check=False,
    )


def copy_package(dest: Path) -> Path:
    """Copy vault/**/*.py (nothing else is needed to build the import graph) under ``dest``."""
    for source in (ROOT / "vault").rglob("*.py"):
        if "__pycache__" in source.parts:
            continue
        target = dest / source.relative_to(ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    return dest


def test_the_real_tree_keeps_every_contract() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "source", "broken"),
    [
        # A domain package importing Flask, directly or from a name inside it.
        ("vault/grants/arch_probe.py", "import flask\n",
         "vault.grants is not allowed to import flask"),
        ("vault/storage/arch_probe.py", "from werkzeug.exceptions import NotFound\n",
         "vault.storage is not allowed to import werkzeug"),
        ("vault/portability/arch_probe.py", "from flask import request\n",
         "vault.portability is not allowed to import flask"),
        # A domain package importing the web layer, the CLI or the composition root.
        ("vault/accounts/arch_probe.py", "from vault.api import schemas\n",
         "vault.accounts is not allowed to import vault.api"),
        ("vault/grants/arch_probe.py", "from vault.web import problems\n",
         "vault.grants is not allowed to import vault.web"),
        ("vault/records/arch_probe.py", "from vault.cli import services\n",
         "vault.records is not allowed to import vault.cli"),
        # Only the rq entry points (jobs.py) may reach the composition root.
        ("vault/grants/arch_probe.py", "from vault.services import current\n",
         "vault.grants is not allowed to import vault.services"),
        # The web layer's shared pieces do not import the views.
        ("vault/web/arch_probe.py", "from vault.ui import common\n",
         "vault.web is not allowed to import vault.ui"),
        # A lower layer importing a higher one.
        ("vault/records/arch_probe.py", "from vault.grants import models\n",
         "vault.records is not allowed to import vault.grants"),
        ("vault/crypto/arch_probe.py", "from vault.storage import db\n",
         "vault.crypto is not allowed to import vault.storage"),
        # Siblings in one domain layer are independent.
        ("vault/connectors/arch_probe.py", "from vault.grants import models\n",
         "vault.connectors is not allowed to import vault.grants"),
    ],
)
def test_a_forbidden_import_breaks_a_contract(tmp_path: Path, module: str, source: str,
                                              broken: str) -> None:
    copy = copy_package(tmp_path)
    (copy / module).write_text(f'"""An import the contracts forbid."""\n\n{source}')
    result = lint_imports(copy)
    assert result.returncode != 0, result.stdout
    assert broken in result.stdout, result.stdout
    assert "BROKEN" in result.stdout
