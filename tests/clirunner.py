"""A click test runner that hands every command the same injected process environment (clock, QBO)."""

from __future__ import annotations

from typing import Any

from click.testing import CliRunner, Result

from qbsync.cli.context import Env


class EnvRunner(CliRunner):
    """``CliRunner`` whose every ``invoke`` runs with ``env`` (what a test injects: clock, zone, QBO)."""

    def __init__(self, env: Env | None = None, **kw: Any) -> None:
        super().__init__(**kw)
        self.qbsync_env = env or Env()

    def invoke(self, *args: Any, **kw: Any) -> Result:
        kw.setdefault("obj", self.qbsync_env)
        return super().invoke(*args, **kw)
