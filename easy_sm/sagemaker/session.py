"""AWS sessions, clients and error translation: the base of the one AWS seam.

Everything that talks to AWS goes through `easy_sm.sagemaker`. boto3/botocore are imported
here, never at CLI start-up (commands import this module inside their functions).
AWS_ENDPOINT_URL (boto3's standard variable) is honoured, which is how tests reach moto.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from typing import TYPE_CHECKING, Any, TypeVar

import boto3
import botocore.config
import botocore.exceptions

from easy_sm.errors import AwsError

if TYPE_CHECKING:
    from mypy_boto3_sts import STSClient

T = TypeVar("T")


CLIENT_CONFIG = botocore.config.Config(
    retries={"max_attempts": 10, "mode": "adaptive"},
    user_agent_extra="easy_sm",
    max_pool_connections=32,
)


def make_session(profile: str | None = None, region: str | None = None) -> boto3.Session:
    """A boto3 session from the config's profile/region. An empty profile means boto3's default
    credential chain; an empty region falls back to the environment / profile region."""
    try:
        session = boto3.Session(profile_name=profile or None, region_name=region or None)
    except botocore.exceptions.ProfileNotFound as exc:
        raise _profile_not_found(profile, str(exc.kwargs.get("profile", ""))) from None
    if not session.region_name:
        raise AwsError(
            "no AWS region configured",
            "set aws_region in your config, or AWS_REGION in the environment",
        )
    return session


def _profile_not_found(configured: str | None, missing: str) -> AwsError:
    """Name the profile that is missing and where it came from: the config (or a flag), or
    the environment (AWS_PROFILE / AWS_DEFAULT_PROFILE) when the config leaves it empty."""
    import os

    import botocore.session

    try:
        known = botocore.session.Session().available_profiles
    except botocore.exceptions.BotoCoreError:
        known = []
    existing = f" (existing: {', '.join(known)})" if known else " (none is configured)"
    if configured:
        return AwsError(
            f"AWS profile {configured!r} not found (aws_profile in your config, or --aws-profile)",
            f'fix aws_profile in your config{existing}, or set it to "" for the default '
            "credentials",
        )
    variable = "AWS_PROFILE" if os.environ.get("AWS_PROFILE") else "AWS_DEFAULT_PROFILE"
    name = missing or os.environ.get(variable, "")
    return AwsError(
        f"AWS profile {name!r} not found (from the environment: {variable}={name})",
        f"unset {variable} or set it to a configured profile{existing}",
    )


def client(session: boto3.Session, service: str) -> Any:
    """A client sharing easy_sm's botocore config (adaptive retries, a larger pool), which
    says once on stderr when AWS cannot be reached and it is retrying."""
    import os

    config = CLIENT_CONFIG
    attempts = os.environ.get("AWS_MAX_ATTEMPTS", "").strip()
    max_attempts = int(attempts) if attempts.isdigit() and int(attempts) > 0 else 10
    if max_attempts != 10:  # the AWS SDKs' own variable wins
        retries = {"max_attempts": max_attempts, "mode": "adaptive"}
        config = config.merge(botocore.config.Config(retries=retries))  # type: ignore[arg-type]
    made = session.client(service, config=config)  # type: ignore[call-overload]
    made.meta.events.register_first(
        "needs-retry", functools.partial(_say_retrying, max_attempts=max_attempts)
    )
    return made


_CONNECTION_ERRORS = (
    botocore.exceptions.ConnectionError,
    botocore.exceptions.EndpointConnectionError,
    botocore.exceptions.ConnectionClosedError,
    botocore.exceptions.HTTPClientError,
)
_said_retrying = False


def _say_retrying(
    caught_exception: Exception | None = None,
    attempts: int = 1,
    max_attempts: int = 10,
    **kwargs: Any,
) -> None:
    """After the first failed attempt to reach AWS, one line; botocore then retries."""
    global _said_retrying
    if _said_retrying or not isinstance(caught_exception, _CONNECTION_ERRORS):
        return
    if attempts >= max_attempts:
        return  # no retry follows
    _said_retrying = True
    from easy_sm import console

    endpoint = getattr(kwargs.get("endpoint"), "host", "") or "AWS"
    console.warn(f"cannot reach {endpoint} ({_one_line(str(caught_exception))}); retrying…")


def is_connection_error(exc: BaseException) -> bool:
    """True when `exc` (or the botocore error an AwsError was made from) is a lost or
    refused connection, not an answer from AWS."""
    cause = exc.__cause__ if isinstance(exc, AwsError) else exc
    return isinstance(cause, _CONNECTION_ERRORS)


def _one_line(text: str) -> str:
    """AWS's text on one line; an HTML error page (a proxy's, a wrong endpoint's) summarised
    by its title instead of dumped."""
    import re

    page = re.search(r"<\s*(html|!doctype|body|head)\b", text, re.IGNORECASE)
    if page:
        title = re.search(r"<title[^>]*>(.*?)</title>", text, re.IGNORECASE | re.DOTALL)
        heading = re.search(r"<h1[^>]*>(.*?)</h1>", text, re.IGNORECASE | re.DOTALL)
        found = title or heading
        summary = re.sub(r"<[^>]+>", " ", found.group(1)) if found else ""
        summary = " ".join(summary.split())[:120]
        page_text = f"an HTML page{f' ({summary})' if summary else ''}"
        before = " ".join(text[: page.start()].split()).rstrip(" :\"'")
        if before:  # e.g. a model container's error page quoted in AWS's own message
            return f"{before}: {page_text}"
        return f"{page_text} instead of an AWS answer"
    return " ".join(text.split())


def account_id(session: boto3.Session) -> str:
    """The caller's AWS account id (asked of STS once per session)."""
    return _account_id_cached(session)


@cache
def _account_id_cached(session: boto3.Session) -> str:
    sts: STSClient = client(session, "sts")
    with aws_errors("sts:GetCallerIdentity"):
        return sts.get_caller_identity()["Account"]


def assume_role_session(
    session: boto3.Session, role_arn: str, external_id: str | None = None
) -> boto3.Session:
    """A session with temporary credentials of `role_arn` (with an optional external id)."""
    sts: STSClient = client(session, "sts")
    kwargs: dict[str, Any] = {"RoleArn": role_arn, "RoleSessionName": "easy-sm"}
    if external_id:
        kwargs["ExternalId"] = external_id
    with aws_errors("sts:AssumeRole"):
        creds = sts.assume_role(**kwargs)["Credentials"]
    return boto3.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        region_name=session.region_name,
    )


_EXPIRED = "your AWS credentials have expired: refresh them (e.g. `aws sso login`)"
_HINTS: dict[str, str] = {
    "ExpiredToken": _EXPIRED,
    "ExpiredTokenException": _EXPIRED,
    "InvalidClientTokenId": "the AWS access key is not valid: check your profile's credentials",
    "UnrecognizedClientException": "the AWS access key is not valid: check your credentials",
    "SignatureDoesNotMatch": "the AWS secret key does not match: check your credentials",
    "AccessDenied": "grant that permission to your user/role, or use another profile",
    "AccessDeniedException": "grant that permission to your user/role, or use another profile",
    "ResourceInUse": "that name is taken: choose another name, or delete the existing resource",
    "ResourceNotFound": "check the name (and the region / profile you are using)",
    "NoSuchBucket": "create the bucket first, or check the S3 URI",
    "ThrottlingException": "AWS is throttling requests even after retries: try again shortly",
    "Throttling": "AWS is throttling requests even after retries: try again shortly",
    "ResourceLimitExceeded": "a SageMaker quota is used up: ask for more in Service Quotas",
}


def translate_client_error(exc: Exception, action: str) -> AwsError:
    """Turn a botocore exception into an AwsError that says how to fix it."""
    if isinstance(exc, botocore.exceptions.NoCredentialsError):
        return AwsError(
            "no AWS credentials found",
            "configure a profile (`aws configure`), set aws_profile in your config, "
            "or export AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY",
        )
    if isinstance(exc, botocore.exceptions.TokenRetrievalError | botocore.exceptions.SSOError):
        return AwsError(f"{action}: {exc}", "refresh your login, e.g. `aws sso login`")
    if isinstance(exc, botocore.exceptions.EndpointConnectionError):
        return AwsError(
            f"{action}: cannot reach {exc.kwargs.get('endpoint_url', 'AWS')}",
            "check your network, region and AWS_ENDPOINT_URL",
        )
    if isinstance(exc, botocore.exceptions.ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "Unknown"))
        message = _one_line(str(error.get("Message", ""))) or code
        if message.startswith("an HTML page") and message.endswith(("answer", ")")):
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "?")
            return AwsError(
                f"{action} failed (HTTP {status}): the endpoint answered {message}",
                "check AWS_ENDPOINT_URL, your proxy settings and the region",
            )
        hint = _HINTS.get(code)
        if code == "ValidationException":
            lowered = message.lower()
            if "could not find" in lowered or "does not exist" in lowered or "not found" in lowered:
                hint = _HINTS["ResourceNotFound"]
            else:
                hint = "fix the value AWS names above"
        if code in ("AccessDenied", "AccessDeniedException"):
            return AwsError(f"access denied for {action}: {message}", hint)
        return AwsError(f"{action} failed ({code}): {message}", hint or "see the AWS message")
    if isinstance(exc, _CONNECTION_ERRORS):
        return AwsError(
            f"{action}: lost the connection to AWS ({_one_line(str(exc))})",
            "check your network, region and AWS_ENDPOINT_URL, then run the command again",
        )
    if isinstance(exc, botocore.exceptions.BotoCoreError):
        return AwsError(f"{action}: {_one_line(str(exc))}", "check your AWS configuration")
    return AwsError(f"{action}: {_one_line(str(exc))}")


@contextmanager
def aws_errors(action: str) -> Iterator[None]:
    """Translate botocore errors raised inside the block (once, here) into AwsError."""
    try:
        yield
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        raise translate_client_error(exc, action) from exc


def call(action: str, fn: Callable[..., T], /, **kwargs: Any) -> T:
    """Call `fn(**kwargs)`, translating AWS errors.

    e.g. `call("sagemaker:CreateModel", sm.create_model, ModelName=...)`."""
    with aws_errors(action):
        return fn(**kwargs)


def registry_host(session: boto3.Session) -> str:
    """The registry SageMaker pulls the app's image from: EASY_SM_REGISTRY if set (another
    registry), else the account's ECR registry in the session's region."""
    import os

    override = os.environ.get("EASY_SM_REGISTRY", "").strip().rstrip("/")
    if override:
        return override.removeprefix("https://").removeprefix("http://")
    return f"{account_id(session)}.dkr.ecr.{session.region_name}.amazonaws.com"


def image_uri(session: boto3.Session, image_name: str, tag: str) -> str:
    """The full URI of `{image_name}:{tag}` in the registry (what `push` prints and what
    `train`, `deploy`, `process` and `batch-transform` give SageMaker)."""
    return f"{registry_host(session)}/{image_name}:{tag}"
