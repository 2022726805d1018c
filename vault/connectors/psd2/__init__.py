"""Berlin Group NextGenPSD2 account information: bank accounts and an income/expense summary."""

from vault.connectors.psd2.connector import Psd2Connector

__all__ = ["Psd2Connector"]
