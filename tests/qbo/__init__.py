"""Tests of qbsync.qbo: faults, limiter, retries, client, sandbox integration."""
