"""A local QuickBooks Online-compatible API server with generated sample companies.

It imports nothing from the rest of qbsync: it is the other end of the wire.
"""
