"""Messages for people, on stderr. stdout is reserved for pipeable results (see STYLE.md).

Kept free of heavy imports: rich is loaded only by the code that draws progress bars.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass


@dataclass
class Verbosity:
    quiet: bool = False
    verbose: bool = False
    debug: bool = os.environ.get("EASY_SM_DEBUG", "") not in ("", "0", "false")


verbosity = Verbosity()


def _write(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def info(message: str) -> None:
    """Progress a user wants to see by default (hidden by --quiet)."""
    if not verbosity.quiet:
        _write(message)


def detail(message: str) -> None:
    """Extra detail shown only with --verbose."""
    if verbosity.verbose and not verbosity.quiet:
        _write(message)


def warn(message: str) -> None:
    """A warning; always shown."""
    _write(f"warning: {message}")


def error(message: str) -> None:
    """An error line; always shown."""
    _write(f"error: {message}")


def result(line: str) -> None:
    """A pipeable result on stdout."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def stderr_is_terminal() -> bool:
    return sys.stderr.isatty()


def show_progress() -> bool:
    """Draw progress bars and spinners only for a person watching a terminal."""
    return stderr_is_terminal() and not verbosity.quiet
