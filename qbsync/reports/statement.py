"""Customer statements in QuickBooks' three kinds: balance forward, open item and transaction statement.

A statement is an Accounts Receivable document: it lists what moved the customer's balance —
invoices (+ their total), credit memos and payments (− their total), journal entries' A/R lines —
and leaves sales receipts and refund receipts out (paid at once, they never touch A/R). As in
QuickBooks:

- **balance forward**: the balance before the start date, every A/R transaction from the start to
  the statement date with a running balance, and the amount due (the customer's balance then);
- **open item**: every transaction still open on the statement date, dated in the last
  ``open_item_days`` (365, "Open Item (last 365 days)"), with its original and open amount;
  unapplied credits are listed as negative open amounts, so the amount due is the balance;
- **transaction statement**: the same lines as balance forward, with charges under *Amount* and
  payments under *Received*, their totals, and no balance forward or amount due.

Jobs (sub-customers) set to *bill with parent* are rolled up into their parent's statement, each
line naming the job; a job billed on its own gets its own statement. A batch makes one statement
per customer to bill that has an open balance (``open``), something past due (``overdue``) or, for
``all``, any balance or activity in the period. The header carries the customer's billing address.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Literal

import sqlalchemy as sa

from qbsync.cache import ledger
from qbsync.cache.mapping import DELETED_SUFFIX, plain_name
from qbsync.cache.models import CreditMemo, Customer, Invoice, Payment, SalesReceipt
from qbsync.cache.read import Raw, bulk
from qbsync.errors import InputError
from qbsync.reports import aging as aging_mod
from qbsync.reports.receivables import KIND_TITLES, OpenItem, open_items
from qbsync.reports.source import ZERO, chunked, money_sum, whole_realm
from qbsync.reports.table import Column, Table

Kind = Literal["balance-forward", "open-item", "transaction"]
KINDS: tuple[Kind, ...] = ("balance-forward", "open-item", "transaction")
KIND_NAMES = {"balance-forward": "Balance forward statement", "open-item": "Open item statement",
              "transaction": "Transaction statement"}
Status = Literal["open", "overdue", "all"]
STATUSES: tuple[Status, ...] = ("open", "overdue", "all")
OPEN_ITEM_DAYS = 365

#: same-day order: charges before what pays them
_ORDER = {"Invoice": 0, "JournalEntry": 1, "CreditMemo": 2, "Payment": 3}


@dataclass(slots=True)
class StatementLine:
    txn_date: date
    kind: str  # QuickBooks' type name: Invoice, Credit Memo, Payment, Journal Entry, Sales Receipt
    txn_id: str
    number: str | None
    due_date: date | None
    charge: Decimal  # what it added to the balance
    credit: Decimal  # what it took off (payments, credits; a sales receipt both adds and pays)
    customer_id: str
    customer: str  # the job's name on a rolled-up statement
    balance: Decimal | None = None  # balance forward: the running balance
    open: Decimal | None = None  # open item: what is still open of it
    entity: str = ""  # the QBO entity name

    @property
    def amount(self) -> Decimal:
        """The signed A/R amount: charges +, credits -."""
        return self.charge - self.credit


@dataclass
class Address:
    lines: tuple[str, ...]

    def __str__(self) -> str:
        return ", ".join(self.lines)


@dataclass
class Statement:
    kind: Kind
    customer_id: str
    name: str
    address: Address
    email: str | None
    as_of: date
    start: date | None
    opening: Decimal
    lines: list[StatementLine]
    members: tuple[str, ...]  # the customer and the jobs rolled up into it
    balance: Decimal  # what the customer (with its rolled-up jobs) owes on the statement date
    aging: dict[str, Decimal] = field(default_factory=dict)  # open items by QuickBooks' default columns
    omitted: Decimal = ZERO  # open item: open amount of transactions older than the window

    @property
    def amount_due(self) -> Decimal:
        if self.kind == "open-item":
            return sum((x.open or ZERO for x in self.lines), ZERO)
        return self.balance

    @property
    def closing(self) -> Decimal:
        return self.balance


# ---- who is billed -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Person:
    customer_id: str
    name: str
    parent_id: str | None
    bill_with_parent: bool
    email: str | None
    address: Address


_PERSON_COLS = (Customer.id, Customer.display_name, Customer.parent_id, Customer.bill_with_parent,
                Customer.email, Customer.bill_line1, Customer.bill_line2, Customer.bill_city,
                Customer.bill_region, Customer.bill_postal_code, Customer.bill_country)


def _person(row: Any) -> _Person:
    cid, name, parent, bwp, email, l1, l2, city, region, postal, country = row
    place = " ".join(p for p in (city, region, postal) if p)
    lines = tuple(p for p in (plain_name(name or ""), l1, l2, place, country) if p)
    return _Person(cid, plain_name(name or ""), parent, bool(bwp), email, Address(lines))


def _people(conn: sa.Connection, realm_id: str) -> dict[str, _Person]:
    q = sa.select(*_PERSON_COLS).where(whole_realm(conn, Customer.realm_id, realm_id))
    return {row[0]: _person(row) for row in conn.execute(q)}


def _resolve(conn: sa.Connection, realm_id: str, refs: Sequence[str]) -> dict[str, _Person]:
    """Each of ``refs`` (an Id or an exact display name) -> its customer, read in one query per
    thousand names; an unknown or ambiguous one stops with a clear error."""
    wanted = list(dict.fromkeys(refs))
    rows = [r for part in chunked(wanted) for r in conn.execute(sa.select(*_PERSON_COLS).where(
        Customer.realm_id == realm_id,
        sa.or_(Customer.id.in_(part), Customer.display_name.in_(part),
               Customer.display_name.in_([f"{ref}{DELETED_SUFFIX}" for ref in part]))))]
    by_id = {r[0]: r for r in rows}
    out: dict[str, _Person] = {}
    for ref in wanted:
        found = {r[0]: r for r in rows if r[0] == ref or r[1] in (ref, f"{ref}{DELETED_SUFFIX}")}
        if not found:
            raise InputError(f"no customer with Id or name {ref!r} in the cache",
                             hint="check the Id with `qbsync report best` or run `qbsync sync` first")
        if len(found) > 1:
            raise InputError(f"{ref!r} matches {len(found)} customers",
                             hint="pass the customer's Id instead of its name")
        out[ref] = _person(by_id[next(iter(found))])
    return out


def _families(conn: sa.Connection, realm_id: str, chosen: Sequence[_Person]) -> dict[str, _Person]:
    """The customers ``chosen``, the customer each one's statement goes to (itself, or up a chain of
    jobs billed with their parent) and everyone billed with those, read through the customers' Id and
    parent indexes a level at a time for all of them together (not the whole list)."""
    people = {p.customer_id: p for p in chosen}
    level = list(chosen)
    while level:  # up: parents of those billed with their parent
        ups = sorted({p.parent_id for p in level if p.bill_with_parent and p.parent_id is not None
                      and p.parent_id not in people})
        level = [_person(r) for part in chunked(ups) for r in conn.execute(
            sa.select(*_PERSON_COLS).where(Customer.realm_id == realm_id, Customer.id.in_(part)))]
        people.update((p.customer_id, p) for p in level)
    payer = billed_to(people)
    ids = sorted({payer[cid] for cid in people})
    while ids:  # down: every job under the statements' customers
        kids = [_person(r) for part in chunked(ids) for r in conn.execute(sa.select(*_PERSON_COLS).where(
            Customer.realm_id == realm_id, Customer.parent_id.in_(part)))]
        ids = [k.customer_id for k in kids if k.customer_id not in people]
        people.update((k.customer_id, k) for k in kids)
    return people


def billed_to(people: dict[str, _Person]) -> dict[str, str]:
    """Each customer -> the customer whose statement carries its transactions (itself, or the nearest
    ancestor up a chain of jobs billed with their parent)."""
    out: dict[str, str] = {}
    for cid in people:
        seen = {cid}
        at = cid
        while True:
            person = people[at]
            if not person.bill_with_parent or person.parent_id is None or person.parent_id not in people \
                    or person.parent_id in seen:
                break
            at = person.parent_id
            seen.add(at)
        out[cid] = at
    return out


# ---- what moved A/R ----------------------------------------------------------------------------------


#: (model, entity, A/R sign): what moves a customer's balance
_AR_MODELS: tuple[tuple[Any, str, int], ...] = ((Invoice, "Invoice", 1), (CreditMemo, "CreditMemo", -1),
                                                 (Payment, "Payment", -1))
#: paid at sale: in a customer's history, never on a statement (sign 0: the balance does not move)
_RECEIPTS: tuple[tuple[Any, str, int], ...] = ((SalesReceipt, "SalesReceipt", 0),)
_TITLES = {**KIND_TITLES, "SalesReceipt": "Sales Receipt"}


def _ar_lines(conn: sa.Connection, realm_id: str, members: Sequence[str] | None, start: date | None,
              end: date, names: dict[str, str], receipts: bool = False) -> list[StatementLine]:
    """A/R transactions dated start..end of ``members`` (None: every customer); with ``receipts``,
    sales receipts too (a customer's history, not a statement)."""
    out: list[StatementLine] = []
    raw = Raw(conn)  # raw dates and money, converted cheaply: a big customer has 100,000s of lines
    money, to_day, no_day = raw.money, raw.day, raw.maybe_day
    for model, entity, sign in _AR_MODELS + (_RECEIPTS if receipts else ()):
        due = raw.col(model.due_date) if model is Invoice else sa.null()
        cols = (model.id, model.customer_id, raw.col(model.txn_date), model.doc_number, due,
                raw.col(model.total_amt))
        cond = [model.txn_date <= end, model.customer_id.is_not(None)]
        if start is not None:
            cond.append(model.txn_date >= start)
        queries = []
        if members is None:
            queries.append(sa.select(*cols).where(whole_realm(conn, model.realm_id, realm_id), *cond))
        else:
            # in date order from the customer index: the runs of each kind then merge in linear time
            # in ``_sorted`` (timsort), where a statement of 100,000s of lines was sorted from scratch
            queries += [sa.select(*cols).where(model.realm_id == realm_id, model.customer_id.in_(part), *cond)
                        .order_by(model.txn_date, model.id) for part in chunked(list(members))]
        for q in queries:
            title = _TITLES[entity]
            for txn_id, cid, day, doc, due_day, raw_total in conn.execute(q).all():
                total = money(raw_total)
                charge = total if sign >= 0 else ZERO
                credit = total if sign <= 0 else ZERO
                out.append(StatementLine(to_day(day), title, txn_id, doc, no_day(due_day), charge, credit,
                                         cid, names.get(cid, cid), entity=entity))
    out += [line for line in _journal_lines(conn, realm_id, members, names)
            if (start is None or line.txn_date >= start) and line.txn_date <= end]
    return out


def _journal_lines(conn: sa.Connection, realm_id: str, members: Sequence[str] | None,
                   names: dict[str, str]) -> list[StatementLine]:
    """Journal entries' A/R lines per (entry, customer), netted: a charge or a credit."""
    lines = ledger.ar_journal_lines(realm_id).subquery()
    q = (sa.select(lines.c.txn_id, lines.c.customer_id, lines.c.txn_date, lines.c.doc_number,
                   money_sum(lines.c.amount))
         .group_by(lines.c.txn_id, lines.c.customer_id, lines.c.txn_date, lines.c.doc_number))
    wanted = None if members is None else set(members)
    out = []
    for txn_id, cid, day, doc, net in conn.execute(q).all():
        if not net or (wanted is not None and cid not in wanted):
            continue
        out.append(StatementLine(day, KIND_TITLES["JournalEntry"], txn_id, doc, None, max(net, ZERO),
                                 max(-net, ZERO), cid, names.get(cid, cid), entity="JournalEntry"))
    return out


def _opening(conn: sa.Connection, realm_id: str, members: Sequence[str] | None,
             before: date) -> dict[str, Decimal]:
    """Each customer's A/R balance at the end of the day before ``before`` (sum of what was posted)."""
    out: dict[str, Decimal] = defaultdict(lambda: ZERO)
    raw = Raw(conn)
    for model, _entity, sign in _AR_MODELS:
        cond = [model.txn_date < before, model.customer_id.is_not(None)]
        queries = []
        total = sa.func.sum(raw.col(model.total_amt))
        if members is None:
            # the covering (realm, customer, date, total_amt ...) index, read in its order: no table rows
            queries.append(sa.select(model.customer_id, total).where(model.realm_id == realm_id, *cond)
                           .group_by(model.customer_id))
        else:
            queries += [sa.select(model.customer_id, total)
                        .where(model.realm_id == realm_id, model.customer_id.in_(part), *cond)
                        .group_by(model.customer_id) for part in chunked(list(members))]
        for q in queries:
            for cid, amount in conn.execute(q):
                out[cid] += sign * raw.money(amount)
    for line in _journal_lines(conn, realm_id, members, {}):
        if line.txn_date < before:
            out[line.customer_id] += line.amount
    return dict(out)


def _sorted(lines: Iterable[StatementLine]) -> list[StatementLine]:
    return sorted(lines, key=lambda x: (x.txn_date, _ORDER.get(x.entity, 9), x.txn_id))


def build(kind: Kind, person: _Person, members: tuple[str, ...], as_of: date, start: date | None,
          opening: Decimal, lines: list[StatementLine], items: list[OpenItem], names: dict[str, str],
          open_item_days: int = OPEN_ITEM_DAYS) -> Statement:
    """Pure: one statement from its customer's A/R lines (start..as_of), opening balance and open items."""
    balance = opening + sum((x.amount for x in lines), ZERO)
    aging = dict.fromkeys(aging_mod.BUCKETS, ZERO)
    for item in items:
        aging[aging_mod.bucket_of(item.days_past_due(as_of))] += item.open
    omitted = ZERO
    if kind == "open-item":
        since = as_of - timedelta(days=open_item_days - 1)
        shown = []
        for item in sorted(items, key=lambda i: (i.txn_date, _ORDER.get(i.kind, 9), i.txn_id)):
            if item.txn_date < since:
                omitted += item.open
                continue
            shown.append(StatementLine(item.txn_date, KIND_TITLES[item.kind], item.txn_id, item.doc_number,
                                       item.due_date if item.kind == "Invoice" else None,
                                       max(item.amount, ZERO), max(-item.amount, ZERO), item.customer_id,
                                       names.get(item.customer_id, item.customer_id), open=item.open,
                                       entity=item.kind))
        return Statement(kind, person.customer_id, person.name, person.address, person.email, as_of,
                         since, ZERO, shown, members, balance, aging, omitted)
    running = opening
    out = _sorted(lines)
    for line in out:
        running += line.amount
        line.balance = running if kind == "balance-forward" else None
    return Statement(kind, person.customer_id, person.name, person.address, person.email, as_of, start,
                     opening if kind == "balance-forward" else ZERO, out, members, balance, aging)


def kind_of(kind: str) -> Kind:
    if kind not in KINDS:
        raise InputError(f"unknown statement kind {kind!r}", hint=f"use one of: {', '.join(KINDS)}")
    return kind


@bulk()
def statement(engine: sa.Engine, realm_id: str, customer: str, as_of: date, start: date | None = None,
              kind: str = "balance-forward", open_item_days: int = OPEN_ITEM_DAYS,
              with_receipts: bool = False, roll_up: bool = True) -> Statement:
    """The statement of ``customer`` (an Id or an exact display name) with its jobs billed with it.

    A job billed with its parent has no statement of its own: asking for it gives the parent's.
    ``with_receipts`` adds sales receipts (charge and payment at once, the balance unchanged): a
    customer's whole history, as the customer file shows it, rather than a statement; so does
    ``roll_up=False`` (the customer's own transactions, without its jobs or its parent).
    """
    return named(engine, realm_id, [customer], as_of, start, kind, open_item_days, with_receipts, roll_up)[0]


def named(engine: sa.Engine, realm_id: str, customers: Sequence[str], as_of: date, start: date | None = None,
          kind: str = "balance-forward", open_item_days: int = OPEN_ITEM_DAYS, with_receipts: bool = False,
          roll_up: bool = True) -> list[Statement]:
    """The statements of ``customers`` (Ids or exact names), one per customer billed, in the order
    named (a job billed with its parent gives the parent's, once). The cache is read once for all of
    them: their families, then their A/R lines, opening balances and open items together."""
    chosen = kind_of(kind)
    with engine.connect() as conn:
        asked = _resolve(conn, realm_id, customers)
        if roll_up:
            people = _families(conn, realm_id, list(asked.values()))
        else:
            people = {p.customer_id: _Person(p.customer_id, p.name, None, False, p.email, p.address)
                      for p in asked.values()}
        payer = billed_to(people)
        roots = list(dict.fromkeys(payer[asked[ref].customer_id] for ref in customers))
        wanted = set(roots)
        everyone = sorted(cid for cid, to in payer.items() if to in wanted)
        names = {cid: people[cid].name for cid in everyone}
        lines = _ar_lines(conn, realm_id, everyone, start, as_of, names, with_receipts)
        opening = _opening(conn, realm_id, everyone, start) if start else {}
        items = open_items(conn, realm_id, as_of, customer_ids=everyone)
    members: dict[str, list[str]] = defaultdict(list)
    for cid in everyone:
        members[payer[cid]].append(cid)
    group_lines: dict[str, list[StatementLine]] = defaultdict(list)
    for line in lines:
        group_lines[payer[line.customer_id]].append(line)
    group_items: dict[str, list[OpenItem]] = defaultdict(list)
    for item in items:
        group_items[payer[item.customer_id]].append(item)
    return [build(chosen, people[root], tuple(members[root]), as_of, start,
                  sum((opening.get(cid, ZERO) for cid in members[root]), ZERO), group_lines[root],
                  group_items[root], names, open_item_days) for root in roots]


def statements(engine: sa.Engine, realm_id: str, as_of: date, start: date | None = None,
               kind: str = "balance-forward", status: str = "open",
               open_item_days: int = OPEN_ITEM_DAYS) -> list[Statement]:
    """A batch: one statement per customer billed that matches ``status`` (open, overdue, all)."""
    chosen = kind_of(kind)
    if status not in STATUSES:
        raise InputError(f"unknown balance status {status!r}", hint=f"use one of: {', '.join(STATUSES)}")
    if chosen == "open-item" and status == "all":
        raise InputError("an open item statement lists open transactions only",
                         hint="use --balance open or overdue, or another --kind")
    with engine.connect() as conn:
        people = _people(conn, realm_id)
        payer = billed_to(people)
        names = {cid: p.name for cid, p in people.items()}
        items = open_items(conn, realm_id, as_of)
        lines = _ar_lines(conn, realm_id, None, start, as_of, names)
        opening = _opening(conn, realm_id, None, start) if start else {}
    group_items: dict[str, list[OpenItem]] = defaultdict(list)
    for item in items:
        group_items[payer.get(item.customer_id, item.customer_id)].append(item)
    group_lines: dict[str, list[StatementLine]] = defaultdict(list)
    for line in lines:
        group_lines[payer.get(line.customer_id, line.customer_id)].append(line)
    group_opening: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for cid, amount in opening.items():
        group_opening[payer.get(cid, cid)] += amount
    members: dict[str, list[str]] = defaultdict(list)
    for cid, to in payer.items():
        members[to].append(cid)
    out = []
    for root in sorted(set(payer.values()), key=lambda c: (people[c].name.casefold(), c)):
        its = group_items.get(root, [])
        balance = sum((i.open for i in its), ZERO)
        overdue = any(i.open > 0 and i.days_past_due(as_of) > 0 for i in its)
        if status == "open" and balance == 0:
            continue
        if status == "overdue" and not overdue:
            continue
        if status == "all" and not its and not group_lines.get(root) and not group_opening.get(root):
            continue
        out.append(build(chosen, people[root], tuple(sorted(members[root])), as_of, start,
                         group_opening.get(root, ZERO), list(group_lines.get(root, [])), its, names,
                         open_item_days))
    return out


# ---- tables ------------------------------------------------------------------------------------------


def _span(st: Statement) -> str:
    if st.kind == "open-item":
        return f"open on {st.as_of.isoformat()}"
    return f"{st.start.isoformat()}..{st.as_of.isoformat()}" if st.start else f"to {st.as_of.isoformat()}"


def _columns(st: Statement) -> list[Column]:
    head = [Column("txn_date", "Date", "date"), Column("kind", "Type"), Column("number", "No."),
            Column("txn_id", "Id")]
    if len(st.members) > 1:
        head.append(Column("customer", "Customer"))
    if st.kind == "balance-forward":
        return [*head, Column("due_date", "Due", "date"), Column("charge", "Amount", "money"),
                Column("received", "Payment/credit", "money"), Column("balance", "Balance", "money")]
    if st.kind == "open-item":
        return [*head, Column("due_date", "Due", "date"), Column("amount", "Amount", "money"),
                Column("open", "Open amount", "money")]
    return [*head, Column("charge", "Amount", "money"), Column("received", "Received", "money")]


def _row(line: StatementLine) -> dict[str, Any]:
    return {"txn_date": line.txn_date, "kind": line.kind, "number": line.number, "txn_id": line.txn_id,
            "customer": line.customer, "due_date": line.due_date, "amount": line.amount,
            "charge": line.charge, "received": line.credit, "balance": line.balance, "open": line.open}


def table(st: Statement) -> Table:
    cols = _columns(st)
    rows: list[dict[str, Any]] = []
    if st.kind == "balance-forward" and st.start is not None:
        rows.append({"txn_date": st.start, "kind": "Balance forward", "balance": st.opening})
    shown = [_row(x) for x in st.lines]
    rows += shown
    if st.kind == "balance-forward":
        totals = {"kind": "Amount due", "charge": sum((r["charge"] for r in shown), ZERO),
                  "received": sum((r["received"] for r in shown), ZERO), "balance": st.balance}
    elif st.kind == "open-item":
        totals = {"kind": "Amount due", "amount": sum((x.amount for x in st.lines), ZERO),
                  "open": st.amount_due}
    else:
        totals = {"kind": "Total", "charge": sum((r["charge"] for r in shown), ZERO),
                  "received": sum((r["received"] for r in shown), ZERO)}
    notes = [f"bill to: {st.address}" if st.address.lines
             else f"bill to: {st.name} (no address in QuickBooks)"]
    if len(st.members) > 1:
        notes.append(f"includes {len(st.members) - 1} jobs billed with this customer")
    if st.kind != "transaction":
        aging = ", ".join(f"{t} {v:,.2f}" for t, v in zip(aging_mod.DEFAULT.titles, st.aging.values(),
                                                          strict=True))
        notes.append(f"aging on {st.as_of.isoformat()}: {aging}")
    if st.omitted:
        notes.append(f"{st.omitted:,.2f} open on transactions older than the window is not listed")
    meta: dict[str, Any] = {"kind": st.kind, "as_of": st.as_of, "customer_id": st.customer_id,
                            "members": ",".join(st.members), "address": str(st.address),
                            "balance": str(st.balance), "amount_due": str(st.amount_due)}
    if st.kind == "balance-forward":
        meta["opening"] = str(st.opening)
    return Table(f"{KIND_NAMES[st.kind]} of {st.name} (Id {st.customer_id}) {_span(st)}", cols, rows, totals,
                 notes, meta)


def batch_table(batch: list[Statement], kind: Kind, as_of: date) -> Table:
    """Every statement of a batch in one table (for CSV/JSON): one row per line, with its customer."""
    proto = Statement(kind, "", "", Address(()), None, as_of, None, ZERO, [], ("", ""), ZERO)
    cols = [Column("statement_customer_id", "Statement customer Id"), Column("statement_customer", "Bill to"),
            Column("address", "Billing address"), *_columns(proto)]
    rows: list[dict[str, Any]] = []
    for st in batch:
        head = {"statement_customer_id": st.customer_id, "statement_customer": st.name,
                "address": str(st.address)}
        if st.kind == "balance-forward":
            rows.append({**head, "txn_date": st.start, "kind": "Balance forward", "balance": st.opening})
        rows += [{**head, **_row(x)} for x in st.lines]
        rows.append({**head, "kind": "Amount due" if st.kind != "transaction" else "Total",
                     "balance": st.balance if st.kind == "balance-forward" else None,
                     "open": st.amount_due if st.kind == "open-item" else None})
    total = sum((st.amount_due for st in batch), ZERO) if kind != "transaction" else None
    totals: dict[str, Any] = {"statement_customer": f"{len(batch)} statements", "kind": "TOTAL"}
    if total is not None:
        totals["balance" if kind == "balance-forward" else "open"] = total
    return Table(f"{KIND_NAMES[kind]}s to {as_of.isoformat()}", cols, rows, totals, [],
                 {"kind": kind, "as_of": as_of, "statements": len(batch)})
