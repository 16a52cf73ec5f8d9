"""The Docker half of the bad-input table (see tests/unit/test_bad_inputs.py): cases that reach
the real engine. Per case: the exit code, ONE `error: … — …` line, no traceback, nothing on
stdout, the project's files unchanged (the last trained model included), and no container
left from the image the case names."""

from __future__ import annotations

import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from easy_sm.__main__ import app
from tests.conftest import free_port

pytestmark = pytest.mark.usefixtures("docker_engine")

MISSING_TAG = f"missing-{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class BadDocker:
    id: str
    args: list[str]
    code: int
    says: str


# --no-build: without it, a local command builds a missing image (see test_freshness.py)
CASES = [
    BadDocker(
        "train-image-missing",
        ["--docker-tag", MISSING_TAG, "local", "train", "--no-build"],
        5,
        "build it",
    ),
    BadDocker(
        "deploy-image-missing",
        ["--docker-tag", MISSING_TAG, "local", "deploy", "--no-build", "-p", str(free_port())],
        5,
        "build it",
    ),
    BadDocker(
        "run-image-missing",
        ["--docker-tag", MISSING_TAG, "local", "run", "--no-build", "--", "true"],
        5,
        "build it",
    ),
    BadDocker(
        "process-script-outside",
        ["local", "process", "-f", "../../ex-app.json"],
        2,
        "outside easy_sm_base/processing/",
    ),
    BadDocker("push-registry-space", ["push", "--registry", "a b"], 2, "not a registry address"),
]


@pytest.fixture
def project(example_project: Path, example_image: str, tmp_path: Path) -> Path:
    copy = tmp_path / "project"
    shutil.copytree(example_project, copy)
    model = copy / "ex-app" / "easy_sm_base" / "local_test" / "test_dir" / "model"
    model.mkdir(parents=True, exist_ok=True)
    (model / "last-model.pkl").write_text("precious", encoding="utf-8")
    return copy


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input_on_the_engine_fails_cleanly_and_touches_nothing(
    case: BadDocker,
    project: Path,
    runner: CliRunner,
    monkeypatch: pytest.MonkeyPatch,
    docker_client: Any,
) -> None:
    monkeypatch.chdir(project)
    before = _files(project)

    result = runner.invoke(app, case.args)

    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert result.exit_code == case.code, result.stderr
    assert len(errors) == 1 and " — " in errors[0], result.stderr
    assert case.says in errors[0], errors[0]
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert _files(project) == before
    leftovers = [
        c
        for c in docker_client.containers.list(
            all=True, filters={"label": "easy_sm.app=ex-app"}, ignore_removed=True
        )
        if c.attrs["Config"]["Image"] == f"ex-app:{MISSING_TAG}"
    ]
    assert leftovers == []
