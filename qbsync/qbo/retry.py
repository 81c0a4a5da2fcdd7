"""The retry policy at the HTTP edge (tenacity): what is retried, how long to wait, when to give up.

Only errors whose class says ``retriable`` (ThrottledError, ServerError) are retried; every other
4xx fails at once. A 429 waits ``Retry-After`` or Intuit's 60 s; the rest back off exponentially
with full jitter, capped.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable

from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from qbsync.errors import ApiError, ThrottledError
from qbsync.settings import RetryPolicy

log = logging.getLogger(__name__)

Sleeper = Callable[[float], None]


def is_retriable(exc: BaseException) -> bool:
    return isinstance(exc, ApiError) and exc.retriable


def backoff_seconds(policy: RetryPolicy, attempt: int, exc: BaseException | None,
                    rand: Callable[[], float] = random.random) -> float:
    """Wait before retry number ``attempt`` (1 = first retry)."""
    if isinstance(exc, ThrottledError):
        wait = exc.retry_after if exc.retry_after is not None else policy.throttle_wait_seconds
        # a small jitter so ten waiting threads do not return in the same millisecond
        return wait + rand() * min(1.0, policy.backoff_initial_seconds)
    ceiling = min(policy.backoff_max_seconds, policy.backoff_initial_seconds * (2 ** (attempt - 1)))
    return rand() * ceiling


def retrying(policy: RetryPolicy, *, sleep: Sleeper = time.sleep,
             on_retry: Callable[[BaseException, float], None] | None = None,
             rand: Callable[[], float] = random.random) -> Retrying:
    """A tenacity ``Retrying`` for one logical request; raises the last error itself when exhausted."""

    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        return backoff_seconds(policy, state.attempt_number, exc, rand)

    def before_sleep(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        delay = state.next_action.sleep if state.next_action else 0.0
        if exc is not None:
            log.info("retrying after %s (attempt %d of %d, waiting %.1fs)", type(exc).__name__,
                     state.attempt_number, policy.max_attempts, delay)
            if on_retry is not None:
                on_retry(exc, delay)

    return Retrying(
        retry=retry_if_exception(is_retriable),
        stop=stop_after_attempt(policy.max_attempts),
        wait=wait,
        sleep=sleep,
        before_sleep=before_sleep,
        reraise=True,
    )
