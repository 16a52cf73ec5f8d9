"""SIGTERM and SIGHUP handled like Ctrl-C, for every command.

CI runners, `timeout` and process supervisors stop a program with SIGTERM (a closed terminal
sends SIGHUP). Python's default is to die on the spot, leaving containers running and uploads
half done. `install()` (called by the console-script entry point) makes both signals raise
`Terminated`, a KeyboardInterrupt, so every `except KeyboardInterrupt` cleanup path written for
Ctrl-C runs for them too; the entry point then exits with 128 + the signal number (143 for
SIGTERM, 129 for SIGHUP). Repeats of the signal during that cleanup are ignored, so a
supervisor that sends it twice does not cut the cleanup short.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType

from easy_sm.errors import Terminated

HANDLED = (signal.SIGTERM, signal.SIGHUP) if hasattr(signal, "SIGHUP") else (signal.SIGTERM,)

# The first handled signal this process received (None: none yet).
received: int | None = None


def _handler(signum: int, frame: FrameType | None) -> None:
    global received
    if received is not None:
        return  # already stopping: let the cleanup finish
    received = signum
    raise Terminated(signum)


def install() -> None:
    """Make SIGTERM/SIGHUP raise `Terminated` in the main thread (no-op elsewhere)."""
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in HANDLED:
        signal.signal(signum, _handler)


def exit_code(exc: BaseException | None = None) -> int:
    """The exit code for an interrupt: 128 + the signal's number, 130 for Ctrl-C."""
    signum = exc.signum if isinstance(exc, Terminated) else received
    return 128 + signum if signum is not None else 130


def name(exc: BaseException | None = None) -> str | None:
    """`SIGTERM` / `SIGHUP` when a handled signal caused the interrupt, else None."""
    signum = exc.signum if isinstance(exc, Terminated) else received
    return signal.Signals(signum).name if signum is not None else None
