"""What ``qbsync status`` shows: per realm and entity, the last sync, cursor, row counts, last error."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from qbsync.cache.models import ENTITY_MODELS, Realm, SyncState
from qbsync.cache.upsert import count_rows, table


@dataclass
class EntityStatus:
    entity: str
    rows: int
    cursor: datetime | None = None
    last_success_at: datetime | None = None
    last_run_at: datetime | None = None
    last_error: str | None = None
    full_pass_in_progress: bool = False
    #: requests of the last run that named this entity alone (None: not synced since qbsync counted)
    last_run_requests: int | None = None


@dataclass
class RealmStatus:
    realm_id: str
    company_name: str | None
    entities: list[EntityStatus] = field(default_factory=list)
    #: every request of the last sync run, those shared by several entities included
    last_sync_requests: int | None = None

    def to_json(self) -> dict[str, Any]:
        def iso(t: datetime | None) -> str | None:
            return t.isoformat() if t else None

        return {"realm_id": self.realm_id, "company_name": self.company_name,
                "last_sync_requests": self.last_sync_requests, "entities": [
            {"entity": e.entity, "rows": e.rows, "cursor": iso(e.cursor),
             "last_success_at": iso(e.last_success_at), "last_run_at": iso(e.last_run_at),
             "last_error": e.last_error, "last_run_requests": e.last_run_requests,
             "full_pass_in_progress": e.full_pass_in_progress} for e in self.entities]}


def sync_status(engine: sa.Engine, realm_id: str | None = None) -> list[RealmStatus]:
    realms_t = table(Realm.__tablename__)
    state_t = table(SyncState.__tablename__)
    out: list[RealmStatus] = []
    with engine.connect() as conn:
        q = sa.select(realms_t.c.realm_id, realms_t.c.company_name,
                      realms_t.c.last_sync_requests).order_by(realms_t.c.realm_id)
        if realm_id:
            q = q.where(realms_t.c.realm_id == realm_id)
        for rid, name, requests in conn.execute(q).all():
            states = {r["entity"]: r for r in conn.execute(
                sa.select(state_t).where(state_t.c.realm_id == rid)).mappings()}
            rs = RealmStatus(rid, name, last_sync_requests=requests)
            for entity in ENTITY_MODELS:
                st = states.get(entity)
                es = EntityStatus(entity, count_rows(conn, entity, rid))
                if st is not None:
                    es.cursor, es.last_success_at = st["cursor"], st["last_success_at"]
                    es.last_run_at, es.last_error = st["last_run_at"], st["last_error"]
                    es.full_pass_in_progress = st["full_sync_started_at"] is not None
                    es.last_run_requests = st["last_run_requests"]
                rs.entities.append(es)
            out.append(rs)
    return out
