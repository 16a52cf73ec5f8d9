"""The cloud loop after a one-line code change: time until CreateTrainingJob is sent with
`easy_sm train --code`, against `easy_sm build && easy_sm push && easy_sm train`.

    python bench/code_loop.py [--keep]

What it does, on this machine (needs the Docker engine and `docker-registry`, as the push
tests do; moto stands in for SageMaker, S3, ECR and STS):
1. `easy_sm init` the example app in a temp folder; start a moto server and a local
   docker-registry (basic auth with the ECR token moto hands out) as the image registry.
2. Once, untimed, as a user would have done before: `easy_sm build` and `easy_sm push`.
3. Appends one line to training.py, then times `build && push && train --no-wait`
   (`--no-wait` returns as soon as CreateTrainingJob has been sent).
4. Appends another line, then times `train --code --no-wait` (pack, upload to S3, create).
5. Prints both times and the ratio (target: >= 10x), then removes the image.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from _common import easy_sm_command, free_port, start_moto

APP = "bench-code"
ACCOUNT = "123456789012"
USER, PASSWORD = "AWS", f"{ACCOUNT}-auth-token"  # moto's ECR token: AWS:<account>-auth-token
BUCKET = "bench-code-loop"


def start_registry(folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    import bcrypt
    import requests

    binary = shutil.which("docker-registry")
    if binary is None:
        raise SystemExit("docker-registry is not installed (run ../shared/sandbox/docker-up.sh)")
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=5)).decode()
    (folder / "htpasswd").write_text(f"{USER}:{hashed}\n")
    port = free_port()
    (folder / "config.yml").write_text(
        "version: 0.1\nlog: {level: warn}\n"
        f"storage: {{filesystem: {{rootdirectory: {folder / 'data'}}}}}\n"
        f"http: {{addr: '127.0.0.1:{port}', secret: easy-sm-bench}}\n"
        f"auth: {{htpasswd: {{realm: easy-sm-bench, path: {folder / 'htpasswd'}}}}}\n"
    )
    proc = subprocess.Popen(
        [binary, "serve", str(folder / "config.yml")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/v2/", timeout=2).status_code in (200, 401):
                return proc, f"127.0.0.1:{port}"
        except requests.ConnectionError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("docker-registry did not start")


def run(args: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(
        [*easy_sm_command(), *args], cwd=cwd, env=env, capture_output=True, text=True
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"easy_sm {' '.join(args)} failed ({done.returncode}):\n{done.stderr}")
    return elapsed


def change_one_line(training: Path, marker: str) -> None:
    with open(training, "a", encoding="utf-8") as handle:
        handle.write(f"\n# {marker}\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="keep the image")
    options = parser.parse_args()

    import boto3

    work = Path(tempfile.mkdtemp(prefix="easy-sm-code-loop-"))
    moto_port = free_port()
    moto = start_moto(moto_port)
    registry_proc, registry = start_registry(work)
    tag = f"bench-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{moto_port}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "eu-west-1",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "EASY_SM_REGISTRY": registry,
        "SAGEMAKER_ROLE": f"arn:aws:iam::{ACCOUNT}:role/sagemaker-exec",
        "NO_COLOR": "1",
    }
    env.pop("AWS_PROFILE", None)
    project = work / "project"
    project.mkdir()
    try:
        run(["init", "--app-name", APP, "--python-version", "3.11", "--yes"], project, env)
        config_path = project / f"{APP}.json"
        config = json.loads(config_path.read_text())
        config["docker_tag"] = tag
        config_path.write_text(json.dumps(config, indent=4) + "\n")
        s3 = boto3.client(
            "s3",
            endpoint_url=env["AWS_ENDPOINT_URL"],
            region_name="eu-west-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        s3.create_bucket(
            Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
        )
        # the training data the preflight checks for (both paths pay that check)
        s3.put_object(Bucket=BUCKET, Key="train/iris.csv", Body=b"5.1,3.5,1.4,0.2,setosa\n")
        print("preparing: easy_sm build && easy_sm push (untimed)...", file=sys.stderr)
        run(["build"], project, env)
        run(["push"], project, env)

        train = [
            *("train", "-i", f"s3://{BUCKET}/train", "-o", f"s3://{BUCKET}/models"),
            *("-e", "ml.m5.large", "-n", "iris", "--no-wait"),
        ]
        training = project / APP / "easy_sm_base" / "training" / "training.py"
        change_one_line(training, "change 1")
        rebuild = run(["build"], project, env) + run(["push"], project, env)
        rebuild += run(train, project, env)
        change_one_line(training, "change 2")
        with_code = run([*train, "--code"], project, env)
    finally:
        if not options.keep:
            subprocess.run(
                ["docker", "rmi", "-f", f"{APP}:{tag}", f"{registry}/{APP}:{tag}"],
                capture_output=True,
            )
        registry_proc.terminate()
        moto.terminate()
        registry_proc.wait(timeout=10)
        moto.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)

    print("after a one-line change to training.py, until CreateTrainingJob is sent:")
    print(f"  baseline  build && push && train : {rebuild:6.2f} s")
    print(f"  train --code                      : {with_code:6.2f} s")
    print(f"  {rebuild / with_code:.1f}x faster (target: >= 10x)")


if __name__ == "__main__":
    main()
