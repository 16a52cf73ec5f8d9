"""Uploading a folder tree to S3: concurrent transfers, multipart for big files, and only what
changed (size + ETag compare), so an interrupted upload is finished by simply re-running it."""

from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import botocore.exceptions

from easy_sm import console
from easy_sm.errors import AwsError, UsageError
from easy_sm.sagemaker.names import S3Uri, parse_s3_uri
from easy_sm.sagemaker.session import aws_errors, translate_client_error

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

MB = 1024 * 1024
MULTIPART_THRESHOLD = 8 * MB
MULTIPART_CHUNKSIZE = 8 * MB
DEFAULT_CONCURRENCY = 16


@dataclass
class LocalFile:
    path: Path
    key: str
    size: int


@dataclass
class UploadReport:
    """What `upload_folder` did."""

    uri: str
    uploaded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    bytes_uploaded: int = 0


def local_files(folder: Path, target: S3Uri) -> list[LocalFile]:
    """Every regular file under `folder`, with its object key under `target` (POSIX paths)."""
    if not folder.exists():
        raise UsageError(f"{folder} does not exist", "give the folder holding your data with -i")
    if not folder.is_dir():
        raise UsageError(f"{folder} is not a folder", "give a folder with -i, not a file")
    found: list[LocalFile] = []
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        for name in sorted(files):
            path = Path(root) / name
            if not path.is_file():
                continue
            relative = path.relative_to(folder).as_posix()
            found.append(LocalFile(path, target.child(relative), path.stat().st_size))
    if not found:
        raise UsageError(f"{folder} holds no files", "put your data files in it first")
    return found


def etag_of(path: Path, size: int, chunksize: int = MULTIPART_CHUNKSIZE) -> str:
    """The ETag S3 gives `path` when uploaded as we upload it: the MD5 for a single PUT, else
    MD5-of-part-MD5s plus `-{parts}` with s3transfer's (possibly adjusted) chunk size."""
    from s3transfer.utils import ChunksizeAdjuster

    if size < MULTIPART_THRESHOLD:
        digest = hashlib.md5(usedforsecurity=False)
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(MB), b""):
                digest.update(block)
        return digest.hexdigest()
    chunk = ChunksizeAdjuster().adjust_chunksize(chunksize, size)
    parts: list[bytes] = []
    with path.open("rb") as handle:
        while True:
            part = hashlib.md5(usedforsecurity=False)
            remaining = chunk
            while remaining:
                block = handle.read(min(MB, remaining))
                if not block:
                    break
                part.update(block)
                remaining -= len(block)
            if remaining == chunk:
                break
            parts.append(part.digest())
    combined = hashlib.md5(b"".join(parts), usedforsecurity=False).hexdigest()
    return f"{combined}-{len(parts)}"


def check_bucket(s3: S3Client, bucket: str) -> None:
    """Fail early and clearly when the bucket is missing or not ours to write."""
    try:
        s3.head_bucket(Bucket=bucket)
    except botocore.exceptions.ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in ("404", "NoSuchBucket", "NotFound"):
            raise AwsError(
                f"S3 bucket {bucket!r} does not exist",
                f"create it first (aws s3 mb s3://{bucket}) or check the S3 URI and region",
            ) from None
        if code in ("403", "AccessDenied"):
            raise AwsError(
                f"access denied for s3:ListBucket on bucket {bucket!r}",
                "grant s3:ListBucket and s3:PutObject on it to your user/role, or use another "
                "profile",
            ) from None
        raise translate_client_error(exc, "s3:HeadBucket") from exc
    except botocore.exceptions.BotoCoreError as exc:
        raise translate_client_error(exc, "s3:HeadBucket") from exc


def remote_objects(s3: S3Client, target: S3Uri) -> dict[str, tuple[int, str]]:
    """`{key: (size, etag)}` of the objects already under the target prefix."""
    found: dict[str, tuple[int, str]] = {}
    prefix = target.key.rstrip("/")
    with aws_errors("s3:ListObjectsV2"):
        paginator = s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=target.bucket, Prefix=f"{prefix}/" if prefix else ""):
            for obj in page.get("Contents", []):
                found[obj["Key"]] = (int(obj["Size"]), str(obj.get("ETag", "")).strip('"'))
    return found


def changed_files(files: list[LocalFile], remote: dict[str, tuple[int, str]]) -> list[LocalFile]:
    """The files whose size or content differ from the object of the same key."""
    changed = []
    for item in files:
        existing = remote.get(item.key)
        # `or` short-circuits: the checksum is only computed when the sizes match
        same_size = existing is not None and existing[0] == item.size
        if existing is None or not same_size or etag_of(item.path, item.size) != existing[1]:
            changed.append(item)
    return changed


class _Progress:
    """Counts bytes from s3transfer's worker threads and draws a bar on a terminal."""

    def __init__(self, total: int, files: int) -> None:
        self.lock = threading.Lock()
        self.total = total
        self.files = files
        self.bar: Any = None
        self.task: Any = None
        if console.show_progress() and total:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                Progress,
                TimeRemainingColumn,
                TransferSpeedColumn,
            )

            self.bar = Progress(
                "[progress.description]{task.description}",
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self.task = self.bar.add_task(f"uploading {files} files", total=total)
            self.bar.start()

    def advance(self, amount: int) -> None:
        if self.bar is not None:
            with self.lock:
                self.bar.update(self.task, advance=amount)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def upload_folder(
    s3: S3Client,
    folder: Path,
    target_uri: str,
    *,
    max_concurrency: int = DEFAULT_CONCURRENCY,
) -> UploadReport:
    """Upload the files of `folder` under `target_uri`, skipping those already there unchanged.

    Transfers run concurrently (one thread pool for all files and all parts of big files);
    files of 8 MB and more go up in 8 MB parts."""
    from boto3.s3.transfer import TransferConfig, create_transfer_manager
    from s3transfer.subscribers import BaseSubscriber

    target = parse_s3_uri(target_uri, "-t/--target-dir")
    target = S3Uri(target.bucket, target.key.rstrip("/"))
    files = local_files(folder, target)
    check_bucket(s3, target.bucket)
    todo = changed_files(files, remote_objects(s3, target))
    report = UploadReport(uri=str(target))
    todo_keys = {item.key for item in todo}
    report.skipped = [item.key for item in files if item.key not in todo_keys]
    if report.skipped:
        console.info(f"{len(report.skipped)} of {len(files)} files unchanged in {target}: skipped")
    if not todo:
        return report

    progress = _Progress(sum(item.size for item in todo), len(todo))

    class _Subscriber(BaseSubscriber):
        def on_progress(self, future: Any, bytes_transferred: int, **kwargs: Any) -> None:
            progress.advance(bytes_transferred)

    config = TransferConfig(
        multipart_threshold=MULTIPART_THRESHOLD,
        multipart_chunksize=MULTIPART_CHUNKSIZE,
        max_concurrency=max_concurrency,
        use_threads=True,
    )
    manager = create_transfer_manager(s3, config)
    futures: list[tuple[LocalFile, Any]] = []
    try:
        with aws_errors("s3:PutObject"):
            try:
                for item in todo:
                    futures.append(
                        (
                            item,
                            manager.upload(
                                str(item.path),
                                target.bucket,
                                item.key,
                                subscribers=[_Subscriber()],
                            ),
                        )
                    )
                for item, future in futures:
                    future.result()
                    report.uploaded.append(item.key)
                    report.bytes_uploaded += item.size
            except BaseException:
                _cancel(manager, [future for _, future in futures])
                raise
            manager.shutdown()
    except KeyboardInterrupt:
        from easy_sm.errors import InterruptedByUser

        done = set(report.uploaded)
        left = {item.key for item in todo if item.key not in done}
        abort_multipart_uploads(s3, target.bucket, target.key, left)
        raise InterruptedByUser(
            f"upload interrupted after {len(report.uploaded)} of {len(todo)} files",
            "run the same command again: files already uploaded are skipped",
        ) from None
    finally:
        progress.close()
    console.info(
        f"uploaded {len(report.uploaded)} files ({report.bytes_uploaded / MB:.1f} MiB) to {target}"
    )
    return report


def _cancel(manager: Any, futures: list[Any]) -> None:
    """Stop a transfer manager at once: queued transfers never start, in-flight ones end
    (s3transfer aborts their multipart uploads), then the worker threads are joined.

    Not `manager.shutdown(cancel=True)`: s3transfer (0.17 and later) passes the message where
    the exception class belongs, which raises "'str' object is not callable" instead of
    cancelling and leaves every queued upload to run."""
    for future in futures:
        future.cancel()
    manager.shutdown()


def abort_multipart_uploads(s3: S3Client, bucket: str, prefix: str, keys: set[str]) -> list[str]:
    """Abort the multipart uploads still open on `keys` (best effort: an interrupted run must
    not leave parts that S3 bills for); return the keys aborted."""
    aborted: list[str] = []
    if not keys:
        return aborted
    try:
        listed = s3.list_multipart_uploads(Bucket=bucket, Prefix=prefix)
        for upload in listed.get("Uploads", []):
            if upload.get("Key") in keys:
                s3.abort_multipart_upload(
                    Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                )
                aborted.append(upload["Key"])
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError):
        pass  # nothing more can be done now; S3 lifecycle rules clean up stale parts
    return aborted
