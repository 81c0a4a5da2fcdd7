"""A/R aging: buckets by days past due, totals equal to the cent to the open balances in the cache."""

from __future__ import annotations

import random
from datetime import date, timedelta

import sqlalchemy as sa

from qbsync.cache.models import Customer, Invoice
from qbsync.cache.types import Money
from qbsync.reports import aging, render

from .builder import Cache, D

AS_OF = date(2025, 6, 30)


def test_buckets_by_days_past_due(db_url: str) -> None:
    c = Cache(db_url)
    c.customer("1", "Acme")
    c.invoice("1", date(2025, 6, 1), "10.00", due=date(2025, 7, 1))  # not due yet
    c.invoice("1", date(2025, 6, 1), "20.00", due=AS_OF)  # due today: current
    c.invoice("1", date(2025, 5, 1), "30.00", due=date(2025, 5, 31))  # 30 days
    c.invoice("1", date(2025, 4, 1), "40.00", due=date(2025, 5, 30))  # 31 days
    c.invoice("1", date(2025, 3, 1), "50.00", due=date(2025, 4, 1))  # 90 days
    c.invoice("1", date(2025, 1, 1), "60.00", due=date(2025, 3, 31))  # 91 days
    c.invoice("1", date(2025, 1, 1), "70.00")  # no due date: due on the invoice date, 180 days
    paid = c.invoice("1", date(2025, 1, 1), "80.00", due=date(2025, 1, 31))
    c.pay("1", date(2025, 2, 1), (paid, "80.00"))  # fully paid: not in the aging
    report = aging.aging(c.engine, c.realm_id, AS_OF)
    row = aging.by_customer(report)["1"]
    assert row.buckets == {"current": D("30.00"), "1-30": D("30.00"), "31-60": D("40.00"),
                           "61-90": D("50.00"), "over 90": D("130.00")}
    assert row.invoices == 7
    assert report.total == D("280.00")


def test_total_equals_sum_of_open_balances_to_the_cent(db_url: str) -> None:
    rng = random.Random(7)
    c = Cache(db_url)
    for n in range(40):
        cid = c.customer(str(n), f"Customer {n}")
        for _ in range(rng.randint(0, 6)):
            day = AS_OF - timedelta(days=rng.randint(0, 400))
            total = D(rng.randint(1, 500_000)) / 100
            inv = c.invoice(cid, day, str(total), due=day + timedelta(days=rng.choice([0, 15, 30, 60])))
            part = (total * D(rng.choice(["0", "0", "0.25", "0.5", "1"]))).quantize(D("0.01"))
            if part:
                c.pay(cid, day + timedelta(days=rng.randint(0, 40)) if day + timedelta(days=40) <= AS_OF
                      else day, (inv, str(part)))
    report = aging.aging(c.engine, c.realm_id, AS_OF)
    cache_total = c.scalar(sa.select(sa.type_coerce(sa.func.sum(Invoice.balance), Money()))
                           .where(Invoice.voided.is_(False)))
    customer_total = c.scalar(sa.select(sa.type_coerce(sa.func.sum(Customer.balance), Money())))
    assert report.total == cache_total == customer_total  # no credits here: QBO's balance agrees too
    assert sum((r.total for r in report.rows), D(0)) == report.total
    table = aging.table(report)
    assert table.totals is not None and render.money(table.totals["total"]) == cache_total
    assert '"TOTAL"' in render.to_csv(table)


def test_as_of_replays_balances_before_later_payments(db_url: str) -> None:
    c = Cache(db_url)
    c.customer("1", "Slow")
    inv = c.invoice("1", date(2025, 3, 1), "300", due=date(2025, 4, 1))
    c.pay("1", date(2025, 5, 15), (inv, "100"))
    c.pay("1", date(2025, 7, 10), (inv, "200"))
    c.invoice("1", date(2025, 7, 5), "999", due=date(2025, 8, 4))  # after as_of: unseen
    then = aging.aging(c.engine, c.realm_id, AS_OF)
    assert then.total == D("200.00")
    assert then.totals["61-90"] == D("200.00")
    later = aging.aging(c.engine, c.realm_id, date(2025, 7, 31))
    assert later.total == D("999.00")


def test_voided_invoices_never_age(db_url: str) -> None:
    c = Cache(db_url)
    c.customer("1", "Void")
    c.invoice("1", date(2025, 1, 1), "500", voided=True)
    assert aging.aging(c.engine, c.realm_id, AS_OF).total == D(0)
