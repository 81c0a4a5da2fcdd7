"""Wire formats as QBO writes them: JSON with two-decimal money, times with the company's UTC offset."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

# Keys whose numbers are money: QBO writes them with two decimals (337.50) and zero as 0.
MONEY_KEYS = frozenset({
    "Amount", "TotalAmt", "Balance", "BalanceWithJobs", "UnappliedAmt", "RemainingCredit", "TotalTax",
    "HomeBalance", "HomeTotalAmt", "Deposit", "CurrentBalance", "CurrentBalanceWithSubAccounts",
    "NetAmountTaxable", "HomeAmount", "OpenBalance", "CreditLimit",
})

# Money keys followed by a JSON number, in text written by json.dumps. Rewriting the text is much
# faster than walking every object (bulk loads of a million transactions go through here).
_MONEY_RE = re.compile(
    r'"(' + "|".join(sorted(MONEY_KEYS)) + r')":(-?[0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?)')
_CENT = Decimal("0.01")


def money_text(value: Any) -> str:
    """``337.5`` -> ``"337.50"``, zero -> ``"0"``."""
    try:
        d = Decimal(str(value)).quantize(_CENT)
    except InvalidOperation:
        return "0"
    if d == 0:
        return "0"
    return f"{d:.2f}"


def to_decimal(value: Any) -> Decimal:
    if value is None or value == "":
        return Decimal(0)
    try:
        return Decimal(str(value)).quantize(_CENT)
    except InvalidOperation:
        return Decimal(0)


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _money(m: re.Match[str]) -> str:
    return f'"{m.group(1)}":{money_text(m.group(2))}'


def dumps(obj: Any) -> str:
    """Compact JSON in QBO's style; money keys get two decimals."""
    return _MONEY_RE.sub(_money, json.dumps(obj, separators=(",", ":"), ensure_ascii=False, default=_default))


def offset_tz(offset: str) -> timezone:
    """``"-08:00"`` -> a fixed-offset tzinfo."""
    m = re.fullmatch(r"([+-])(\d{2}):?(\d{2})", offset.strip())
    if not m:
        raise ValueError(f"bad UTC offset {offset!r}: use the form -08:00")
    sign = -1 if m.group(1) == "-" else 1
    return timezone(sign * timedelta(hours=int(m.group(2)), minutes=int(m.group(3))))


def fmt_meta_time(dt: datetime, tz: timezone) -> str:
    """MetaData style: ``2015-07-01T10:14:15-07:00`` (seconds, company offset)."""
    return dt.astimezone(tz).replace(microsecond=0).isoformat()


def fmt_body_time(dt: datetime, tz: timezone) -> str:
    """Envelope ``time`` style: ``2020-09-29T06:03:53.438-07:00`` (milliseconds, company offset)."""
    return dt.astimezone(tz).isoformat(timespec="milliseconds")


def parse_time(text: str, tz: timezone) -> datetime:
    """A QBO date or date-time; no offset means company time; a bare date means its midnight."""
    s = text.strip()
    if s.endswith("Z") or s.endswith("z"):
        s = s[:-1] + "+00:00"
    if len(s) == 10:
        d = date.fromisoformat(s)
        return datetime.combine(d, time(0), tz).astimezone(UTC)
    dt = datetime.fromisoformat(s)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=tz)
    return dt.astimezone(UTC)


def epoch(dt: datetime) -> float:
    return dt.timestamp()
