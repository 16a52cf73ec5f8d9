"""What a new user meets in the first hour (issue 9), without Docker: init's messages and
summary, where a missing AWS profile came from, status lines that wait for the step to start,
the help text of every command, and the packaging warnings."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from easy_sm.__main__ import app
from easy_sm.commands.help_text import summary, tidy

ROOT = Path(__file__).resolve().parents[2]


def init_demo(runner: CliRunner, *extra: str) -> tuple[int, str, str]:
    result = runner.invoke(
        app, ["init", "--app-name", "demo", "--python-version", "3.11", "--yes", *extra]
    )
    return result.exit_code, result.stdout, result.stderr


# --- item 6: init ------------------------------------------------------------------------


def test_init_with_a_bad_region_names_the_flag_not_a_file_it_never_wrote(
    isolated: Path, runner: CliRunner
) -> None:
    result = runner.invoke(app, ["init", "--app-name", "x1", "--aws-region", "moon-1", "--yes"])
    assert result.exit_code == 2
    assert result.stderr == (
        "error: --aws-region 'moon-1' is not an AWS region — pass a region such as "
        "--aws-region eu-west-1\n"
    )
    assert list(isolated.iterdir()) == []


def test_init_ends_with_what_it_wrote_and_the_next_three_commands(
    isolated: Path, runner: CliRunner
) -> None:
    code, out, err = init_demo(runner)
    assert code == 0, err
    assert out == "demo.json\n"
    lines = err.splitlines()
    start = lines.index("wrote:")
    assert lines[start + 1 : start + 5] == [
        "  demo.json",
        "  demo/easy_sm_base/",
        "  requirements.txt",
        "  .dockerignore",
    ]
    assert lines[start + 5] == "next:"
    commands = [line.split("#")[0].strip() for line in lines[start + 6 :]]
    assert commands == ["easy_sm build", "easy_sm local train", "easy_sm local deploy"]


def test_init_on_an_existing_app_says_what_exists_in_plain_words(
    isolated: Path, runner: CliRunner
) -> None:
    assert init_demo(runner)[0] == 0
    code, out, err = init_demo(runner)
    assert code == 3
    assert out == ""
    assert err.startswith("error: demo.json and demo/easy_sm_base already exist — pass --force")
    assert "exist(s)" not in err
    (isolated / "demo.json").unlink()
    code, _, err = init_demo(runner)
    assert err.startswith("error: demo/easy_sm_base already exists — ")


# --- item 2: the AWS profile -------------------------------------------------------------


def test_a_missing_profile_from_the_environment_is_named_with_its_origin(
    isolated: Path, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert init_demo(runner)[0] == 0  # aws_profile: ""
    aws = Path.home() / ".aws"
    aws.mkdir()
    (aws / "config").write_text("[default]\n[profile dev]\n")
    monkeypatch.setenv("AWS_PROFILE", "nope")
    result = runner.invoke(app, ["list-endpoints"])
    assert result.exit_code == 4
    assert result.stdout == ""
    assert result.stderr == (
        "error: AWS profile 'nope' not found (from the environment: AWS_PROFILE=nope) — "
        "unset AWS_PROFILE or set it to a configured profile (existing: default, dev)\n"
    )


def test_a_missing_profile_from_the_config_is_named_as_the_configs(
    isolated: Path, runner: CliRunner
) -> None:
    assert init_demo(runner, "--aws-profile", "prod")[0] == 0
    result = runner.invoke(app, ["list-endpoints"])
    assert result.exit_code == 4
    assert result.stderr.startswith(
        "error: AWS profile 'prod' not found (aws_profile in your config, or --aws-profile) — "
        "fix aws_profile in your config (none is configured)"
    )


# --- item 3: a status line only once its step has started --------------------------------


@pytest.mark.parametrize("args", [["build"], ["local", "train"], ["local", "deploy"]])
def test_no_status_line_promises_work_when_docker_is_unreachable(
    isolated: Path, runner: CliRunner, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    assert init_demo(runner)[0] == 0
    monkeypatch.setenv("DOCKER_HOST", f"unix://{isolated}/no-docker.sock")
    result = runner.invoke(app, args)
    assert result.exit_code == 5
    assert result.stdout == ""
    assert result.stderr.startswith("error: the Docker engine is not running"), result.stderr
    assert len(result.stderr.splitlines()) == 1


# --- item 9: help text --------------------------------------------------------------------


def all_commands() -> list[tuple[str, Any]]:
    """(words, click command) of every command and group, e.g. ("local train", ...)."""
    found: list[tuple[str, Any]] = []

    def walk(prefix: str, group: Any) -> None:
        for name, command in group.commands.items():
            found.append((f"{prefix}{name}", command))
            if is_group(command):
                walk(f"{prefix}{name} ", command)

    walk("", tidy(get_command(app)))
    return found


def is_group(command: Any) -> bool:
    return hasattr(command, "commands")


def help_of(runner: CliRunner, words: str) -> str:
    result = runner.invoke(app, [*words.split(), "--help"], prog_name="easy_sm", terminal_width=80)
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.mark.parametrize("group", ["", "local"])
def test_command_lists_show_whole_summaries(runner: CliRunner, group: str) -> None:
    text = help_of(runner, group)
    listing = text.split("Commands:\n", 1)[1]
    assert listing.strip()
    assert "..." not in listing
    assert "e.g" not in listing
    for line in listing.splitlines():
        if line.startswith("  ") and not line.startswith("   "):
            name, _, first = line.strip().partition(" ")
            assert first.strip(), f"{name} has no summary"


def test_every_command_help_reads_well_and_has_an_example(runner: CliRunner) -> None:
    commands = all_commands()
    assert len(commands) >= 24
    for words, command in commands:
        text = help_of(runner, words)
        placeholder = re.search(r"<(str|int|float|path|filename|text|integer)( range)?>", text)
        assert placeholder is None, f"{words}: {placeholder.group(0)} in\n{text}"
        assert "{" not in text.split("\n", 1)[0], f"{words}: usage line {text.splitlines()[0]}"
        if not is_group(command):
            assert "Example" in text, f"`easy_sm {words} --help` has no example line"


def test_usage_of_run_commands_shows_command_placeholders(runner: CliRunner) -> None:
    assert help_of(runner, "local run").startswith(
        "Usage: easy_sm local run [OPTIONS] COMMAND...\n"
    )
    assert help_of(runner, "run").startswith("Usage: easy_sm run [OPTIONS] COMMAND...\n")


def test_push_names_its_registry_variable_once(runner: CliRunner) -> None:
    text = help_of(runner, "push")
    assert text.count("EASY_SM_REGISTRY") == 1
    assert "--registry HOST[:PORT]" in text


def test_every_command_with_dash_e_takes_both_instance_type_names(runner: CliRunner) -> None:
    for words, command in all_commands():
        for param in command.params:
            if "-e" in getattr(param, "opts", []) and words != "push":  # push: --external-id
                assert {"--instance-type", "--ec2-type"} <= set(param.opts), words


def test_summary_keeps_abbreviations_and_ellipses_inside_the_first_sentence() -> None:
    assert summary("Run CMD... in the image, e.g. dbt. More text.") == (
        "Run CMD... in the image, e.g. dbt"
    )
    assert summary("\b\nOne line\n\nanother paragraph.") == "One line"


# --- item 7: no warnings from pip -----------------------------------------------------------


def test_the_package_license_is_an_spdx_string_with_a_backend_that_reads_it() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["license"] == "MIT"
    (requirement,) = project["build-system"]["requires"]
    match = re.fullmatch(r"setuptools>=(\d+)", requirement)
    assert match and int(match.group(1)) >= 77  # the first setuptools with PEP 639 strings


def test_the_template_image_silences_pips_root_user_warning() -> None:
    dockerfile = (ROOT / "easy_sm/template/easy_sm_base/Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"^ENV [^\n]*(\\\n[^\n]*)*PIP_ROOT_USER_ACTION=ignore$", dockerfile, re.M)
    first_run = dockerfile.index("\nRUN ")
    assert dockerfile.index("PIP_ROOT_USER_ACTION=ignore") < first_run


# --- item 8: a traceback repeated by every worker is shown once ------------------------------


def test_repeated_worker_tracebacks_are_shown_once() -> None:
    from easy_sm.docker.containers import dedupe_tracebacks

    block = [
        "Traceback (most recent call last):",
        '  File "/opt/program/inference.py", line 12, in model_fn',
        "    return joblib.load(path)",
        "FileNotFoundError: [Errno 2] No such file or directory: '/opt/ml/model/model.joblib'",
    ]
    log = []
    for pid in (9, 10, 11):
        log += [f"[2026-11-27 05:00:40 +0000] [{pid}] [ERROR] model_fn failed:", *block]
        log.append(f"[2026-11-27 05:00:41 +0000] [{pid}] [INFO] Worker exiting (pid: {pid})")
    shown = dedupe_tracebacks("\n".join(log)).splitlines()
    assert shown.count("Traceback (most recent call last):") == 1
    assert shown[1:5] == block
    assert sum("Worker exiting" in line for line in shown) == 3
    assert shown[-1] == "(the same traceback was printed 2 more times: hidden)"
    different = "\n".join([*block, *block[:3], "ValueError: another error"])
    assert dedupe_tracebacks(different) == different
