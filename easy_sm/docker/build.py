"""`easy_sm build`: the build context, the build args, and the build itself.

The context is the project folder (where `{app}.json` lives), filtered by the project's
`.dockerignore` plus patterns easy_sm always adds (local test data, `.git`, virtual
environments), so neither a missing nor an incomplete `.dockerignore` can send them to Docker.
"""

from __future__ import annotations

import contextlib
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from easy_sm.config.config import BASE_DIR_NAME, Config
from easy_sm.docker.engine import docker_errors, translate
from easy_sm.docker.engine_api import STREAM_SILENCE_TIMEOUT
from easy_sm.errors import DockerError

if TYPE_CHECKING:
    from easy_sm.commands.helpers import Project

DEFAULT_PLATFORM = "linux/amd64"
# Never in the build context, whatever the project's .dockerignore says.
ALWAYS_EXCLUDED = (
    ".git",
    "**/.git",
    ".venv",
    "**/.venv",
    "venv",
    "**/venv",
    "**/__pycache__",
    "**/*.pyc",
    "**/local_test/test_dir",
    "**/.mypy_cache",
    "**/.pytest_cache",
    "**/.ruff_cache",
)
_STEP_RE = re.compile(r"^Step \d+/\d+ : ")
_ANSI_RE = re.compile(r"\x1b\[[0-9;]*m")
_LAYER_RE = re.compile(r"\s*---> ([0-9a-f]{12,64})\s*")
_TAIL_LINES = 25

LogSink = Callable[[str], None]


@dataclass
class BuildRequest:
    """Everything Docker needs for one build of an app's image."""

    context_dir: Path
    dockerfile: str  # relative to context_dir, posix
    tag: str
    buildargs: dict[str, str]
    platform: str = DEFAULT_PLATFORM
    excludes: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    nocache: bool = False


def _relative(path: Path, root: Path) -> str:
    return path.resolve().relative_to(root.resolve()).as_posix() or "."


def _find_venvs(root: Path, depth: int = 2) -> list[str]:
    """Virtual environments (folders holding `pyvenv.cfg`) near the top of the project, whatever
    they are called."""
    found: list[str] = []

    def scan(folder: Path, level: int) -> None:
        try:
            children = [c for c in folder.iterdir() if c.is_dir() and not c.is_symlink()]
        except OSError:
            return
        for child in children:
            if (child / "pyvenv.cfg").is_file():
                found.append(_relative(child, root))
            elif level < depth and child.name not in (".git", "node_modules"):
                scan(child, level + 1)

    scan(root, 1)
    return sorted(found)


def read_dockerignore(context_dir: Path) -> list[str]:
    """The project's .dockerignore patterns (as Docker reads them), or []."""
    path = context_dir / ".dockerignore"
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise DockerError(f"cannot read {path}: {exc.strerror}", "check its permissions") from None
    return [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]


def context_excludes(context_dir: Path, test_dir: Path) -> list[str]:
    """The user's .dockerignore, then easy_sm's own patterns (last, so a `!` cannot undo them)."""
    patterns = read_dockerignore(context_dir)
    patterns.extend(ALWAYS_EXCLUDED)
    if test_dir.resolve().is_relative_to(context_dir.resolve()):
        patterns.append(_relative(test_dir, context_dir))
    patterns.extend(_find_venvs(context_dir))
    return patterns


def build_request(
    config: Config,
    project_dir: Path,
    module_dir: Path,
    requirements_file: Path,
    tag: str,
    *,
    platform: str = DEFAULT_PLATFORM,
) -> BuildRequest:
    """The build of `tag` for an app: context = project folder, Dockerfile in easy_sm_base/."""
    base = module_dir / BASE_DIR_NAME
    dockerfile = base / "Dockerfile"
    if not dockerfile.is_file():
        from easy_sm.errors import ConfigError

        raise ConfigError(
            f"{dockerfile} not found",
            "check easy_sm_module_dir in your config, or restore the Dockerfile "
            "(`easy_sm init --force` rewrites the template)",
        )
    if not requirements_file.is_file():
        from easy_sm.errors import ConfigError

        raise ConfigError(
            f"requirements file {requirements_file} not found (requirements_dir in the config)",
            "create it (it may be empty) or fix requirements_dir",
        )
    module_rel = _relative(module_dir, project_dir)
    return BuildRequest(
        context_dir=project_dir,
        dockerfile=_relative(dockerfile, project_dir),
        tag=tag,
        buildargs={
            "BASE_IMAGE": config.effective_base_image,
            "MODULE_DIR": module_rel,
            "MODULE_NAME": module_dir.name if module_rel != "." else "app",
            "REQUIREMENTS_FILE": _relative(requirements_file, project_dir),
            "PYTHON_VERSION": config.python_version,
        },
        platform=platform,
        excludes=context_excludes(project_dir, base / "local_test" / "test_dir"),
        labels={"easy_sm.app_image": config.image_name},
    )


def project_build_request(project: Project, *, platform: str = DEFAULT_PLATFORM) -> BuildRequest:
    """The build of the project's image (`{image_name}:{tag}`), as `easy_sm build` makes it:
    what `build`, the freshness check, `push`, `doctor` and the stale-image warning compare."""
    project.require_base_dir()
    return build_request(
        project.config,
        project.project_dir,
        project.module_dir,
        project.requirements_file,
        project.image,
        platform=platform,
    )


def context_files(request: BuildRequest) -> list[str]:
    """The paths (relative, posix) that go into the build context."""
    from easy_sm.docker.dockerignore import context_paths

    return context_paths(str(request.context_dir), list(request.excludes), request.dockerfile)


class _BuildLog:
    """Remembers the current step and its output, to show them when a build fails."""

    def __init__(self, sink: LogSink | None) -> None:
        self.sink = sink
        self.step = ""
        self.step_output: list[str] = []
        self.made: list[str] = []  # images this build committed (not cache hits)
        self._step_ran = False

    def feed(self, text: str) -> None:
        if self.sink:
            self.sink(text)
        for line in _ANSI_RE.sub("", text).splitlines():
            if _STEP_RE.search(line):  # anchored by its ^
                self.step = line
                self.step_output = []
                self._step_ran = False
                continue
            if "---> Running in " in line:
                self._step_ran = True
            layer = _LAYER_RE.fullmatch(line)
            if layer and self._step_ran:
                self.made.append(layer.group(1))
                self._step_ran = False
            elif line.strip():
                self.step_output.append(line)

    def failure(self, error: str) -> DockerError:
        tail = self.step_output[-_TAIL_LINES:]
        lines = [f"docker build failed at {self.step or 'the start'}"]
        if tail:
            lines.append("  " + "\n  ".join(tail))
        lines.append(error.strip())
        return DockerError("\n".join(lines), "fix that step, then run `easy_sm build` again")


def build_image(engine: Any, request: BuildRequest, *, sink: LogSink | None = None) -> str:
    """Build and tag `request.tag`; return the image id. `sink` receives the build log.

    On failure: a DockerError naming the failing step with its last output lines. The tag is
    only moved by a successful build (the legacy builder tags at the very end), and the
    intermediate containers are removed (forcerm). An image the tag used to point at, left
    untagged by the build, is removed so rebuilds do not pile up dangling images. A failed or
    interrupted build (Ctrl-C, SIGTERM) is cancelled and the images it made are removed.
    """
    import docker.errors

    previous = _image_id(engine, request.tag)
    log = _BuildLog(sink)
    image_id = ""
    stream: Any = None
    try:
        with tempfile.TemporaryFile() as context, docker_errors("docker build"):
            _write_context(request, context)
            context.seek(0)
            try:
                stream = engine.api.build(
                    fileobj=context,
                    custom_context=True,
                    dockerfile=request.dockerfile,
                    tag=request.tag,
                    buildargs=request.buildargs,
                    platform=request.platform or None,
                    labels=request.labels or None,
                    nocache=request.nocache,
                    timeout=STREAM_SILENCE_TIMEOUT,  # a quiet build step may take long
                    rm=True,
                    forcerm=True,
                    decode=True,
                )
                for event in stream:
                    if "stream" in event:
                        log.feed(str(event["stream"]))
                    elif "error" in event:
                        detail = event.get("errorDetail", {}).get("message") or event["error"]
                        raise log.failure(str(detail))
                    elif "aux" in event and isinstance(event["aux"], dict):
                        image_id = str(event["aux"].get("ID", image_id))
                    elif "status" in event and log.sink:
                        log.sink(f"{event['status']} {event.get('progress', '')}".rstrip() + "\n")
            except docker.errors.APIError as exc:
                if exc.status_code is not None and 400 <= exc.status_code < 500:
                    raise log.failure(str(exc.explanation or exc)) from None
                raise translate(exc, "docker build") from exc
    except BaseException as exc:
        # failed or interrupted: cancel the build, leave no dangling intermediate image
        _close_responses(exc)
        _discard_build(engine, stream, log.made)
        raise
    image_id = _image_id(engine, request.tag) or image_id
    if not image_id:
        raise DockerError(
            f"docker build finished without producing {request.tag}", "rerun with --verbose"
        )
    if previous and previous != image_id:
        _remove_if_dangling(engine, previous)
    return image_id


def _close_responses(exc: BaseException) -> None:
    """Close the HTTP response(s) of the build that `exc` came through: an interrupt lands in
    the SDK's stream reader, whose frame (kept alive by the traceback) holds the response, so
    only closing it ends the request and makes the engine cancel the build."""
    tb = exc.__traceback__
    while tb is not None:
        response = tb.tb_frame.f_locals.get("response")
        close = getattr(response, "close", None)
        if callable(close):
            with contextlib.suppress(Exception):
                close()
        tb = tb.tb_next


def _discard_build(engine: Any, stream: Any, made: list[str], patience: float = 15) -> None:
    """Cancel the build (its connection closes) and remove the images it committed: the last
    one, with its untagged parents (`noprune=False`). The engine may take a moment to let go
    of the step's container, so a conflict is retried for up to `patience` seconds."""
    import gc
    import time

    import docker.errors

    if stream is not None:
        stream.close()
        gc.collect()  # drop the response, so the socket closes now
    if not made:
        return
    deadline = time.monotonic() + patience
    while True:
        try:
            image = engine.images.get(made[-1])
            if image.tags:
                return  # the build finished and tagged it after all
            engine.images.remove(made[-1], noprune=False)
            return
        except docker.errors.ImageNotFound:
            return
        except docker.errors.APIError as exc:
            if exc.status_code != 409 or time.monotonic() > deadline:
                return  # best effort: the build's own error is the one to report
        except (docker.errors.DockerException, OSError):
            return
        time.sleep(0.3)


def _write_context(request: BuildRequest, fileobj: Any) -> None:
    from docker.utils.build import create_archive

    create_archive(
        root=str(request.context_dir.resolve()), files=context_files(request), fileobj=fileobj
    )


def _image_id(engine: Any, ref: str) -> str:
    import docker.errors

    with docker_errors(f"inspecting {ref}"):
        try:
            return str(engine.images.get(ref).id)
        except docker.errors.ImageNotFound:
            return ""


def _remove_if_dangling(engine: Any, image_id: str) -> None:
    import docker.errors

    try:
        image = engine.images.get(image_id)
        if not image.tags:
            engine.images.remove(image_id, noprune=False)
    except docker.errors.APIError:
        pass  # still used by a container, or already gone: harmless


def image_size(engine: Any, ref: str) -> int:
    with docker_errors(f"inspecting {ref}"):
        return int(engine.images.get(ref).attrs.get("Size", 0))


def platform_supported(value: str) -> bool:
    """`os/arch[/variant]`, e.g. linux/amd64, linux/arm64."""
    return bool(re.fullmatch(r"[a-z0-9]+/[a-z0-9_]+(/[a-z0-9]+)?", value))


def default_sink(quiet: bool) -> LogSink | None:
    """The build log to stderr, unless quiet."""
    if quiet:
        return None
    import os
    import sys

    plain = not sys.stderr.isatty() or bool(os.environ.get("NO_COLOR"))

    def write(text: str) -> None:
        sys.stderr.write(_ANSI_RE.sub("", text) if plain else text)
        sys.stderr.flush()

    return write
