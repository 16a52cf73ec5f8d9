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


def _ask_source_dir() -> str:
    """The folder of an existing project's code: one that exists, or a new one confirmed."""
    while True:
        folder = str(typer.prompt("Folder where your code lives (e.g. src)", err=True)).strip()
        path = Path(folder).expanduser()
        if not folder:
            continue
        if path.is_dir():
            return folder
        if path.exists():
            console.info(f"{folder} is a file, not a folder")
            continue
        if typer.confirm(f"{folder} does not exist: create it?", default=False, err=True):
            return folder


def _ask_region() -> str:
    from easy_sm.config.config import AWS_REGION_RE

    while True:
        region = str(typer.prompt("AWS region", default=default_region(), err=True)).strip()
        if AWS_REGION_RE.fullmatch(region):
            return region
        console.info(f"{region!r} is not an AWS region (e.g. eu-west-1)")


def register(app: typer.Typer) -> None:
    app.command(name="init")(init)


def init(
    app_name: Annotated[
        str | None,
        typer.Option("--app-name", "-a", metavar="NAME", help="Name of the app (and its image)."),
    ] = None,
    python_version: Annotated[
        str | None,
        typer.Option(
            "--python-version",
            metavar="3.X",
            help=f"Python for the image: {', '.join(PYTHON_VERSIONS)}.",
        ),
    ] = None,
    aws_profile: Annotated[
        str | None,
        typer.Option(
            "--aws-profile",
            metavar="PROFILE",
            help="AWS profile to use ('' for the default credential chain).",
        ),
    ] = None,
    aws_region: Annotated[
        str | None,
        typer.Option("--aws-region", metavar="REGION", help="AWS region, e.g. eu-west-1."),
    ] = None,
    source_dir: Annotated[
        str | None,
        typer.Option(
            "--source-dir",
            metavar="DIR",
            help="Existing project: the folder of your code that gets easy_sm_base/. "
            "Default (new project): a folder named after the app.",
        ),
    ] = None,
    requirements: Annotated[
        str | None,
        typer.Option(
            "--requirements",
            metavar="FILE",
            help="Path of the requirements file (created if missing).",
        ),
    ] = None,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Take defaults for every answer not given.")
    ] = False,
    force: Annotated[
        bool,
        typer.Option("--force", help="Replace an existing config/easy_sm_base (old kept as .bak)."),
    ] = False,
) -> None:
    """Create a new app: its config and a working example.

    Writes {app}.json and {module}/easy_sm_base/ (the template: a scikit-learn example app you
    replace with your code). Asks for what flags do not give, unless --yes; prints the config's
    name.

    \b
    Example:
        easy_sm init --app-name demo --python-version 3.11 --yes
    """
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
        source_dir = _ask_source_dir()
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
        aws_region = _ask_region() if interactive else default_region()
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
    _summarize(result.written, Path.cwd())
    console.result(result.config_path.name)


def _summarize(written: list[Path], project_dir: Path) -> None:
    """What init wrote and the next three commands, on stderr (stdout: the config's name)."""
    console.info("wrote:")
    for path in written:
        shown = path.relative_to(project_dir) if path.is_relative_to(project_dir) else path
        console.info(f"  {shown}{'/' if path.is_dir() else ''}")
    console.info(
        "next:\n"
        "  easy_sm build          # build the image (the first build takes about 2 min)\n"
        "  easy_sm local train    # train on local_test/test_dir, prints the model folder\n"
        "  easy_sm local deploy   # serve it on http://127.0.0.1:8080 (stop: easy_sm local stop)"
    )
