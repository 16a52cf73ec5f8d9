"""Hyperparameters as users give them and as SageMaker passes them: one parser for
`easy_sm train` and `easy_sm local train`, so both accept exactly the same input.

Accepted: `--hyperparameters KEY=VALUE` (repeatable; the value may contain '=' or be empty),
`--hyperparameters @params.json` and `--hyperparameters-file params.json` (a JSON object).
Later items override earlier ones; the file comes first. Every value becomes a string, as in
SageMaker's hyperparameters.json: strings as they are, anything else JSON-encoded.
"""

from __future__ import annotations

import json
from pathlib import Path

from easy_sm.errors import UsageError

MAX_KEY = 256
MAX_VALUE = 2500
MAX_COUNT = 100
EXAMPLE = 'write a JSON object, e.g. {"C": 0.5, "max_iter": 100}'


def stringify(value: object) -> str:
    """A hyperparameter as SageMaker passes it: strings as they are, the rest JSON-encoded."""
    return value if isinstance(value, str) else json.dumps(value)


def load_file(path: Path, option: str = "--hyperparameters-file") -> dict[str, str]:
    """A JSON object of hyperparameters, stringified; UsageError naming the problem."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{option} {path}: no such file", "check the path") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{option} {path}: cannot read it ({exc})", "check the file") from None
    except json.JSONDecodeError as exc:
        raise UsageError(
            f"{option} {path}: invalid JSON at line {exc.lineno}: {exc.msg}", EXAMPLE
        ) from None
    if not isinstance(data, dict):
        raise UsageError(
            f"{option} {path}: expected a JSON object, got {type(data).__name__}", EXAMPLE
        )
    return {str(key): stringify(value) for key, value in data.items()}


def parse(items: list[str] | None, file: Path | None = None) -> dict[str, str]:
    """Merge `--hyperparameters-file` and the `--hyperparameters` items; check SageMaker's
    limits (100 hyperparameters, keys of 256 and values of 2500 characters)."""
    parsed = load_file(file) if file is not None else {}
    for item in items or []:
        if item.startswith("@"):
            parsed.update(load_file(Path(item[1:]), "--hyperparameters @"))
            continue
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(
                f"--hyperparameters {item!r}: expected KEY=VALUE or @file.json",
                "e.g. --hyperparameters epochs=10",
            )
        parsed[key] = value
    if len(parsed) > MAX_COUNT:
        raise UsageError(f"{len(parsed)} hyperparameters given", f"SageMaker takes {MAX_COUNT}")
    for key, value in parsed.items():
        if len(key) > MAX_KEY or len(value) > MAX_VALUE:
            raise UsageError(
                f"hyperparameter {key[:40]!r} is too long",
                f"keys take {MAX_KEY} characters, values {MAX_VALUE}: put big values in an S3 file",
            )
    return parsed
