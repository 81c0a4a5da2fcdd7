"""`qbsync writeback plan | apply | undo | log` on the sandbox: the CLI builds the real client itself.

Only the command's clock is pinned (the sandbox company lives on 2026-11-23); settings come from
QBSYNC_* variables exactly as a user's would, tokens from the token store they name.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from qbsync.auth.tokens import TokenStore
from qbsync.cli import cli
from qbsync.cli.context import Env
from qbsync.clock import FixedClock
from tests.clirunner import EnvRunner
from tests.writeback.sandbox_company import REALM, T0, TO_DEACTIVATE, company, fill


def test_plan_apply_undo_log_through_the_real_client(
    tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with company(tmp_path, db_url) as c:
        fill(c)
        c.sync(db_url).dispose()
        for name, value in c.env.items():
            monkeypatch.setenv(name, value)
        (tmp_path / "empty.toml").write_text("")
        monkeypatch.setenv("QBSYNC_CONFIG", str(tmp_path / "empty.toml"))
        runner = EnvRunner(Env(clock=FixedClock(T0 + timedelta(minutes=30))))

        out = runner.invoke(cli, ["writeback", "plan", "--rule", "inactive", "--format", "json"])
        assert out.exit_code == 0, out.output
        plan = json.loads(out.stdout)
        names = {c.ids[n]: n for n in c.ids}
        assert {names[i["customer_id"]] for i in plan["items"]} == TO_DEACTIVATE
        tokens_before = c.tokens()

        dry = runner.invoke(cli, ["writeback", "apply", plan["plan_id"]])
        assert dry.exit_code == 0, dry.output
        assert "Nothing was written" in dry.stderr
        assert c.tokens() == tokens_before

        real = runner.invoke(cli, ["writeback", "apply", plan["plan_id"], "--yes", "--format", "json"])
        assert real.exit_code == 0, real.output
        report = json.loads(real.stdout)
        assert report["counts"] == {"applied": len(TO_DEACTIVATE)}
        assert {n for n, active in c.active().items() if not active} == TO_DEACTIVATE

        again = runner.invoke(cli, ["writeback", "apply", plan["plan_id"], "--yes", "--format", "json"])
        assert again.exit_code == 0, again.output
        assert json.loads(again.stdout)["counts"] == {"already": len(TO_DEACTIVATE)}

        undo = runner.invoke(cli, ["writeback", "undo", report["run_id"], "--yes", "--format", "json"])
        assert undo.exit_code == 0, undo.output
        assert json.loads(undo.stdout)["counts"] == {"applied": len(TO_DEACTIVATE)}
        assert all(c.active().values())
        assert c.customer(c.ids["Old Alder"])["DisplayName"] == "Old Alder"

        log = runner.invoke(cli, ["writeback", "log", "--json"])
        assert log.exit_code == 0, log.output
        events = json.loads(log.stdout)
        alder = [e["event"] for e in events if e["customer_id"] == c.ids["Old Alder"]]
        assert sorted(alder) == sorted(["sent", "applied", "already", "sent", "applied"])
        stored = TokenStore(tmp_path / "tokens").load(REALM)
        assert stored is not None
        for secret in (c.settings.client_secret, stored.access_token, stored.refresh_token):
            assert secret and secret not in log.stdout
        runs = json.loads(runner.invoke(cli, ["writeback", "log", "--runs", "--json"]).stdout)
        assert sorted(r["kind"] for r in runs) == ["apply", "apply", "undo"]
