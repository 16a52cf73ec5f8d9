"""Names SageMaker accepts: unique job names, deterministic model names, S3 URIs.

SageMaker names (jobs, models, endpoints, endpoint configs) match
`^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}`: at most 63 characters, letters, digits and single or
repeated hyphens, never starting or ending with one.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from easy_sm.errors import UsageError

MAX_NAME = 63
NAME_RE = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")
BASE_RE = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9])*")  # a base, shortened to fit if needed
BUCKET_RE = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")


def validate_name(name: str, option: str) -> str:
    """`name` if SageMaker accepts it as a resource name, else a UsageError naming `option`."""
    if not NAME_RE.fullmatch(name):
        raise UsageError(
            f"{option} {name!r} is not a valid SageMaker name",
            "use letters, digits and '-', start and end with a letter or digit, "
            f"at most {MAX_NAME} characters",
        )
    return name


def sanitize(text: str) -> str:
    """Turn free text (e.g. an image name `team/my_app`) into a valid name fragment."""
    cleaned = re.sub(r"[^a-zA-Z0-9]+", "-", text).strip("-")
    return cleaned or "easy-sm"


def _fit(base: str, suffix: str) -> str:
    room = MAX_NAME - len(suffix) - 1
    return f"{base[:room].rstrip('-')}-{suffix}"


def timestamp(now: datetime | None = None) -> str:
    """`YYYYMMDD-HHMMSS` in UTC: sorts in time order, like the names built from it."""
    return (now or datetime.now(UTC)).strftime("%Y%m%d-%H%M%S")


def unique_name(base: str, option: str = "-n/--base-job-name") -> str:
    """`{base}-{YYYYMMDD-HHMMSS}-{4 hex}`: a job name no re-run collides with (≤ 63 chars).

    The base is validated (not silently rewritten) and shortened if needed."""
    if not BASE_RE.fullmatch(base):
        raise UsageError(
            f"{option} {base!r} is not a valid SageMaker name",
            "use letters, digits and '-', start and end with a letter or digit",
        )
    return _fit(base, f"{timestamp()}-{secrets.token_hex(2)}")


def model_name(prefix: str, image_uri: str, model_data: str, role_arn: str = "") -> str:
    """Deterministic model name: the same image, model archive and role always give the same
    name (sha256, never Python's per-process salted `hash()`), so a re-deploy reuses the model."""
    source = f"{image_uri}\n{model_data}\n{role_arn}"
    digest = hashlib.sha256(source.encode()).hexdigest()[:16]
    return _fit(sanitize(prefix), digest)


def endpoint_config_name(endpoint_name: str) -> str:
    """A fresh endpoint config name per deploy: `{endpoint}-{timestamp}-{4 hex}`."""
    return _fit(endpoint_name, f"{timestamp()}-{secrets.token_hex(2)}")


@dataclass(frozen=True)
class S3Uri:
    bucket: str
    key: str  # without a leading '/'; may be empty

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.key}" if self.key else f"s3://{self.bucket}"

    def child(self, relative: str) -> str:
        """The object key of `relative` under this prefix."""
        prefix = self.key.rstrip("/")
        return f"{prefix}/{relative}" if prefix else relative


def parse_s3_uri(uri: str, option: str) -> S3Uri:
    """Parse `s3://bucket[/key]`, or raise a UsageError naming `option`."""
    if not uri.startswith("s3://"):
        raise UsageError(f"{option} {uri!r} is not an S3 URI", "write it as s3://bucket/prefix")
    bucket, _, key = uri[len("s3://") :].partition("/")
    if not BUCKET_RE.fullmatch(bucket) or ".." in bucket:
        raise UsageError(
            f"{option} {uri!r}: {bucket!r} is not a valid bucket name",
            "write it as s3://bucket/prefix (bucket: 3-63 lower-case letters, digits, '.', '-')",
        )
    return S3Uri(bucket, key)


def s3_uri(uri: str, option: str) -> str:
    """Validate an S3 URI option and return it unchanged."""
    parse_s3_uri(uri, option)
    return uri
