#!/usr/bin/env python3
"""End-to-end wall time of `easy_sm list-endpoints` (a fresh process each run: start-up, config,
boto3 session, one paginated ListEndpoints) against a moto server started here on 127.0.0.1,
side by side with `easy_sm --help` (start-up alone). The difference is what talking to AWS
costs: importing boto3 and making a client, plus the request itself.

Usage: python bench/list_endpoints.py [--runs 15] [--endpoints 25]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from _common import easy_sm_command, free_port, start_moto

REGION = "eu-west-1"


def median_seconds(argv: list[str], runs: int, cwd: Path, env: dict[str, str]) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True)
        times.append(time.perf_counter() - start)
        if done.returncode != 0:
            raise SystemExit(f"{argv} exited {done.returncode}: {done.stderr.decode()}")
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--endpoints", type=int, default=25)
    args = parser.parse_args()

    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    server = start_moto(port)
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_REGION": REGION,
    }
    env.pop("AWS_PROFILE", None)
    try:
        import boto3

        sm = boto3.client(
            "sagemaker",
            region_name=REGION,
            endpoint_url=endpoint,
            aws_access_key_id="bench",
            aws_secret_access_key="bench",
        )
        sm.create_model(
            ModelName="m",
            PrimaryContainer={"Image": "img:latest"},
            ExecutionRoleArn="arn:aws:iam::123456789012:role/r",
        )
        sm.create_endpoint_config(
            EndpointConfigName="c",
            ProductionVariants=[
                {
                    "VariantName": "v",
                    "ModelName": "m",
                    "InstanceType": "ml.m5.large",
                    "InitialInstanceCount": 1,
                }
            ],
        )
        for i in range(args.endpoints):
            sm.create_endpoint(EndpointName=f"ep-{i}", EndpointConfigName="c")

        base = easy_sm_command()
        with tempfile.TemporaryDirectory(prefix="easy-sm-bench-") as tmp:
            project = Path(tmp)
            (project / "bench-app.json").write_text(
                json.dumps(
                    {"image_name": "bench-app", "aws_region": REGION, "easy_sm_module_dir": "."}
                ),
                encoding="utf-8",
            )
            listed = subprocess.run(
                [*base, "list-endpoints"], cwd=project, env=env, capture_output=True, text=True
            )
            lines = listed.stdout.splitlines()
            assert len(lines) == args.endpoints, listed.stderr
            median_seconds([*base, "--help"], 2, project, env)  # warm the file cache
            help_t = median_seconds([*base, "--help"], args.runs, project, env)
            list_t = median_seconds([*base, "list-endpoints"], args.runs, project, env)
        print(f"runs per command: {args.runs}; endpoints listed: {args.endpoints}")
        print(f"easy_sm --help:          {help_t * 1000:7.1f} ms")
        print(f"easy_sm list-endpoints:  {list_t * 1000:7.1f} ms (moto on 127.0.0.1)")
        extra = (list_t - help_t) * 1000
        print(f"difference:              {extra:7.1f} ms  ratio {list_t / help_t:.2f}x")
        print(f"list_endpoints_ms={list_t * 1000:.0f} help_ms={help_t * 1000:.0f}")
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
