"""Stand-in servers for the sources the built-in connectors read (see common.py)."""
