"""One customer's archive: profile, balance, transactions and payments, findings, contacts, notes, loss.

Everything is read from where it already lives and computed by the code that owns it (the
statement for transactions, aging for the balance by bucket, the rules for findings, the customer
file for notes, contacts and the reason for loss); this module only puts it side by side.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from qbsync.cache.audit_models import WritebackAudit, WritebackPlan, WritebackPlanItem
from qbsync.cache.campaign_models import Campaign, CampaignMember
from qbsync.cache.models import Customer
from qbsync.customers import file as cfile
from qbsync.customers import outreach
from qbsync.reports import aging, statement
from qbsync.reports.receivables import open_items
from qbsync.reports.source import ZERO
from qbsync.rules.findings import Finding


@dataclass
class Archive:
    customer_id: str
    name: str
    as_of: date
    profile: dict[str, Any]
    balance: Decimal  # QuickBooks' Balance as last synced
    balance_with_jobs: Decimal
    aging: dict[str, Decimal]  # bucket -> open invoice balance on as_of
    statement: statement.Statement
    findings: list[Finding]
    campaigns: list[dict[str, Any]]
    writeback: list[dict[str, Any]]
    contacts: list[outreach.Contact]
    pending: list[outreach.Batch]
    notes: list[cfile.Note]
    loss: cfile.Loss | None
    rules_run: list[str] = field(default_factory=list)

    @property
    def purchases(self) -> int:
        return sum(1 for line in self.statement.lines if line.entity in ("Invoice", "SalesReceipt"))

    @property
    def payments(self) -> int:
        return sum(1 for line in self.statement.lines if line.entity == "Payment")

    def as_dict(self) -> dict[str, Any]:
        def money(v: Decimal | None) -> str | None:
            return None if v is None else str(v.quantize(Decimal("0.01")))

        st = self.statement
        return {
            "customer_id": self.customer_id, "name": self.name, "as_of": self.as_of.isoformat(),
            "profile": self.profile,
            "balance": {"quickbooks": money(self.balance), "with_jobs": money(self.balance_with_jobs),
                        "aging": {k: money(v) for k, v in self.aging.items()},
                        "open_invoices": money(sum(self.aging.values(), ZERO))},
            "transactions": [{"date": x.txn_date.isoformat(), "type": x.kind, "number": x.number,
                              "id": x.txn_id, "due": x.due_date.isoformat() if x.due_date else None,
                              "charge": money(x.charge), "credit": money(x.credit),
                              "balance": money(x.balance)}
                             for x in st.lines],
            "closing_balance": money(st.closing),
            "findings": [{"rule": f.rule, "action": f.action, "reason": f.reason, "score": f.score}
                         for f in self.findings],
            "rules_run": self.rules_run,
            "campaigns": self.campaigns, "writeback": self.writeback,
            "contacts": [{"batch": c.batch_id, "sent_at": c.sent_at.isoformat(), "kind": c.kind,
                          "stage": c.stage, "channel": c.channel, "description": c.description,
                          "refs": c.refs}
                         for c in self.contacts],
            "pending_batches": [{"batch": b.id, "kind": b.kind, "created_at": b.created_at.isoformat(),
                                 "description": b.description} for b in self.pending],
            "notes": [{"at": n.at.isoformat(), "author": n.author, "text": n.text} for n in self.notes],
            "lost": None if self.loss is None else {
                "reason": self.loss.reason, "lost_on": self.loss.lost_on.isoformat(), "note": self.loss.note,
                "recorded_at": self.loss.recorded_at.isoformat(), "author": self.loss.author},
        }


def _profile(row: Any, language: str | None) -> dict[str, Any]:
    address = ", ".join(p for p in (row.bill_line1, row.bill_line2, row.bill_city, row.bill_region,
                                    row.bill_postal_code, row.bill_country) if p)
    return {"display_name": row.display_name, "company": row.company_name,
            "name": " ".join(p for p in (row.title, row.given_name, row.middle_name, row.family_name,
                                         row.suffix) if p) or None,
            "email": row.email, "phone": row.phone, "mobile": row.mobile, "address": address or None,
            "active": bool(row.active), "job": bool(row.job), "parent_id": row.parent_id,
            "customer_type_id": row.customer_type_id, "currency": row.currency,
            "created": row.created_at.date().isoformat() if isinstance(row.created_at, datetime) else None,
            "language": language}


def _campaigns(conn: sa.Connection, realm_id: str, cid: str) -> list[dict[str, Any]]:
    rows = conn.execute(sa.select(Campaign.name, Campaign.as_of, CampaignMember.control,
                                  CampaignMember.reason)
                        .join(Campaign, Campaign.id == CampaignMember.campaign_id)
                        .where(Campaign.realm_id == realm_id, CampaignMember.customer_id == cid)
                        .order_by(Campaign.as_of, Campaign.name))
    return [{"campaign": name, "as_of": day.isoformat(), "group": "control" if control else "contacted",
             "reason": reason} for name, day, control, reason in rows]


def _writeback(conn: sa.Connection, realm_id: str, cid: str) -> list[dict[str, Any]]:
    plans = conn.execute(sa.select(WritebackPlan.id, WritebackPlan.created_at, WritebackPlanItem.rule,
                                   WritebackPlanItem.action, WritebackPlanItem.disposition,
                                   WritebackPlanItem.reason)
                         .join(WritebackPlan, WritebackPlan.id == WritebackPlanItem.plan_id)
                         .where(WritebackPlan.realm_id == realm_id, WritebackPlanItem.customer_id == cid)
                         .order_by(WritebackPlan.created_at))
    out: list[dict[str, Any]] = [
        {"at": at.isoformat(), "plan": pid, "event": f"planned {action} ({disposition})", "rule": rule,
         "reason": reason} for pid, at, rule, action, disposition, reason in plans]
    events = conn.execute(sa.select(WritebackAudit.at, WritebackAudit.run_id, WritebackAudit.event,
                                    WritebackAudit.new_active, WritebackAudit.reason)
                          .where(WritebackAudit.realm_id == realm_id, WritebackAudit.customer_id == cid,
                                 WritebackAudit.event.in_(["applied", "failed", "skip"]))
                          .order_by(WritebackAudit.at, WritebackAudit.id))
    out += [{"at": at.isoformat(), "run": run, "event": f"{event}: Active -> {new_active}", "reason": reason}
            for at, run, event, new_active, reason in events]
    return sorted(out, key=lambda e: e["at"])


def rule_findings(engine: sa.Engine, realm_id: str, customer_id: str, as_of: date, *,
                  duplicates: bool = False) -> tuple[list[Finding], list[str]]:
    """The rules' findings about one customer, as the rules find them for the whole company."""
    from qbsync.reports import rulelists
    from qbsync.rules.activity import load_activity
    from qbsync.rules.inactive import find_reactivate
    from qbsync.rules.policy import load_policy

    policy = load_policy(None)
    acts = load_activity(engine, realm_id, as_of, include_estimates=policy.include_estimates)
    found = [f for f in rulelists.inactive(engine, realm_id, as_of).findings if f.customer_id == customer_id]
    found += [f for f in find_reactivate(acts, policy, as_of) if f.customer_id == customer_id]
    run = ["inactive", "reactivate"]
    if customer_id in acts and acts[customer_id].purchase_dates:
        found += [f for f in rulelists.disappearing(engine, realm_id, as_of, top=None).findings
                  if f.customer_id == customer_id]
        run.append("disappearing")
    if duplicates:
        found += [f for f in rulelists.duplicates(engine, realm_id, as_of).findings
                  if f.customer_id == customer_id]
        run.append("duplicates")
    return found, run


def archive(engine: sa.Engine, realm_id: str, ref: str, as_of: date, *, rules: bool = True,
            duplicates: bool = False) -> Archive:
    """The archive of the customer whose Id or exact name is ``ref``, as of ``as_of``."""
    with engine.connect() as conn:
        who = cfile.resolve(conn, realm_id, ref)
        row = conn.execute(sa.select(Customer.__table__).where(Customer.realm_id == realm_id,
                                                               Customer.id == who.customer_id)).one()
        language = cfile.languages(conn, realm_id).get(who.customer_id)
        items = open_items(conn, realm_id, as_of, customer_ids=[who.customer_id])
        buckets = aging.compute([i for i in items if i.open > 0], {}, as_of).totals
        campaigns = _campaigns(conn, realm_id, who.customer_id)
        writeback = _writeback(conn, realm_id, who.customer_id)
        contacts = outreach.contacts(conn, realm_id, customer_id=who.customer_id)
        pending = outreach.batches(conn, realm_id, status="pending", customer_id=who.customer_id)
        notes = cfile.notes(conn, realm_id, who.customer_id)
        current = cfile.losses(conn, realm_id, who.customer_id)
    st = statement.statement(engine, realm_id, who.customer_id, as_of, with_receipts=True, roll_up=False)
    findings, run = (rule_findings(engine, realm_id, who.customer_id, as_of, duplicates=duplicates)
                     if rules else ([], []))
    return Archive(who.customer_id, who.name, as_of, _profile(row, language), row.balance or ZERO,
                   row.balance_with_jobs or ZERO, buckets, st, findings, campaigns, writeback, contacts,
                   pending, notes, current[-1] if current else None, run)


def to_text(a: Archive, limit: int | None = 20) -> str:
    """The archive for a terminal: one section per part, newest transactions last."""
    from qbsync.reports.render import money

    p = a.profile
    out = [f"{a.name} (Id {a.customer_id}) as of {a.as_of.isoformat()}"
           + ("" if p["active"] else "  [inactive in QuickBooks]")]
    for label, key in (("Company", "company"), ("Contact", "name"), ("Email", "email"), ("Phone", "phone"),
                       ("Mobile", "mobile"), ("Address", "address"), ("Customer since", "created"),
                       ("Language", "language"), ("Parent", "parent_id")):
        if p.get(key):
            out.append(f"  {label + ':':16}{p[key]}")
    out += ["", "Balance",
            f"  {'QuickBooks:':16}{money(a.balance):,}" + (f" (with jobs {money(a.balance_with_jobs):,})"
                                                         if a.balance_with_jobs != a.balance else ""),
            "  open invoices:  " + (", ".join(f"{k} {money(v):,}" for k, v in a.aging.items() if v)
                                    or "none")]
    lines = a.statement.lines
    shown = lines if limit is None else lines[-limit:]
    out += ["", f"Transactions and payments ({a.purchases} purchases, {a.payments} payments"
            + (f"; the last {len(shown)} of {len(lines)}" if len(shown) < len(lines) else "") + ")"]
    out += [f"  {x.txn_date.isoformat()}  {x.kind:14} {x.number or x.txn_id:12} "
            f"{money(x.charge):>12,} {money(x.credit):>12,} {money(x.balance or ZERO):>12,}"
            for x in shown] or ["  none"]
    ran = f" (rules run now: {', '.join(a.rules_run)})" if a.rules_run else " (rules not run)"
    out += ["", "Findings" + ran]
    out += [f"  {f.rule}: {f.action} - {f.reason}" for f in a.findings] or ["  none"]
    if a.campaigns or a.writeback:
        out += ["", "Campaigns and write-back"]
        out += [f"  campaign {c['campaign']} ({c['as_of']}): {c['group']} - {c['reason'] or ''}"
                for c in a.campaigns]
        out += [f"  {e['at'][:10]}  {e['event']} - {e['reason'] or ''}" for e in a.writeback]
    out += ["", "Contacts made"]
    out += [f"  {c.sent_at.date().isoformat()}  {c.kind}{' ' + c.stage if c.stage else ''} by {c.channel}"
            f" - {c.description} (batch {c.batch_id})" for c in reversed(a.contacts)] or ["  none"]
    out += [f"  not yet sent: {b.kind} - {b.description} (batch {b.id}; `qbsync sent {b.id}` once it "
            "went out)" for b in a.pending]
    out += ["", "Notes"]
    out += [f"  {n.at.date().isoformat()}  {n.author + ': ' if n.author else ''}{n.text}" for n in a.notes] \
        or ["  none"]
    if a.loss is not None:
        out += ["", f"Lost on {a.loss.lost_on.isoformat()}: {a.loss.reason}"
                + (f" - {a.loss.note}" if a.loss.note else "")]
    return "\n".join(out) + "\n"
