#!/usr/bin/env python3
"""What the preflight costs and what it saves, against a moto server started here.

- `easy_sm deploy` (preflight on: instance type, model object in S3, image in ECR) against the
  baseline `easy_sm deploy --skip-checks` of the same model: the preflight's overhead.
- `easy_sm deploy` of an image never pushed: the time until the user reads the error. Without
  the preflight SageMaker creates the endpoint and fails it when the pull fails (minutes).

Usage: python bench/preflight.py [--runs 7]
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
ROLE = "arn:aws:iam::123456789012:role/bench"


def timed(argv: list[str], cwd: Path, env: dict[str, str], expect: int) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != expect:
        raise SystemExit(f"{argv} exited {done.returncode}: {done.stderr}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
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
        "SAGEMAKER_ROLE": ROLE,
        "EASY_SM_POLL_SECONDS": "0.05",
    }
    env.pop("AWS_PROFILE", None)
    env.pop("EASY_SM_REGISTRY", None)
    try:
        import boto3

        def aws(service: str):  # type: ignore[no-untyped-def]
            return boto3.client(
                service,
                region_name=REGION,
                endpoint_url=endpoint,
                aws_access_key_id="bench",
                aws_secret_access_key="bench",
            )

        aws("s3").create_bucket(
            Bucket="bench", CreateBucketConfiguration={"LocationConstraint": REGION}
        )
        aws("s3").put_object(Bucket="bench", Key="model.tar.gz", Body=b"model")
        aws("ecr").create_repository(repositoryName="bench-app")
        manifest = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {"digest": "sha256:" + "0" * 64},
            "layers": [],
        }
        aws("ecr").put_image(
            repositoryName="bench-app", imageManifest=json.dumps(manifest), imageTag="latest"
        )
        base = easy_sm_command()
        model = ["-e", "ml.m5.large", "-m", "s3://bench/model.tar.gz"]
        with tempfile.TemporaryDirectory(prefix="easy-sm-bench-") as tmp:
            project = Path(tmp)
            (project / "bench-app.json").write_text(
                json.dumps(
                    {"image_name": "bench-app", "aws_region": REGION, "easy_sm_module_dir": "."}
                ),
                encoding="utf-8",
            )
            checked, skipped, missing = [], [], []
            for i in range(args.runs):
                checked.append(timed([*base, "deploy", "-n", f"c{i}", *model], project, env, 0))
                skipped.append(
                    timed(
                        [*base, "deploy", "-n", f"s{i}", *model, "--skip-checks"], project, env, 0
                    )
                )
                missing.append(
                    timed(
                        [*base, "--docker-tag", "never-pushed", "deploy", "-n", f"m{i}", *model],
                        project,
                        env,
                        4,
                    )
                )
        with_checks, baseline = statistics.median(checked), statistics.median(skipped)
        to_error = statistics.median(missing)
        print(f"runs: {args.runs} (fresh process each, moto on 127.0.0.1)")
        print(f"easy_sm deploy (preflight on):   {with_checks * 1000:7.0f} ms")
        print(f"baseline: deploy --skip-checks:  {baseline * 1000:7.0f} ms")
        print(f"preflight overhead:              {(with_checks - baseline) * 1000:7.0f} ms")
        print(
            f"never-pushed image, time to the error: {to_error * 1000:.0f} ms "
            "(baseline without preflight: the endpoint is created and fails on SageMaker "
            "minutes later)"
        )
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
