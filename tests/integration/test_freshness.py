"""Images that are never stale, on the real engine: a local command builds a missing image,
rebuilds after an edit (and runs the new code), not when nothing changed, not with
--no-build; push refuses a stale image; apps sharing a base share the dependency layers."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import SESSION_ID, remove_image_everywhere, run_cli

pytestmark = pytest.mark.docker

BASE = Path("ex-app/easy_sm_base")


@pytest.fixture
def fresh_project(example_project: Path, example_image: str, tmp_path: Path) -> Iterator[Path]:
    """A copy of the example project under a tag of its own that is not built yet."""
    project = tmp_path / "project"
    shutil.copytree(example_project, project)
    config_path = project / "ex-app.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config["docker_tag"] = f"pytest-{SESSION_ID}-fresh"
    config_path.write_text(json.dumps(config), encoding="utf-8")
    try:
        yield project
    finally:
        remove_image_everywhere(f"ex-app:{config['docker_tag']}")


def test_local_train_builds_a_missing_image_and_rebuilds_after_an_edit(
    fresh_project: Path,
) -> None:
    image = f"ex-app:pytest-{SESSION_ID}-fresh"
    code, _out, err = run_cli(["local", "train"], fresh_project)
    assert code == 0, err
    assert f"{image} not found: building it" in err
    code, _out, err = run_cli(["local", "train"], fresh_project)
    assert code == 0, err
    assert "rebuilding" not in err and "building it" not in err

    training = fresh_project / BASE / "training/training.py"
    training.write_text(training.read_text() + "\nprint('the edited code ran', flush=True)\n")
    code, _out, err = run_cli(["local", "train", "--no-build"], fresh_project)
    assert code == 0, err
    assert "the edited code ran" not in err  # --no-build: the image as it is
    code, _out, err = run_cli(["local", "train"], fresh_project)
    assert code == 0, err
    assert f"sources changed since {image} was built: rebuilding" in err
    assert "the edited code ran" in err
    code, _out, err = run_cli(["local", "run", "--", "true"], fresh_project)
    assert code == 0, err
    assert "rebuilding" not in err


def test_push_refuses_an_image_whose_sources_changed(
    example_project: Path, example_image: str, tmp_path: Path
) -> None:
    project = tmp_path / "project"
    shutil.copytree(example_project, project)  # same tag as the session image
    inference = project / BASE / "prediction/inference.py"
    inference.write_text(inference.read_text() + "\n# an edit\n")
    code, out, err = run_cli(["push"], project)
    assert code == 2, err
    assert out == ""
    assert err.strip() == (
        f"error: sources changed since {example_image} was built: pushing it would ship old "
        "code — run `easy_sm build` first (or pass --force to push the image as it is)"
    )


def test_apps_built_from_the_same_base_share_the_dependency_layers(
    example_image: str, tmp_path: Path
) -> None:
    """Another app (another MODULE_NAME) with the same base and requirements reuses the
    example image's pip layers instead of re-running pip install."""
    code, _out, err = run_cli(
        ["init", "--app-name", "other-app", "--python-version", "3.11", "--yes"], tmp_path
    )
    assert code == 0, err
    config_path = tmp_path / "other-app.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config["docker_tag"] = f"pytest-{SESSION_ID}-other"
    config_path.write_text(json.dumps(config), encoding="utf-8")
    try:
        code, _out, err = run_cli(["build"], tmp_path)
        assert code == 0, err
    finally:
        remove_image_everywhere(f"other-app:pytest-{SESSION_ID}-other")
    steps = err.split("Step ")
    pip_steps = [step for step in steps if " : RUN pip install" in step.split("\n", 1)[0]]
    assert len(pip_steps) == 2, err
    for step in pip_steps:
        assert "Using cache" in step, step
