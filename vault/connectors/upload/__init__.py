"""Uploads for sources without an API the person can reach (UWV, DUO, pension, payslips)."""

from vault.connectors.upload.connector import UploadConnector

__all__ = ["UploadConnector"]
