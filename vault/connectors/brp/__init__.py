"""Haal Centraal BRP Personen API v2: person, address and household from the BRP."""

from vault.connectors.brp.connector import BrpConnector

__all__ = ["BrpConnector"]
