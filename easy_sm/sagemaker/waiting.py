"""Polling SageMaker until a job or an endpoint reaches a terminal state.

The poll interval is EASY_SM_POLL_SECONDS (default 10 s), which tests shrink. Status
transitions go to stderr; Ctrl-C while waiting says the job keeps running and how to stop it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from easy_sm import console
from easy_sm.errors import AwsError, InterruptedByUser, JobFailedError

DEFAULT_POLL_SECONDS = 10.0


def poll_seconds() -> float:
    """Seconds between two status checks (EASY_SM_POLL_SECONDS, default 10)."""
    raw = os.environ.get("EASY_SM_POLL_SECONDS", "")
    try:
        value = float(raw) if raw else DEFAULT_POLL_SECONDS
    except ValueError:
        value = DEFAULT_POLL_SECONDS
    return max(value, 0.0)


def sleep(seconds: float) -> None:
    """The one sleep of the waiting loops (a seam for tests)."""
    time.sleep(seconds)


def wait_until(
    describe: Callable[[], dict[str, Any]],
    status_of: Callable[[dict[str, Any]], str],
    done: Callable[[dict[str, Any]], bool],
    *,
    what: str,
    timeout: float | None = None,
    on_poll: Callable[[dict[str, Any]], object] | None = None,
    interrupted_hint: str | None = None,
    look_hint: str | None = None,
) -> dict[str, Any]:
    """Call `describe` until `done(answer)`; return that answer.

    Each new status is printed once to stderr. `on_poll` runs after each describe (log
    streaming). A `timeout` (seconds) raises JobFailedError saying the resource may still
    finish. Losing the connection to AWS says the resource may still be running and how to
    look at it (`look_hint`)."""
    started = time.monotonic()
    last = ""
    interval = poll_seconds()
    try:
        while True:
            described = describe()
            status = status_of(described)
            if status != last:
                console.info(f"{what}: {status}")
                last = status
            if on_poll is not None:
                on_poll(described)
            if done(described):
                return described
            if timeout is not None and time.monotonic() - started >= timeout:
                raise JobFailedError(
                    f"timed out after {timeout:g} s waiting for {what} (still {status})",
                    "it may still finish: check it again later, or give a longer --timeout",
                )
            sleep(interval)
    except AwsError as exc:
        from easy_sm.sagemaker.session import is_connection_error

        if not is_connection_error(exc):
            raise
        raise AwsError(
            f"lost the connection to AWS while waiting for {what}, which may still be running "
            f"({exc.message})",
            look_hint or "check your network, then look at it in the SageMaker console",
        ) from exc
    except KeyboardInterrupt:
        raise InterruptedByUser(
            f"stopped waiting for {what}; it keeps running on SageMaker",
            interrupted_hint,
        ) from None
