"""`easy_sm doctor`: one ✔/✗ line per thing easy_sm needs, each ✗ with its fix."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from easy_sm import console
from easy_sm.commands.cloud_common import print_json
from easy_sm.commands.options import AppNameOption, IamRoleOption, JsonOption
from easy_sm.errors import EasySmError


def doctor(
    app_name: AppNameOption = None,
    iam_role_arn: IamRoleOption = None,
    bucket: Annotated[
        str | None, typer.Option("--bucket", help="Also check this S3 bucket is writable.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Check that easy_sm has all it needs here.

    Docker, the image, AWS credentials and region, the role, ECR, S3. Prints one ✔/✗ line
    per check (each ✗ with its fix); exits 0 only if all pass.

    \b
    Example:
        easy_sm doctor --bucket my-bucket
    """
    from easy_sm.commands.helpers import load_project
    from easy_sm.doctor import run_checks

    try:
        project, problem = load_project(app_name), None
    except EasySmError as exc:
        project, problem = None, exc
    checks = run_checks(
        project,
        config_problem=problem,
        role_arn=iam_role_arn or os.environ.get("SAGEMAKER_ROLE") or None,
        bucket=bucket,
    )
    if as_json:
        print_json([c.to_dict() for c in checks])
    else:
        for check in checks:
            console.result(check.line())
    failed = [c for c in checks if not c.ok]
    if failed:
        raise EasySmError(
            f"{len(failed)} of {len(checks)} checks failed",
            "fix the ✗ lines above and run easy_sm doctor again",
            exit_code=failed[0].exit_code,
        )


def register(app: typer.Typer) -> None:
    """Add this module's command to the root app."""
    app.command(name="doctor")(doctor)
