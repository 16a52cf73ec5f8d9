"""Preflight: what SageMaker would reject minutes later, checked in a second before anything
is created: the instance type (from botocore's own service model, no hard-coded list), the S3
inputs, and the image in ECR. `--skip-checks` turns these off.

Order: the instance type first (no network), then S3, then ECR."""

from __future__ import annotations

import difflib
import os
from typing import TYPE_CHECKING, Any

import botocore.exceptions

from easy_sm.errors import AwsError, UsageError
from easy_sm.sagemaker.names import parse_s3_uri
from easy_sm.sagemaker.session import translate_client_error

if TYPE_CHECKING:
    from mypy_boto3_ecr import ECRClient
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
