#!/usr/bin/env python3
"""How promptly does easy_sm stop when told to? SIGTERM sent to `easy_sm upload-data` in the
middle of a 400 MB upload to a local moto S3 server (its own process, 127.0.0.1): the time from
the signal to the process's exit (exit code 143, no open multipart upload left), beside the
baseline of the same run: how long the whole upload takes, which is how long the upload went
on after Ctrl-C before the fix (s3transfer's broken `shutdown(cancel=True)` left every queued
part to run). With `--local-run`, also `easy_sm local run -- sleep 60` on the real Docker
engine (an image built here): time from SIGTERM to the "stopping container" line and to the
exit, beside the silent ~10 s the engine's stop timeout took before.

Usage: python bench/interrupt.py [--big-mb 400] [--local-run]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import boto3
from _common import easy_sm_command, free_port, start_moto

REGION = "eu-west-1"
BUCKET = "bench-interrupt"


def upload(project: Path, url: str, prefix: str) -> subprocess.Popen[str]:
    env = {**os.environ, "AWS_ENDPOINT_URL": url, "NO_COLOR": "1"}
    env.setdefault("AWS_ACCESS_KEY_ID", "bench")
    env.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    return subprocess.Popen(
        [*easy_sm_command(), "upload-data", "-i", "data", "-t", f"s3://{BUCKET}/{prefix}"],
        cwd=project,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def bench_upload(big_mb: int) -> None:
    port = free_port()
    server = start_moto(port)
    url = f"http://127.0.0.1:{port}"
    try:
        s3 = boto3.client(
            "s3",
            region_name=REGION,
            endpoint_url=url,
            aws_access_key_id="bench",
            aws_secret_access_key="bench",
        )
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        with tempfile.TemporaryDirectory() as tmp:
            project = Path(tmp)
            (project / "bench.json").write_text(
                '{"image_name": "bench", "aws_region": "eu-west-1", "easy_sm_module_dir": "."}'
            )
            (project / "data").mkdir()
            with (project / "data" / "big.bin").open("wb") as handle:
                for _ in range(big_mb):
                    handle.write(os.urandom(1024 * 1024))

            started = time.monotonic()
            full = upload(project, url, "full")
            full.communicate()
            whole = time.monotonic() - started

            run = upload(project, url, "interrupted")
            while not s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads"):
                time.sleep(0.01)
            time.sleep(0.3)  # well inside the transfer
            sent = time.monotonic()
            run.send_signal(signal.SIGTERM)
            run.communicate()
            stopped = time.monotonic() - sent
            left = len(s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []))
    finally:
        server.kill()
    print(f"upload-data {big_mb} MB, SIGTERM mid-transfer:")
    print(f"  easy_sm stops in      {stopped:6.2f} s  (exit {run.returncode}, {left} open uploads)")
    print(f"  baseline: whole upload {whole:6.2f} s  (how long it kept going before the fix)")


def bench_local_run() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp)
        subprocess.run(
            [*easy_sm_command(), "init", "--app-name", "bench-int", "--yes"],
            cwd=project,
            check=True,
            capture_output=True,
        )
        tag = f"bench-{os.getpid()}"
        subprocess.run(
            [*easy_sm_command(), "--docker-tag", tag, "-q", "build"],
            cwd=project,
            check=True,
            capture_output=True,
        )
        try:
            run = subprocess.Popen(
                [*easy_sm_command(), "--docker-tag", tag, "local", "run", "--", "sleep", "60"],
                cwd=project,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            assert run.stderr is not None
            for line in run.stderr:
                if line.startswith("running "):
                    break
            time.sleep(1.5)
            sent = time.monotonic()
            run.send_signal(signal.SIGTERM)
            told = None
            for line in run.stderr:
                if "stopping container" in line and told is None:
                    told = time.monotonic() - sent
            run.wait()
            done = time.monotonic() - sent
        finally:
            subprocess.run(["docker", "rmi", "-f", f"bench-int:{tag}"], capture_output=True)
    print("local run -- sleep 60, SIGTERM:")
    print(f"  told 'stopping container' after {told or float('nan'):5.2f} s, exit {run.returncode}")
    print(f"  container stopped and removed after {done:5.2f} s")
    print("  baseline: before the fix, killed at once (exit -15) with the container left running;")
    print("            on Ctrl-C, silence for the engine's 10 s stop timeout")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--big-mb", type=int, default=400)
    parser.add_argument("--local-run", action="store_true")
    args = parser.parse_args()
    bench_upload(args.big_mb)
    if args.local_run:
        bench_local_run()


if __name__ == "__main__":
    main()
