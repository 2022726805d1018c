"""Connectors load from entry points; a broken one is logged and skipped."""

from __future__ import annotations

import sys

from vault.connectors import registry


def test_builtins_register_by_entry_point():
    loaded = registry.load(refresh=True)
    assert {"brp", "woz", "psd2", "upload"} <= set(loaded)


def test_a_connector_that_fails_to_load_is_skipped(tmp_path, caplog):
    dist = tmp_path / "kluis_broken_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: kluis-broken-plugin\n"
                                   "Version: 0.1\n")
    (dist / "entry_points.txt").write_text(
        "[kluis.connectors]\nbroken = kluis_no_such_module:Connector\n"
        "notaconnector = json:loads\n")
    sys.path.insert(0, str(tmp_path))
    try:
        loaded = registry.load(refresh=True)
        assert "broken" not in loaded and "notaconnector" not in loaded
        assert "ModuleNotFoundError" in registry.failures["broken"]
        assert "TypeError" in registry.failures["notaconnector"]
        assert "brp" in loaded
        assert "not loaded" in caplog.text
    finally:
        sys.path.remove(str(tmp_path))
        registry.load(refresh=True)
