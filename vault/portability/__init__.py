"""Certified export, verification, whole-vault archives and erasure. Imports no Flask."""
