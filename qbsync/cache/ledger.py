"""Selections over mirrored tables that several layers read: journal-entry lines posted to A/R or income.

QuickBooks posts a journal entry's line to Accounts Receivable only with a customer (it refuses one
without); such a line moves that customer's balance like an invoice (a debit) or a credit memo (a
credit), and a payment can be applied to it (``PaymentLink.txn_type == "JournalEntry"``). A line
posted to an income account with a customer's name is that customer's sales (a credit) or a
reduction of them (a debit). Which lines those are is a fact of the chart of accounts
(``Account.account_type``), said here once for the reports and the rules' activity alike.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from qbsync.cache.models import Account, JournalEntry, JournalLine, Payment, PaymentLink
from qbsync.cache.types import Money

AR_ACCOUNT_TYPE = "Accounts Receivable"
#: account types whose journal-entry lines with a customer are that customer's sales
INCOME_ACCOUNT_TYPES = ("Income", "Other Income")


def _customer_lines(query: Any, realm_id: str, account: sa.ColumnElement[bool]) -> Any:
    """``query`` over company ``realm_id``'s journal lines with a customer, joined to their entry and
    their account, on the accounts where ``account`` holds."""
    return (query.select_from(JournalLine)
            .join(JournalEntry, sa.and_(JournalEntry.realm_id == JournalLine.realm_id,
                                        JournalEntry.id == JournalLine.txn_id))
            .join(Account, sa.and_(Account.realm_id == JournalLine.realm_id,
                                   Account.id == JournalLine.account_id))
            .where(JournalLine.realm_id == realm_id, JournalLine.entity_type == "Customer",
                   JournalLine.entity_id.is_not(None), account))


def income_journal_lines(realm_id: str) -> Any:
    """(customer_id, txn_date, amount, department_id, class_id) of every journal line posted to an
    income account with a customer's name; the amount signed as sales: credits +, debits -."""
    signed = sa.case((JournalLine.posting_type == "Debit", -JournalLine.amount), else_=JournalLine.amount)
    return _customer_lines(
        sa.select(JournalLine.entity_id.label("customer_id"), JournalEntry.txn_date.label("txn_date"),
                  sa.type_coerce(signed, Money()).label("amount"),
                  JournalLine.department_id.label("department_id"), JournalLine.class_id.label("class_id")),
        realm_id, Account.account_type.in_(INCOME_ACCOUNT_TYPES))


def ar_journal_lines(realm_id: str) -> Any:
    """(txn_id, doc_number, txn_date, customer_id, amount) of every A/R journal line with a customer;
    the amount signed as A/R moves: debits +, credits -."""
    signed = sa.case((JournalLine.posting_type == "Credit", -JournalLine.amount), else_=JournalLine.amount)
    return _customer_lines(
        sa.select(JournalLine.txn_id, JournalEntry.doc_number, JournalEntry.txn_date,
                  JournalLine.entity_id.label("customer_id"),
                  sa.type_coerce(signed, Money()).label("amount")),
        realm_id, Account.account_type == AR_ACCOUNT_TYPE)


def journal_applications(realm_id: str) -> Any:
    """(payment_id, payment's date, payment's customer, journal entry id, amount) of every payment line
    applied to a journal entry."""
    return (sa.select(PaymentLink.payment_id, Payment.txn_date, Payment.customer_id, PaymentLink.txn_id,
                      PaymentLink.amount)
            .select_from(PaymentLink)
            .join(Payment, sa.and_(Payment.realm_id == PaymentLink.realm_id,
                                   Payment.id == PaymentLink.payment_id))
            .where(PaymentLink.realm_id == realm_id, PaymentLink.txn_type == "JournalEntry"))
