"""The edit-to-result loop: edit training.py, then `easy_sm local train` (which notices the
change and rebuilds the image first), against a bare `docker run IMAGE train` of an image
that is already built.

    python bench/edit_loop.py [--runs 5] [--keep]

What it does, on this machine:
1. `easy_sm init` a project in a temp folder with a trivial train() (writes one file) and
   empty requirements, then `easy_sm build` (one image).
2. `--runs` times, alternating:
   - loop: append a line to training.py, then `easy_sm -q local train` (source hash, rebuild
     of the code layer, the run, container removal), until it exits;
   - bare: `docker run --rm -v <test_dir>:/opt/ml IMAGE train` (no edit, no build).
3. Prints the median of each, the difference (target: <= 1.5 s above the bare run), and a
   second `easy_sm local train` right after each edit's (nothing edited: it must not
   rebuild). Removes the image unless --keep.
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

from _common import easy_sm_command

APP_NAME = "bench-edit-loop"
TRIVIAL_TRAIN = """
import os


def train(input_data_path, model_save_path, hyperparameters=None):
    with open(os.path.join(model_save_path, "model.txt"), "w") as handle:
        handle.write("trivial")
"""


def easy_sm(args: list[str], cwd: Path) -> str:
    done = subprocess.run([*easy_sm_command(), *args], cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"easy_sm {' '.join(args)} failed ({done.returncode}):\n{done.stderr}")
    return done.stdout.strip()


def timed(argv: list[str], cwd: Path) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stderr}")
    return elapsed, done.stderr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the image")
    options = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="easy-sm-bench-") as folder:
        project = Path(folder)
        easy_sm(["init", "--app-name", APP_NAME, "--python-version", "3.11", "--yes"], project)
        base = project / APP_NAME / "easy_sm_base"
        training = base / "training" / "training.py"
        training.write_text(TRIVIAL_TRAIN)
        (project / "requirements.txt").write_text("")
        tag = f"bench-{uuid.uuid4().hex[:6]}"
        image = easy_sm(["--docker-tag", tag, "-q", "build"], project)
        test_dir = base / "local_test" / "test_dir"
        ours = [*easy_sm_command(), "--docker-tag", tag, "local", "train"]
        bare = ["docker", "run", "--rm", "-v", f"{test_dir}:/opt/ml", image, "train"]
        try:
            timed(bare, project)  # warm-up
            loop_times, bare_times, same_times = [], [], []
            for run in range(options.runs):
                with open(training, "a") as handle:
                    handle.write(f"# edit {run}\n")
                elapsed, stderr = timed(ours, project)
                if "rebuilding" not in stderr:
                    sys.exit(f"easy_sm local train did not rebuild after an edit:\n{stderr}")
                loop_times.append(elapsed)
                bare_times.append(timed(bare, project)[0])
                elapsed, stderr = timed(ours, project)
                if "rebuilding" in stderr:
                    sys.exit(f"easy_sm local train rebuilt without an edit:\n{stderr}")
                same_times.append(elapsed)
        finally:
            if not options.keep:
                subprocess.run(["docker", "rmi", "-f", image], capture_output=True)

    loop = statistics.median(loop_times)
    plain = statistics.median(bare_times)
    same = statistics.median(same_times)
    print(f"runs per variant:                          {options.runs}")
    print(f"edit -> easy_sm local train (rebuild), median: {loop:.3f} s")
    print(f"bare docker run IMAGE train, median:       {plain:.3f} s")
    print(f"edit-to-result loop above the bare run:    {loop - plain:.3f} s (target <= 1.5 s)")
    print(
        f"easy_sm local train again, nothing edited: {same:.3f} s "
        "(no rebuild; the new image's first containers start slower)"
    )


if __name__ == "__main__":
    main()
