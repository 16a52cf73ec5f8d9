"""`upload-data` under faults, on a real `easy_sm` process and a moto server in its own
process: a server that dies mid-transfer is exit 4 with the real cause (not s3transfer's
"'str' object is not callable"); Ctrl-C / SIGTERM mid-transfer stop promptly with 130 / 143
and leave no open multipart upload behind."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from tests.conftest import free_port

REGION = "eu-west-1"
BUCKET = "fault-bucket"
BIG = 160 * 1024 * 1024  # 20 parts of 8 MB: long enough to be caught mid-transfer


@pytest.fixture
def moto_process() -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """A moto server in its own process (so the test can kill it), and its URL."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            if time.monotonic() > deadline:
                server.kill()
                pytest.fail("moto server did not start")
            time.sleep(0.1)
    try:
        yield server, f"http://127.0.0.1:{port}"
    finally:
        server.kill()
        server.wait()


@pytest.fixture
def data_project(isolated: Path) -> Path:
    (isolated / "my-app.json").write_text(
        json.dumps({"image_name": "my-app", "aws_region": REGION, "easy_sm_module_dir": "."}),
        encoding="utf-8",
    )
    data = isolated / "data"
    data.mkdir()
    with (data / "big.bin").open("wb") as handle:
        handle.truncate(BIG)
    for index in range(5):
        (data / f"small-{index}.csv").write_text(f"{index}\n", encoding="utf-8")
    return isolated


def _start_upload(project: Path, url: str) -> subprocess.Popen[str]:
    s3 = boto3.client("s3", region_name=REGION, endpoint_url=url)
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    env = {**os.environ, "AWS_ENDPOINT_URL": url, "AWS_MAX_ATTEMPTS": "2", "NO_COLOR": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "easy_sm", "upload-data", "-i", "data", "-t", f"s3://{BUCKET}/d"],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_mid_transfer(url: str, upload: subprocess.Popen[str]) -> None:
    """Until a multipart upload of big.bin is open (parts are going up)."""
    s3 = boto3.client("s3", region_name=REGION, endpoint_url=url)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads"):
            return
        if upload.poll() is not None:
            break
        time.sleep(0.02)
    upload.kill()
    _, err = upload.communicate()
    pytest.fail(f"never caught the upload mid-transfer (exit {upload.returncode}):\n{err}")


def _one_error_line(stderr: str) -> str:
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, stderr
    assert " — " in errors[0]
    assert "Traceback" not in stderr and "unexpected" not in stderr, stderr
    return errors[0]


def test_server_dying_mid_upload_is_an_aws_error_with_the_real_cause(
    moto_process: tuple[subprocess.Popen[bytes], str], data_project: Path
) -> None:
    server, url = moto_process
    upload = _start_upload(data_project, url)
    try:
        _wait_mid_transfer(url, upload)
        server.kill()
        out, err = upload.communicate(timeout=120)
    finally:
        upload.kill()
    assert upload.returncode == 4, err
    line = _one_error_line(err)
    assert "s3:PutObject" in line and ("reach" in line or "connection" in line), line
    assert out == ""


@pytest.mark.parametrize(
    ("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["INT", "TERM"]
)
def test_interrupted_upload_stops_promptly_and_leaves_no_multipart_upload(
    moto_process: tuple[subprocess.Popen[bytes], str], data_project: Path, signum: int, code: int
) -> None:
    _, url = moto_process
    upload = _start_upload(data_project, url)
    try:
        _wait_mid_transfer(url, upload)
        sent = time.monotonic()
        upload.send_signal(signum)
        out, err = upload.communicate(timeout=60)
        took = time.monotonic() - sent
    finally:
        upload.kill()
    assert upload.returncode == code, err
    assert took < 15, f"took {took:.1f} s to stop"
    assert "upload interrupted" in _one_error_line(err)
    s3 = boto3.client("s3", region_name=REGION, endpoint_url=url)
    assert s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []
    assert out == ""
