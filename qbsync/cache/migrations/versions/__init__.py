"""Revisions of the cache schema, oldest first (0001 is generated from the models by ``generate``)."""
