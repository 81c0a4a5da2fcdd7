"""Settings: precedence flag > env > file > default, validation messages, secrets handling."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import pytest

from qbsync.errors import ConfigError
from qbsync.settings import SECRET_SETTINGS, SPECS, load_settings

ROOT = Path(__file__).resolve().parents[1]


def _write(path: Path, text: str, mode: int = 0o644) -> Path:
    path.write_text(text, encoding="utf-8")
    os.chmod(path, mode)
    return path


@pytest.fixture(autouse=True)
def _isolated_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # platformdirs reads the real environment: keep the user's own config out of these tests
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    return _write(tmp_path / "qbsync.toml", """
[qbo]
environment = "sandbox"
client_id = "from-file"
minorversion = 76
[limits]
requests_per_minute = 300
max_concurrent = 4
""")


def test_defaults_without_any_source(tmp_path: Path) -> None:
    s = load_settings(env={})  # the default config file may be absent
    assert s.environment == "production"
    assert s.minorversion == 75
    assert s.limits.requests_per_minute == 500 and s.limits.max_concurrent == 10
    assert s.cache_url.startswith("sqlite:///") and s.cache_url.endswith("cache.sqlite3")
    assert s.endpoints.api_url_v3 == "https://quickbooks.api.intuit.com/v3"


def test_precedence_flag_over_env_over_file_over_default(cfg: Path) -> None:
    s = load_settings(config_path=cfg, env={})
    assert (s.environment, s.client_id, s.minorversion) == ("sandbox", "from-file", 76)
    assert s.limits.requests_per_minute == 300 and s.limits.max_concurrent == 4
    assert s.limits.requests_per_second == 10  # untouched default

    s = load_settings(config_path=cfg, env={"QBSYNC_CLIENT_ID": "from-env", "QBSYNC_MAX_CONCURRENT": "6"})
    assert s.client_id == "from-env" and s.limits.max_concurrent == 6
    assert s.sources["client_id"] == "QBSYNC_CLIENT_ID"

    s = load_settings({"client_id": "from-flag", "max_concurrent": None}, config_path=cfg,
                      env={"QBSYNC_CLIENT_ID": "from-env", "QBSYNC_MAX_CONCURRENT": "6"})
    assert s.client_id == "from-flag"
    assert s.limits.max_concurrent == 6  # a None flag means "not given"


def test_config_file_from_env_variable(cfg: Path) -> None:
    s = load_settings(env={"QBSYNC_CONFIG": str(cfg)})
    assert s.client_id == "from-file" and s.config_path == cfg


def test_missing_explicit_config_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(config_path=tmp_path / "nope.toml", env={})


def test_local_sandbox_url_derives_endpoints(tmp_path: Path) -> None:
    s = load_settings({"environment": "http://127.0.0.1:8800/"}, env={})
    assert s.endpoints.kind == "local"
    assert s.endpoints.discovery_url == "http://127.0.0.1:8800/.well-known/openid_configuration"
    assert s.endpoints.api_url_v3 == "http://127.0.0.1:8800/v3"
    assert s.endpoints.insecure_loopback


@pytest.mark.parametrize(("key", "value", "needle"), [
    ("minorversion", "74", "below 75"),
    ("minorversion", "abc", "minorversion"),
    ("requests_per_minute", "0", "at least 1"),
    ("environment", "staging", "production"),
    ("environment", "http://qbo.example.com", "loopback"),
    ("cache_url", "cache.sqlite3", "SQLAlchemy URL"),
    ("redirect_uri", "localhost:8725", "absolute"),
])
def test_invalid_values_name_the_setting_and_the_fix(tmp_path: Path, key: str, value: str,
                                                     needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(env={f"QBSYNC_{key.upper()}": value})
    assert info.value.setting == key
    assert needle in str(info.value)
    assert info.value.hint and f"QBSYNC_{key.upper()}" in info.value.hint


def test_unknown_key_in_file_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path / "c.toml", "[limits]\nrequests_per_minut = 10\n")
    with pytest.raises(ConfigError, match="unknown setting"):
        load_settings(config_path=path, env={})


def test_key_in_the_wrong_section_says_where_it_belongs(tmp_path: Path) -> None:
    path = _write(tmp_path / "c.toml", "[qbo]\nmax_concurrent = 3\n")
    with pytest.raises(ConfigError) as info:
        load_settings(config_path=path, env={})
    assert "[limits]" in str(info.value)


def test_secret_in_world_readable_config_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path / "c.toml", '[qbo]\nclient_secret = "s3cret-value"\n', 0o644)
    with pytest.raises(ConfigError) as info:
        load_settings(config_path=path, env={})
    assert info.value.setting == "client_secret"
    assert "chmod 600" in str(info.value)
    assert "s3cret-value" not in str(info.value)
    os.chmod(path, 0o600)
    assert load_settings(config_path=path, env={}).client_secret == "s3cret-value"


def test_secret_from_0600_secrets_file_only(tmp_path: Path) -> None:
    secrets = _write(tmp_path / "secrets.toml", 'client_secret = "abc"\nclient_id = "cid"\n', 0o600)
    env = {"QBSYNC_SECRETS_FILE": str(secrets)}
    s = load_settings(env=env)
    assert s.require_credentials() == ("cid", "abc")
    os.chmod(secrets, 0o640)
    with pytest.raises(ConfigError, match="chmod 600"):
        load_settings(env=env)


def test_env_secret_wins_and_never_shows_in_repr(tmp_path: Path) -> None:
    s = load_settings(env={"QBSYNC_CLIENT_SECRET": "top-secret-1"})
    assert s.client_secret == "top-secret-1"
    assert "top-secret-1" not in repr(s)


def test_missing_credentials_say_how_to_provide_them(tmp_path: Path) -> None:
    s = load_settings(env={})
    with pytest.raises(ConfigError, match="client_id"):
        s.require_credentials()


def test_example_config_documents_every_setting_and_loads(tmp_path: Path) -> None:
    example = ROOT / "config" / "qbsync.example.toml"
    text = example.read_text(encoding="utf-8")
    doc = tomllib.loads(text)
    for name, spec in SPECS.items():
        assert f"{name} =" in text, f"{name} is not documented in {example.name}"
        if name not in SECRET_SETTINGS:
            assert name in doc.get(spec.section, {}) or f"# {name} =" in text
    assert not any(s in doc.get(SPECS[s].section, {}) for s in SECRET_SETTINGS), "the example holds a secret"
    copy = _write(tmp_path / "qbsync.toml", text)
    load_settings(config_path=copy, env={})
