#!/usr/bin/env python3
"""How fast is `easy_sm upload-data`? 500 files x 256 KB plus one 200 MB file, uploaded to a
local moto S3 server (started here on 127.0.0.1, in its own process), by easy_sm's uploader
(one pool of concurrent transfers, 8 MB multipart parts) and, in the same run, by the baseline:
one file at a time with `upload_file`, which is what the SageMaker SDK's `upload_data` does.
Also times a re-run of easy_sm over the unchanged tree (everything skipped).

Target (issue 4): >= 3x the baseline on the small files.

Against moto on loopback there is no network latency: every request costs ~3 ms of the
(single-process, GIL-bound) moto server's CPU, and that caps any client at about 2.5x the
sequential baseline on a 2-core machine. Real S3 is tens of milliseconds away, which is where
concurrency pays; so the small files are also uploaded with a simulated round-trip time
(`--rtt-ms`, default 20; a sleep before each request is sent, the same for both uploaders, no
CPU). Both scenarios are printed.

Usage: python bench/upload_data.py [--small-files 500] [--small-kb 256] [--big-mb 200]
                                  [--rtt-ms 20]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import boto3
from _common import free_port, start_moto

REGION = "eu-west-1"
BUCKET = "bench-bucket"


def make_tree(root: Path, small_files: int, small_kb: int, big_mb: int) -> tuple[Path, Path]:
    small, big = root / "small", root / "big"
    small.mkdir()
    big.mkdir()
    for i in range(small_files):
        (small / f"part-{i:05d}.csv").write_bytes(os.urandom(small_kb * 1024))
    with (big / "big.bin").open("wb") as handle:
        for _ in range(big_mb):
            handle.write(os.urandom(1024 * 1024))
    return small, big


def sequential_upload(s3: Any, folder: Path, prefix: str) -> None:
    """The SageMaker SDK's upload_data: walk the tree, upload_file one file after another."""
    for root, _dirs, files in os.walk(folder):
        for name in files:
            path = Path(root) / name
            key = f"{prefix}/{path.relative_to(folder).as_posix()}"
            s3.upload_file(str(path), BUCKET, key)


def add_latency(s3: Any, rtt_ms: float) -> Any:
    """Make every request of this client wait `rtt_ms` before it is sent (a network stand-in)."""
    s3.meta.events.register("before-send.s3.*", lambda **_: time.sleep(rtt_ms / 1000))
    return s3


def timed(label: str, fn: Any) -> float:
    start = time.perf_counter()
    fn()
    seconds = time.perf_counter() - start
    print(f"  {label:<44} {seconds:7.2f} s", flush=True)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small-files", type=int, default=500)
    parser.add_argument("--small-kb", type=int, default=256)
    parser.add_argument("--big-mb", type=int, default=200)
    parser.add_argument("--rtt-ms", type=float, default=20.0, help="0 skips that scenario")
    args = parser.parse_args()

    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    os.environ.update(
        AWS_ENDPOINT_URL=endpoint,
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_REGION=REGION,
        AWS_DEFAULT_REGION=REGION,
    )
    os.environ.pop("AWS_PROFILE", None)
    from easy_sm import console
    from easy_sm.sagemaker.s3 import upload_folder
    from easy_sm.sagemaker.session import client, make_session

    console.verbosity.quiet = True
    server = start_moto(port)
    try:
        session = make_session("", REGION)
        ours = client(session, "s3")
        plain = boto3.client("s3", region_name=REGION)  # what the SDK uses: default config
        ours.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        with tempfile.TemporaryDirectory(prefix="easy-sm-bench-") as tmp:
            small, big = make_tree(Path(tmp), args.small_files, args.small_kb, args.big_mb)
            size = f"{args.small_files} x {args.small_kb} KB"
            print(f"moto S3 at {endpoint}; tree: {size} + 1 x {args.big_mb} MB")
            print("small files:")
            base_small = timed(
                "sequential upload_file (SageMaker SDK way)",
                lambda: sequential_upload(plain, small, "seq/small"),
            )
            ours_small = timed(
                "easy_sm upload-data (concurrent)",
                lambda: upload_folder(ours, small, f"s3://{BUCKET}/ours/small"),
            )
            rerun = timed(
                "easy_sm re-run, nothing changed (skipped)",
                lambda: upload_folder(ours, small, f"s3://{BUCKET}/ours/small"),
            )
            print(f"one {args.big_mb} MB file:")
            base_big = timed(
                "sequential upload_file (SageMaker SDK way)",
                lambda: sequential_upload(plain, big, "seq/big"),
            )
            ours_big = timed(
                "easy_sm upload-data (concurrent)",
                lambda: upload_folder(ours, big, f"s3://{BUCKET}/ours/big"),
            )
            rtt_ratio = None
            if args.rtt_ms > 0:
                print(f"small files with a simulated {args.rtt_ms:g} ms round trip per request:")
                slow_plain = add_latency(boto3.client("s3", region_name=REGION), args.rtt_ms)
                slow_ours = add_latency(client(session, "s3"), args.rtt_ms)
                base_rtt = timed(
                    "sequential upload_file (SageMaker SDK way)",
                    lambda: sequential_upload(slow_plain, small, "seq/rtt"),
                )
                ours_rtt = timed(
                    "easy_sm upload-data (concurrent)",
                    lambda: upload_folder(slow_ours, small, f"s3://{BUCKET}/ours/rtt"),
                )
                rtt_ratio = base_rtt / ours_rtt
        mb_small = args.small_files * args.small_kb / 1024
        print("summary:")
        print(
            f"  small files: baseline {base_small:.2f} s ({mb_small / base_small:.1f} MB/s), "
            f"easy_sm {ours_small:.2f} s ({mb_small / ours_small:.1f} MB/s), "
            f"ratio {base_small / ours_small:.2f}x (target >= 3x)"
        )
        print(
            f"  big file:    baseline {base_big:.2f} s, easy_sm {ours_big:.2f} s, "
            f"ratio {base_big / ours_big:.2f}x"
        )
        print(f"  whole tree:  ratio {(base_small + base_big) / (ours_small + ours_big):.2f}x")
        print(f"  unchanged re-run of the small files: {rerun:.2f} s")
        if rtt_ratio is not None:
            print(
                f"  small files, {args.rtt_ms:g} ms RTT: baseline {base_rtt:.2f} s, "
                f"easy_sm {ours_rtt:.2f} s, ratio {rtt_ratio:.2f}x (target >= 3x)"
            )
        print(f"upload_small_ratio={base_small / ours_small:.2f}")
        if rtt_ratio is not None:
            print(f"upload_small_rtt_ratio={rtt_ratio:.2f}")
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
