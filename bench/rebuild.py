"""Rebuild time of `easy_sm build` after a code-only change, beside the cold build time.

    python bench/rebuild.py [--keep]

What it does, on this machine:
1. `easy_sm init` the example app in a temp folder.
2. Cold build: `easy_sm build --no-cache` (base image present locally; pip downloads the
   example's requirements: scikit-learn, numpy, joblib, gunicorn).
3. Touches one code file (appends a comment to training.py) and times `easy_sm build` again:
   the requirements layers come from the cache, only the code layer is rebuilt.
4. Prints both times and their ratio, then removes the image (`--keep` keeps it).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

APP_NAME = "bench-rebuild"


def easy_sm(args: list[str], cwd: Path) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "easy_sm", *args], cwd=cwd, capture_output=True, text=True
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"easy_sm {' '.join(args)} failed ({done.returncode}):\n{done.stderr}")
    return elapsed, done.stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="keep the image")
    options = parser.parse_args()
    tag = f"bench-{uuid.uuid4().hex[:6]}"
    image = f"{APP_NAME}:{tag}"
    with tempfile.TemporaryDirectory(prefix="easy-sm-bench-") as folder:
        project = Path(folder)
        easy_sm(["init", "--app-name", APP_NAME, "--python-version", "3.11", "--yes"], project)
        try:
            cold, image = easy_sm(["--docker-tag", tag, "-q", "build", "--no-cache"], project)
            training = project / APP_NAME / "easy_sm_base" / "training" / "training.py"
            with open(training, "a", encoding="utf-8") as handle:
                handle.write("\n# touched by bench/rebuild.py\n")
            rebuild, _ = easy_sm(["--docker-tag", tag, "-q", "build"], project)
        finally:
            if not options.keep:
                subprocess.run(["docker", "rmi", "-f", image], capture_output=True)
    print(f"cold build (--no-cache):          {cold:.1f} s")
    print(f"rebuild after a code-only change: {rebuild:.1f} s")
    print(f"rebuild / cold:                   {rebuild / cold:.2f}")


if __name__ == "__main__":
    main()
