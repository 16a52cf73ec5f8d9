"""Overhead of `easy_sm local train` over a bare `docker run` of the same image.

    python bench/local_overhead.py [--runs 7] [--keep]

What it does, on this machine:
1. `easy_sm init` a project in a temp folder, replaces training.py with a trivial train()
   (writes one file) and empties the requirements, then `easy_sm build` (one image).
2. Times, alternating, `--runs` runs of each:
   - easy_sm: `python -m easy_sm -q local train` (CLI start-up, Docker SDK, the /opt/ml config
     files, SM_* environment, live log streaming, container removal);
   - bare:    `docker run --rm -v <test_dir>:/opt/ml IMAGE train` (the docker CLI).
3. Prints the median wall time of each and their ratio (target: <= 1.3x), then removes the
   image (`--keep` keeps it).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

APP_NAME = "bench-overhead"
TRIVIAL_TRAIN = """
import os


def train(input_data_path, model_save_path, hyperparameters=None):
    with open(os.path.join(model_save_path, "model.txt"), "w") as handle:
        handle.write("trivial")
"""


def easy_sm(args: list[str], cwd: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "easy_sm", *args], cwd=cwd, capture_output=True, text=True
    )
    if done.returncode != 0:
        sys.exit(f"easy_sm {' '.join(args)} failed ({done.returncode}):\n{done.stderr}")
    return done.stdout.strip()


def timed(argv: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(argv, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the image")
    options = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="easy-sm-bench-") as folder:
        project = Path(folder)
        easy_sm(["init", "--app-name", APP_NAME, "--python-version", "3.11", "--yes"], project)
        base = project / APP_NAME / "easy_sm_base"
        (base / "training" / "training.py").write_text(TRIVIAL_TRAIN)
        (project / "requirements.txt").write_text("")
        tag = f"bench-{uuid.uuid4().hex[:6]}"
        image = easy_sm(["--docker-tag", tag, "-q", "build"], project)
        test_dir = base / "local_test" / "test_dir"
        ours = [sys.executable, "-m", "easy_sm", "--docker-tag", tag, "-q", "local", "train"]
        bare = ["docker", "run", "--rm", "-v", f"{test_dir}:/opt/ml", image, "train"]
        try:
            timed(ours, project)  # warm-up: page cache, first container of the image
            timed(bare, project)
            ours_times, bare_times = [], []
            for _ in range(options.runs):
                ours_times.append(timed(ours, project))
                bare_times.append(timed(bare, project))
        finally:
            if not options.keep:
                subprocess.run(["docker", "rmi", "-f", image], capture_output=True)

    ours_median = statistics.median(ours_times)
    bare_median = statistics.median(bare_times)
    print(f"runs per variant:            {options.runs}")
    print(f"easy_sm local train, median: {ours_median:.3f} s")
    print(f"bare docker run, median:     {bare_median:.3f} s")
    print(f"fixed overhead:              {ours_median - bare_median:.3f} s per run")
    print(f"overhead ratio:              {ours_median / bare_median:.2f}x (target <= 1.3x)")


if __name__ == "__main__":
    main()
