"""The one exception tree of qbsync; every layer raises these and only the CLI turns them into exits.

    QbsyncError                      base; ``exit_code`` says how the CLI ends, ``hint`` says the fix
    ├── ConfigError                  a setting is missing or invalid (names the setting)
    ├── CacheError                   the local cache cannot be opened, migrated or restored
    │   └── SchemaTooNewError        the cache/backup was written by a newer qbsync
    ├── LockedError                  another run holds the lock for this realm (distinct exit code)
    ├── AuthError                    not connected, or the connection can no longer be used
    │   └── ReauthorizeError         refresh token rejected (invalid_grant): run `qbsync auth login`
    ├── ApiError                     QuickBooks answered with a fault; ``retriable`` classifies it once
    │   ├── ThrottledError           429 / code 3001 (retriable, honours ``retry_after``)
    │   ├── ServerError              5xx, dropped connections, timeouts (retriable)
    │   ├── StaleObjectError         code 5010: the SyncToken we sent is no longer current
    │   ├── DuplicateNameError       code 6240: DisplayName already used
    │   ├── NotFoundError            code 610 / 404
    │   ├── BalanceError             deactivating a record with an open balance
    │   └── ValidationError          any other 4xx fault (400 ValidationFault, 2xxx, 6xxx)
    ├── InputError                   bad user input on the command line or in a file
    ├── ReconcileError               qbsync's figures differ from QuickBooks' own report (exit 7)
    └── WritebackError               a write-back run did not complete: stopped early, or a change refused

Messages never contain secrets: tokens and client secrets are never passed into them.
"""

from __future__ import annotations

from dataclasses import dataclass, field


class QbsyncError(Exception):
    """Base of every error qbsync raises on purpose."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  fix: {self.hint}"


class ConfigError(QbsyncError):
    """A setting is missing or invalid."""

    exit_code = 2

    def __init__(self, setting: str, problem: str, *, hint: str | None = None) -> None:
        super().__init__(f"setting '{setting}': {problem}", hint=hint)
        self.setting = setting


class InputError(QbsyncError):
    """Bad input from the user (a flag, a file, a date)."""

    exit_code = 2


class ReconcileError(QbsyncError):
    """A figure of qbsync's differs from QuickBooks' own report for the same thing."""

    exit_code = 7


class CacheError(QbsyncError):
    """The local cache cannot be opened, migrated, backed up or restored."""

    exit_code = 3


class SchemaTooNewError(CacheError):
    """The cache or backup comes from a newer version of qbsync."""


class LockedError(QbsyncError):
    """Another process holds the lock (a sync already running for this realm)."""

    exit_code = 75  # EX_TEMPFAIL: cron wrappers treat it as "try later"


class AuthError(QbsyncError):
    """Not connected to QuickBooks, or the stored connection is unusable."""

    exit_code = 4


class ReauthorizeError(AuthError):
    """The refresh token was rejected; the user must connect again."""

    def __init__(self, message: str = "QuickBooks no longer accepts the stored connection") -> None:
        super().__init__(message, hint="run `qbsync auth login` again")


@dataclass
class FaultDetail:
    """One error item of a QuickBooks fault body."""

    code: str
    message: str
    detail: str = ""
    element: str = ""


class ApiError(QbsyncError):
    """QuickBooks answered with a fault (or not at all)."""

    exit_code = 5
    retriable = False

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        errors: list[FaultDetail] | None = None,
        intuit_tid: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.status = status
        self.errors: list[FaultDetail] = errors or []
        self.intuit_tid = intuit_tid

    @property
    def code(self) -> str | None:
        return self.errors[0].code if self.errors else None


class ThrottledError(ApiError):
    """HTTP 429 ThrottleExceeded; wait ``retry_after`` seconds."""

    retriable = True

    def __init__(self, message: str = "QuickBooks throttled the request", *,
                 retry_after: float | None = None, **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.retry_after = retry_after


class ServerError(ApiError):
    """5xx answer, dropped connection, truncated body or timeout."""

    retriable = True


class StaleObjectError(ApiError):
    """Code 5010: someone changed the object since we read it."""


class DuplicateNameError(ApiError):
    """Code 6240: the DisplayName is already used by another name-list record."""


class NotFoundError(ApiError):
    """Code 610 or HTTP 404."""


class BalanceError(ApiError):
    """The record has an open balance and cannot be made inactive."""


class ValidationError(ApiError):
    """Any other client-side fault; never retried."""


class WritebackError(QbsyncError):
    """A write-back run did not complete: it stopped early (run it again) or QuickBooks refused a change.

    A plan or run that does not exist, or belongs to another company, is an InputError (exit 2):
    running the same command again would not help, and a cron wrapper must not retry it forever.
    """

    exit_code = 6


@dataclass
class ErrorSummary:
    """A serialisable view of an error for --json output."""

    kind: str
    message: str
    hint: str | None = None
    extra: dict[str, object] = field(default_factory=dict)

    @classmethod
    def of(cls, exc: QbsyncError) -> ErrorSummary:
        return cls(kind=type(exc).__name__, message=exc.message, hint=exc.hint)
