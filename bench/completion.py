"""How long does a Tab press take? `easy_sm delete-endpoint -n <Tab>` against a moto server
holding 25 endpoints, and against a server that accepts connections but never answers (a
slow or broken network), side by side with `easy_sm --help` (start-up alone) from one run.

    python bench/completion.py [--runs 7]

Target: the silent-network case stays within start-up + the 2 s completion budget.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import tempfile
import time

from _common import easy_sm_command, free_port, start_moto

REGION = "eu-west-1"


def timed(argv: list[str], env: dict[str, str], cwd: str, runs: int) -> tuple[float, str]:
    """(median seconds, last stdout) of running argv `runs` times."""
    times: list[float] = []
    out = ""
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, check=True)
        times.append(time.perf_counter() - start)
        out = done.stdout
    return statistics.median(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()

    import boto3

    port = free_port()
    moto = start_moto(port)
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(64)
    try:
        url = f"http://127.0.0.1:{port}"
        sm = boto3.client(
            "sagemaker",
            region_name=REGION,
            endpoint_url=url,
            aws_access_key_id="bench",
            aws_secret_access_key="bench",
        )
        sm.create_model(
            ModelName="m",
            ExecutionRoleArn="arn:aws:iam::123456789012:role/Bench",
            PrimaryContainer={"Image": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/b:latest"},
        )
        for index in range(25):
            sm.create_endpoint_config(
                EndpointConfigName=f"c{index}",
                ProductionVariants=[
                    {
                        "VariantName": "main",
                        "ModelName": "m",
                        "InstanceType": "ml.m5.large",
                        "InitialInstanceCount": 1,
                    }
                ],
            )
            sm.create_endpoint(EndpointName=f"endpoint-{index:02d}", EndpointConfigName=f"c{index}")
        with tempfile.TemporaryDirectory() as project:
            with open(os.path.join(project, "bench.json"), "w", encoding="utf-8") as handle:
                json.dump(
                    {"image_name": "bench", "aws_region": REGION, "easy_sm_module_dir": "."}, handle
                )
            env = {
                **os.environ,
                "AWS_ACCESS_KEY_ID": "bench",
                "AWS_SECRET_ACCESS_KEY": "bench",
                "AWS_ENDPOINT_URL": url,
            }
            tab = {
                **env,
                "_EASY_SM_COMPLETE": "complete_bash",
                "COMP_WORDS": "easy_sm delete-endpoint -n ",
                "COMP_CWORD": "3",
            }
            command = easy_sm_command()
            help_time, _ = timed([*command, "--help"], env, project, args.runs)
            tab_time, offered = timed(command, tab, project, args.runs)
            silent_env = {**tab, "AWS_ENDPOINT_URL": f"http://127.0.0.1:{silent.getsockname()[1]}"}
            silent_time, nothing = timed(command, silent_env, project, args.runs)
    finally:
        silent.close()
        moto.terminate()
        moto.wait(timeout=30)
    print(f"runs per case:                          {args.runs}")
    print(f"easy_sm --help (start-up, baseline):    {help_time * 1000:7.0f} ms")
    print(
        f"Tab, 25 endpoints from moto:            {tab_time * 1000:7.0f} ms   "
        f"({len(offered.split())} names offered, {tab_time / help_time:.1f}x start-up)"
    )
    print(
        f"Tab, a network that never answers:      {silent_time * 1000:7.0f} ms   "
        f"({len(nothing.split())} names; budget: start-up + 2000 ms)"
    )


if __name__ == "__main__":
    main()
