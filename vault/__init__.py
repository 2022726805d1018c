"""Kluis: a self-hosted personal data vault with consent management."""
