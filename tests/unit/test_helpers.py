from __future__ import annotations

import json
from pathlib import Path

import pytest

from easy_sm.commands import helpers
from easy_sm.errors import ConfigError, UsageError

CONFIG = {"image_name": "my-app", "easy_sm_module_dir": "my-app"}


def write(path: Path, data: object) -> None:
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)


@pytest.mark.parametrize("name", ["my-app", "app_name", "app-2024", "A1"])
def test_valid_app_names_pass(name: str) -> None:
    assert helpers.validate_app_name(name) == name


@pytest.mark.parametrize(
    "name", ["../../etc/passwd", "/abs/path", "~user", "~user/path", "", "a b", "a.json", "x;rm"]
)
def test_path_like_or_empty_app_names_are_rejected(name: str) -> None:
    with pytest.raises(UsageError) as err:
        helpers.validate_app_name(name)
    assert err.value.exit_code == 2
    assert "invalid app name" in err.value.message


def test_auto_detect_ignores_json_files_that_are_not_configs(isolated: Path) -> None:
    write(isolated / "package.json", {"name": "web", "version": "1.0.0"})
    write(isolated / "tsconfig.json", {"compilerOptions": {}})
    write(isolated / "broken.json", "{not json")
    write(isolated / "my-app.json", CONFIG)
    assert helpers.auto_detect_app_name() == "my-app"


def test_auto_detect_with_no_config_names_the_folder_and_the_flag(isolated: Path) -> None:
    write(isolated / "package.json", {"name": "web"})
    with pytest.raises(ConfigError) as err:
        helpers.auto_detect_app_name()
    assert str(isolated) in err.value.message
    assert "-a/--app-name" in (err.value.hint or "")


def test_auto_detect_with_several_configs_names_them(isolated: Path) -> None:
    write(isolated / "one.json", CONFIG)
    write(isolated / "two.json", CONFIG)
    with pytest.raises(ConfigError) as err:
        helpers.auto_detect_app_name()
    assert "one.json, two.json" in err.value.message
    assert "-a/--app-name" in (err.value.hint or "")


def test_get_app_name_prefers_the_flag_and_validates_it(isolated: Path) -> None:
    write(isolated / "one.json", CONFIG)
    assert helpers.get_app_name("other") == "other"
    assert helpers.get_app_name(None) == "one"
    with pytest.raises(UsageError):
        helpers.get_app_name("../one")


ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"


def test_iam_role_from_flag_or_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert helpers.get_iam_role(ROLE) == ROLE
    monkeypatch.setenv("SAGEMAKER_ROLE", "arn:aws:iam::123456789012:role/path/Other")
    assert helpers.get_iam_role(None) == "arn:aws:iam::123456789012:role/path/Other"
    assert helpers.get_iam_role(ROLE) == ROLE


def test_missing_iam_role_says_how_to_give_one() -> None:
    with pytest.raises(UsageError) as err:
        helpers.get_iam_role(None)
    assert "SAGEMAKER_ROLE" in (err.value.hint or "")


@pytest.mark.parametrize(
    "role",
    [
        "SageMakerRole",
        "arn:aws:iam::123:role/x",
        "arn:aws:iam::123456789012:user/bob",
        "arn:aws:s3:::bucket",
    ],
)
def test_malformed_iam_role_is_rejected(role: str) -> None:
    with pytest.raises(UsageError) as err:
        helpers.get_iam_role(role)
    assert "is not an IAM role ARN" in err.value.message


def test_key_values_keep_equals_signs_and_empty_values() -> None:
    parsed = helpers.parse_key_values(["A=1", "URL=x=y=z", "EMPTY="], "--env", env_keys=True)
    assert parsed == {"A": "1", "URL": "x=y=z", "EMPTY": ""}


@pytest.mark.parametrize("item", ["NOVALUE", "=value", "1BAD=x", "BAD-KEY=x"])
def test_bad_key_values_are_usage_errors(item: str) -> None:
    with pytest.raises(UsageError) as err:
        helpers.parse_key_values([item], "--env", env_keys=True)
    assert err.value.message.startswith(f"--env {item!r}")


def test_hyperparameter_keys_need_not_be_identifiers() -> None:
    assert helpers.parse_key_values(["learning-rate=0.1"], "--hyperparameters") == {
        "learning-rate": "0.1"
    }
