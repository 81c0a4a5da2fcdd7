"""qbsync: a local mirror of QuickBooks Online companies, customer rules, safe write-back and outreach."""

from __future__ import annotations

__version__ = "0.1.0"
