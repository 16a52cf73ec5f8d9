"""The README's quick start, run as written (extracted from README.md's own text) twice in a
row in a clean home folder: both runs succeed, and no container is left behind, even when the
request to the server fails."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.integration.conftest import remove_image_everywhere

pytestmark = pytest.mark.docker

README = Path(__file__).resolve().parents[2] / "README.md"


def quick_start_block() -> str:
    """The first ```bash block of the README's "Quick start" section, verbatim."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index("\n## Quick start") :]
    match = re.search(r"```bash\n(.*?)```", section, re.DOTALL)
    assert match, "no bash block in the README's quick start"
    return match.group(1)


def run_block(block: str, home: Path, path: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", block],
        cwd=home,
        env={**os.environ, "HOME": str(home), "PATH": path},
        capture_output=True,
        text=True,
        timeout=900,
    )


def demo_containers(docker_client: object) -> list[object]:
    return list(
        docker_client.containers.list(all=True, filters={"label": ["easy_sm.app=demo"]})  # type: ignore[attr-defined]
    )


def test_the_readme_quick_start_runs_twice_and_cleans_up_after_itself(
    isolated: Path, docker_client: object, example_image: str, tmp_path: Path
) -> None:
    block = quick_start_block()
    home = Path.home()  # the test's own, empty HOME: the block works in ~/easy_sm-demo
    # the console script of this environment first, so `easy_sm` is the code under test
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    assert demo_containers(docker_client) == [], "a demo container is already running"
    timings: list[float] = []
    try:
        for attempt in (1, 2):
            started = time.monotonic()
            done = run_block(block, home, path)
            assert done.returncode == 0, f"run {attempt}:\n{done.stdout}\n{done.stderr}"
            assert done.stdout.splitlines()[-2:] == ["setosa", "virginica"], done.stdout
            timings.append(time.monotonic() - started)
            assert demo_containers(docker_client) == [], f"run {attempt} left a container"
        assert "demo.json" not in done.stdout  # the second run skipped init
        print(f"quick start: {timings[0]:.1f} s, then {timings[1]:.1f} s")

        # a failed request: the block fails, and still leaves no server running
        failing = tmp_path / "failing-bin"
        failing.mkdir()
        (failing / "curl").write_text("#!/bin/sh\necho 'curl: (7) Failed to connect' >&2\nexit 7\n")
        (failing / "curl").chmod(0o755)
        done = run_block(block, home, f"{failing}{os.pathsep}{path}")
        assert done.returncode == 7, done.stderr
        assert "stopped http://127.0.0.1:8080" in done.stderr
        assert demo_containers(docker_client) == []
    finally:
        for container in demo_containers(docker_client):
            container.remove(force=True)  # type: ignore[attr-defined]
        remove_image_everywhere("demo:latest")
        shutil.rmtree(home / "easy_sm-demo", ignore_errors=True)
