"""Benchmarks of Kluis's hot paths, each against a baseline measured in the same run.

Run with ``python -m bench`` (or ``kluis bench``); ``--smoke`` for the seconds-long version.
"""
