"""A cache synced before sales tax, refunds and journal entries were mirrored keeps working: revision 0009
fills the new column from the JSON it already holds."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import sqlalchemy as sa
from alembic import command

from qbsync.cache.db import make_engine
from qbsync.cache.schema import alembic_config, open_cache


def test_an_older_cache_gets_tax_and_voids_from_its_json(db_url: str) -> None:
    engine = make_engine(db_url)
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0008")
    when = datetime(2025, 1, 1, tzinfo=UTC)
    common = {"realm_id": "1", "sync_token": "0", "txn_date": date(2025, 1, 1)}
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO realms (realm_id, created_at) VALUES ('1', :w)"), {"w": when})
        for table, row in (
                ("invoices", {"id": "1", "total_amt": 108.25, "balance": 0, "voided": False,
                              "raw": '{"TxnTaxDetail": {"TotalTax": 8.25}}'}),
                ("invoices", {"id": "2", "total_amt": 50, "balance": 50, "voided": False, "raw": "{}"}),
                ("sales_receipts", {"id": "3", "total_amt": 0, "private_note": " Voided", "voided": True,
                                    "raw": '{"TxnTaxDetail": {"TotalTax": "1.10"}}'}),
                ("credit_memos", {"id": "4", "total_amt": 21.65, "balance": 0, "voided": False,
                                  "raw": '{"TxnTaxDetail": {"TotalTax": 1.649}}'})):
            values = {**common, **row}
            if engine.dialect.name == "sqlite":  # Money is integer cents there
                values = {k: (int(Decimal(str(v)) * 100) if k in ("total_amt", "balance") else v)
                          for k, v in values.items()}
            cols, marks = ", ".join(values), ", ".join(":" + k for k in values)
            conn.execute(sa.text(f"INSERT INTO {table} ({cols}) VALUES ({marks})"), values)
    engine.dispose()
    upgraded = open_cache(db_url)
    from qbsync.cache.models import CreditMemo, Invoice, SalesReceipt

    with upgraded.connect() as conn:
        taxes = dict(conn.execute(sa.select(Invoice.id, Invoice.total_tax)).all())
        assert taxes == {"1": Decimal("8.25"), "2": Decimal("0.00")}
        receipt = conn.execute(sa.select(SalesReceipt.total_tax, SalesReceipt.voided)).one()
        memo = conn.execute(sa.select(CreditMemo.total_tax, CreditMemo.voided)).one()
    upgraded.dispose()
    assert tuple(receipt) == (Decimal("1.10"), True) and tuple(memo) == (Decimal("1.65"), False)
