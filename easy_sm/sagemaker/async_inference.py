"""Asynchronous inference: put the request body in S3 (unless it is there already), call
InvokeEndpointAsync, and (with --wait) poll the output and failure locations."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import botocore.exceptions

from easy_sm import console
from easy_sm.errors import InterruptedByUser, JobFailedError, UsageError
from easy_sm.sagemaker.names import parse_s3_uri, timestamp
from easy_sm.sagemaker.session import aws_errors, translate_client_error
from easy_sm.sagemaker.waiting import poll_seconds, sleep

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sagemaker import SageMakerClient
    from mypy_boto3_sagemaker_runtime import SageMakerRuntimeClient

INPUT_PREFIX = "easy_sm/async-inputs"


@dataclass(frozen=True)
class AsyncInvocation:
    output: str
    failure: str | None


def async_output_path(sm: SageMakerClient, endpoint: str) -> str:
    """The endpoint's AsyncInferenceConfig S3OutputPath (an error when it is not async)."""
    with aws_errors("sagemaker:DescribeEndpoint"):
        config_name = sm.describe_endpoint(EndpointName=endpoint)["EndpointConfigName"]
    with aws_errors("sagemaker:DescribeEndpointConfig"):
        config: dict[str, Any] = dict(sm.describe_endpoint_config(EndpointConfigName=config_name))
    path = ((config.get("AsyncInferenceConfig") or {}).get("OutputConfig") or {}).get(
        "S3OutputPath"
    )
    if not path:
        raise UsageError(
            f"endpoint {endpoint} is not an asynchronous endpoint",
            f"drop --async (easy_sm invoke -n {endpoint}), or deploy it with easy_sm deploy-async",
        )
    return str(path)


def upload_body(s3: S3Client, output_path: str, endpoint: str, body: bytes) -> str:
    """Put `body` next to the endpoint's outputs (same bucket); return its S3 URI."""
    bucket = parse_s3_uri(output_path, "S3OutputPath").bucket
    key = f"{INPUT_PREFIX}/{endpoint}/{timestamp()}-{secrets.token_hex(4)}"
    with aws_errors("s3:PutObject"):
        s3.put_object(Bucket=bucket, Key=key, Body=body)
    uri = f"s3://{bucket}/{key}"
    console.info(f"uploaded the request body to {uri}")
    return uri


def invoke_async(
    runtime: SageMakerRuntimeClient,
    endpoint: str,
    input_location: str,
    *,
    content_type: str,
    accept: str | None = None,
) -> AsyncInvocation:
    kwargs: dict[str, Any] = {
        "EndpointName": endpoint,
        "InputLocation": input_location,
        "ContentType": content_type,
    }
    if accept:
        kwargs["Accept"] = accept
    with aws_errors("sagemaker:InvokeEndpointAsync"):
        answer = runtime.invoke_endpoint_async(**kwargs)
    return AsyncInvocation(str(answer["OutputLocation"]), answer.get("FailureLocation"))


def _read(s3: S3Client, uri: str) -> bytes | None:
    location = parse_s3_uri(uri, "output location")
    try:
        return s3.get_object(Bucket=location.bucket, Key=location.key)["Body"].read()
    except botocore.exceptions.ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in ("NoSuchKey", "404", "NotFound"):
            return None
        raise translate_client_error(exc, "s3:GetObject") from exc
    except botocore.exceptions.BotoCoreError as exc:
        raise translate_client_error(exc, "s3:GetObject") from exc


def wait_for_result(s3: S3Client, invocation: AsyncInvocation, *, timeout: float) -> bytes:
    """Poll the output (and failure) object until one appears; return the output body, or
    raise JobFailedError with the failure file's text."""
    started = time.monotonic()
    interval = poll_seconds()
    console.info(f"waiting for {invocation.output}")
    try:
        while True:
            body = _read(s3, invocation.output)
            if body is not None:
                return body
            if invocation.failure:
                failure = _read(s3, invocation.failure)
                if failure is not None:
                    text = failure.decode("utf-8", "replace").strip().replace("\n", " ")
                    raise JobFailedError(
                        f"asynchronous inference failed: {text[:500]}",
                        f"see {invocation.failure} and the endpoint's CloudWatch logs",
                    )
            if time.monotonic() - started >= timeout:
                raise JobFailedError(
                    f"no result after {timeout:g} s at {invocation.output}",
                    "it may still come: read it later (aws s3 cp), or give a longer --timeout",
                )
            sleep(interval)
    except KeyboardInterrupt:
        raise InterruptedByUser(
            "stopped waiting for the asynchronous result",
            f"it will be written to {invocation.output}",
        ) from None
