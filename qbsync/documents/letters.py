"""Reminder and dunning letters: one per customer due a letter today, in its language, from the templates.

Who gets which letter is the dunning plan's decision (``campaigns.dunning``: reminder, first,
second, final, one stage on from the letters marked sent); this module only writes the letters,
with the template ``letter-<stage>.html`` and the invoices the plan names.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa

from qbsync.campaigns.dunning import LETTERS, CustomerDunning, DunningPlan
from qbsync.documents.compose import Article, Composer, recipients
from qbsync.reports.source import ZERO


@dataclass(frozen=True)
class InvoiceLine:
    number: str
    txn_date: date
    due_date: date
    days: int
    amount: object
    balance: object


def letters(engine: sa.Engine, realm_id: str, found: DunningPlan, composer: Composer,
            chosen: Sequence[str] = LETTERS) -> list[tuple[CustomerDunning, Article]]:
    """The letters due today (``chosen`` stages), each rendered in its customer's language."""
    due = found.due(chosen)
    people = recipients(engine, realm_id, [c.customer_id for c in due])
    out = []
    for c in due:
        who = people[c.customer_id]
        lines = [InvoiceLine(r.doc_number or r.invoice_id, r.txn_date, r.due_date, r.days, r.amount,
                             r.balance) for r in c.invoices]
        previous = c.previous.sent_on if c.previous is not None else None
        article = composer.article(f"letter-{c.letter}.html", who, stage=c.letter, as_of=found.as_of,
                                   invoices=lines, total=sum((r.balance for r in c.invoices), ZERO),
                                   previous=previous)
        out.append((c, article))
    return out
