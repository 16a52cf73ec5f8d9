from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from easy_sm.__main__ import app
from easy_sm.config.config import Config, ConfigManager
from easy_sm.errors import ConfigError

# a config as the original easy_sm writes it
ORIGINAL = {
    "image_name": "my-app",
    "aws_profile": "dev",
    "aws_region": "eu-west-1",
    "python_version": "3.12",
    "easy_sm_module_dir": "my-app",
    "requirements_dir": "requirements.txt",
    "docker_tag": "latest",
}


def test_a_config_written_by_the_original_tool_loads_unchanged(isolated: Path) -> None:
    (isolated / "my-app.json").write_text(json.dumps(ORIGINAL, indent=4))
    config = ConfigManager(isolated / "my-app.json").load()
    assert config == Config(**ORIGINAL)
    assert config.effective_base_image == "python:3.12-slim"


def test_save_then_load_round_trips_and_leaves_no_temp_file(isolated: Path) -> None:
    manager = ConfigManager(isolated / "a.json")
    config = Config(**ORIGINAL, base_image="my-registry/base:1")
    manager.save(config)
    assert manager.load() == config
    assert [p.name for p in isolated.iterdir()] == ["a.json"]


def load_error(isolated: Path, text: str) -> ConfigError:
    (isolated / "my-app.json").write_text(text)
    with pytest.raises(ConfigError) as err:
        ConfigManager(isolated / "my-app.json").load()
    assert err.value.exit_code == 3
    return err.value


def test_bad_json_names_the_line_and_column(isolated: Path) -> None:
    err = load_error(isolated, '{\n  "image_name": "x",\n  oops\n}')
    assert err.message.startswith("my-app.json: invalid JSON at line 3, column 3")


def test_unknown_key_is_named(isolated: Path) -> None:
    err = load_error(isolated, json.dumps({**ORIGINAL, "imagename": "x"}))
    assert err.message == "my-app.json -> imagename: unknown key"


def test_wrong_type_is_named_with_the_field(isolated: Path) -> None:
    err = load_error(isolated, json.dumps({**ORIGINAL, "python_version": 3.11}))
    assert err.message == "my-app.json -> python_version: expected a string, got float"


@pytest.mark.parametrize("version", ["3", "python3.11", "3.11.2", "2.7x"])
def test_python_version_must_be_3_dot_n(isolated: Path, version: str) -> None:
    err = load_error(isolated, json.dumps({**ORIGINAL, "python_version": version}))
    assert err.message == f'my-app.json -> python_version: expected "3.x", got {version!r}'


@pytest.mark.parametrize("field", ["easy_sm_module_dir", "requirements_dir"])
@pytest.mark.parametrize("value", ["../elsewhere", "/etc", "~/x", "a/../../b"])
def test_paths_may_not_leave_the_project(isolated: Path, field: str, value: str) -> None:
    err = load_error(isolated, json.dumps({**ORIGINAL, field: value}))
    assert err.message.startswith(f"my-app.json -> {field}: {value!r} leaves the project folder")


def test_invalid_image_name_is_named(isolated: Path) -> None:
    err = load_error(isolated, json.dumps({**ORIGINAL, "image_name": "My App"}))
    assert err.message.startswith("my-app.json -> image_name:")


def test_missing_required_field(isolated: Path) -> None:
    err = load_error(isolated, json.dumps({"aws_region": "eu-west-1"}))
    assert err.message == "my-app.json -> image_name: missing"


def test_cli_reports_config_errors_in_one_line_with_exit_3(
    isolated: Path, runner: CliRunner
) -> None:
    (isolated / "my-app.json").write_text(json.dumps({**ORIGINAL, "docker_tag": 5}))
    result = runner.invoke(app, ["update-scripts", "-a", "my-app"])
    assert result.exit_code == 3
    assert result.stderr.strip().splitlines() == [
        "error: my-app.json -> docker_tag: expected a string, got int"
        ' — write it in quotes, e.g. "docker_tag": "5"'
    ]


def test_save_is_atomic_when_writing_fails(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    manager = ConfigManager(isolated / "my-app.json")
    manager.save(Config(**ORIGINAL))
    before = (isolated / "my-app.json").read_text()

    def boom(*args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        manager.save(Config(**{**ORIGINAL, "aws_region": "us-east-1"}))
    assert (isolated / "my-app.json").read_text() == before
    assert [p.name for p in isolated.iterdir()] == ["my-app.json"]
