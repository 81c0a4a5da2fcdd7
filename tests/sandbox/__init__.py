"""Tests of qbsync.sandbox."""
