"""`easy_sm push`: push the app's image to ECR (or another registry), no AWS CLI needed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from easy_sm import console
from easy_sm.commands.helpers import IAM_ROLE_ARN_RE, load_project, parse_registry
from easy_sm.commands.options import AppNameOption
from easy_sm.errors import UsageError

if TYPE_CHECKING:
    from easy_sm.commands.helpers import Project


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.command(name="push")(push)


def push(
    app_name: AppNameOption = None,
    aws_region: Annotated[
        str | None,
        typer.Option(
            "--aws-region", "-r", metavar="REGION", help="AWS region (default: the config's)."
        ),
    ] = None,
    iam_role_arn: Annotated[
        str | None,
        typer.Option(
            "--iam-role-arn", "-i", metavar="ARN", help="Assume this IAM role (via STS) to push."
        ),
    ] = None,
    external_id: Annotated[
        str | None,
        typer.Option("--external-id", "-e", metavar="ID", help="External id for --iam-role-arn."),
    ] = None,
    aws_profile: Annotated[
        str | None,
        typer.Option(
            "--aws-profile", "-p", metavar="PROFILE", help="AWS profile (default: the config's)."
        ),
    ] = None,
    registry: Annotated[
        str | None,
        typer.Option(
            "--registry",
            envvar="EASY_SM_REGISTRY",
            metavar="HOST[:PORT]",
            help="Push to this registry host[:port] instead of the one ECR names (the "
            "login still comes from ECR).",
        ),
    ] = None,
    force: Annotated[
        bool,
        typer.Option("--force", help="Push even if the sources changed since the image was built."),
    ] = False,
) -> None:
    """Push the app's image to ECR.

    Pushes {image_name}:{tag} to the account's ECR repository (created if missing) and prints
    the full image URI.

    \b
    Example:
        easy_sm push --aws-region eu-west-1
    """
    from easy_sm.docker.engine import connect, require_image
    from easy_sm.docker.push import push_image
    from easy_sm.sagemaker.ecr import ensure_repository, registry_login
    from easy_sm.sagemaker.session import assume_role_session, make_session

    if iam_role_arn and aws_profile:
        raise UsageError(
            "--iam-role-arn and --aws-profile cannot be used together",
            "pass one: the role is assumed from your default credentials",
        )
    if iam_role_arn and not IAM_ROLE_ARN_RE.fullmatch(iam_role_arn):
        raise UsageError(
            f"--iam-role-arn {iam_role_arn!r} is not an IAM role ARN",
            "expected arn:aws:iam::<12-digit account>:role/<name>",
        )
    if external_id and not iam_role_arn:
        raise UsageError("--external-id needs --iam-role-arn", "pass the role to assume")
    host = parse_registry(registry, "--registry/EASY_SM_REGISTRY")
    project = load_project(app_name)
    config = project.config
    engine = connect()
    require_image(engine, project.image)
    if not force:
        _refuse_stale(project, engine)

    region = aws_region or config.aws_region
    if iam_role_arn:
        session = assume_role_session(make_session(None, region), iam_role_arn, external_id)
    else:
        session = make_session(
            aws_profile if aws_profile is not None else config.aws_profile, region
        )
    ensure_repository(session, config.image_name)
    login = registry_login(session)
    host = host or login.registry
    console.info(f"pushing {project.image} to {host}/{config.image_name}:{project.docker_tag}")
    remote = push_image(
        engine,
        project.image,
        f"{host}/{config.image_name}",
        project.docker_tag,
        login.auth_config(),
        sink=console.info,
    )
    console.result(remote)


def _refuse_stale(project: Project, engine: Any) -> None:
    """A UsageError if the image was built from other sources than the project's now."""
    from easy_sm.docker.build import project_build_request
    from easy_sm.docker.freshness import is_stale

    if is_stale(project.image, project_build_request(project), engine):
        raise UsageError(
            f"sources changed since {project.image} was built: pushing it would ship old code",
            "run `easy_sm build` first (or pass --force to push the image as it is)",
        )
