"""Near-real-time syncs and many companies: the QuickBooks webhook receiver, the sync queue and its workers.

    events      parse a delivery (CloudEvents or the legacy format) and check its signature (pure)
    inbox       record events durably, idempotent by id; which companies they leave behind the cache
    runner      one queued sync of one company (CDC or reconcile), skipped when the cache is current
    queue       the in-process queue (SQLite, one machine)
    jobs        the PostgreSQL queue and worker fleet on procrastinate
    server      the Starlette app behind `qbsync webhooks serve`
    status      per company: last event, queue depth, last sync, lag
"""
