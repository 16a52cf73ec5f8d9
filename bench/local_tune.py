"""`easy_sm local tune`: 8 trials of the example app, `--parallel 2` against `--parallel 1`.

    python bench/local_tune.py [--trials 8] [--keep]

What it does, on this machine:
1. `easy_sm init` the example app in a temp folder and `easy_sm build` it (one image).
2. Runs `easy_sm -q local tune` with the same 8 Random trials (`--seed 1`,
   C=continuous:0.01:10:log, solver=categorical:lbfgs,saga) twice: `--parallel 1` (the
   baseline: one trial after the other) and `--parallel 2`, each after one warm-up trial.
3. Prints the wall time of each, their ratio and the best objective of both (the same trials
   must find the same best), then removes the image (`--keep` keeps it).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

APP_NAME = "bench-tune"
RANGES = ["--range", "C=continuous:0.01:10:log", "--range", "solver=categorical:lbfgs,saga"]


def easy_sm(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "easy_sm", *args], cwd=cwd, capture_output=True, text=True
    )
    if done.returncode != 0:
        sys.exit(f"easy_sm {' '.join(args)} failed ({done.returncode}):\n{done.stderr}")
    return done


def tune(project: Path, tag: str, trials: int, parallel: int) -> tuple[float, str]:
    args = ["--docker-tag", tag, "local", "tune", *RANGES, "--objective", "validation:accuracy"]
    args += ["--max-jobs", str(trials), "--seed", "1", "--parallel", str(parallel)]
    start = time.perf_counter()
    done = easy_sm(args, project)
    seconds = time.perf_counter() - start
    best = re.search(r"^\s+1\s+trial-\d+\s+Completed\s+(\S+)", done.stderr, re.MULTILINE)
    return seconds, best.group(1) if best else "?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--keep", action="store_true", help="keep the image")
    options = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="easy-sm-bench-") as folder:
        project = Path(folder)
        easy_sm(["init", "--app-name", APP_NAME, "--python-version", "3.11", "--yes"], project)
        tag = f"bench-{uuid.uuid4().hex[:6]}"
        image = easy_sm(["--docker-tag", tag, "-q", "build"], project).stdout.strip()
        try:
            tune(project, tag, 1, 1)  # warm-up: page cache, first container of the image
            serial, serial_best = tune(project, tag, options.trials, 1)
            parallel, parallel_best = tune(project, tag, options.trials, 2)
        finally:
            if not options.keep:
                subprocess.run(["docker", "rmi", "-f", image], capture_output=True)

    print(f"local tune, {options.trials} trials of the example app ({os.cpu_count()} CPUs)")
    print(f"  --parallel 2: {parallel:6.1f} s   best validation:accuracy {parallel_best}")
    print(f"  --parallel 1: {serial:6.1f} s   best validation:accuracy {serial_best}  (baseline)")
    print(f"  speed-up: {serial / parallel:.2f}x")


if __name__ == "__main__":
    main()
