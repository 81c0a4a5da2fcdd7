"""Allows ``python -m qbsync``."""

from qbsync.cli import main

main()
