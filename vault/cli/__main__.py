"""``python -m vault.cli``: the ``kluis`` command."""

from vault.cli import main

main()
