"""Connectors: pluggable sources that keep records fresh. Imports no Flask.

See :mod:`vault.connectors.base` for the contract and docs/connectors.md for a guide.
"""
