"""`easy_sm upload-data`: a local folder to S3."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from easy_sm import console
from easy_sm.commands.cloud_common import CommandTable, sagemaker_client
from easy_sm.commands.options import (
    AppNameOption,
    UnusedRoleOption,
)

if TYPE_CHECKING:
    pass


def upload_data(
    input_dir: Annotated[
        Path, typer.Option("--input-dir", "-i", help="Local folder to upload (all of its tree).")
    ],
    target_dir: Annotated[
        str, typer.Option("--target-dir", "-t", help="S3 prefix to upload to: s3://bucket/prefix.")
    ],
    app_name: AppNameOption = None,
    iam_role_arn: UnusedRoleOption = None,
) -> None:
    """Upload a local folder to S3.

    Concurrently, skipping files already there unchanged; prints the S3 prefix.

    \b
    Example:
        easy_sm upload-data -i data/ -t s3://my-bucket/datasets/v1
    """
    sagemaker = sagemaker_client(app_name)
    console.result(sagemaker.upload_data(input_dir, target_dir))


# `easy_sm <name>` registers just its own command (see __main__.app_for).
_TABLE = CommandTable(
    {
        "upload-data": (upload_data, {}),
    }
)
COMMANDS = _TABLE.names
register = _TABLE.register
