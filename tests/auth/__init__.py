"""Tests of qbsync.auth: token store, OAuth refresh/login, CLI."""
