"""Settings: load and validate them once (CLI flag > QBSYNC_* env > config file > default), frozen after.

Every setting has one flat name (``requests_per_minute``); the environment variable is
``QBSYNC_<NAME>`` and the config file key is ``<section>.<name>`` (``[limits] requests_per_minute``).
Secrets (``client_secret``) come from the environment or from a file only its owner can read.
"""

from __future__ import annotations

import ipaddress
import os
import stat
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import platformdirs

from qbsync.errors import ConfigError

APP_NAME = "qbsync"
MIN_MINORVERSION = 75

INTUIT_DISCOVERY = {
    "production": "https://developer.intuit.com/.well-known/openid_configuration/",
    "sandbox": "https://developer.intuit.com/.well-known/openid_sandbox_configuration/",
}
INTUIT_API = {
    "production": "https://quickbooks.api.intuit.com/v3",
    "sandbox": "https://sandbox-quickbooks.api.intuit.com/v3",
}
# Paths a qbsync sandbox serves under its base URL (kept here so one place changes if it moves).
LOCAL_DISCOVERY_PATH = "/.well-known/openid_configuration"
LOCAL_API_PATH = "/v3"

SECRET_SETTINGS = frozenset({"client_secret", "token_key", "webhook_verifier"})


def default_config_path() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME)) / "qbsync.toml"


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME))


def default_cache_url() -> str:
    return f"sqlite:///{default_data_dir() / 'cache.sqlite3'}"


def is_loopback_host(host: str | None) -> bool:
    """True for localhost / 127.0.0.0/8 / ::1: the only hosts allowed over plain http."""
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Endpoints:
    """Where OAuth discovery and the data API live for the chosen environment."""

    kind: str  # "production" | "sandbox" | "local"
    discovery_url: str
    api_url_v3: str

    @property
    def insecure_loopback(self) -> bool:
        """Plain http to a loopback host (a local qbsync sandbox): OAuth libraries must be told."""
        parts = urlsplit(self.api_url_v3)
        return parts.scheme == "http" and is_loopback_host(parts.hostname)


@dataclass(frozen=True)
class RateLimits:
    """Per-realm request budget (Intuit: 500/min, 10/s, 10 concurrent)."""

    requests_per_minute: int = 500
    requests_per_second: int = 10
    max_concurrent: int = 10


@dataclass(frozen=True)
class RetryPolicy:
    """How transient failures (429, 5xx, dropped connections, timeouts) are retried."""

    max_attempts: int = 6
    backoff_initial_seconds: float = 1.0
    backoff_max_seconds: float = 60.0
    throttle_wait_seconds: float = 60.0  # Intuit's advice after a 429 without Retry-After
    timeout_seconds: float = 120.0


@dataclass(frozen=True)
class Settings:
    """Everything qbsync needs to know before it starts; build with ``load_settings``."""

    environment: str = "production"
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    redirect_uri: str = "http://localhost:8725/callback"
    minorversion: int = 75
    realm: str | None = None
    timezone: str | None = None  # IANA name of the company's time zone; None: from QuickBooks, else local
    cache_url: str = field(default_factory=lambda: default_cache_url())
    token_dir: Path = field(default_factory=lambda: default_data_dir() / "tokens")
    refresh_skew_seconds: int = 300
    token_store: str = "file"  # "file" (one machine, token_dir) | "cache" (the PostgreSQL cache, for a fleet)
    token_key: str | None = field(default=None, repr=False)  # Fernet key(s) of the cache token store
    webhook_verifier: str | None = field(default=None, repr=False)  # the app's webhook verifier token
    limits: RateLimits = field(default_factory=RateLimits)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    config_path: Path | None = None
    secrets_file: Path | None = None
    sources: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)

    @property
    def endpoints(self) -> Endpoints:
        return endpoints_for(self.environment)

    def require_credentials(self) -> tuple[str, str]:
        """The app's client id and secret, or a ConfigError saying where to put them."""
        if not self.client_id:
            raise ConfigError("client_id", "not set",
                              hint="set QBSYNC_CLIENT_ID or `client_id` under [qbo] in the config file")
        if not self.client_secret:
            raise ConfigError("client_secret", "not set",
                              hint="set QBSYNC_CLIENT_SECRET, or put `client_secret = \"...\"` in the "
                                   "secrets file (mode 0600) named by `secrets_file`")
        return self.client_id, self.client_secret


def endpoints_for(environment: str) -> Endpoints:
    if environment in INTUIT_DISCOVERY:
        return Endpoints(environment, INTUIT_DISCOVERY[environment], INTUIT_API[environment])
    base = environment.rstrip("/")
    return Endpoints("local", base + LOCAL_DISCOVERY_PATH, base + LOCAL_API_PATH)


# --- parsing -----------------------------------------------------------------------------------------


def _int(lo: int | None = None) -> Callable[[object], int]:
    def parse(v: object) -> int:
        if isinstance(v, bool):
            raise ValueError("expected an integer")
        n = int(str(v).strip()) if not isinstance(v, int) else v
        if lo is not None and n < lo:
            raise ValueError(f"must be at least {lo}")
        return n
    return parse


def _float(lo: float = 0.0) -> Callable[[object], float]:
    def parse(v: object) -> float:
        if isinstance(v, bool):
            raise ValueError("expected a number")
        x = float(str(v).strip()) if not isinstance(v, int | float) else float(v)
        if x < lo:
            raise ValueError(f"must be at least {lo}")
        return x
    return parse


def _str(v: object) -> str:
    if not isinstance(v, str) or not v.strip():
        raise ValueError("expected a non-empty string")
    return v.strip()


def _path(v: object) -> Path:
    return Path(os.path.expanduser(_str(v)))


def _environment(v: object) -> str:
    s = _str(v)
    if s.lower() in INTUIT_DISCOVERY:
        return s.lower()
    parts = urlsplit(s)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("expected 'production', 'sandbox' or the http(s) URL of a qbsync sandbox")
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise ValueError("plain http is only allowed to a loopback host (127.0.0.1, localhost)")
    return s.rstrip("/")


def _redirect_uri(v: object) -> str:
    s = _str(v)
    parts = urlsplit(s)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("expected an absolute http(s) URL such as http://localhost:8725/callback")
    return s


def _minorversion(v: object) -> int:
    n = _int()(v)
    if n < MIN_MINORVERSION:
        raise ValueError(f"Intuit ignores minor versions below {MIN_MINORVERSION} (got {n})")
    return n


def _token_store(v: object) -> str:
    s = _str(v).lower()
    if s not in ("file", "cache"):
        raise ValueError("expected 'file' (one machine) or 'cache' (the PostgreSQL cache, for a fleet)")
    return s


def _timezone(v: object) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    s = _str(v)
    try:
        ZoneInfo(s)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("expected an IANA time zone name such as Australia/Sydney or America/New_York"
                         ) from None
    return s


def _cache_url(v: object) -> str:
    s = _str(v)
    if "://" not in s:
        raise ValueError("expected a SQLAlchemy URL such as sqlite:////path/cache.sqlite3 "
                         "or postgresql+psycopg://user@host/db")
    return s


@dataclass(frozen=True)
class _Spec:
    name: str
    section: str
    parse: Callable[[object], Any]
    example: str


_SPECS: tuple[_Spec, ...] = (
    _Spec("environment", "qbo", _environment, "production | sandbox | http://127.0.0.1:8800"),
    _Spec("client_id", "qbo", _str, "ABc123..."),
    _Spec("client_secret", "qbo", _str, "(environment or secrets file only)"),
    _Spec("redirect_uri", "qbo", _redirect_uri, "http://localhost:8725/callback"),
    _Spec("minorversion", "qbo", _minorversion, "75"),
    _Spec("realm", "qbo", _str, "9130349253365616"),
    _Spec("timezone", "qbo", _timezone, "Australia/Sydney"),
    _Spec("cache_url", "cache", _cache_url, "sqlite:////home/me/.local/share/qbsync/cache.sqlite3"),
    _Spec("token_dir", "auth", _path, "~/.local/share/qbsync/tokens"),
    _Spec("secrets_file", "auth", _path, "~/.config/qbsync/secrets.toml"),
    _Spec("refresh_skew_seconds", "auth", _int(0), "300"),
    _Spec("token_store", "auth", _token_store, "file | cache"),
    _Spec("token_key", "auth", _str, "(environment or secrets file only)"),
    _Spec("webhook_verifier", "webhooks", _str, "(environment or secrets file only)"),
    _Spec("requests_per_minute", "limits", _int(1), "500"),
    _Spec("requests_per_second", "limits", _int(1), "10"),
    _Spec("max_concurrent", "limits", _int(1), "10"),
    _Spec("max_attempts", "retry", _int(1), "6"),
    _Spec("backoff_initial_seconds", "retry", _float(0.0), "1.0"),
    _Spec("backoff_max_seconds", "retry", _float(0.0), "60.0"),
    _Spec("throttle_wait_seconds", "retry", _float(0.0), "60.0"),
    _Spec("timeout_seconds", "retry", _float(0.001), "120.0"),
)
SPECS: Mapping[str, _Spec] = {s.name: s for s in _SPECS}


def env_var(name: str) -> str:
    return f"QBSYNC_{name.upper()}"


def _group_or_world_readable(path: Path) -> bool:
    return bool(path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO))


def _read_toml(path: Path, setting: str) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(setting, f"{path} is not valid TOML ({exc})",
                          hint=f"fix the syntax of {path}") from None
    except OSError as exc:
        raise ConfigError(setting, f"cannot read {path} ({exc.strerror})",
                          hint=f"check that {path} exists and is readable") from None


def _file_values(doc: Mapping[str, Any], path: Path) -> dict[str, object]:
    """Flatten ``[section] name = value`` into ``{name: value}``, rejecting unknown keys."""
    out: dict[str, object] = {}
    for key, value in doc.items():
        if key == "rules":
            continue  # rule policies ([rules.inactive], ...): read and validated by qbsync.rules.policy
        if isinstance(value, dict):
            for sub, v in value.items():
                spec = SPECS.get(sub)
                if spec is None or spec.section != key:
                    where = f"{key}.{sub}"
                    hint = (f"move it under [{spec.section}]" if spec else
                            "remove it; qbsync.example.toml lists every setting")
                    raise ConfigError(where, f"unknown setting in {path}", hint=hint)
                out[sub] = v
        elif key in SPECS:
            out[key] = value  # a flat key at the top level is accepted too
        else:
            raise ConfigError(key, f"unknown setting in {path}",
                              hint="remove it; qbsync.example.toml lists every setting")
    return out


def load_settings(
    overrides: Mapping[str, object] | None = None,
    env: Mapping[str, str] | None = None,
    config_path: Path | None = None,
) -> Settings:
    """Build Settings from flags (``overrides``), ``QBSYNC_*`` variables, the config file and defaults.

    ``overrides`` uses the flat setting names; ``None`` values are ignored (an unset flag).
    The config file is ``config_path``, else ``$QBSYNC_CONFIG``, else the user config dir; an
    explicitly named file must exist, the default one may be absent.
    """
    env = os.environ if env is None else env
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    for key in overrides:
        if key not in SPECS:
            raise ConfigError(key, "unknown setting", hint="see config/qbsync.example.toml")

    explicit = config_path or (Path(env["QBSYNC_CONFIG"]).expanduser() if env.get("QBSYNC_CONFIG") else None)
    path = explicit or default_config_path()
    file_vals: dict[str, object] = {}
    if path.exists():
        file_vals = _file_values(_read_toml(path, "config"), path)
    elif explicit is not None:
        raise ConfigError("config", f"config file {path} does not exist",
                          hint="create it from config/qbsync.example.toml or fix --config / QBSYNC_CONFIG")
    for secret in sorted(SECRET_SETTINGS & set(file_vals)):
        if _group_or_world_readable(path):
            raise ConfigError(secret, f"found in {path}, which other users can read",
                              hint=f"run `chmod 600 {path}`, or move the secret to {env_var(secret)} "
                                   "or the secrets file")

    values: dict[str, object] = {}
    sources: dict[str, str] = {}
    for spec in _SPECS:
        raw: object | None = None
        source = ""
        if spec.name in overrides:
            raw, source = overrides[spec.name], "command line"
        elif env.get(env_var(spec.name)):
            raw, source = env[env_var(spec.name)], env_var(spec.name)
        elif spec.name in file_vals:
            raw, source = file_vals[spec.name], f"{path} [{spec.section}]"
        if raw is None:
            continue
        try:
            values[spec.name] = spec.parse(raw)
        except (ValueError, TypeError) as exc:
            shown = "***" if spec.name in SECRET_SETTINGS else repr(raw)
            raise ConfigError(spec.name, f"{exc} (got {shown} from {source})",
                              hint=f"set it to a value like {spec.example} "
                                   f"(flag, {env_var(spec.name)}, or [{spec.section}] in the config file)"
                              ) from None
        sources[spec.name] = source

    secrets_file = values.get("secrets_file") or (default_config_path().parent / "secrets.toml")
    assert isinstance(secrets_file, Path)
    if not set(values) >= SECRET_SETTINGS and secrets_file.exists():
        found = _read_secrets(secrets_file, values)
        values.update(found)
        sources.update({k: str(secrets_file) for k in found})

    return _build(values, sources, path if path.exists() else None, secrets_file)


def _read_secrets(path: Path, already: Mapping[str, object]) -> dict[str, object]:
    if _group_or_world_readable(path):
        raise ConfigError("secrets_file", f"{path} can be read by other users",
                          hint=f"run `chmod 600 {path}`")
    doc = _read_toml(path, "secrets_file")
    out: dict[str, object] = {}
    for key in ("client_secret", "client_id", "token_key", "webhook_verifier"):
        if key in doc and key not in already:
            try:
                out[key] = _str(doc[key])
            except ValueError:
                raise ConfigError(key, f"empty or not a string in {path}",
                                  hint=f"write `{key} = \"...\"` in {path}") from None
    return out


def _build(values: Mapping[str, Any], sources: Mapping[str, str], config_path: Path | None,
           secrets_file: Path) -> Settings:
    limits = RateLimits(**{k: values[k] for k in ("requests_per_minute", "requests_per_second",
                                                  "max_concurrent") if k in values})
    if limits.requests_per_second > limits.requests_per_minute:
        raise ConfigError("requests_per_second", "is larger than requests_per_minute",
                          hint="lower requests_per_second or raise requests_per_minute")
    retry = RetryPolicy(**{k: values[k] for k in ("max_attempts", "backoff_initial_seconds",
                                                  "backoff_max_seconds", "throttle_wait_seconds",
                                                  "timeout_seconds") if k in values})
    if retry.backoff_initial_seconds > retry.backoff_max_seconds:
        raise ConfigError("backoff_initial_seconds", "is larger than backoff_max_seconds",
                          hint="make backoff_initial_seconds <= backoff_max_seconds")
    plain = {k: values[k] for k in ("environment", "client_id", "client_secret", "redirect_uri",
                                    "minorversion", "realm", "timezone", "cache_url", "token_dir",
                                    "refresh_skew_seconds", "token_store", "token_key", "webhook_verifier")
             if k in values}
    return Settings(
        **plain,
        limits=limits,
        retry=retry,
        config_path=config_path,
        secrets_file=secrets_file,
        sources=dict(sources),
    )
