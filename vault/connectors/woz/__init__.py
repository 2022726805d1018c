"""Haal Centraal WOZ bevragen: a property and its WOZ value history."""

from vault.connectors.woz.connector import WozConnector

__all__ = ["WozConnector"]
