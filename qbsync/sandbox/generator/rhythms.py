"""Purchase rhythms: the dates on which a customer buys, given its rhythm and lifecycle."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date

RHYTHMS = ("weekly", "monthly", "seasonal", "irregular", "one_off")


@dataclass(frozen=True, slots=True)
class Lifecycle:
    """Ordinal dates: first purchase, churn (first day with no more buying, or None), come-back
    (a purchase happens that day, or None), and the end of history."""

    first: int
    churned: int | None
    came_back: int | None
    end: int


def _process(rng: random.Random, rhythm: str, start: int, stop: int, params: tuple[float, ...]) -> list[int]:
    """Purchase days in [start, stop), starting with ``start`` itself."""
    days = [start]
    if rhythm == "one_off":
        return days
    day = start
    if rhythm == "seasonal":
        months = params  # peak months (1..12)
        while True:
            nxt = day + 3 + int(rng.random() * 20)
            while _month(nxt) not in months and nxt < stop:
                nxt += 7
            if nxt >= stop:
                return days
            if rng.random() < 0.1 and _month(nxt) != _month(day):
                day = nxt + 200  # skips a whole season now and then
                continue
            days.append(nxt)
            day = nxt
    while True:
        if rhythm == "weekly":
            gap = 7 + int(rng.random() * 3) - 1
            if rng.random() < 0.12:
                gap += 7
        elif rhythm == "monthly":
            gap = 26 + int(rng.random() * 9)
            if rng.random() < 0.08:
                gap += 30
        else:  # irregular: gamma-distributed gaps around the customer's own mean
            gap = max(3, int(rng.gammavariate(1.6, params[0] / 1.6)))
        day += gap
        if day >= stop:
            return days
        days.append(day)


def _month(ordinal: int) -> int:
    return date.fromordinal(ordinal).month


def rhythm_params(rng: random.Random, rhythm: str) -> tuple[float, ...]:
    if rhythm == "seasonal":
        peak = 1 + int(rng.random() * 12)
        return (peak, peak % 12 + 1) if rng.random() < 0.6 else (peak,)
    if rhythm == "irregular":
        return (30 + rng.random() * 150,)
    return ()


def purchase_days(rng: random.Random, rhythm: str, life: Lifecycle, params: tuple[float, ...]) -> list[int]:
    """Every purchase day; none in [churned, came_back), one on came_back."""
    stop = life.churned if life.churned is not None else life.end + 1
    days = _process(rng, rhythm, life.first, stop, params)
    if life.came_back is not None:
        days += _process(rng, rhythm, life.came_back, life.end + 1, params)
    return days
