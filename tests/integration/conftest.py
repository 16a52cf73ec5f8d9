"""Session fixtures for the integration tests: one example project and one image of it.

`example_project` is a project made by `easy_sm init --app-name ex-app --python-version 3.11
--yes` through the CLI; `example_image` builds it once per session. Tests that use them
`monkeypatch.chdir(example_project)` (or pass `-a`) and restore any file they change (or copy
the project first). The image tag is unique to the session (written into the project's config
as `docker_tag`), so concurrent test sessions never share or remove each other's images.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from easy_sm.__main__ import app

SESSION_ID = uuid.uuid4().hex[:8]


def run_cli(args: list[str], cwd: Path) -> tuple[int, str, str]:
    """Invoke the CLI in `cwd` outside any test's isolation (for session fixtures)."""
    from easy_sm import console
    from easy_sm.commands.helpers import options

    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(cwd)
        patch.setattr(console, "verbosity", console.Verbosity())
        patch.setattr(options, "docker_tag", None)
        result = CliRunner().invoke(app, args)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="session")
def example_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh `easy_sm init` of the example app ("ex-app"); its image tag is session-unique."""
    project = tmp_path_factory.mktemp("example-project")
    code, out, err = run_cli(
        ["init", "--app-name", "ex-app", "--python-version", "3.11", "--yes"], project
    )
    assert code == 0, f"easy_sm init failed ({code}):\n{out}\n{err}"
    config_path = project / "ex-app.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config["docker_tag"] = f"pytest-{SESSION_ID}"
    config_path.write_text(json.dumps(config, indent=4) + "\n", encoding="utf-8")
    return project


@pytest.fixture(scope="session")
def example_image(example_project: Path, docker_engine: None) -> Iterator[str]:
    """`easy_sm build` of the example project, once per session; the image ref. Removed (with
    any tag pushed from it) at the end of the session."""
    code, out, err = run_cli(["build"], example_project)
    if code != 0:
        pytest.fail(f"easy_sm build of the example project failed ({code}):\n{err}")
    image = out.strip()
    try:
        yield image
    finally:
        remove_image_everywhere(image)


def remove_image_everywhere(image: str) -> None:
    """Remove `image` and every other tag of the same image id (e.g. registry aliases)."""
    import docker
    import docker.errors

    client = docker.from_env()
    try:
        found = client.images.get(image)
    except docker.errors.ImageNotFound:
        return
    for tag in found.tags:
        with contextlib.suppress(docker.errors.APIError):
            client.images.remove(tag, force=True)
    with contextlib.suppress(docker.errors.APIError):
        client.images.remove(found.id, force=True)


@pytest.fixture
def docker_client(docker_engine: None) -> Iterator[object]:
    import docker

    client = docker.from_env()
    try:
        yield client
    finally:
        client.close()
