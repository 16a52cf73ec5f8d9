"""Preflight: what SageMaker would reject minutes later, checked in a second before anything
is created: the instance type (from botocore's own service model, no hard-coded list), the S3
inputs, and the image in ECR. `--skip-checks` turns these off.

Order: the instance type first (no network), then S3, then ECR."""

from __future__ import annotations

import difflib
import json
import os
import urllib.parse
from typing import TYPE_CHECKING, Any

import botocore.exceptions

from easy_sm.checks import Check
from easy_sm.errors import AwsError, UsageError
from easy_sm.sagemaker.names import parse_s3_uri
from easy_sm.sagemaker.session import aws_errors, translate_client_error

if TYPE_CHECKING:
    from mypy_boto3_ecr import ECRClient
    from mypy_boto3_iam import IAMClient
    from mypy_boto3_s3 import S3Client

# The instance-type shape of each API in the SageMaker service model, and its user's word.
INSTANCE_TYPE_SHAPES: dict[str, tuple[str, str]] = {
    "training": ("TrainingInstanceType", "training jobs"),
    "processing": ("ProcessingInstanceType", "processing jobs"),
    "transform": ("TransformInstanceType", "batch transform"),
    "endpoint": ("ProductionVariantInstanceType", "endpoints"),
}


def instance_types(service_model: Any, api: str) -> list[str]:
    """The instance types SageMaker accepts for `api` (training, processing, transform,
    endpoint), as botocore's service model lists them."""
    shape_name, _ = INSTANCE_TYPE_SHAPES[api]
    return list(service_model.shape_for(shape_name).enum)


def check_instance_type(
    service_model: Any, api: str, instance_type: str, option: str = "-e/--instance-type"
) -> None:
    accepted = instance_types(service_model, api)
    if instance_type in accepted:
        return
    _, what = INSTANCE_TYPE_SHAPES[api]
    close = difflib.get_close_matches(instance_type, accepted, n=3, cutoff=0.6)
    hint = (
        f"did you mean {' or '.join(close)}?"
        if close
        else f"use one SageMaker offers, e.g. {accepted[0]}"
    )
    raise UsageError(
        f"{option} {instance_type!r} is not an instance type SageMaker offers for {what}",
        hint + " (or --skip-checks if your botocore is older than the type)",
    )


def check_s3_prefix(s3: S3Client, uri: str, option: str) -> None:
    """At least one object under the prefix `uri` (one ListObjectsV2)."""
    location = parse_s3_uri(uri, option)
    try:
        answer = s3.list_objects_v2(Bucket=location.bucket, Prefix=location.key, MaxKeys=1)
    except botocore.exceptions.ClientError as exc:
        raise _s3_error(exc, option, uri, "s3:ListObjectsV2") from None
    except botocore.exceptions.BotoCoreError as exc:
        raise translate_client_error(exc, "s3:ListObjectsV2") from exc
    if not answer.get("KeyCount", len(answer.get("Contents", []))):
        raise AwsError(
            f"{option} {uri}: no objects there",
            f"upload the data first (easy_sm upload-data -i DIR -t {uri}) or fix the path",
        )


def check_s3_object(s3: S3Client, uri: str, option: str) -> None:
    """The object `uri` exists (one HeadObject)."""
    location = parse_s3_uri(uri, option)
    try:
        s3.head_object(Bucket=location.bucket, Key=location.key)
    except botocore.exceptions.ClientError as exc:
        raise _s3_error(exc, option, uri, "s3:HeadObject") from None
    except botocore.exceptions.BotoCoreError as exc:
        raise translate_client_error(exc, "s3:HeadObject") from exc


def _s3_error(exc: botocore.exceptions.ClientError, option: str, uri: str, action: str) -> AwsError:
    code = str(exc.response.get("Error", {}).get("Code", ""))
    if code == "NoSuchBucket":
        bucket = parse_s3_uri(uri, option).bucket
        return AwsError(
            f"{option} {uri}: bucket {bucket} does not exist",
            "check the S3 URI and the region / profile",
        )
    if code in ("404", "NoSuchKey", "NotFound"):
        return AwsError(
            f"{option} {uri}: no such object",
            "check the path (aws s3 ls), e.g. the output of easy_sm get-model-artifacts",
        )
    if code in ("403", "AccessDenied"):
        return AwsError(
            f"access denied reading {uri} ({option})",
            "grant s3:GetObject / s3:ListBucket on it, or pass --skip-checks",
        )
    return translate_client_error(exc, action)


def registry_override() -> bool:
    return bool(os.environ.get("EASY_SM_REGISTRY", "").strip())


def image_in_ecr(ecr: ECRClient, repository: str, tag: str) -> bool | None:
    """True when `repository:tag` is in ECR, False when not; None when the repository is
    missing."""
    try:
        ecr.describe_images(repositoryName=repository, imageIds=[{"imageTag": tag}])
    except botocore.exceptions.ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code == "ImageNotFoundException":
            return False
        if code == "RepositoryNotFoundException":
            return None
        raise translate_client_error(exc, "ecr:DescribeImages") from exc
    except botocore.exceptions.BotoCoreError as exc:
        raise translate_client_error(exc, "ecr:DescribeImages") from exc
    return True


def check_image(ecr: ECRClient, repository: str, tag: str, image_uri: str) -> None:
    """The image SageMaker will pull is in ECR (skipped when EASY_SM_REGISTRY names another
    registry, which easy_sm cannot inspect)."""
    if registry_override():
        return
    if not image_in_ecr(ecr, repository, tag):
        push = "easy_sm push" if tag == "latest" else f"easy_sm --docker-tag {tag} push"
        raise AwsError(f"image {image_uri} is not in ECR", f"run {push}")


# --- easy_sm doctor: the AWS side --------------------------------------------------------------

AWS_EXIT = AwsError.exit_code
SAGEMAKER_PRINCIPAL = "sagemaker.amazonaws.com"


def _failed(name: str, exc: AwsError) -> Check:
    return Check(name, False, exc.message, exc.hint or "", AWS_EXIT)


def trusts_sagemaker(policy: Any) -> bool:
    """True when a trust policy lets sagemaker.amazonaws.com call sts:AssumeRole."""
    if isinstance(policy, str):
        policy = json.loads(urllib.parse.unquote(policy))
    statements = policy.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    for statement in statements:
        if statement.get("Effect") != "Allow":
            continue
        actions = statement.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        if not any(a in ("sts:AssumeRole", "sts:*", "*") for a in actions):
            continue
        services = (statement.get("Principal") or {}).get("Service", [])
        services = [services] if isinstance(services, str) else services
        if SAGEMAKER_PRINCIPAL in services:
            return True
    return False


def role_check(iam: IAMClient, role_arn: str | None) -> Check:
    name = "execution role"
    if not role_arn:
        return Check(
            name,
            False,
            "no role given",
            "pass -r/--iam-role-arn or set SAGEMAKER_ROLE",
            UsageError.exit_code,
        )
    role_name = role_arn.rsplit("/", 1)[-1]
    try:
        with aws_errors("iam:GetRole"):
            role = iam.get_role(RoleName=role_name)["Role"]
    except AwsError as exc:
        if "NoSuchEntity" in exc.message:
            return Check(
                name,
                False,
                f"role {role_name} does not exist",
                "create it (README: the SageMaker execution role) or fix SAGEMAKER_ROLE",
                AWS_EXIT,
            )
        return _failed(name, exc)
    if not trusts_sagemaker(role.get("AssumeRolePolicyDocument", {})):
        return Check(
            name,
            False,
            f"role {role_name} does not let SageMaker assume it",
            f"add {SAGEMAKER_PRINCIPAL} as a trusted service: aws iam "
            f"update-assume-role-policy --role-name {role_name} --policy-document file://trust.json",
            AWS_EXIT,
        )
    return Check(name, True, f"{role_name} exists and SageMaker can assume it")


def repository_checks(ecr: ECRClient, repository: str, tag: str, image_uri: str) -> list[Check]:
    """The ECR repository exists; the image is pushed (skipped with EASY_SM_REGISTRY)."""
    if registry_override():
        return [Check("image pushed", True, f"not checked: EASY_SM_REGISTRY ({image_uri})")]
    try:
        found = image_in_ecr(ecr, repository, tag)
    except AwsError as exc:
        return [_failed("ECR repository", exc)]
    push = "run easy_sm push" if tag == "latest" else f"run easy_sm --docker-tag {tag} push"
    if found is None:
        return [
            Check(
                "ECR repository", False, f"{repository} does not exist", push + " (creates it)", 4
            ),
            Check("image pushed", False, f"{image_uri} is not in ECR", push, AWS_EXIT),
        ]
    repo = Check("ECR repository", True, f"{repository} exists")
    if not found:
        return [repo, Check("image pushed", False, f"{image_uri} is not in ECR", push, AWS_EXIT)]
    return [repo, Check("image pushed", True, image_uri)]


def bucket_check(s3: S3Client, bucket: str) -> Check:
    """Write (and delete) a small object in `bucket`."""
    key = ".easy_sm-doctor"
    try:
        with aws_errors("s3:PutObject"):
            s3.put_object(Bucket=bucket, Key=key, Body=b"easy_sm doctor\n")
        with aws_errors("s3:DeleteObject"):
            s3.delete_object(Bucket=bucket, Key=key)
    except AwsError as exc:
        if "NoSuchBucket" in exc.message:
            return Check(
                "S3 bucket", False, f"{bucket} does not exist", f"aws s3 mb s3://{bucket}", 4
            )
        return _failed("S3 bucket", exc)
    return Check("S3 bucket", True, f"s3://{bucket} is writable")
