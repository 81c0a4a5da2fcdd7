"""Dunning: who gets which letter today, moving each customer one stage on from the letters already sent.

Invoices are taken as they stood on ``as_of``: open invoices falling due within ``within_days``
(a *reminder*) or past due (by aging bucket, ``1-30`` ... ``over 90``). The letter a customer gets
depends on the letters already sent to it (the customer file's contacts, recorded when a batch is
marked sent), not on how old the debt is:

- overdue invoices and no notice yet about any of them: the ``first`` notice; otherwise the stage
  after the last notice about them (``first`` -> ``second`` -> ``final``);
- but only once ``min_gap_days`` have passed since the last letter about them (a reminder
  included); before that the customer is *waiting* (no letter today: no stage is ever repeated);
- the ``final`` notice already sent: *past final* (no more letters: a call, or `report baddebt`);
- nothing overdue, invoices falling due soon that no reminder has mentioned: a ``reminder``.

Letters about invoices that have since been paid do not count: a customer who paid and fell behind
again starts at the first notice. Rows are one per invoice (for a mail merge), grouped by customer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

import sqlalchemy as sa

from qbsync.cache.models import Customer
from qbsync.cache.read import bulk
from qbsync.clock import end_of_day
from qbsync.customers.outreach import Contact, ItemSpec, by_customer, contacts
from qbsync.reports.aging import bucket_of
from qbsync.reports.receivables import OpenItem, open_invoices
from qbsync.reports.source import ZERO, plain_name
from qbsync.reports.table import Column, Table, record

#: the aging stage of one invoice
STAGES = ("reminder", "1-30", "31-60", "61-90", "over 90")
#: the letters, in the order a customer receives them
LETTERS = ("reminder", "first", "second", "final")
LETTER_TITLES = {"reminder": "Payment reminder", "first": "First notice", "second": "Second notice",
                 "final": "Final notice"}
DEFAULT_MIN_GAP_DAYS = 14


@dataclass(slots=True)
class DunningRow:
    customer_id: str
    name: str
    email: str | None
    invoice_id: str
    doc_number: str | None
    txn_date: date
    due_date: date
    amount: Decimal
    balance: Decimal
    days: int  # negative: days until due; positive: days overdue
    stage: str
    letter: str | None = None  # the letter the customer gets today


@dataclass
class CustomerDunning:
    """One customer with something overdue or due soon, and what happens today."""

    customer_id: str
    name: str
    email: str | None
    invoices: list[DunningRow]
    #: "due" (a letter today), "waiting" (a letter went out less than min_gap_days ago),
    #: "past final" (the final notice was sent), "reminded" (a reminder already mentioned them all)
    status: str
    letter: str | None  # the letter due today (status "due"), or the next one ("waiting")
    previous: Contact | None = None  # the last letter about these invoices
    next_on: date | None = None  # "waiting": the first day the next letter may go

    @property
    def overdue(self) -> list[DunningRow]:
        return [r for r in self.invoices if r.days > 0]

    @property
    def balance(self) -> Decimal:
        return sum((r.balance for r in self.invoices), ZERO)

    @property
    def overdue_balance(self) -> Decimal:
        return sum((r.balance for r in self.overdue), ZERO)

    @property
    def invoice_ids(self) -> list[str]:
        return [r.invoice_id for r in self.invoices]


@dataclass
class DunningPlan:
    as_of: date
    min_gap_days: int
    customers: list[CustomerDunning] = field(default_factory=list)

    def due(self, letters: Sequence[str] = LETTERS) -> list[CustomerDunning]:
        return [c for c in self.customers if c.status == "due" and c.letter in letters]

    def count(self, status: str) -> int:
        return sum(1 for c in self.customers if c.status == status)


def _refs(contact: Contact) -> set[str]:
    return {str(i) for i in contact.refs.get("invoices", [])}


def decide(rows: list[DunningRow], history: Sequence[Contact], as_of: date,
           min_gap_days: int = DEFAULT_MIN_GAP_DAYS) -> tuple[str, str | None, Contact | None, date | None]:
    """(status, letter, previous letter, next date) for one customer; pure. ``history`` oldest first."""
    overdue = {r.invoice_id for r in rows if r.days > 0}
    if overdue:
        about = [c for c in history if c.kind in ("reminder", "dunning") and _refs(c) & overdue]
        notices = [c for c in about if c.kind == "dunning" and c.stage in LETTERS]
        if notices and notices[-1].stage == "final":
            return "past final", None, notices[-1], None
        following = LETTERS[LETTERS.index(notices[-1].stage or "first") + 1] if notices else "first"
        if not about:
            return "due", following, None, None
        last = about[-1]  # a reminder about the same invoices counts for the gap too
        ready = last.sent_on + timedelta(days=min_gap_days)
        if as_of < ready:
            return "waiting", following, last, ready
        return "due", following, last, None
    soon = {r.invoice_id for r in rows}
    reminded = set().union(*(_refs(c) for c in history if c.kind in ("reminder", "dunning")))
    if soon <= reminded:
        last_reminder = next((c for c in reversed(history) if _refs(c) & soon), None)
        return "reminded", None, last_reminder, None
    return "due", "reminder", None, None


def plan(invoices: Sequence[OpenItem], people: Mapping[str, tuple[str, str | None]],
         history: Mapping[str, Sequence[Contact]], as_of: date, *, within_days: int = 7,
         min_gap_days: int = DEFAULT_MIN_GAP_DAYS) -> DunningPlan:
    """Every customer with an open invoice overdue or due within ``within_days``; pure."""
    per: dict[str, list[tuple[OpenItem, int]]] = {}
    for inv in invoices:
        if inv.open <= 0:
            continue
        days = (as_of - inv.due_date).days
        if days <= 0 and -days > within_days:
            continue
        per.setdefault(inv.customer_id, []).append((inv, days))
    out = DunningPlan(as_of, min_gap_days)
    for cid, found in per.items():
        # a customer's rows made together (one name look-up; they lie together in memory for the sorts)
        name, email = people.get(cid, (cid, None))
        rows = [DunningRow(cid, name, email, inv.txn_id, inv.doc_number, inv.txn_date, inv.due_date,
                           inv.amount, inv.open, days, "reminder" if days <= 0 else bucket_of(days))
                for inv, days in found]
        rows.sort(key=lambda r: (r.due_date, r.doc_number or "", r.invoice_id))
        status, letter, previous, next_on = decide(rows, history.get(cid, ()), as_of, min_gap_days)
        if status == "due":
            for r in rows:
                r.letter = letter
        out.customers.append(CustomerDunning(cid, name, email, rows, status, letter, previous, next_on))
    out.customers.sort(key=lambda c: (LETTERS.index(c.letter) if c.letter else len(LETTERS),
                                      c.name.casefold(), c.customer_id))
    return out


def dunning_plan(engine: sa.Engine, realm_id: str, as_of: date, *, within_days: int = 7,
                 min_gap_days: int = DEFAULT_MIN_GAP_DAYS) -> DunningPlan:
    with engine.connect() as conn:
        invoices = open_invoices(conn, realm_id, as_of)
        people = {cid: (plain_name(name), email) for cid, name, email in conn.execute(
            sa.select(Customer.id, Customer.display_name, Customer.email)
            .where(Customer.realm_id == realm_id))}
        history = by_customer(contacts(conn, realm_id, kinds=("reminder", "dunning"),
                                       until=end_of_day(as_of)))
    return plan(invoices, people, history, as_of, within_days=within_days, min_gap_days=min_gap_days)


@bulk()
def dunning(engine: sa.Engine, realm_id: str, as_of: date, *, within_days: int = 7,
            stages: tuple[str, ...] = STAGES, letters: Sequence[str] = LETTERS,
            min_gap_days: int = DEFAULT_MIN_GAP_DAYS) -> list[DunningRow]:
    """The mail-merge rows: every invoice of the customers due a letter today (``letters``), in
    the aging ``stages`` asked for."""
    found = dunning_plan(engine, realm_id, as_of, within_days=within_days, min_gap_days=min_gap_days)
    return rows_of(found, stages, letters)


def rows_of(found: DunningPlan, stages: Sequence[str] = STAGES,
            letters: Sequence[str] = LETTERS) -> list[DunningRow]:
    """By stage, then customer name, each customer's invoices together in their letter's order. Sorts
    the customers, not the rows: a stage's rows are laid out customer by customer."""
    by_stage: dict[str, list[DunningRow]] = {stage: [] for stage in STAGES if stage in stages}
    for c in sorted(found.due(letters), key=lambda c: (c.name.casefold(), c.customer_id)):
        for r in c.invoices:
            if r.stage in by_stage:
                by_stage[r.stage].append(r)
    return [r for rows in by_stage.values() for r in rows]


def outreach_items(found: DunningPlan, letters: Sequence[str] = LETTERS, *,
                   channel: str = "mail", files: Mapping[str, str] | None = None) -> list[ItemSpec]:
    """What a batch of today's letters records per customer: the letter and the invoices it names."""
    return [ItemSpec(c.customer_id, "reminder" if c.letter == "reminder" else "dunning", channel, c.letter,
                     {"invoices": c.invoice_ids, "balance": str(c.balance),
                      **({"file": files[c.customer_id]} if files and c.customer_id in files else {})})
            for c in found.due(letters)]


def table(rows: list[DunningRow], as_of: date, found: DunningPlan | None = None) -> Table:
    cols = [Column("letter", "Letter"), Column("stage", "Stage"), Column("customer_id", "Customer Id"),
            Column("name", "Name"), Column("email", "Email"), Column("doc_number", "Invoice No"),
            Column("txn_date", "Invoice Date", "date"),
            Column("due_date", "Due Date", "date"), Column("amount", "Amount", "money"),
            Column("balance", "Balance Due", "money"), Column("days", "Days Overdue", "int")]
    notes = ["Days Overdue is negative for invoices not yet due"]
    meta: dict[str, object] = {"as_of": as_of, "invoices": len(rows)}
    if found is not None:
        waiting, past = found.count("waiting"), found.count("past final")
        meta.update(customers=len({r.customer_id for r in rows}), waiting=waiting, past_final=past,
                    min_gap_days=found.min_gap_days)
        if waiting:
            notes.append(f"{waiting} customer{'s' if waiting != 1 else ''} waiting: a letter went out less "
                         f"than {found.min_gap_days} days ago")
        if past:
            notes.append(f"{past} customer{'s' if past != 1 else ''} past the final notice: call them, or "
                         "see `qbsync report baddebt`")
    return Table(f"Dunning list as of {as_of.isoformat()}", cols, [record(r) for r in rows], None,
                 notes, meta)
