"""Shell completion of app names (the *.json configs here), endpoint names and job names
(from SageMaker). Used by the shared option declarations in commands/options.py.

A Tab press never waits long and never prints an error: a lookup that fails or takes more
than COMPLETION_SECONDS simply completes nothing. Light at import (it is loaded on every
start): boto3 is imported only when a name is actually being completed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

COMPLETION_SECONDS = 2.0


def app_names(directory: Path | None = None) -> list[str]:
    """The app names of the easy_sm configs in `directory` (default: the working dir)."""
    import json

    from easy_sm.commands.helpers import APP_NAME_RE
    from easy_sm.config.config import looks_like_config

    names = []
    for path in sorted((directory or Path.cwd()).glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError):
            continue
        if looks_like_config(data) and APP_NAME_RE.fullmatch(path.stem):
            names.append(path.stem)
    return sorted(names)


def complete_app_name(incomplete: str) -> list[str]:
    return [name for name in app_names() if name.startswith(incomplete)]


def _aws_names(ctx: Any, kind: str, incomplete: str) -> list[str]:
    """Names of `kind` from SageMaker with the app's AWS settings, or [] if that fails or
    takes longer than COMPLETION_SECONDS (the lookup thread is left to die with the process)."""
    import threading

    found: list[str] = []

    def look_up() -> None:
        try:
            from easy_sm.commands.helpers import load_project
            from easy_sm.sagemaker.completion import completion_client, completion_names

            params = getattr(ctx, "params", None) or {}
            config = load_project(params.get("app_name")).config
            sm = completion_client(config.aws_profile, config.aws_region)
            found.extend(completion_names(sm, kind, incomplete))
        except Exception:  # completion must stay silent, whatever goes wrong
            return

    worker = threading.Thread(target=look_up, daemon=True)
    worker.start()
    worker.join(COMPLETION_SECONDS)
    return list(found) if not worker.is_alive() else []


def complete_endpoint_name(ctx: Any, incomplete: str) -> list[str]:
    return _aws_names(ctx, "endpoint", incomplete)


def complete_training_job_name(ctx: Any, incomplete: str) -> list[str]:
    return _aws_names(ctx, "training-job", incomplete)


def complete_job_name(ctx: Any, incomplete: str) -> list[str]:
    return _aws_names(ctx, "job", incomplete)
