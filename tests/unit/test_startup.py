"""Start-up must stay instant: the CLI's import graph may not pull the heavy libraries."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("boto3", "botocore", "docker", "sagemaker", "rich", "s3transfer", "requests")


def test_importing_the_cli_does_not_import_heavy_modules() -> None:
    code = (
        "import json, sys; import easy_sm.__main__; "
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout
    assert json.loads(out) == []


def test_help_runs_without_heavy_modules() -> None:
    code = (
        "import json, sys\n"
        "from easy_sm.__main__ import app\n"
        "try:\n"
        "    app(['--help'], prog_name='easy_sm')\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]), file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert "Usage: easy_sm" in done.stdout
    assert json.loads(done.stderr.strip().splitlines()[-1]) == []
