"""Rendering helpers shared by the generator: money, dates and MetaData in QBO's wire shapes."""

from __future__ import annotations

from datetime import date
from typing import Any

CURRENCY = {"value": "USD", "name": "United States Dollar"}


def money(cents: int) -> float:
    # Whole cents divided once: the float's shortest repr is the exact two-decimal amount.
    return cents / 100 if cents % 100 else float(cents // 100)


def day_iso(ordinal: int) -> str:
    return date.fromordinal(ordinal).isoformat()


def stamp(ordinal: int, second: int, offset: str) -> str:
    second = min(max(second, 0), 86399)
    return f"{day_iso(ordinal)}T{second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d}{offset}"


def meta(created: tuple[int, int], updated: tuple[int, int], offset: str) -> dict[str, str]:
    return {"CreateTime": stamp(*created, offset), "LastUpdatedTime": stamp(*max(created, updated), offset)}


def ref(value: str, name: str | None = None) -> dict[str, Any]:
    return {"value": value, "name": name} if name is not None else {"value": value}
