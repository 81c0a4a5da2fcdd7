"""Executing re-checked Active changes against QuickBooks in batches: shared by apply and undo.

Per chunk of at most 30 customers (jobs before their parents): one batch re-reads them, the pure
re-check decides, one batch of sparse updates writes the survivors with a deterministic request id
per change, and the audit rows of the chunk are committed before and after the write. A 5010 leads
to a re-read and a re-check, never to a blind retry. A throttle or server error that outlives the
client's own retries stops the run: what was sent is on record as "unknown" and the next run, which
re-reads everything, finishes the rest without writing anything twice.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from itertools import groupby
from typing import Any

from sqlalchemy.orm import Session

from qbsync.cache.audit_models import WritebackRun
from qbsync.clock import Clock
from qbsync.errors import ApiError
from qbsync.qbo.gateway import QboGateway
from qbsync.writeback.audit import Event, preload_customers, record, update_cached_customer
from qbsync.writeback.fresh import CHUNK, fetch_fresh
from qbsync.writeback.recheck import Expectation, Fresh, Verdict, recheck

log = logging.getLogger("qbsync.writeback")

JsonDict = dict[str, Any]

#: How many times one change is sent: the first try, then once more only if a 5010 re-read shows
#: the customer exactly as planned (a 5010 with an unchanged SyncToken is a server hiccup).
MAX_ATTEMPTS = 2


@dataclass
class ItemResult:
    """What happened to one customer in a run (or would happen, in a dry run)."""

    customer_id: str
    display_name: str
    old_active: bool
    new_active: bool
    #: applied, would_apply, already, skipped, failed, unknown (sent, answer lost), not_run
    outcome: str
    reason: str
    sync_token_before: str | None = None
    sync_token_after: str | None = None
    request_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class RunReport:
    """The result of ``apply`` or ``undo``: one row per customer, in plan order."""

    kind: str  # apply | undo
    dry_run: bool
    realm_id: str
    plan_id: str | None = None
    run_id: str | None = None
    undo_of: str | None = None
    items: list[ItemResult] = field(default_factory=list)
    interrupted: str | None = None

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for item in self.items:
            out[item.outcome] = out.get(item.outcome, 0) + 1
        return out

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "dry_run": self.dry_run, "realm_id": self.realm_id,
                "plan_id": self.plan_id, "run_id": self.run_id, "undo_of": self.undo_of,
                "interrupted": self.interrupted, "counts": self.counts(),
                "items": [i.as_dict() for i in self.items]}


def request_id_for(run_key: str, customer_id: str, sync_token: str, new_active: bool, attempt: int) -> str:
    """The requestid of one change: the same change in the same run always gets the same one (<= 50)."""
    digest = hashlib.sha256(f"{run_key}|{customer_id}|{sync_token}|{int(new_active)}|{attempt}".encode())
    return "qbs-" + digest.hexdigest()[:40]


def _chunks(exps: Sequence[Expectation], size: int) -> list[list[Expectation]]:
    # One level per chunk: deactivations deepest first, so a job is written (and seen inactive on
    # the re-read) before its parent is re-checked for active jobs; reactivations parents first,
    # because a job cannot be active under an inactive parent.
    def key(e: Expectation) -> tuple[bool, int]:
        return (e.new_active, e.level if e.new_active else -e.level)

    out: list[list[Expectation]] = []
    for _, group in groupby(sorted(exps, key=key), key=key):
        items = list(group)
        out.extend(items[i:i + size] for i in range(0, len(items), size))
    return out


def _is_balance_fault(errors: list[JsonDict]) -> bool:
    return any("balance" in (str(e.get("Message", "")) + str(e.get("Detail", ""))).lower() for e in errors)


class Executor:
    """Runs one list of expectations; ``run`` None means a dry run (reads only, records nothing)."""

    def __init__(self, gateway: QboGateway, session: Session, clock: Clock, realm_id: str,
                 run: WritebackRun | None, entities: Sequence[str],
                 chunk_size: int = CHUNK) -> None:
        if not 1 <= chunk_size <= CHUNK:
            raise ValueError(f"chunk size must be 1..{CHUNK}")
        self.gateway, self.session, self.clock, self.realm_id = gateway, session, clock, realm_id
        self.run_row, self.entities, self.chunk_size = run, tuple(entities), chunk_size
        self.results: dict[str, ItemResult] = {}
        self.interrupted: str | None = None
        self.would_deactivate: set[str] = set()

    @property
    def dry(self) -> bool:
        return self.run_row is None

    def execute(self, exps: Sequence[Expectation]) -> tuple[list[ItemResult], str | None]:
        for chunk in _chunks(exps, self.chunk_size):
            if self.interrupted:
                break
            self._chunk(chunk)
        for exp in exps:
            if exp.customer_id not in self.results:
                self._result(exp, "not_run", "the run stopped before this customer; run it again to finish")
        return [self.results[e.customer_id] for e in exps], self.interrupted

    # --- one chunk -------------------------------------------------------------------------------

    def _chunk(self, chunk: list[Expectation]) -> None:
        pending = self._reread(chunk)
        attempt = 1
        while pending and not self.dry and not self.interrupted:
            stale = self._write(pending, attempt)
            if not stale:
                break
            if attempt >= MAX_ATTEMPTS:
                for exp in stale:
                    self._skip(exp, "skipped", "QuickBooks kept answering 5010 (stale object); "
                                               "make a new plan")
                self._commit()
                break
            attempt += 1
            pending = self._reread(stale)

    def _reread(self, chunk: list[Expectation]) -> list[tuple[Expectation, str]]:
        """Re-read and re-check; returns the changes to send, with the SyncToken to send."""
        try:
            fresh = fetch_fresh(self.gateway, chunk, self.entities)
        except ApiError as exc:
            self._interrupt(f"re-reading customers failed: {exc}")
            return []
        pending: list[tuple[Expectation, str]] = []
        for exp in chunk:
            now = fresh.get(exp.customer_id, Fresh(customer=None))
            if self.dry:  # a dry run pretends its earlier would-be deactivations of jobs happened
                now.active_jobs = [j for j in now.active_jobs if j not in self.would_deactivate]
            verdict = recheck(exp, now)
            token = str(now.customer.get("SyncToken")) if now.customer else None
            if verdict.outcome == "write":
                if self.dry:
                    self._result(exp, "would_apply", verdict.reason, before=token)
                    if not exp.new_active:
                        self.would_deactivate.add(exp.customer_id)
                else:
                    pending.append((exp, token or exp.expected_token))
            else:
                self._decided(exp, verdict, now.customer)
        self._commit()
        return pending

    def _decided(self, exp: Expectation, verdict: Verdict, customer: JsonDict | None) -> None:
        token = str(customer.get("SyncToken")) if customer else None
        outcome = "already" if verdict.outcome == "already" else "skipped"
        self._result(exp, outcome, verdict.reason, before=token, after=token)
        if self.run_row is None:
            return
        record(self.session, self.run_row, self.clock, Event(
            exp.customer_id, exp.display_name, "already" if outcome == "already" else "skip",
            reason=verdict.reason, old_active=exp.expected_active, new_active=exp.new_active,
            sync_token_after=token))
        if outcome == "already" and customer is not None:
            update_cached_customer(self.session, self.realm_id, customer)

    def _write(self, pending: list[tuple[Expectation, str]], attempt: int) -> list[Expectation]:
        """Send one batch of sparse updates; returns the changes that met a 5010."""
        assert self.run_row is not None
        run = self.run_row
        items: list[JsonDict] = []
        by_bid: dict[str, tuple[Expectation, str]] = {}
        for exp, token in pending:
            rid = request_id_for(run.id, exp.customer_id, token, exp.new_active, attempt)
            body = {"Id": exp.customer_id, "SyncToken": token, "sparse": True, "Active": exp.new_active}
            items.append({"bId": rid, "operation": "update", "Customer": body})
            by_bid[rid] = (exp, token)
            record(self.session, run, self.clock, Event(
                exp.customer_id, exp.display_name, "sent", attempt=attempt, request_id=rid,
                old_active=exp.expected_active, new_active=exp.new_active, sync_token_sent=token))
        self._commit()  # the intent is on record before anything leaves
        batch_rid = "qbsb-" + hashlib.sha256("|".join(sorted(by_bid)).encode()).hexdigest()[:40]
        try:
            answers = self.gateway.batch(items, request_id=batch_rid)
        except ApiError as exc:
            for rid, (exp, token) in by_bid.items():
                why = (f"no answer from QuickBooks ({exc.message}); whether it changed is unknown until the "
                       "next run re-reads it")
                self._event(exp, "unknown", why, attempt, rid, token, fault=exc.code)
                self._result(exp, "unknown", why, before=token, rid=rid)
            self._commit()
            self._interrupt(f"writing a batch failed: {exc}")
            return []
        stale: list[Expectation] = []
        answered = {str(a.get("bId")): a for a in answers}
        written = [a["Customer"] for a in answers if isinstance(a.get("Customer"), dict)]
        # held until the updates below are done: the session keeps only weak references to clean rows
        loaded = preload_customers(self.session, self.realm_id, [str(c.get("Id")) for c in written])
        for rid, (exp, token) in by_bid.items():
            answer = answered.get(rid)
            if answer is None:
                why = "QuickBooks' batch answer left this change out; the next run re-reads it"
                self._event(exp, "unknown", why, attempt, rid, token)
                self._result(exp, "unknown", why, before=token, rid=rid)
            elif isinstance(answer.get("Customer"), dict):
                row = answer["Customer"]
                after = str(row.get("SyncToken"))
                self._event(exp, "applied", None, attempt, rid, token, after=after)
                self._result(exp, "applied", f"Active set to {exp.new_active}", before=token, after=after,
                             rid=rid)
                update_cached_customer(self.session, self.realm_id, row)
            else:
                errors = list((answer.get("Fault") or {}).get("Error") or [])
                code = str(errors[0].get("code", "")) if errors else ""
                text = "; ".join(f"{e.get('code')} {e.get('Message')}: {e.get('Detail', '')}" for e in errors)
                if code == "5010":
                    self._event(exp, "stale", "5010 stale object: re-reading before deciding", attempt, rid,
                                token, fault=code)
                    stale.append(exp)
                elif _is_balance_fault(errors):
                    why = f"QuickBooks refused: open balance ({text}); never deactivated"
                    self._event(exp, "failed", why, attempt, rid, token, fault=code)
                    self._result(exp, "skipped", why, before=token, rid=rid)
                else:
                    why = f"QuickBooks refused the change: {text or 'fault without detail'}"
                    self._event(exp, "failed", why, attempt, rid, token, fault=code)
                    self._result(exp, "failed", why, before=token, rid=rid)
        self._commit()
        del loaded
        return stale

    # --- bookkeeping -----------------------------------------------------------------------------

    def _event(self, exp: Expectation, event: str, reason: str | None, attempt: int, rid: str, token: str,
               *, after: str | None = None, fault: str | None = None) -> None:
        assert self.run_row is not None
        record(self.session, self.run_row, self.clock, Event(
            exp.customer_id, exp.display_name, event, reason=reason, attempt=attempt, request_id=rid,
            old_active=exp.expected_active, new_active=exp.new_active, sync_token_sent=token,
            sync_token_after=after, fault_code=fault))

    def _skip(self, exp: Expectation, outcome: str, reason: str) -> None:
        self._result(exp, outcome, reason)
        if self.run_row is not None:
            record(self.session, self.run_row, self.clock, Event(
                exp.customer_id, exp.display_name, "skip", reason=reason, old_active=exp.expected_active,
                new_active=exp.new_active))

    def _result(self, exp: Expectation, outcome: str, reason: str, *, before: str | None = None,
                after: str | None = None, rid: str | None = None) -> None:
        self.results[exp.customer_id] = ItemResult(
            exp.customer_id, exp.display_name, exp.expected_active, exp.new_active, outcome, reason,
            sync_token_before=before, sync_token_after=after, request_id=rid)

    def _interrupt(self, why: str) -> None:
        log.warning("write-back stopped: %s", why)
        self.interrupted = why

    def _commit(self) -> None:
        if not self.dry:
            self.session.commit()
