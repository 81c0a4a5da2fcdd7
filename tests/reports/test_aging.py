"""A/R aging: buckets by days past due, totals equal to the cent to the open balances in the cache."""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from qbsync.cache.models import CreditMemo, Customer, Invoice, Payment, PaymentLink
from qbsync.cache.types import Money
from qbsync.errors import InputError
from qbsync.reports import aging, render
from tests.builder import CacheBuilder, D

AS_OF = date(2025, 6, 30)


def test_buckets_by_days_past_due(db_url: str) -> None:
    c = CacheBuilder(db_url)
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
    assert row.items == 7
    assert report.total == D("280.00")


def test_total_equals_sum_of_open_balances_to_the_cent(db_url: str) -> None:
    rng = random.Random(7)
    c = CacheBuilder(db_url)
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
    c = CacheBuilder(db_url)
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
    c = CacheBuilder(db_url)
    c.customer("1", "Void")
    c.invoice("1", date(2025, 1, 1), "500", voided=True)
    assert aging.aging(c.engine, c.realm_id, AS_OF).total == D(0)


def _total_balance(c: CacheBuilder) -> Decimal:
    return c.scalar(sa.select(sa.type_coerce(sa.func.coalesce(sa.func.sum(Customer.balance), 0), Money())))


def test_credits_are_negative_and_customers_in_credit_are_listed(db_url: str) -> None:
    c = CacheBuilder(db_url)
    c.customer("1", "Owes")
    c.customer("2", "In credit")
    c.customer("3", "Settled by a credit memo")
    c.invoice("1", date(2025, 6, 1), "500.00", due=date(2025, 6, 15))  # 15 days past due
    c.pay("1", date(2025, 4, 20), unapplied="120.00")  # 71 days old, unapplied: a credit in 61-90
    c.credit_memo("1", date(2025, 6, 30), "30.00")  # dated today: current
    c.pay("2", date(2025, 6, 10), unapplied="75.50")  # paid ahead: in credit
    inv = c.invoice("3", date(2025, 5, 1), "200.00", due=date(2025, 5, 31))
    memo = c.credit_memo("3", date(2025, 5, 10), "200.00")
    c.pay("3", date(2025, 5, 12), (inv, "200.00"), credits=((memo, "200.00"),))  # a zero payment applying it
    report = aging.aging(c.engine, c.realm_id, AS_OF)
    rows = aging.by_customer(report)
    assert set(rows) == {"1", "2"}  # "3" owes nothing: not listed
    assert rows["1"].buckets == {"current": D("-30.00"), "1-30": D("500.00"), "31-60": D(0),
                                 "61-90": D("-120.00"), "over 90": D(0)}
    assert rows["1"].total == D("350.00") and rows["1"].items == 3
    assert rows["2"].total == D("-75.50") and report.in_credit == 1
    assert report.total == _total_balance(c) == D("274.50")
    detail = aging.detail_table(report)
    assert [(r["kind"], r["open"]) for r in detail.rows] == [
        ("Credit Memo", D("-30.00")), ("Payment", D("-75.50")), ("Invoice", D("500.00")),
        ("Payment", D("-120.00"))]
    assert detail.totals is not None and detail.totals["open"] == D("274.50")
    assert [r["bucket"] for r in detail.rows] == ["Current", "1 - 30", "1 - 30", "61 - 90"]
    table = aging.table(report)
    assert [col.title for col in table.columns][3:8] == ["Current", "1 - 30", "31 - 60", "61 - 90",
                                                         "91 and over"]
    assert any("in credit" in n for n in table.notes)


def test_quickbooks_aging_options(db_url: str) -> None:
    c = CacheBuilder(db_url)
    c.customer("1", "A")
    for days in (0, 1, 14, 15, 29, 44, 45, 100):
        c.invoice("1", AS_OF - timedelta(days=days + 30), "1.00", due=AS_OF - timedelta(days=days))
    params = aging.AgingParams(days=15, periods=3)
    assert params.buckets == ("current", "1-15", "16-30", "over 30")
    assert params.titles == ("Current", "1 - 15", "16 - 30", "31 and over")
    row = aging.by_customer(aging.aging(c.engine, c.realm_id, AS_OF, params))["1"]
    assert row.buckets == {"current": D(1), "1-15": D(3), "16-30": D(1), "over 30": D(3)}
    one = aging.aging(c.engine, c.realm_id, AS_OF, aging.AgingParams(days=30, periods=1))
    assert one.totals == {"current": D(1), "over 0": D(7)}
    with pytest.raises(InputError):
        aging.AgingParams(days=0)


def test_aging_methods_report_date_and_current(db_url: str) -> None:
    c = CacheBuilder(db_url)
    c.customer("1", "Paid after the report date")
    inv = c.invoice("1", date(2025, 5, 1), "300.00", due=date(2025, 5, 31))
    memo = c.credit_memo("1", date(2025, 5, 5), "50.00")
    c.pay("1", date(2025, 7, 10), (inv, "300.00"), credits=((memo, "50.00"),))
    then = aging.aging(c.engine, c.realm_id, AS_OF, aging.AgingParams(method="report_date"))
    assert then.total == D("250.00")  # owed on the report date: the payment came later
    assert then.totals["1-30"] == D("300.00") and then.totals["31-60"] == D("-50.00")
    now = aging.aging(c.engine, c.realm_id, AS_OF, aging.AgingParams(method="current"))
    assert now.total == D(0) and now.rows == []  # every payment counts, whenever dated
    c.invoice("1", date(2025, 6, 1), "80.00", due=date(2025, 6, 20))
    later = date(2025, 8, 1)  # "current" ages on today: 42 days past due then, 10 on the report date
    today = aging.aging(c.engine, c.realm_id, AS_OF, aging.AgingParams(method="current"), today=later)
    assert today.totals["31-60"] == D("80.00") and today.aged_on == later
    assert aging.detail_table(today).rows[0]["past_due"] == 42
    assert aging.aging(c.engine, c.realm_id, AS_OF, aging.AgingParams(method="report_date"),
                       today=later).totals["1-30"] == D("380.00")


def test_payment_dated_before_the_invoice_it_pays_is_unapplied_until_then(db_url: str) -> None:
    c = CacheBuilder(db_url)
    c.customer("1", "Prepaid")
    pay = c.pay("1", date(2025, 6, 20), unapplied="80.00")
    inv = c.invoice("1", date(2025, 7, 5), "80.00", due=date(2025, 7, 5))
    with c.engine.begin() as conn:  # the payment edited later to apply to the new invoice
        conn.execute(sa.insert(PaymentLink).values(realm_id=c.realm_id, payment_id=pay, line_no=0, txn_id=inv,
                                                   txn_type="Invoice", amount=D("80.00")))
        conn.execute(sa.update(Payment).where(Payment.id == pay).values(unapplied_amt=D(0)))
        conn.execute(sa.update(Invoice).where(Invoice.id == inv).values(balance=D(0)))
    report = aging.aging(c.engine, c.realm_id, AS_OF)
    assert [(i.kind, i.open) for i in report.items] == [("Payment", D("-80.00"))]  # A/R on June 30: -80
    assert aging.aging(c.engine, c.realm_id, date(2025, 7, 31)).items == []


def test_aging_total_is_the_sum_of_customer_balances_on_random_companies(db_url: str) -> None:
    rng = random.Random(11)
    c = CacheBuilder(db_url)
    for n in range(30):
        cid = c.customer(str(n), f"Customer {n}")
        memos: list[tuple[str, list[str]]] = []
        for _ in range(rng.randint(0, 3)):
            memos.append((c.credit_memo(cid, AS_OF - timedelta(days=rng.randint(0, 300)),
                                        str(D(rng.randint(100, 5000)) / 100)), []))
        for _ in range(rng.randint(0, 6)):
            day = AS_OF - timedelta(days=rng.randint(0, 400))
            total = D(rng.randint(1, 500_000)) / 100
            inv = c.invoice(cid, day, str(total), due=day + timedelta(days=rng.choice([0, 15, 30, 60])))
            part = (total * D(rng.choice(["0", "0.25", "0.5", "1"]))).quantize(D("0.01"))
            credits: tuple[tuple[str, str], ...] = ()
            if memos and rng.random() < 0.3:
                memo = memos.pop()[0]
                left = c.scalar(sa.select(CreditMemo.balance).where(CreditMemo.id == memo))
                use = min(left, part) if part else D(0)
                credits = ((memo, str(use)),) if use else ()
            if part or credits:
                paid_on = min(day + timedelta(days=rng.randint(0, 60)), AS_OF)
                c.pay(cid, paid_on, *([(inv, str(part))] if part else []),
                      unapplied=str(D(rng.choice([0, 0, 0, 1500])) / 100), credits=credits)
    report = aging.aging(c.engine, c.realm_id, AS_OF)
    assert report.total == _total_balance(c)
    assert sum((r.total for r in report.rows), D(0)) == report.total
    with c.engine.connect() as conn:
        balances = dict(conn.execute(sa.select(Customer.id, Customer.balance)).all())
    assert {r.customer_id: r.total for r in report.rows if r.total} == {
        k: v for k, v in balances.items() if v}
    assert any(r.total < 0 for r in report.rows)  # some customers are in credit, and listed
