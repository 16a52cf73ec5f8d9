"""`--code` on SageMaker: the code archive uploaded content-addressed, once.

`s3://<bucket>/<image name>/code/<sha256>.tar.gz`: the same sources give the same name, so
an unchanged code folder is never uploaded twice (and an old job's code stays where it was)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import botocore.exceptions

from easy_sm import console
from easy_sm.sagemaker.names import parse_s3_uri
from easy_sm.sagemaker.session import aws_errors

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from easy_sm.docker.code_archive import CodeArchive


def code_uri(bucket_of: str, option: str, image_name: str, sha256: str) -> str:
    """Where the archive with this digest lives, in the bucket of the S3 URI `bucket_of`."""
    bucket = parse_s3_uri(bucket_of, option).bucket
    return f"s3://{bucket}/{image_name.strip('/')}/code/{sha256}.tar.gz"


def upload_code(s3: S3Client, archive: CodeArchive, uri: str) -> str:
    """Upload the archive to `uri` unless an object is already there; return `uri`."""
    target = parse_s3_uri(uri, "--code")
    with aws_errors("s3:HeadObject"):
        try:
            s3.head_object(Bucket=target.bucket, Key=target.key)
            console.info(f"code: {archive.files} files, unchanged since uploaded to {uri}")
            return uri
        except botocore.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey", "NotFound"):
                raise
    with aws_errors("s3:PutObject"):
        s3.put_object(
            Bucket=target.bucket,
            Key=target.key,
            Body=archive.data,
            ContentType="application/gzip",
        )
    console.info(f"code: {archive.files} files uploaded to {uri}")
    return uri
