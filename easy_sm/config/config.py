"""The app's config file, `{app_name}.json`: a typed dataclass, validated on load, written
atomically.

Files written by the original easy_sm (the seven fields below `base_image`) load unchanged.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from easy_sm.errors import ConfigError

PYTHON_VERSION_RE = re.compile(r"3\.\d{1,2}")
# Docker's grammar for a repository path (lower case components, separators . _ __ -)
IMAGE_NAME_RE = re.compile(
    r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
)
DOCKER_TAG_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
AWS_REGION_RE = re.compile(r"[a-z]{2}(-[a-z]+)+-\d")

BASE_DIR_NAME = "easy_sm_base"


@dataclass
class Config:
    """What one easy_sm app is: its image, its AWS account settings and where its code lives."""

    image_name: str
    aws_profile: str = ""
    aws_region: str = ""
    python_version: str = "3.11"
    easy_sm_module_dir: str = ""
    requirements_dir: str = "requirements.txt"
    docker_tag: str = "latest"
    base_image: str = ""

    @property
    def effective_base_image(self) -> str:
        """The image the Dockerfile starts FROM: `base_image`, else `python:{version}-slim`."""
        return self.base_image or f"python:{self.python_version}-slim"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


FIELD_TYPES: dict[str, type] = {f.name: str for f in fields(Config)}
REQUIRED_FIELDS = ("image_name",)


def looks_like_config(data: object) -> bool:
    """True for a JSON document that is meant as an easy_sm config (used by auto-detection):
    an object with `image_name` and `easy_sm_module_dir`, whatever else it holds."""
    return isinstance(data, dict) and "image_name" in data and "easy_sm_module_dir" in data


def _inside(root: Path, candidate: str) -> bool:
    if os.path.isabs(candidate) or candidate.startswith("~"):
        return False
    resolved = (root / candidate).resolve()
    root = root.resolve()
    return resolved == root or root in resolved.parents


def validate(data: object, source: str, project_dir: Path) -> Config:
    """Turn parsed JSON into a Config, or raise ConfigError naming the file and the field."""
    if not isinstance(data, dict):
        raise ConfigError(
            f"{source}: expected a JSON object", "recreate it with `easy_sm init --force`"
        )
    unknown = sorted(set(data) - set(FIELD_TYPES))
    if unknown:
        raise ConfigError(
            f"{source} -> {unknown[0]}: unknown key",
            f"remove it; known keys are {', '.join(FIELD_TYPES)}",
        )
    for name in REQUIRED_FIELDS:
        if name not in data:
            raise ConfigError(f"{source} -> {name}: missing", f'add "{name}": "..." to the file')
    for name, value in data.items():
        if not isinstance(value, FIELD_TYPES[name]):
            raise ConfigError(
                f"{source} -> {name}: expected a string, got {type(value).__name__}",
                f'write it in quotes, e.g. "{name}": "{value}"',
            )
    config = Config(**data)
    lowered = config.image_name.lower()
    if lowered != config.image_name and IMAGE_NAME_RE.fullmatch(lowered):
        # the original tool wrote image_name as typed; Docker only takes lower case
        from easy_sm import console

        console.warn(
            f"{source} -> image_name: {config.image_name!r} used as {lowered!r} "
            "(Docker image names are lower case); write it so in the file to silence this"
        )
        config.image_name = lowered

    def bad(name: str, what: str, hint: str) -> ConfigError:
        return ConfigError(f"{source} -> {name}: {what}", hint)

    if not IMAGE_NAME_RE.fullmatch(config.image_name):
        raise bad(
            "image_name",
            f"{config.image_name!r} is not a valid Docker image name",
            "use lower-case letters, digits, '-', '_' or '.'",
        )
    if not PYTHON_VERSION_RE.fullmatch(config.python_version):
        raise bad(
            "python_version",
            f'expected "3.x", got {config.python_version!r}',
            'write e.g. "3.11"',
        )
    if not DOCKER_TAG_RE.fullmatch(config.docker_tag):
        raise bad(
            "docker_tag",
            f"{config.docker_tag!r} is not a valid Docker tag",
            "use letters, digits, '_', '.', '-' (at most 128)",
        )
    if config.aws_region and not AWS_REGION_RE.fullmatch(config.aws_region):
        raise bad(
            "aws_region", f"{config.aws_region!r} is not an AWS region", 'write e.g. "eu-west-1"'
        )
    for name in ("easy_sm_module_dir", "requirements_dir"):
        value = getattr(config, name)
        if not _inside(project_dir, value or "."):
            raise bad(
                name,
                f"{value!r} leaves the project folder {project_dir}",
                "use a path relative to the folder holding the config file",
            )
    return config


class ConfigManager:
    """Loads and saves one `{app_name}.json`."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    @property
    def project_dir(self) -> Path:
        return self.path.resolve().parent

    def exists(self) -> bool:
        return self.path.is_file()

    def load(self) -> Config:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(
                f"config file {self.path} not found",
                "run `easy_sm init` here, or cd to the folder holding your app's config",
            ) from None
        except OSError as exc:
            raise ConfigError(
                f"cannot read {self.path}: {exc.strerror}", "check its permissions"
            ) from None
        except UnicodeDecodeError as exc:
            raise ConfigError(
                f"{self.path.name} is not UTF-8 text (byte {exc.start})",
                "save it as UTF-8, or recreate it with `easy_sm init --force`",
            ) from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(
                f"{self.path.name}: invalid JSON at line {exc.lineno}, "
                f"column {exc.colno}: {exc.msg}",
                "fix the file, or recreate it with `easy_sm init --force`",
            ) from None
        return validate(data, self.path.name, self.project_dir)

    # the original tool's name for load()
    get_config = load

    def save(self, config: Config) -> None:
        """Write atomically: a crash leaves either the old file or the new one, never half."""
        payload = json.dumps(config.to_dict(), indent=4) + "\n"
        directory = self.path.resolve().parent
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(payload)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, 0o644)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    set_config = save


def module_dir(config: Config, project_dir: Path) -> Path:
    """The folder that holds `easy_sm_base/`."""
    return (project_dir / (config.easy_sm_module_dir or ".")).resolve()


def base_dir(config: Config, project_dir: Path) -> Path:
    """The app's `easy_sm_base/` folder."""
    return module_dir(config, project_dir) / BASE_DIR_NAME
