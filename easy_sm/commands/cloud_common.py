"""Plumbing shared by the cloud command modules (jobs.py, endpoints.py, data.py): the app's
SageMakerClient and JSON/plain output helpers. Nothing AWS is imported at start-up."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from easy_sm import console
from easy_sm.commands.helpers import get_iam_role, load_project, parse_key_values

if TYPE_CHECKING:
    from easy_sm.commands.helpers import Project
    from easy_sm.sagemaker.sagemaker import SageMakerClient


def sagemaker_client(
    app_name: str | None,
    iam_role_arn: str | None = None,
    *,
    needs_role: bool = False,
    project: Project | None = None,
) -> SageMakerClient:
    """The app's SageMakerClient: config loaded, role resolved (when the command needs one)."""
    project = project or load_project(app_name)
    role = get_iam_role(iam_role_arn) if needs_role else None
    from easy_sm.sagemaker.sagemaker import SageMakerClient

    return SageMakerClient.for_app(
        project.config.aws_profile,
        project.config.aws_region,
        image_name=project.config.image_name,
        docker_tag=project.docker_tag,
        role_arn=role,
        app_name=project.app_name,
    )


def _json_default(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def print_json(data: Any) -> None:
    console.result(json.dumps(data, indent=2, default=_json_default))


def when(value: object) -> str:
    return value.isoformat(timespec="seconds") if isinstance(value, datetime) else str(value)


def pack_code(project: Project) -> Any:
    """`--code`: the project's code folder as a reproducible archive (a CodeArchive)."""
    from easy_sm.docker.code_archive import pack_code as pack

    return pack(project.project_dir, project.module_dir)


STALE_IMAGE_WARNING = "the pushed image does not contain your latest code — push, or use --code"


def warn_if_pushed_image_is_stale(project: Project, sagemaker: SageMakerClient) -> None:
    """Warn (once) when the image SageMaker will pull is older than the local sources: the
    sources changed since the local image was built, or the local image is not the one in
    ECR. Best effort: this check never fails the command."""
    from easy_sm.docker.pushed_image import local_repo_digests, sources_changed_since_build
    from easy_sm.errors import EasySmError

    try:
        if sources_changed_since_build(project):
            console.warn(STALE_IMAGE_WARNING)
            return
        local = local_repo_digests(project.image)
        if local is None:
            return  # no local image to compare with
        pushed = sagemaker.pushed_digest()
        if pushed and not any(digest.endswith("@" + pushed) for digest in local):
            console.warn(STALE_IMAGE_WARNING)
    except (EasySmError, OSError, ValueError, KeyError):
        return


def training_job_fields(
    *,
    input_s3: str,
    output_s3: str,
    instance_type: str,
    base_job_name: str,
    instance_count: int,
    input_sharded: bool,
    hyperparameters: list[str] | None,
    hyperparameters_file: Path | None,
    channel: list[str] | None,
    env: list[str] | None,
    tag: list[str] | None,
    volume_size: int,
    max_run: int,
    spot: bool,
    max_wait: int | None,
    checkpoint_s3_uri: str | None,
    metric: list[str] | None,
) -> dict[str, Any]:
    """The TrainingSpec fields of the training-job flags `train` and `tune` share, parsed and
    validated once, so a training flag means the same on both."""
    from easy_sm import hyperparameters as hps
    from easy_sm import metrics
    from easy_sm.sagemaker.training import parse_channels

    return {
        "input_s3": input_s3,
        "output_s3": output_s3,
        "instance_type": instance_type,
        "base_job_name": base_job_name,
        "instance_count": instance_count,
        "input_sharded": input_sharded,
        "hyperparameters": hps.parse(hyperparameters, hyperparameters_file),
        "channels": parse_channels(channel),
        "environment": parse_key_values(env, "--env", env_keys=True),
        "tags": parse_key_values(tag, "--tag"),
        "volume_size_gb": volume_size,
        "max_run_seconds": max_run,
        "spot": spot,
        "max_wait_seconds": max_wait,
        "checkpoint_s3": checkpoint_s3_uri,
        "metrics": metrics.parse(metric),
    }


class CommandTable:
    """A module's top-level commands: name -> (function, extra command settings). The root app
    registers them all, or (`easy_sm <name>`) just the one asked for: see __main__.app_for."""

    def __init__(self, commands: dict[str, tuple[Callable[..., None], dict[str, Any]]]) -> None:
        self.commands = commands
        self.names = tuple(commands)

    def register(self, app: typer.Typer, only: str | None = None) -> None:
        """Add these commands (or just `only`) to `app`."""
        for name, (function, settings) in self.commands.items():
            if only is None or name == only:
                app.command(name, **settings)(function)
