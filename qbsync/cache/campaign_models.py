"""Cache tables of campaigns: frozen segment members, control groups, exports (data found nowhere else)."""

from __future__ import annotations
