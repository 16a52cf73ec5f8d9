"""Writing the template into a user's project (`init`) and refreshing its tool-managed files
(`update-scripts`). Never overwrites a user's file silently: existing files are refused or
backed up as `*.bak-<timestamp>`, and everything is staged before it is moved into place."""

from __future__ import annotations

import filecmp
import os
import shutil
import stat
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from easy_sm.config.config import BASE_DIR_NAME, Config, ConfigManager, validate
from easy_sm.errors import ConfigError, UsageError

# Files of easy_sm_base/ that belong to easy_sm, not to the user: `update-scripts` refreshes
# them. Everything else (training.py, inference.py, processing/, Dockerfile, test data) is the
# user's and is never touched after `init`.
MANAGED_FILES: tuple[str, ...] = (
    "executor.sh",
    "training/train",
    "prediction/serve",
    "prediction/wsgi.py",
)
# Files that must be executable in the image.
EXECUTABLES: frozenset[str] = frozenset({"executor.sh", "training/train", "prediction/serve"})
EMPTY_DIRS = (
    "local_test/test_dir/model",
    "local_test/test_dir/output",
    "local_test/test_dir/input/config",
    "local_test/test_dir/processing/output",
)


def timestamp() -> str:
    return time.strftime("%Y%m%d%H%M%S")


def backup_path(path: Path, stamp: str) -> Path:
    """`<name>.bak-<stamp>`, or `…-2`, `…-3` when a backup was already made that second: a
    backup never replaces an earlier one."""
    candidate = path.with_name(f"{path.name}.bak-{stamp}")
    number = 2
    while candidate.exists() or candidate.is_symlink():
        candidate = path.with_name(f"{path.name}.bak-{stamp}-{number}")
        number += 1
    return candidate


@contextmanager
def template_root() -> Iterator[Path]:
    """The packaged template folder, as a real path for the duration of the block."""
    with resources.as_file(resources.files("easy_sm") / "template") as path:
        yield Path(path)


def _mode_for(relative: str) -> int:
    return 0o755 if relative in EXECUTABLES else 0o644


def _copy_template_tree(source: Path, target: Path) -> None:
    """Copy the template's easy_sm_base into `target` with safe modes (never world-writable)."""
    for dirpath, dirnames, filenames in os.walk(source):
        dirnames[:] = [d for d in dirnames if d != "__pycache__"]
        rel_dir = Path(dirpath).relative_to(source)
        (target / rel_dir).mkdir(parents=True, exist_ok=True)
        os.chmod(target / rel_dir, 0o755)
        for name in filenames:
            if name.endswith((".pyc", ".pyo")):
                continue
            rel = (rel_dir / name).as_posix()
            shutil.copyfile(Path(dirpath) / name, target / rel)
            os.chmod(target / rel, _mode_for(rel))
    for rel in EMPTY_DIRS:
        (target / rel).mkdir(parents=True, exist_ok=True)


@dataclass
class InitAnswers:
    app_name: str
    python_version: str
    aws_profile: str
    aws_region: str
    module_dir: str
    requirements: str


@dataclass
class InitResult:
    config_path: Path
    base_dir: Path
    written: list[Path] = field(default_factory=list)
    backups: list[Path] = field(default_factory=list)


def create_project(project_dir: Path, answers: InitAnswers, *, force: bool = False) -> InitResult:
    """Write `{app}.json`, `{module_dir}/easy_sm_base/`, the requirements file (if missing)
    and a `.dockerignore` (if missing) into `project_dir`."""
    project_dir = project_dir.resolve()
    config_path = project_dir / f"{answers.app_name}.json"
    try:
        config = validate(
            Config(
                image_name=answers.app_name.lower(),
                aws_profile=answers.aws_profile,
                aws_region=answers.aws_region,
                python_version=answers.python_version,
                easy_sm_module_dir=answers.module_dir,
                requirements_dir=answers.requirements,
            ).to_dict(),
            config_path.name,
            project_dir,
        )
    except ConfigError as exc:
        raise _as_answer_error(exc, config_path.name) from None
    module_path = (project_dir / answers.module_dir).resolve()
    base = module_path / BASE_DIR_NAME
    existing = [p for p in (config_path, base) if p.exists()]
    if existing and not force:
        names = " and ".join(str(p.relative_to(project_dir)) for p in existing)
        raise ConfigError(
            f"{names} already {'exist' if len(existing) > 1 else 'exists'}",
            "pass --force to replace (the old files are kept as *.bak-<timestamp>), "
            "or choose another --app-name",
        )
    if module_path.exists() and not module_path.is_dir():
        raise ConfigError(
            f"{module_path} exists and is not a folder", "choose another --source-dir"
        )

    result = InitResult(config_path=config_path, base_dir=base)
    module_path.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=".easy_sm_base.", dir=module_path))
    try:
        with template_root() as root:
            _copy_template_tree(root / BASE_DIR_NAME, stage)
            default_requirements = (root / "requirements.txt").read_text(encoding="utf-8")
            dockerignore = (root / "dockerignore").read_text(encoding="utf-8")
        os.chmod(stage, 0o755)
        stamp = timestamp()
        if base.exists():
            backup = backup_path(base, stamp)
            base.rename(backup)
            result.backups.append(backup)
        stage.rename(base)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    result.written.append(base)

    requirements = (project_dir / answers.requirements).resolve()
    if not requirements.exists():
        requirements.parent.mkdir(parents=True, exist_ok=True)
        _write_new_file(requirements, default_requirements)
        result.written.append(requirements)
    ignore_file = project_dir / ".dockerignore"
    if not ignore_file.exists():
        _write_new_file(ignore_file, dockerignore)
        result.written.append(ignore_file)

    manager = ConfigManager(config_path)
    if config_path.exists():
        backup = backup_path(config_path, stamp)
        shutil.copy2(config_path, backup)
        result.backups.append(backup)
    manager.save(config)
    result.written.insert(0, config_path)
    return result


# init's answers, by the config field they become (so an error names what the user typed,
# not a file that was never written).
_FLAG_OF = {
    "image_name": "--app-name",
    "aws_region": "--aws-region",
    "python_version": "--python-version",
    "easy_sm_module_dir": "--source-dir",
    "requirements_dir": "--requirements",
}
_FLAG_HINTS = {"aws_region": "pass a region such as --aws-region eu-west-1"}


def _as_answer_error(exc: ConfigError, source: str) -> UsageError | ConfigError:
    for name, flag in _FLAG_OF.items():
        prefix = f"{source} -> {name}: "
        if exc.message.startswith(prefix):
            return UsageError(
                f"{flag} {exc.message.removeprefix(prefix)}", _FLAG_HINTS.get(name, exc.hint)
            )
    return exc


def _write_new_file(path: Path, text: str) -> None:
    with open(path, "x", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(path, 0o644)


@dataclass
class ScriptUpdate:
    path: Path
    status: str  # "unchanged" | "added" | "updated"
    backup: Path | None = None


def update_scripts(base_dir: Path) -> list[ScriptUpdate]:
    """Refresh the managed files of `base_dir` from the installed template.

    Identical files are left alone; missing ones are added; changed ones are backed up as
    `<file>.bak-<timestamp>` and replaced. Run bits are set on the scripts. User code is never
    touched (it is not in MANAGED_FILES).
    """
    if not base_dir.is_dir():
        raise ConfigError(
            f"{base_dir} not found",
            "run update-scripts in your project (check easy_sm_module_dir in the config)",
        )
    updates: list[ScriptUpdate] = []
    stamp = timestamp()
    with template_root() as root:
        for rel in MANAGED_FILES:
            source = root / BASE_DIR_NAME / rel
            target = base_dir / rel
            mode = _mode_for(rel)
            if target.is_file() and filecmp.cmp(source, target, shallow=False):
                if stat.S_IMODE(target.stat().st_mode) != mode:
                    os.chmod(target, mode)
                updates.append(ScriptUpdate(target, "unchanged"))
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            backup = None
            if target.exists():
                backup = backup_path(target, stamp)
                shutil.copy2(target, backup)
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
            os.close(fd)
            try:
                shutil.copyfile(source, tmp)
                os.chmod(tmp, mode)
                os.replace(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
            updates.append(ScriptUpdate(target, "updated" if backup else "added", backup))
    return updates
