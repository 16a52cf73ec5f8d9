"""`easy_sm local batch-transform` against the SageMaker Python SDK 2.x local-mode Transformer.

    python bench/local_transform.py [--rows 100000] [--strategy MultiRecord|SingleRecord|both]
                                    [--keep]

What it does, on this machine:
1. `easy_sm init` the example app (the iris classifier) in a temp folder, `easy_sm build` it
   (one image, a unique tag) and `easy_sm local train --package-model` (its model.tar.gz).
2. Writes one CSV of `--rows` iris rows (default 100,000).
3. For each strategy, times end to end, as a user runs them, on the same image and model:
   - easy_sm: `easy_sm -q local batch-transform --model model.tar.gz --content-type text/csv
     --split-type Line --strategy S --assemble-with Line` (the container's own
     /execution-parameters decide the requests in flight);
   - SDK:     `Model(image_uri=IMAGE, model_data="file://…/model.tar.gz").transformer(
     instance_type="local", strategy=S, assemble_with="Line").transform(…, split_type="Line")`
     in its own venv (sagemaker>=2,<3, created under ~/.cache/easy_sm-bench on first run) with
     docker-compose (installed with apt-get when missing and running as root). Its serving
     port is bound to 127.0.0.1 (the SDK binds every interface); nothing else is changed.
   The SDK gets `--sdk-budget` seconds (default 150): its SingleRecord path answers a few
   dozen records/s here (before each request it runs `docker info` and `docker context
   inspect` to find the Docker host), so 100,000 records would take over an hour. Past the
   budget it is stopped (Ctrl-C) and its steady rate is measured from the output it was
   writing, from its first answer on (its start-up left out, which favours it); the line says
   so and projects the full run.
4. Checks that both wrote the same predictions, prints records/s of each and the ratio, end
   to end (what a user waits, the container's start included) and for the transform phase
   alone (from the server answering /ping to its last answer; the SDK's timed by wrapping its
   `_perform_batch_inference`, nothing changed); target >= 3x. Then removes the image and
   the SDK's containers (`--keep` keeps the image).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from _common import easy_sm_command, free_port

APP_NAME = "bench-transform"
SDK_VENV = (
    Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    / "easy_sm-bench"
    / "sagemaker2"
)
ROLE = "arn:aws:iam::111111111111:role/bench"

# Runs inside the SDK's venv: one local-mode transform, as the SDK's docs show it.
SDK_DRIVER = r"""
import json, sys
cfg = json.loads(sys.argv[1])
import sagemaker.local.image as image

_create_docker_host = image._SageMakerContainer._create_docker_host

def loopback_only(self, *args, **kwargs):
    host = _create_docker_host(self, *args, **kwargs)
    if "ports" in host:
        host["ports"] = ["127.0.0.1:%d:8080" % cfg["port"]]
    return host

image._SageMakerContainer._create_docker_host = loopback_only

# Measured, not changed: how long its transform phase (server up to last answer) takes.
import time
from sagemaker.local import entities

_perform = entities._LocalTransformJob._perform_batch_inference

def timed_inference(self, *args, **kwargs):
    started = time.perf_counter()
    result = _perform(self, *args, **kwargs)
    with open(cfg["phase"], "w") as handle:
        handle.write(str(time.perf_counter() - started))
    return result

entities._LocalTransformJob._perform_batch_inference = timed_inference

from sagemaker.local import LocalSession
from sagemaker.model import Model

session = LocalSession()
# no telemetry calls to AWS (unreachable here, and nothing to do with the transform)
session.sagemaker_config = {"SchemaVersion": "1.0",
                            "SageMaker": {"PythonSDK": {"Modules": {"TelemetryOptOut": True}}}}
session.config = {"local": {"local_code": True, "serving_port": cfg["port"],
                            "container_root": cfg["root"]}}
model = Model(image_uri=cfg["image"], model_data="file://" + cfg["model"], role=cfg["role"],
              sagemaker_session=session)
transformer = model.transformer(instance_count=1, instance_type="local",
                                strategy=cfg["strategy"], assemble_with="Line",
                                output_path="file://" + cfg["out"], accept="text/csv")
# Local mode transforms inside transform(); wait=False skips the CloudWatch log read after it.
transformer.transform("file://" + cfg["input"], content_type="text/csv", split_type="Line",
                      wait=False)
"""


def run(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        sys.exit(f"{' '.join(argv[:6])} ... failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return done.stdout.strip()


def sdk_python() -> Path:
    """The SDK venv's python (created on first use), with docker-compose available."""
    python = SDK_VENV / "bin" / "python"
    if not python.exists():
        print(f"creating {SDK_VENV} with sagemaker>=2,<3 ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(SDK_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "sagemaker>=2,<3"], check=True)
    has_plugin = subprocess.run(["docker", "compose", "version"], capture_output=True)
    if has_plugin.returncode != 0 and shutil.which("docker-compose") is None:
        if os.geteuid() != 0:
            sys.exit("the SDK baseline needs docker-compose: sudo apt-get install docker-compose")
        subprocess.run(["apt-get", "install", "-y", "docker-compose"], check=True)
    return python


def predictions(folder: Path) -> list[str]:
    """Every non-blank line of the .out files (the SDK adds a blank line after each batch)."""
    lines: list[str] = []
    for path in sorted(folder.rglob("*.out")):
        lines += [line for line in path.read_text().splitlines() if line.strip()]
    return lines


def timed_easy_sm(argv: list[str], cwd: Path) -> tuple[float, float]:
    """Wall seconds of the command, and of its transform phase (server up to last answer), as
    its summary line on stderr says."""
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"easy_sm local batch-transform failed ({done.returncode}):\n{done.stderr}")
    phase = re.search(r"requests, ([0-9.]+) s \(", done.stderr)
    if phase is None:
        sys.exit(f"no summary line in easy_sm's output:\n{done.stderr}")
    return seconds, float(phase.group(1))


@dataclass
class SdkRun:
    finished: bool
    seconds: float
    done: int = 0  # records answered when stopped at the budget
    first_seconds: float = 0.0  # when its first answer was written
    first_done: int = 0
    partial_lines: list[str] = field(default_factory=list)

    @property
    def steady_rate(self) -> float:
        """Records/s from its first answer to the budget's end (start-up left out: this
        favours the SDK)."""
        return (self.done - self.first_done) / max(self.seconds - self.first_seconds, 1e-9)

    def projected(self, rows: int) -> float:
        return self.first_seconds + (rows - self.first_done) / max(self.steady_rate, 1e-9)


def run_sdk(argv: list[str], cwd: Path, env: dict[str, str], root: Path, budget: float) -> SdkRun:
    """Run the SDK's transform; past `budget` seconds, stop it (Ctrl-C, as a user would) and
    measure from the output it was writing."""
    started = time.perf_counter()
    log = open(cwd / f"sdk-{root.name}.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=log, stderr=log, start_new_session=True)
    first_seconds, first_done = 0.0, 0
    try:
        while proc.poll() is None:
            time.sleep(0.5)
            elapsed = time.perf_counter() - started
            partial = [
                line
                for path in root.rglob("*.out")
                for line in path.read_text().splitlines()
                if line.strip()
            ]
            if partial and not first_done:
                first_seconds, first_done = elapsed, len(partial)
            if elapsed > budget and first_done:
                os.killpg(proc.pid, signal.SIGINT)
                try:
                    proc.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                return SdkRun(False, elapsed, len(partial), first_seconds, first_done, partial[:-1])
    finally:
        log.close()
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit(f"the SDK transform failed ({proc.returncode}); see {log.name}")
    return SdkRun(True, seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument(
        "--strategy", choices=["MultiRecord", "SingleRecord", "both"], default="both"
    )
    parser.add_argument(
        "--sdk-budget",
        type=float,
        default=150,
        help="seconds the SDK may run; past them it is stopped and its steady rate measured "
        "(its SingleRecord path answers ~20 records/s here: 100,000 would take over an hour)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the image")
    options = parser.parse_args()
    strategies = (
        ["MultiRecord", "SingleRecord"] if options.strategy == "both" else [options.strategy]
    )
    python = sdk_python()
    easy_sm = easy_sm_command()

    with tempfile.TemporaryDirectory(prefix="easy-sm-bench-") as folder:
        work = Path(folder)
        project = work / "project"
        project.mkdir()
        run(
            [*easy_sm, "init", "--app-name", APP_NAME, "--python-version", "3.11", "--yes"], project
        )
        tag = f"bench-{uuid.uuid4().hex[:6]}"
        image = run([*easy_sm, "--docker-tag", tag, "-q", "build"], project)
        try:
            archive = Path(
                run(
                    [*easy_sm, "--docker-tag", tag, "-q", "local", "train", "--package-model"],
                    project,
                )
            )
            source = work / "in"
            source.mkdir()
            rng = random.Random(0)
            with open(source / "rows.csv", "w") as handle:
                for _ in range(options.rows):
                    handle.write(
                        f"{rng.uniform(4, 8):.1f},{rng.uniform(2, 4.5):.1f},"
                        f"{rng.uniform(1, 7):.1f},{rng.uniform(0.1, 2.5):.1f}\n"
                    )
            sdk_env = {
                **os.environ,
                "AWS_DEFAULT_REGION": "us-east-1",
                "AWS_ACCESS_KEY_ID": "bench",
                "AWS_SECRET_ACCESS_KEY": "bench",
                "SAGEMAKER_SUPPRESS_V2_WARNING": "1",
            }
            print(f"{options.rows} rows, image {image}, model {archive.name}")
            for strategy in strategies:
                ours_out = work / f"out-easy-sm-{strategy}"
                sdk_out = work / f"out-sdk-{strategy}"
                sdk_root = work / f"sdk-root-{strategy}"
                sdk_root.mkdir()
                ours_seconds, ours_phase = timed_easy_sm(
                    [
                        *easy_sm,
                        "--docker-tag",
                        tag,
                        "local",
                        "batch-transform",
                        "-i",
                        str(source),
                        "-o",
                        str(ours_out),
                        "--model",
                        str(archive),
                        "--content-type",
                        "text/csv",
                        "--split-type",
                        "Line",
                        "--strategy",
                        strategy,
                        "--assemble-with",
                        "Line",
                    ],
                    project,
                )
                config = {
                    "image": image,
                    "model": str(archive),
                    "role": ROLE,
                    "strategy": strategy,
                    "input": str(source),
                    "out": str(sdk_out),
                    "port": free_port(),
                    "root": str(sdk_root),
                    "phase": str(work / f"sdk-phase-{strategy}"),
                }
                sdk = run_sdk(
                    [str(python), "-c", SDK_DRIVER, json.dumps(config)],
                    work,
                    sdk_env,
                    sdk_root,
                    options.sdk_budget,
                )
                ours_lines = predictions(ours_out)
                ours_rate = options.rows / ours_seconds
                ours_phase_rate = options.rows / ours_phase
                if sdk.finished:
                    sdk_rate = options.rows / sdk.seconds
                    sdk_text = f"{sdk_rate:9,.0f} records/s ({sdk.seconds:6.2f} s)"
                    sdk_phase = float((work / f"sdk-phase-{strategy}").read_text())
                    sdk_phase_rate = options.rows / sdk_phase
                    sdk_phase_text = f"{sdk_phase_rate:9,.0f} records/s ({sdk_phase:6.2f} s)"
                    sdk_lines = predictions(sdk_out)
                else:
                    # stopped at the budget: its steady rate, start-up left out, stands for both
                    sdk_rate = sdk_phase_rate = sdk.steady_rate
                    sdk_text = sdk_phase_text = (
                        f"{sdk_rate:9,.0f} records/s (steady rate over {sdk.done:,} records in "
                        f"{sdk.seconds:.0f} s, stopped there; all {options.rows:,}: "
                        f"~{sdk.projected(options.rows) / 60:.0f} min)"
                    )
                    sdk_lines = sdk.partial_lines
                same = ours_lines[: len(sdk_lines)] == sdk_lines and len(ours_lines) == options.rows
                print(
                    f"{strategy}:\n"
                    f"  end to end:      easy_sm {ours_rate:9,.0f} records/s "
                    f"({ours_seconds:6.2f} s)"
                    f" | SDK 2.x local Transformer {sdk_text} | {ours_rate / sdk_rate:5.1f}x"
                    " (target >= 3x)\n"
                    f"  transform phase: easy_sm {ours_phase_rate:9,.0f} records/s "
                    f"({ours_phase:6.2f} s) | SDK 2.x local Transformer {sdk_phase_text} | "
                    f"{ours_phase_rate / sdk_phase_rate:5.1f}x\n"
                    f"  same predictions: {'yes' if same else 'NO'}",
                    flush=True,
                )
        finally:
            # docker-compose (the SDK) leaves its stopped containers of the image behind
            left = run(["docker", "ps", "-aq", "--filter", f"ancestor={image}"], work).split()
            if left:
                subprocess.run(["docker", "rm", "-f", *left], capture_output=True)
            if not options.keep:
                subprocess.run(["docker", "rmi", "-f", image], capture_output=True)


if __name__ == "__main__":
    main()
