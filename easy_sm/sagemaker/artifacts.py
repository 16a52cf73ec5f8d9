"""Downloading a model artifact (model.tar.gz) from S3, for local serving of a cloud model."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import botocore.exceptions

from easy_sm.errors import AwsError
from easy_sm.sagemaker.names import parse_s3_uri
from easy_sm.sagemaker.session import aws_errors, translate_client_error

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def download_object(s3: S3Client, uri: str, target: Path) -> Path:
    """Download the object `uri` to the file `target`; a missing object is a one-line AwsError."""
    location = parse_s3_uri(uri, "--model")
    try:
        s3.head_object(Bucket=location.bucket, Key=location.key)
    except botocore.exceptions.ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in ("404", "NoSuchKey", "NotFound", "NoSuchBucket"):
            raise AwsError(
                f"{uri} not found",
                "check the URI (`easy_sm get-model-artifacts -j JOB` prints a job's), "
                "and the profile/region in your config",
            ) from None
        raise translate_client_error(exc, "s3:GetObject") from exc
    except botocore.exceptions.BotoCoreError as exc:
        raise translate_client_error(exc, "s3:GetObject") from exc
    with aws_errors("s3:GetObject"):
        s3.download_file(location.bucket, location.key, str(target))
    return target
