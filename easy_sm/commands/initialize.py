"""`easy_sm init`: scaffold an app, interactively or entirely from flags."""

from __future__ import annotations

import configparser
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from easy_sm import console
from easy_sm.commands.helpers import validate_app_name
from easy_sm.errors import UsageError

PYTHON_VERSIONS = ("3.10", "3.11", "3.12", "3.13")
DEFAULT_PYTHON = "3.11"
DEFAULT_REGION = "eu-west-1"
DEFAULT_REQUIREMENTS = "requirements.txt"


def local_aws_profiles() -> list[str]:
    """Profile names from ~/.aws/config and ~/.aws/credentials (no boto3: start-up stays fast)."""
    home = Path.home()
    config_file = Path(os.environ.get("AWS_CONFIG_FILE", home / ".aws" / "config"))
    credentials_file = Path(
        os.environ.get("AWS_SHARED_CREDENTIALS_FILE", home / ".aws" / "credentials")
    )
    profiles: list[str] = []
    for path, prefixed in ((config_file, True), (credentials_file, False)):
        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read(path, encoding="utf-8")
        except (configparser.Error, UnicodeDecodeError):
            continue
        for section in parser.sections():
            name = section.removeprefix("profile ").strip() if prefixed else section.strip()
            if prefixed and section != "default" and not section.startswith("profile "):
                continue
            if name not in profiles:
                profiles.append(name)
    return profiles


def default_region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or DEFAULT_REGION


def stdin_is_terminal() -> bool:
    return sys.stdin.isatty()


def _ask_choice(title: str, choices: list[str], default_index: int) -> str:
    console.info(title)
    for index, choice in enumerate(choices, start=1):
        console.info(f"  {index} - {choice}")
    while True:
        raw = typer.prompt(
            f"Choose from 1-{len(choices)}", default=str(default_index + 1), err=True
        )
        if raw.isdigit() and 1 <= int(raw) <= len(choices):
            return choices[int(raw) - 1]
        console.info(f"invalid choice: {raw}")


def _ask_app_name() -> str:
    while True:
        name = typer.prompt(
            "Name of your SageMaker app (letters, digits, '-' and '_')", err=True
        ).strip()
        try:
            return validate_app_name(name)
        except UsageError as exc:
            console.info(str(exc))


def register(app: typer.Typer) -> None:
    app.command(name="init")(init)


def init(
    app_name: Annotated[
        str | None, typer.Option("--app-name", "-a", help="Name of the app (and its image).")
    ] = None,
    python_version: Annotated[
        str | None,
        typer.Option(
            "--python-version", help=f"Python for the image: {', '.join(PYTHON_VERSIONS)}."
        ),
    ] = None,
    aws_profile: Annotated[
        str | None,
        typer.Option(
            "--aws-profile", help="AWS profile to use ('' for the default credential chain)."
        ),
    ] = None,
    aws_region: Annotated[
        str | None, typer.Option("--aws-region", help="AWS region, e.g. eu-west-1.")
    ] = None,
    source_dir: Annotated[
        str | None,
        typer.Option(
            "--source-dir",
            help="Existing project: the folder of your code that gets easy_sm_base/. "
            "Default (new project): a folder named after the app.",
        ),
    ] = None,
    requirements: Annotated[
        str | None,
        typer.Option("--requirements", help="Path of the requirements file (created if missing)."),
    ] = None,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Take defaults for every answer not given.")
    ] = False,
    force: Annotated[
        bool,
        typer.Option("--force", help="Replace an existing config/easy_sm_base (old kept as .bak)."),
    ] = False,
) -> None:
    """Create {app}.json and the easy_sm_base/ template (a working example app)."""
    from easy_sm.scaffold import InitAnswers, create_project

    interactive = not yes and stdin_is_terminal()
    if app_name is None and not interactive:
        raise UsageError(
            "init needs an app name and there is no terminal to ask on",
            "pass --app-name NAME (and --yes to take defaults for the rest)",
        )
    name = validate_app_name(app_name) if app_name is not None else _ask_app_name()

    if (
        source_dir is None
        and interactive
        and not typer.confirm("Are you starting a new project?", default=True, err=True)
    ):
        source_dir = typer.prompt("Folder where your code lives (e.g. src)", err=True).strip()
    module_dir = (source_dir or name).strip().rstrip("/") or name

    if python_version is None:
        python_version = (
            _ask_choice("Python version of the image:", list(PYTHON_VERSIONS), 1)
            if interactive
            else DEFAULT_PYTHON
        )
    if python_version not in PYTHON_VERSIONS:
        raise UsageError(
            f"--python-version {python_version!r} is not supported",
            f"choose one of {', '.join(PYTHON_VERSIONS)}",
        )

    if aws_profile is None:
        profiles = local_aws_profiles()
        if interactive and profiles:
            choices = [*profiles, "(none: default credential chain)"]
            chosen = _ask_choice("AWS profile:", choices, 0)
            aws_profile = "" if chosen == choices[-1] else chosen
        else:
            aws_profile = ""
    if aws_region is None:
        aws_region = (
            typer.prompt("AWS region", default=default_region(), err=True).strip()
            if interactive
            else default_region()
        )
    if requirements is None:
        requirements = (
            typer.prompt(
                "Path to your requirements file", default=DEFAULT_REQUIREMENTS, err=True
            ).strip()
            if interactive
            else DEFAULT_REQUIREMENTS
        )

    result = create_project(
        Path.cwd(),
        InitAnswers(
            app_name=name,
            python_version=python_version,
            aws_profile=aws_profile,
            aws_region=aws_region,
            module_dir=module_dir,
            requirements=requirements,
        ),
        force=force,
    )
    for backup in result.backups:
        console.info(f"kept the previous version as {backup.name}")
    console.info(f"created {result.base_dir} — next: `easy_sm build` then `easy_sm local train`")
    console.result(result.config_path.name)
