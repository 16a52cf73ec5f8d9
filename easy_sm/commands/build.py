"""`easy_sm build`: build the app's image from easy_sm_base/Dockerfile."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from easy_sm import console
from easy_sm.commands.helpers import load_project
from easy_sm.commands.options import AppNameOption
from easy_sm.errors import UsageError

if TYPE_CHECKING:
    from easy_sm.commands.helpers import Project

PlatformOption = Annotated[
    str,
    typer.Option(
        "--platform",
        metavar="OS/ARCH",
        help="Target platform of the image (SageMaker runs linux/amd64).",
    ),
]


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.command(name="build")(build)


def build(
    app_name: AppNameOption = None,
    platform: PlatformOption = "linux/amd64",
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Rebuild every layer, ignoring Docker's cache.")
    ] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Do not stream the build log.")
    ] = False,
) -> None:
    """Build the app's Docker image.

    Prints the image reference ({image_name}:{tag}); the build log goes to stderr. Context: the
    project folder, filtered by .dockerignore (local test data, .git and virtual environments
    are always left out).

    \b
    Example:
        easy_sm build --no-cache
    """
    from easy_sm.docker.build import default_sink, platform_supported
    from easy_sm.docker.engine import connect
    from easy_sm.docker.freshness import build_labelled

    if not platform_supported(platform):
        raise UsageError(
            f"--platform {platform!r} is not a platform", "write os/arch, e.g. linux/amd64"
        )
    if platform != "linux/amd64":
        console.warn(f"building for {platform}: SageMaker only runs linux/amd64 images")
    from easy_sm.docker.build import project_build_request

    project = load_project(app_name)
    request = project_build_request(project, platform=platform)
    request.nocache = no_cache
    engine = connect()  # before the status line: it must not promise a build Docker refuses
    console.info(f"building {project.image} for {platform} from {project.project_dir}")
    build_labelled(engine, request, sink=default_sink(quiet or console.verbosity.quiet))
    console.info(f"built {project.image}")
    console.result(project.image)


def ensure_fresh(project: Project, *, no_build: bool) -> None:
    """Before a local command runs the image: build it if missing, rebuild it if the
    sources changed since it was built (unless --no-build)."""
    if no_build:
        return
    from easy_sm.docker.build import project_build_request
    from easy_sm.docker.freshness import ensure_fresh_image

    ensure_fresh_image(project_build_request(project), no_build=False)
