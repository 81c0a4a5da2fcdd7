"""Cache tables of write-back: plans, runs and the audit log of every attempt (data found nowhere else)."""

from __future__ import annotations
