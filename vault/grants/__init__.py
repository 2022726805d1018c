"""Data requests, grants, consent receipts, organisations and the access log. Imports no Flask."""
