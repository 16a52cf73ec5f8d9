"""`easy_sm doctor`: everything easy_sm needs, checked in order, one `Check` each.

Docker checks go through easy_sm/docker/, AWS checks through easy_sm/sagemaker/. A check that
cannot run because an earlier one failed (no credentials: no IAM/ECR checks) says so."""

from __future__ import annotations

from typing import TYPE_CHECKING

from easy_sm.checks import Check
from easy_sm.errors import AwsError, ConfigError, EasySmError

if TYPE_CHECKING:
    from easy_sm.commands.helpers import Project


def run_checks(
    project: Project | None,
    *,
    config_problem: EasySmError | None = None,
    role_arn: str | None = None,
    bucket: str | None = None,
) -> list[Check]:
    from easy_sm.docker.health import engine_check

    checks: list[Check] = []
    engine_result, engine = engine_check()
    checks.append(engine_result)
    if project is None:
        problem = config_problem or ConfigError("no easy_sm project here")
        checks.append(
            Check("project", False, problem.message, problem.hint or "", problem.exit_code)
        )
    else:
        checks.append(Check("project", True, f"{project.app_name} ({project.image})"))
        checks.append(_image_check(project, engine))
    checks.extend(_aws_checks(project, role_arn, bucket))
    return checks


def _image_check(project: Project, engine: object) -> Check:
    from easy_sm.docker.build import context_files, project_build_request
    from easy_sm.docker.health import image_check

    try:
        request = project_build_request(project)
    except ConfigError as exc:
        return Check("image built", False, exc.message, exc.hint or "", exc.exit_code)
    if engine is None:
        return image_check(None, project.image, project.project_dir, [])
    return image_check(engine, project.image, project.project_dir, context_files(request))


def _aws_checks(project: Project | None, role_arn: str | None, bucket: str | None) -> list[Check]:
    from easy_sm.sagemaker import preflight
    from easy_sm.sagemaker.session import account_id, client, make_session

    config = project.config if project is not None else None
    try:
        session = make_session(
            config.aws_profile if config else None, config.aws_region if config else None
        )
    except AwsError as exc:
        return [Check("AWS region", False, exc.message, exc.hint or "", exc.exit_code)]
    checks = [Check("AWS region", True, str(session.region_name))]
    try:
        account = account_id(session)
    except AwsError as exc:
        checks.append(Check("AWS credentials", False, exc.message, exc.hint or "", 4))
        return checks
    checks.append(Check("AWS credentials", True, f"account {account}"))
    checks.append(preflight.role_check(client(session, "iam"), role_arn))
    if project is not None:
        from easy_sm.sagemaker.session import image_uri

        uri = image_uri(session, project.config.image_name, project.docker_tag)
        checks.extend(
            preflight.repository_checks(
                client(session, "ecr"), project.config.image_name, project.docker_tag, uri
            )
        )
    if bucket:
        checks.append(preflight.bucket_check(client(session, "s3"), bucket))
    return checks
