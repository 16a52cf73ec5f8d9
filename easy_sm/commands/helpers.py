"""Shared command plumbing: app-name detection and validation, IAM role resolution, KEY=VALUE
parsing, and loading the app's project. No heavy imports here: this runs on every start."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from easy_sm.config.config import (
    Config,
    ConfigManager,
    base_dir,
    looks_like_config,
    module_dir,
)
from easy_sm.errors import ConfigError, UsageError

# Starts with a letter or digit (so `-a -rel` is not taken for a name); at most 63 characters,
# so every name derived from it (the config file, the image, containers, SageMaker job and
# endpoint names) stays within its own limit.
APP_NAME_MAX = 63
APP_NAME_RE = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_-]{0,62}")
IAM_ROLE_ARN_RE = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}")
ENV_KEY_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# A registry as Docker names one: host[:port] with an optional namespace path.
REGISTRY_RE = re.compile(
    r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?::\d{1,5})?(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*"
)


@dataclass
class GlobalOptions:
    """Options of the root command, visible to every sub-command."""

    docker_tag: str | None = None


options = GlobalOptions()


def validate_app_name(name: str) -> str:
    """Reject anything but letters, digits, '-' and '_' (no paths, no `~`, not empty, no
    leading '-', at most APP_NAME_MAX characters)."""
    if len(name) > APP_NAME_MAX:
        raise UsageError(
            f"app name {name[:20]!r}… is {len(name)} characters long",
            f"use at most {APP_NAME_MAX} (names of jobs, images and files derive from it)",
        )
    if not name or not APP_NAME_RE.fullmatch(name):
        raise UsageError(
            f"invalid app name {name!r}",
            "use only letters, digits, '-' and '_', starting with a letter or digit (e.g. my-app)",
        )
    return name


def auto_detect_app_name(directory: Path | None = None) -> str:
    """Find the one easy_sm config among the `*.json` files of `directory` (default: cwd).

    Only files that parse as an easy_sm config count, so a `package.json` or `tsconfig.json`
    beside it does not get in the way.
    """
    directory = directory or Path.cwd()
    candidates = []
    unreadable: list[str] = []
    for path in sorted(directory.glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            unreadable.append(f"{path.name} ({exc.strerror})")
            continue
        except UnicodeDecodeError:
            unreadable.append(f"{path.name} (not UTF-8 text)")
            continue
        except json.JSONDecodeError:
            continue
        if looks_like_config(data) and APP_NAME_RE.fullmatch(path.stem):
            candidates.append(path)
    if not candidates and unreadable:
        raise ConfigError(
            f"no readable easy_sm config in {directory}: cannot read {', '.join(unreadable)}",
            "fix the file's permissions or encoding (e.g. `chmod u+r FILE`), or pass -a/--app-name",
        )
    if not candidates:
        raise ConfigError(
            f"no easy_sm config (*.json) found in {directory}",
            "run `easy_sm init` here, cd to your project, or pass -a/--app-name",
        )
    if len(candidates) > 1:
        names = ", ".join(p.name for p in candidates)
        raise ConfigError(
            f"several easy_sm configs found: {names}",
            "choose one with -a/--app-name",
        )
    return candidates[0].stem


def get_app_name(app_name: str | None) -> str:
    """The app name given with -a, validated, else the auto-detected one."""
    if app_name is not None:
        return validate_app_name(app_name)
    return auto_detect_app_name()


def get_iam_role(iam_role_arn: str | None) -> str:
    """The IAM role from -r/--iam-role-arn, else from SAGEMAKER_ROLE; validated as a role ARN."""
    role = iam_role_arn or os.environ.get("SAGEMAKER_ROLE", "")
    source = "-r/--iam-role-arn" if iam_role_arn else "SAGEMAKER_ROLE"
    if not role:
        raise UsageError(
            "no IAM role given",
            "pass -r/--iam-role-arn arn:aws:iam::<account>:role/<name> or set SAGEMAKER_ROLE",
        )
    if not IAM_ROLE_ARN_RE.fullmatch(role):
        raise UsageError(
            f"{source}: {role!r} is not an IAM role ARN",
            "expected arn:aws:iam::<12-digit account>:role/<name>",
        )
    return role


def parse_key_values(
    items: list[str] | None, option: str, *, env_keys: bool = False
) -> dict[str, str]:
    """Parse repeated KEY=VALUE options. The value may be empty or contain '='.

    With `env_keys`, keys must be valid environment variable names.
    """
    parsed: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"{option} {item!r}: expected KEY=VALUE", f"e.g. {option} KEY=value")
        if env_keys and not ENV_KEY_RE.fullmatch(key):
            raise UsageError(
                f"{option} {item!r}: {key!r} is not a valid variable name",
                "use letters, digits and '_', not starting with a digit",
            )
        parsed[key] = value
    return parsed


@dataclass
class Project:
    """An app's config together with where it lives on disk."""

    app_name: str
    config: Config
    project_dir: Path

    @property
    def docker_tag(self) -> str:
        """--docker-tag if given, else the config's `docker_tag`."""
        return options.docker_tag or self.config.docker_tag

    @property
    def image(self) -> str:
        """The full local image reference, `{image_name}:{tag}`."""
        return f"{self.config.image_name}:{self.docker_tag}"

    @property
    def module_dir(self) -> Path:
        return module_dir(self.config, self.project_dir)

    @property
    def base_dir(self) -> Path:
        return base_dir(self.config, self.project_dir)

    @property
    def test_dir(self) -> Path:
        return self.base_dir / "local_test" / "test_dir"

    @property
    def requirements_file(self) -> Path:
        return (self.project_dir / self.config.requirements_dir).resolve()

    def require_base_dir(self) -> Path:
        """`easy_sm_base/`, or a ConfigError saying how to get one."""
        if not self.base_dir.is_dir():
            raise ConfigError(
                f"{self.base_dir} not found (easy_sm_module_dir in {self.app_name}.json)",
                "fix easy_sm_module_dir, or run `easy_sm init` to create the template",
            )
        return self.base_dir


def load_config(app_name: str) -> Config:
    """Load `{app_name}.json` from the working directory (the original tool's helper)."""
    return ConfigManager(Path.cwd() / f"{validate_app_name(app_name)}.json").load()


def load_project(app_name: str | None) -> Project:
    """Resolve the app name (flag or auto-detection) and load its config."""
    name = get_app_name(app_name)
    manager = ConfigManager(Path.cwd() / f"{name}.json")
    return Project(app_name=name, config=manager.load(), project_dir=manager.project_dir)


def parse_registry(value: str | None, source: str = "--registry") -> str:
    """`value` as a registry `host[:port][/namespace]` (a scheme and a trailing '/' are
    dropped), "" when not given; a UsageError when it cannot be one."""
    host = (value or "").strip().rstrip("/").removeprefix("https://").removeprefix("http://")
    if host and not REGISTRY_RE.fullmatch(host):
        raise UsageError(
            f"{source} {value!r} is not a registry address",
            "write host[:port], e.g. 123456789012.dkr.ecr.eu-west-1.amazonaws.com or "
            "localhost:5000",
        )
    return host
