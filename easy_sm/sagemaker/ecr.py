"""ECR, the AWS side of `easy_sm push`: the repository (created if missing) and a registry
login from `ecr:GetAuthorizationToken`. The token is kept in memory only: never printed,
never written to disk (it reaches Docker as the push call's auth_config)."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import boto3

from easy_sm.errors import AwsError
from easy_sm.sagemaker.session import aws_errors, client

if TYPE_CHECKING:
    from mypy_boto3_ecr import ECRClient


@dataclass(frozen=True)
class RegistryLogin:
    """Credentials for one registry host. `password` is kept out of repr()."""

    registry: str  # host[:port], no scheme
    username: str
    password: str = field(repr=False)

    def auth_config(self) -> dict[str, str]:
        return {"username": self.username, "password": self.password}


def ensure_repository(session: boto3.Session, name: str) -> str:
    """The URI of ECR repository `name`, created (with scan-on-push) if it does not exist."""
    ecr: ECRClient = client(session, "ecr")
    try:
        with aws_errors("ecr:DescribeRepositories"):
            found = ecr.describe_repositories(repositoryNames=[name])["repositories"]
        return found[0]["repositoryUri"]
    except AwsError as exc:
        if "RepositoryNotFoundException" not in exc.message:
            raise
    with aws_errors("ecr:CreateRepository"):
        try:
            created = ecr.create_repository(
                repositoryName=name, imageScanningConfiguration={"scanOnPush": True}
            )["repository"]
        except ecr.exceptions.RepositoryAlreadyExistsException:  # created meanwhile
            return ensure_repository(session, name)
    return created["repositoryUri"]


def registry_login(session: boto3.Session) -> RegistryLogin:
    """A login for the account's ECR registry (valid 12 hours)."""
    ecr: ECRClient = client(session, "ecr")
    with aws_errors("ecr:GetAuthorizationToken"):
        data = ecr.get_authorization_token()["authorizationData"]
    if not data:
        raise AwsError("ecr:GetAuthorizationToken returned no token", "check ECR in this region")
    token = base64.b64decode(data[0]["authorizationToken"]).decode("utf-8")
    username, _, password = token.partition(":")
    endpoint = data[0].get("proxyEndpoint", "")
    host = endpoint.removeprefix("https://").removeprefix("http://").rstrip("/")
    return RegistryLogin(registry=host, username=username, password=password)


def pushed_digest(session: boto3.Session, name: str, tag: str) -> str | None:
    """The digest (`sha256:...`) of `name:tag` in the account's ECR, or None when it is not
    there, the registry is not ECR (EASY_SM_REGISTRY), or ECR cannot be asked."""
    import os

    import botocore.exceptions

    if os.environ.get("EASY_SM_REGISTRY", "").strip():
        return None
    ecr: ECRClient = client(session, "ecr")
    try:
        found = ecr.describe_images(repositoryName=name, imageIds=[{"imageTag": tag}])
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError):
        return None
    details = found.get("imageDetails", [])
    return str(details[0]["imageDigest"]) if details and details[0].get("imageDigest") else None
