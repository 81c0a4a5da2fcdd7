"""Mirroring QBO into the cache: full sync, CDC increments, reconcile, locks, scheduling."""
