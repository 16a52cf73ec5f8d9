"""The one exception hierarchy of easy_sm.

Every error a user can cause or meet is an `EasySmError`: a one-line message saying what went
wrong, a hint saying what to do, and the documented exit code of its class. The entry point
(`easy_sm.__main__`) prints `error: <message> — <hint>` on stderr and exits with that code.

Exit codes (also in README.md):

====  =====================================================================
 0    success
 1    unexpected error (a bug: rerun with --debug and report it)
 2    usage error: a bad flag, option value or argument
 3    configuration error: the `{app}.json` file or the project layout
 4    AWS error: credentials, permissions, a missing resource, a rejected request
 5    Docker error: engine missing or unreachable, a failed build or push
 6    job failed: a SageMaker job or a local container finished unsuccessfully
      (local commands exit with the container's own code instead, when it has one)
130   interrupted (Ctrl-C)
143   terminated by SIGTERM (129: by SIGHUP); what this run started has been stopped
====  =====================================================================
"""

from __future__ import annotations


class EasySmError(Exception):
    """Root of all errors easy_sm reports to the user."""

    exit_code: int = 1

    def __init__(self, message: str, hint: str | None = None, *, exit_code: int | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        if exit_code is not None:
            self.exit_code = exit_code

    def __str__(self) -> str:
        return f"{self.message} — {self.hint}" if self.hint else self.message


class UsageError(EasySmError):
    """A flag, option value or argument the user gave is wrong."""

    exit_code = 2


class ConfigError(EasySmError):
    """The app's config file or the project layout is missing or invalid."""

    exit_code = 3


class AwsError(EasySmError):
    """AWS refused or failed a request (credentials, permissions, missing resources...)."""

    exit_code = 4


class DockerError(EasySmError):
    """The Docker engine is unavailable, or a build, run or push failed."""

    exit_code = 5


class JobFailedError(EasySmError):
    """A SageMaker job or a local container ran and finished unsuccessfully."""

    exit_code = 6


class InterruptedByUser(EasySmError):
    """The user pressed Ctrl-C; whatever was running has been stopped."""

    exit_code = 130


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP arrived. A KeyboardInterrupt, so every cleanup path written for
    Ctrl-C runs for them too; the entry point then exits with 128 + the signal number."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum
