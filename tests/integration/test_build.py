"""`easy_sm build` against the real Docker engine."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from easy_sm.__main__ import app

pytestmark = pytest.mark.docker


def test_build_tags_the_app_image_for_linux_amd64(
    example_image: str, docker_client: object
) -> None:
    image = docker_client.images.get(example_image)  # type: ignore[attr-defined]
    assert example_image in image.tags
    assert image.attrs["Os"] == "linux"
    assert image.attrs["Architecture"] == "amd64"
    assert image.attrs["Config"]["Entrypoint"] == ["/opt/easy_sm_base/executor.sh"]


def test_build_context_leaves_out_test_data_git_and_venvs(
    example_image: str, example_project: Path, docker_client: object
) -> None:
    listing = docker_client.containers.run(  # type: ignore[attr-defined]
        example_image,
        [
            "run",
            "sh",
            "-c",
            "ls -a /opt/program/ex-app /opt/program/ex-app/easy_sm_base/local_test",
        ],
        remove=True,
    ).decode()
    assert "test_dir" not in listing
    assert "easy_sm_base" in listing


@pytest.fixture
def own_project(example_project: Path, tmp_path: Path) -> Path:
    """A private copy of the example project (same session tag), for tests that change it."""
    copy = tmp_path / "project"
    shutil.copytree(example_project, copy)
    return copy


def test_failing_build_shows_the_failing_step_and_leaves_no_tag(
    own_project: Path,
    runner: CliRunner,
    monkeypatch: pytest.MonkeyPatch,
    docker_client: object,
    docker_engine: None,
) -> None:
    monkeypatch.chdir(own_project)
    config_path = own_project / "ex-app.json"
    config = json.loads(config_path.read_text())
    config["docker_tag"] = "broken-" + config["docker_tag"]
    config_path.write_text(json.dumps(config))
    dockerfile = own_project / "ex-app" / "easy_sm_base" / "Dockerfile"
    lines = dockerfile.read_text().splitlines()
    after_from = next(i for i, line in enumerate(lines) if line.startswith("FROM ")) + 1
    lines.insert(after_from, 'RUN echo "about to break" && exit 7')
    dockerfile.write_text("\n".join(lines) + "\n")
    result = runner.invoke(app, ["-q", "build"])
    assert result.exit_code == 5
    assert result.stdout == ""
    assert "docker build failed at Step" in result.stderr
    assert "about to break" in result.stderr
    assert "returned a non-zero code: 7" in result.stderr
    tags = [t for i in docker_client.images.list() for t in i.tags]  # type: ignore[attr-defined]
    assert f"ex-app:{config['docker_tag']}" not in tags
