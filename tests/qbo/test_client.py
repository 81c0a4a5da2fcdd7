"""The API client against `responses`: envelopes, retries with injected sleep, 401 refresh, requestid."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses

from qbsync.auth.tokens import TokenSet, TokenStore
from qbsync.clock import FixedClock
from qbsync.errors import AuthError, ServerError, ThrottledError, ValidationError
from qbsync.qbo.client import QboClient, connect, parse_server_time
from qbsync.qbo.limiter import RateLimiter
from qbsync.settings import load_settings
from tests.auth.fakes import FakeAuthClient, FileTokenServer

FIX = Path(__file__).resolve().parents[2] / "fixtures" / "qbo"
REALM = "4620816365"
API = f"https://qbo.example/v3/company/{REALM}"
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def rec(name: str) -> bytes:
    return (FIX / "recorded" / f"{name}.response.txt").read_bytes()


class Harness:
    def __init__(self, tmp_path: Path, **overrides: object) -> None:
        self.settings = load_settings({"environment": "https://qbo.example", "client_id": "cid",
                                       "client_secret": "csecret", "token_dir": str(tmp_path / "tok"),
                                       **overrides}, env={}, config_path=None)
        self.clock = FixedClock(T0)
        self.store = TokenStore(tmp_path / "tok")
        self.store.save(TokenSet(REALM, "a0", "r0", T0 + timedelta(hours=1),
                                 refresh_expires_at=T0 + timedelta(days=100)))
        self.server = FileTokenServer(tmp_path / "server.json")
        self.sleeps: list[float] = []
        self.now = 0.0
        self.limiter = RateLimiter(500, 10, monotonic=lambda: self.now, sleep=self._advance)
        self.client: QboClient = connect(self.settings, REALM, clock=self.clock, token_store=self.store,
                                         factory=lambda: FakeAuthClient(self.server),
                                         limiter=self.limiter, sleep=self._sleep)

    def _advance(self, s: float) -> None:
        self.now += s

    def _sleep(self, s: float) -> None:
        self.sleeps.append(s)
        self.now += s


@pytest.fixture
def h(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    with responses.RequestsMock() as rsps:
        harness = Harness(tmp_path)
        harness.rsps = rsps  # type: ignore[attr-defined]
        yield harness


def mock(h: Harness) -> responses.RequestsMock:
    return h.rsps  # type: ignore[attr-defined]


def params(call: responses.Call) -> dict[str, list[str]]:
    return parse_qs(urlsplit(str(call.request.url)).query)


def test_query_page_rows_minorversion_and_server_time(h: Harness) -> None:
    mock(h).post(f"{API}/query", body=rec("all__customers__1"), content_type="application/json")
    page = h.client.query("SELECT * FROM Customer ORDERBY Id STARTPOSITION 1 MAXRESULTS 1000")
    assert len(page.rows) == 41 and page.rows[0]["Id"] == "1"
    call = mock(h).calls[0]
    assert params(call)["minorversion"] == ["75"]
    assert call.request.headers["Content-Type"] == "application/text"
    assert call.request.headers["Authorization"] == "Bearer a0"
    assert page.server_time.tzinfo is not None
    assert page.server_time == parse_server_time(json.loads(rec("all__customers__1"))["time"])
    assert h.client.stats.requests == 1 and h.client.stats.by_kind == {"query": 1}


def test_count_and_page_past_the_end(h: Harness) -> None:
    mock(h).post(f"{API}/query", body=rec("all__customers__0"))
    mock(h).post(f"{API}/query", body=rec("all__alt_select__4"))
    assert h.client.count("Customer") == 41
    assert h.client.query("SELECT * FROM Customer STARTPOSITION 1001").rows == []
    assert mock(h).calls[0].request.body == "SELECT COUNT(*) FROM Customer"


def test_cdc_flattens_the_nested_envelope(h: Harness) -> None:
    mock(h).get(f"{API}/cdc", body=rec("cdc__basic__0"))
    result = h.client.cdc(["Customer", "Estimate"], T0 - timedelta(days=1))
    assert result.changes["Customer"] == []
    assert result.total == len(result.changes["Estimate"]) > 0
    assert params(mock(h).calls[0])["changedSince"] == ["2026-02-28T12:00:00+00:00"]


def test_server_time_epoch_ms_and_offsets() -> None:
    assert parse_server_time(1601391072830) == datetime(2020, 9, 29, 14, 51, 12, 830000, tzinfo=UTC)
    assert parse_server_time("2020-09-29T06:52:56.527-07:00") == datetime(2020, 9, 29, 13, 52, 56, 527000,
                                                                          tzinfo=UTC)


def test_5xx_then_success_is_retried_with_capped_jittered_backoff(h: Harness) -> None:
    for status in (503, 502, 500):
        mock(h).post(f"{API}/query", status=status, body=b"oops")
    mock(h).post(f"{API}/query", body=rec("all__customers__0"))
    assert h.client.count("Customer") == 41
    assert len(mock(h).calls) == 4
    assert h.client.stats.retries == 3 and h.client.stats.server_errors == 3
    assert len(h.sleeps) == 3
    caps = [1.0, 2.0, 4.0]
    assert all(0 <= s <= cap for s, cap in zip(h.sleeps, caps, strict=True))


def test_gives_up_after_max_attempts(h: Harness) -> None:
    mock(h).post(f"{API}/query", status=504, body=b"")
    with pytest.raises(ServerError):
        h.client.count("Customer")
    assert len(mock(h).calls) == h.settings.retry.max_attempts
    assert all(s <= h.settings.retry.backoff_max_seconds for s in h.sleeps)


def test_429_xml_waits_intuits_60s_or_retry_after(h: Harness) -> None:
    xml = (FIX / "throttle_429.xml").read_bytes()
    mock(h).post(f"{API}/query", status=429, body=xml, content_type="application/xml")
    mock(h).post(f"{API}/query", status=429, body=xml, content_type="application/xml",
                 headers={"Retry-After": "5"})
    mock(h).post(f"{API}/query", body=rec("all__customers__0"))
    assert h.client.count("Customer") == 41
    assert 60.0 <= h.sleeps[0] <= 61.0
    assert 5.0 <= h.sleeps[1] <= 6.0
    assert h.client.stats.throttled == 2


def test_throttle_gives_up_with_a_throttled_error(h: Harness) -> None:
    mock(h).post(f"{API}/query", status=429, body=(FIX / "throttle_429.xml").read_bytes())
    with pytest.raises(ThrottledError):
        h.client.count("Customer")


@pytest.mark.parametrize("failure", [
    requests.ConnectionError("reset"), requests.ReadTimeout("slow")])
def test_connection_errors_and_timeouts_are_retried(h: Harness, failure: Exception) -> None:
    mock(h).post(f"{API}/query", body=failure)
    mock(h).post(f"{API}/query", body=rec("all__customers__0"))
    assert h.client.count("Customer") == 41
    assert h.client.stats.retries == 1


def test_truncated_json_is_retried(h: Harness) -> None:
    full = rec("all__customers__1")
    mock(h).post(f"{API}/query", body=full[: len(full) // 2])
    mock(h).post(f"{API}/query", body=full)
    assert len(h.client.query("SELECT * FROM Customer").rows) == 41
    assert h.client.stats.retries == 1


def test_validation_faults_are_never_retried(h: Harness) -> None:
    mock(h).post(f"{API}/query", status=400, body=rec("error__400__1"))
    with pytest.raises(ValidationError) as info:
        h.client.query("SELECT * FROM Custmoer")
    assert info.value.code == "4001"
    assert len(mock(h).calls) == 1 and h.sleeps == []


def test_401_refreshes_once_persists_and_retries(h: Harness) -> None:
    mock(h).get(f"{API}/customer/1", status=401, body=rec("error__401__0"),
                headers={"WWW-Authenticate": 'Bearer realm="Intuit", error="invalid_token"'})
    ok = {"Customer": {"Id": "1"}, "time": "2020-01-01T00:00:00Z"}
    mock(h).get(f"{API}/customer/1", body=json.dumps(ok))
    assert h.client.read("Customer", "1") == {"Id": "1"}
    assert [c.request.headers["Authorization"] for c in mock(h).calls] == ["Bearer a0", "Bearer a1"]
    stored = h.store.load(REALM)
    assert stored is not None and stored.refresh_token == "r1" == h.server.state()["valid"]


def test_a_second_401_is_an_auth_error_after_one_refresh(h: Harness) -> None:
    mock(h).get(f"{API}/customer/1", status=401, body=rec("error__401__0"))
    with pytest.raises(AuthError):
        h.client.read("Customer", "1")
    assert len(mock(h).calls) == 2 and h.server.state()["n"] == 1


def test_writes_carry_a_requestid_that_survives_retries(h: Harness) -> None:
    mock(h).post(f"{API}/customer", status=503, body=b"")
    mock(h).post(f"{API}/customer", body=json.dumps({"Customer": {"Id": "5", "SyncToken": "3"}}))
    body = {"Id": "5", "SyncToken": "2", "sparse": True, "Active": False}
    assert h.client.sparse_update("Customer", body, "rid-5-2")["SyncToken"] == "3"
    assert [params(c)["requestid"] for c in mock(h).calls] == [["rid-5-2"], ["rid-5-2"]]
    assert json.loads(str(mock(h).calls[0].request.body)) == body


def test_batch_gets_a_requestid_and_keeps_item_faults(h: Harness) -> None:
    mock(h).post(f"{API}/batch", body=rec("batch__basic__0"))
    items = [{"bId": b, "Query": "select * from Vendor"} for b in ("bid1", "bid2", "bid3", "bid4")]
    out = h.client.batch(items)
    assert [i["bId"] for i in out] == ["bid1", "bid2", "bid3", "bid4"]
    assert out[2]["Fault"]["Error"][0]["code"] == "5010"
    assert len(params(mock(h).calls[0])["requestid"][0]) <= 50
    with pytest.raises(ValueError):
        h.client.batch([{"bId": str(i)} for i in range(31)])


def test_customers_by_id_chunks_and_includes_inactive(h: Harness) -> None:
    for _ in range(3):
        mock(h).post(f"{API}/query", body=b'{"QueryResponse": {}, "time": "2020-01-01T00:00:00Z"}')
    h.client.customers_by_id([str(i) for i in range(1, 2501)])
    bodies = [str(c.request.body) for c in mock(h).calls]
    assert len(bodies) == 3
    assert all("Active IN (true, false)" in b and "Id IN ('" in b for b in bodies)
    assert "'2500'" in bodies[2] and "'1000'" in bodies[0]


def test_debug_log_has_intuit_tid_but_no_token(h: Harness, caplog: pytest.LogCaptureFixture) -> None:
    mock(h).post(f"{API}/query", body=rec("all__customers__0"),
                 headers={"Intuit-Tid": "1-5f733d9a-1d4e21aa217ba43177113df4"})
    with caplog.at_level(logging.DEBUG, logger="qbsync"), caplog.at_level(logging.DEBUG):
        h.client.count("Customer")
    assert "1-5f733d9a-1d4e21aa217ba43177113df4" in caplog.text
    assert "a0" not in caplog.text.replace("a0b", "")
    assert "Bearer" not in caplog.text


def test_connect_without_tokens_says_to_log_in(tmp_path: Path) -> None:
    settings = load_settings({"client_id": "c", "client_secret": "s", "token_dir": str(tmp_path)}, env={},
                             config_path=None)
    with pytest.raises(AuthError, match="qbsync auth login"):
        connect(settings, REALM)


def test_injected_sleep_alone_never_blocks_on_the_wall_clock(tmp_path: Path) -> None:
    settings = load_settings({"environment": "https://qbo.example", "client_id": "cid",
                              "client_secret": "s", "token_dir": str(tmp_path), "requests_per_minute": 2,
                              "requests_per_second": 1}, env={}, config_path=None)
    store = TokenStore(tmp_path)
    store.save(TokenSet(REALM, "a0", "r0", T0 + timedelta(hours=1)))
    slept: list[float] = []
    client = connect(settings, REALM, clock=FixedClock(T0), token_store=store, sleep=slept.append)
    with responses.RequestsMock() as rsps:
        rsps.post(f"{API}/query", status=429, body=(FIX / "throttle_429.xml").read_bytes())
        rsps.post(f"{API}/query", body=rec("all__customers__0"))
        rsps.post(f"{API}/query", body=rec("all__customers__0"))
        rsps.post(f"{API}/query", body=rec("all__customers__0"))
        assert client.count("Customer") == 41  # 429 at t=0, wait 60 s, retry at t~61
        assert client.count("Customer") == 41  # t~61: second in this minute
        assert client.count("Customer") == 41  # third in a 2/min budget: waits for the window to slide
    # both waits happened in virtual time (the test returns at once)
    assert slept[0] >= 60 and sum(slept) >= 60 + 59


def _big_page(n: int) -> bytes:
    rows = [{"Id": str(i), "SyncToken": "0", "DisplayName": f"Customer {i:05d}", "Notes": "x" * 80}
            for i in range(1, n + 1)]
    return json.dumps({"QueryResponse": {"Customer": rows, "startPosition": 1, "maxResults": n},
                       "time": "2026-03-01T04:00:00.000-08:00"}).encode()


def test_large_query_answer_is_handed_over_undecoded_with_its_server_time(h: Harness) -> None:
    body = _big_page(1000)
    mock(h).post(f"{API}/query", body=body, content_type="application/json")
    page = h.client.query("SELECT * FROM Customer ORDERBY Id STARTPOSITION 1 MAXRESULTS 1000")
    assert page.body == body and page.key == "Customer"
    assert page.server_time == datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    document, path = page.json_array()
    assert json.loads(document)["QueryResponse"]["Customer"][999]["Id"] == "1000"
    assert path == ("QueryResponse", "Customer")
    assert len(page.rows) == 1000 and page.rows[0]["DisplayName"] == "Customer 00001"


def test_large_answer_not_shaped_like_a_page_is_decoded_and_its_fault_raised(h: Harness) -> None:
    fault = {"Fault": {"Error": [{"Message": "Invalid query", "Detail": "x" * 70_000, "code": "4000"}],
                       "type": "ValidationFault"}, "time": "2026-03-01T04:00:00.000-08:00"}
    mock(h).post(f"{API}/query", body=json.dumps(fault), content_type="application/json")
    with pytest.raises(ValidationError):
        h.client.query("SELECT * FROM Customer")


def test_large_page_cut_short_is_retried_not_handed_over(h: Harness) -> None:
    body = _big_page(1000)
    mock(h).post(f"{API}/query", body=body[: len(body) - 40], content_type="application/json")
    mock(h).post(f"{API}/query", body=body, content_type="application/json")
    page = h.client.query("SELECT * FROM Customer ORDERBY Id STARTPOSITION 1 MAXRESULTS 1000")
    assert len(page.rows) == 1000 and h.client.stats.retries == 1
