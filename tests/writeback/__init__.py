"""Tests of write-back: plan, apply, undo and the audit log, on a fake QuickBooks and on the sandbox."""
