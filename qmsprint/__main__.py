"""``python -m qmsprint`` runs the CLI."""

from qmsprint.cli import main

main()
