"""One household's books: invoices, payments, sales receipts, credit memos and estimates over time."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from .catalog import DEPOSIT_ACCOUNT, PAYMENT_METHODS, TERMS, Catalog
from .render import CURRENCY, day_iso, meta, money, ref


@dataclass(slots=True)
class Txn:
    """A transaction before Ids are known; ``render`` turns it into the QBO object."""

    kind: str
    member: int
    day: int
    sec: int
    lines: list[tuple[int, int, int]] = field(default_factory=list)  # (item index, qty, unit cents)
    total: int = 0
    balance: int = 0
    due: int | None = None
    term: int = 0
    dept: int | None = None
    cls: int | None = None
    links: list[Txn] = field(default_factory=list)
    applied: list[tuple[Txn, int]] = field(
        default_factory=list
    )  # payment lines: (invoice|credit memo, cents)
    status: str = ""
    method: int = 0
    updated: tuple[int, int] = (0, 0)
    settled: int | None = None  # invoices: day the balance reached 0
    id: str = ""
    doc: str = ""
    discount: int = 0  # cents off the items (a percent discount of ``pct``)
    pct: int = 0
    tax: int = 0  # cents of sales tax
    voided: bool = False
    deleted: bool = False  # created and deleted: not emitted, leaves a CDC stub
    unapplied: int = 0  # payments: cents not applied to any invoice
    je: int = 0  # journal entries: signed cents posted to the customer's A/R
    note: str = ""

    def items_total(self) -> int:
        return sum(q * u for _, q, u in self.lines)

    def sales(self) -> int:
        """What QuickBooks' Sales by Customer counts for this form: items less discount, before tax."""
        return 0 if self.voided else self.items_total() - self.discount


@dataclass(slots=True)
class Member:
    """A customer record of the household: the top-level customer or one of its jobs."""

    created: int
    window: tuple[int, int] | None = None  # jobs: project dates
    parent: int | None = None  # index of the parent member
    id: str = ""


@dataclass
class Household:
    """Inputs that shape one top-level customer's history."""

    days: list[int]
    invoicing: bool
    pay_profile: str
    term: int
    business: bool
    spend: float
    items: list[int]
    dept: int
    cls: int
    credit_memo: bool
    unapplied_credit: bool
    estimates: bool


def _basket(rng: random.Random, h: Household, catalog: Catalog) -> list[tuple[int, int, int]]:
    n = 1 if rng.random() < 0.6 else (2 if rng.random() < 0.7 else 3)
    lines = []
    for item in rng.sample(h.items, min(n, len(h.items))):
        unit = catalog.items[item][2]
        qty = max(1, min(40, int(h.spend * (0.5 + rng.random()) * 4000 / max(unit, 500))))
        lines.append((item, qty, unit))
    return lines


def _pay_events(rng: random.Random, profile: str, day: int, due: int, amount: int) -> list[tuple[int, int]]:
    """(day, cents) payments for one invoice, as the customer's habit would make them."""

    def on_time() -> list[tuple[int, int]]:
        span = due - day
        if span >= 4 and rng.random() < 0.12:
            first = max(1, int(amount * (0.3 + rng.random() * 0.4)))
            d1 = day + int(rng.random() * (span // 2 + 1))
            return [(d1, first), (d1 + 1 + int(rng.random() * (due - d1)), amount - first)]
        return [(day + int(rng.random() * (span + 1)), amount)]

    r = rng.random()
    if profile == "on_time":
        return on_time()
    if profile == "sometimes_late":
        return [(due + 1 + int(rng.random() * 30), amount)] if r < 0.3 else on_time()
    if profile == "chronically_late":
        return [(due + 10 + int(rng.random() * 80), amount)] if r < 0.85 else on_time()
    if r < 0.5:
        return []
    if r < 0.7:
        return [(due + int(rng.random() * 60), max(1, int(amount * (0.2 + rng.random() * 0.4))))]
    return [(due + 5 + int(rng.random() * 115), amount)]


def _sec(rng: random.Random) -> int:
    return 28800 + int(rng.random() * 36000)


def build(
    rng: random.Random,
    h: Household,
    members: list[Member],
    catalog: Catalog,
    as_of: int,
    departments: int,
    edits: Any = None,
) -> list[Txn]:
    """Every transaction of the household up to ``as_of``, in creation order. ``edits`` (an
    ``edits.Edits``) adds discounts, tax, voids, deletes, refunds, unapplied payments and journal entries
    from its own random stream, so ``rng``'s draws are the same with or without it."""
    txns: list[Txn] = []
    invoices: list[Txn] = []
    term_days = TERMS[h.term][2]
    for day in h.days:
        member = 0
        if len(members) > 1 and rng.random() < 0.7:
            live = [i for i, m in enumerate(members) if m.window and m.window[0] <= day <= m.window[1]]
            if live:
                member = live[int(rng.random() * len(live))]
        lines = _basket(rng, h, catalog)
        total = sum(q * u for _, q, u in lines)
        dept = h.dept if rng.random() < 0.85 else int(rng.random() * departments)
        if h.invoicing and rng.random() < 0.92:
            inv = Txn(
                "Invoice", member, day, _sec(rng), lines, total, total, day + term_days, h.term, dept, h.cls
            )
            if edits is not None:
                edits.price(inv)
            if h.estimates and rng.random() < 0.3:
                est_day = max(members[member].created, day - 2 - int(rng.random() * 18))
                est = Txn(
                    "Estimate",
                    member,
                    est_day,
                    _sec(rng),
                    list(lines),
                    total,
                    0,
                    None,
                    0,
                    dept,
                    h.cls,
                    status="Closed",
                )
                est.links.append(inv)
                est.updated = (day, inv.sec)
                inv.links.append(est)
                txns.append(est)
            txns.append(inv)
            invoices.append(inv)
        else:
            receipt = Txn(
                "SalesReceipt",
                member,
                day,
                _sec(rng),
                lines,
                total,
                0,
                None,
                0,
                dept,
                h.cls,
                method=int(rng.random() * len(PAYMENT_METHODS)),
            )
            if edits is not None:
                edits.price(receipt)
            txns.append(receipt)
        if h.estimates and rng.random() < 0.08:
            eday = day + 5 + int(rng.random() * 35)
            if eday <= as_of:
                elines = _basket(rng, h, catalog)
                txns.append(
                    Txn(
                        "Estimate",
                        member,
                        eday,
                        _sec(rng),
                        elines,
                        sum(q * u for _, q, u in elines),
                        0,
                        eday + 30,
                        0,
                        dept,
                        h.cls,
                        status="Pending" if as_of - eday < 45 else "Rejected",
                    )
                )
    if h.credit_memo and invoices:
        inv = invoices[int(rng.random() * len(invoices))]
        cday = inv.day  # a correction issued with the invoice, so settlement order stays simple
        amount = max(100, int(inv.total * (0.05 + rng.random() * 0.25)) // 100 * 100)
        amount = min(amount, inv.total)
        item = inv.lines[0][0]
        credit = Txn(
            "CreditMemo",
            inv.member,
            cday,
            min(86000, inv.sec + 30 + int(rng.random() * 300)),
            [(item, 1, amount)],
            amount,
            amount,
            None,
            0,
            inv.dept,
            inv.cls,
        )
        txns.append(credit)
        if not h.unapplied_credit:
            # QBO applies a credit through a zero-amount Payment linking the invoice and the memo.
            pay = Txn(
                "Payment",
                inv.member,
                cday,
                min(86399, max(credit.sec, inv.sec) + 60),
                method=int(rng.random() * len(PAYMENT_METHODS)),
            )
            pay.applied = [(inv, amount), (credit, amount)]
            credit.balance = 0
            credit.updated = (cday, pay.sec)
            inv.balance -= amount
            inv.links.append(pay)
            inv.updated = (cday, pay.sec)
            if inv.balance == 0:
                inv.settled = cday
            txns.append(pay)
    by_date: dict[tuple[int, int], Txn] = {}
    for inv in invoices:
        if inv.balance == 0:
            continue
        assert inv.due is not None
        for pday, cents in _pay_events(rng, h.pay_profile, inv.day, inv.due, inv.balance):
            if pday > as_of:
                break
            cents = min(cents, inv.balance)
            if cents <= 0:
                break
            key = (inv.member, pday)
            found = by_date.get(key)
            if found is None:
                sec = _sec(rng) if pday > inv.day else min(86399, inv.sec + 300 + int(rng.random() * 3600))
                found = by_date[key] = Txn(
                    "Payment",
                    inv.member,
                    pday,
                    sec,
                    method=1 + int(rng.random() * (len(PAYMENT_METHODS) - 1)),
                )
                txns.append(found)
            elif pday == inv.day:
                found.sec = max(found.sec, min(86399, inv.sec + 300))
            found.applied.append((inv, cents))
            found.total += cents
            inv.balance -= cents
            inv.links.append(found)
            inv.updated = max(inv.updated, (pday, found.sec))
            if inv.balance == 0:
                inv.settled = pday
    if edits is not None:
        edits.after(txns, members, as_of)
    txns.sort(key=lambda t: (t.day, t.sec, _ORDER[t.kind]))
    return txns


_ORDER = {"Estimate": 0, "Invoice": 1, "SalesReceipt": 2, "CreditMemo": 3, "Payment": 4, "RefundReceipt": 5,
          "JournalEntry": 6}
AR_ACCOUNT = ref("84", "Accounts Receivable (A/R)")
BAD_DEBTS = ref("90", "Bad Debts")
FINANCE_INCOME = ref("91", "Finance Charge Income")
DISCOUNTS_GIVEN = ref("86", "Discounts given")
CHECKING = ref("35", "Checking")
TAX_CODE = ref("2", "California")
TAX_RATE = ref("3", "California")


def _sale_lines(t: Txn, catalog: Catalog) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    void = t.voided  # a voided form keeps its lines with zero amounts and quantities, as QBO does
    for n, (item, qty, unit) in enumerate(t.lines, start=1):
        iid, name, _ = catalog.items[item]
        out.append(
            {
                "Id": str(n),
                "LineNum": n,
                "Description": name,
                "Amount": money(0 if void else qty * unit),
                "DetailType": "SalesItemLineDetail",
                "SalesItemLineDetail": {
                    "ItemRef": ref(iid, name),
                    "UnitPrice": money(unit),
                    "Qty": 0 if void else qty,
                    "TaxCodeRef": ref("TAX" if t.tax else "NON"),
                },
            }
        )
    if t.pct:
        out.append(
            {
                "Amount": money(0 if void else t.discount),
                "DetailType": "DiscountLineDetail",
                "DiscountLineDetail": {
                    "PercentBased": True,
                    "DiscountPercent": t.pct,
                    "DiscountAccountRef": DISCOUNTS_GIVEN,
                },
            }
        )
    subtotal = 0 if void else t.items_total()
    out.append({"Amount": money(subtotal), "DetailType": "SubTotalLineDetail", "SubTotalLineDetail": {}})
    return out


def _tax_detail(t: Txn) -> dict[str, Any]:
    if not t.tax:
        return {"TotalTax": 0}
    tax = 0 if t.voided else t.tax
    taxable = 0 if t.voided else t.items_total() - t.discount
    return {
        "TxnTaxCodeRef": TAX_CODE,
        "TotalTax": money(tax),
        "TaxLine": [
            {
                "Amount": money(tax),
                "DetailType": "TaxLineDetail",
                "TaxLineDetail": {
                    "TaxRateRef": TAX_RATE,
                    "PercentBased": True,
                    "TaxPercent": 8.25,
                    "NetAmountTaxable": money(taxable),
                },
            }
        ],
    }


def _journal(t: Txn, cust_ref: dict[str, str]) -> dict[str, Any]:
    amount = money(abs(t.je))
    ar_side = "Debit" if t.je > 0 else "Credit"
    other = FINANCE_INCOME if t.je > 0 else BAD_DEBTS
    return {
        "Adjustment": False,
        "TotalAmt": amount,
        "PrivateNote": t.note,
        "Line": [
            {
                "Id": "0",
                "Description": t.note,
                "Amount": amount,
                "DetailType": "JournalEntryLineDetail",
                "JournalEntryLineDetail": {
                    "PostingType": ar_side,
                    "Entity": {"Type": "Customer", "EntityRef": cust_ref},
                    "AccountRef": AR_ACCOUNT,
                },
            },
            {
                "Id": "1",
                "Description": t.note,
                "Amount": amount,
                "DetailType": "JournalEntryLineDetail",
                "JournalEntryLineDetail": {
                    "PostingType": "Credit" if ar_side == "Debit" else "Debit",
                    "AccountRef": other,
                },
            },
        ],
    }


def render(
    t: Txn,
    cust_ref: dict[str, str],
    catalog: Catalog,
    offset: str,
    email: str | None,
    addr: dict[str, str] | None,
) -> dict[str, Any]:
    """The QBO object for ``t``; every referenced transaction already has its Id."""
    obj: dict[str, Any] = {
        "domain": "QBO",
        "sparse": False,
        "Id": t.id,
        "SyncToken": "0",
        "MetaData": meta((t.day, t.sec), t.updated, offset),
        "TxnDate": day_iso(t.day),
        "CurrencyRef": CURRENCY,
    }
    if t.kind == "JournalEntry":
        obj.update(_journal(t, cust_ref))
        return obj
    if t.kind == "Payment":
        obj.update(
            {
                "CustomerRef": cust_ref,
                "TotalAmt": money(t.total),
                "UnappliedAmt": money(t.unapplied) if t.unapplied else 0,
                "ProcessPayment": False,
                "PaymentMethodRef": ref(*PAYMENT_METHODS[t.method]),
                "DepositToAccountRef": DEPOSIT_ACCOUNT,
                "Line": [
                    {"Amount": money(c), "LinkedTxn": [{"TxnId": x.id, "TxnType": x.kind}]}
                    for x, c in t.applied
                ],
            }
        )
        return obj
    if t.doc:
        obj["DocNumber"] = t.doc
    if t.dept is not None:
        did, dname = catalog.departments[t.dept]
        obj["DepartmentRef"] = ref(did, dname)
    if t.cls is not None:
        cid, cname = catalog.classes[t.cls]
        obj["ClassRef"] = ref(cid, cname)
    obj["LinkedTxn"] = [{"TxnId": x.id, "TxnType": x.kind} for x in t.links]
    obj["Line"] = _sale_lines(t, catalog)
    obj["TxnTaxDetail"] = _tax_detail(t)
    obj["CustomerRef"] = cust_ref
    if addr:
        obj["BillAddr"] = dict(addr)
    if email:
        obj["BillEmail"] = {"Address": email}
    obj["TotalAmt"] = money(0 if t.voided else t.total)
    obj["ApplyTaxAfterDiscount"] = bool(t.tax or t.pct)
    if t.voided:
        obj["PrivateNote"] = "Voided"
    obj["PrintStatus"] = "NotSet"
    obj["EmailStatus"] = "EmailSent" if email and t.kind != "SalesReceipt" else "NotSet"
    if t.kind == "Invoice":
        tid, tname, _ = TERMS[t.term]
        assert t.due is not None
        obj.update({"SalesTermRef": ref(tid, tname), "DueDate": day_iso(t.due), "Balance": money(t.balance)})
    elif t.kind in ("SalesReceipt", "RefundReceipt"):
        obj.update(
            {
                "Balance": 0,
                "PaymentMethodRef": ref(*PAYMENT_METHODS[t.method]),
                "DepositToAccountRef": DEPOSIT_ACCOUNT if t.kind == "SalesReceipt" else CHECKING,
            }
        )
    elif t.kind == "CreditMemo":
        obj.update({"RemainingCredit": money(t.balance), "Balance": money(t.balance)})
    elif t.kind == "Estimate":
        obj["TxnStatus"] = t.status
        if t.due is not None:
            obj["ExpirationDate"] = day_iso(t.due)
    return obj
