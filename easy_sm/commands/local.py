"""`easy_sm local train|process|run|deploy|stop`: the built image, run on this machine with
`/opt/ml` laid out from the project's `local_test/test_dir` as SageMaker lays it out."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from easy_sm import console
from easy_sm.commands.helpers import load_project, parse_key_values
from easy_sm.commands.options import (
    AppNameOption,
    CodeOption,
    EnvOption,
    GpusOption,
    HyperparametersFileOption,
    HyperparametersOption,
    LocalModelOption,
    MetricOption,
    NoBuildOption,
    ShardedOption,
)
from easy_sm.errors import JobFailedError, UsageError

if TYPE_CHECKING:
    from easy_sm.docker.containers import RunSpec, Sink
    from easy_sm.docker.local_mode import LocalApp

local_app = typer.Typer(
    help="Run the app's image on this machine, as SageMaker would.",
    no_args_is_help=True,
)

PortOption = Annotated[
    int,
    typer.Option(
        "--port", "-p", min=1, max=65535, metavar="PORT", help="Port on 127.0.0.1 to serve on."
    ),
]
LocalInstanceCountOption = Annotated[
    int,
    typer.Option(
        "--instance-count",
        "-c",
        min=1,
        max=8,
        help="Hosts algo-1..algo-N, one container each, on a network of their own (N <= 8).",
    ),
]


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    from easy_sm.commands import local_inspect

    local_inspect.register(local_app)
    from easy_sm.commands import local_transform  # noqa: F401 - adds `local batch-transform`

    app.add_typer(local_app, name="local")


def _local_app(app_name: str | None, *, no_build: bool = True) -> LocalApp:
    """The app's local settings; unless `no_build`, its image built or rebuilt first when it
    is missing or its sources changed (checked before any file of test_dir is touched)."""
    from easy_sm.commands.build import ensure_fresh
    from easy_sm.docker.local_mode import LocalApp

    project = load_project(app_name)
    ensure_fresh(project, no_build=no_build)
    return LocalApp(
        app_name=project.app_name,
        image=project.image,
        test_dir=project.test_dir,
        base_dir=project.require_base_dir(),
        aws_profile=project.config.aws_profile,
        aws_region=project.config.aws_region,
    )


def _announce(spec: RunSpec) -> None:
    console.info(f"running {spec.image} {shlex.join(spec.command)} ({spec.name})")
    console.detail(shlex.join(spec.docker_argv()))


def _failed(what: str, code: int, report: Path, rerun: str) -> JobFailedError:
    """One line: what failed, the first line of the container's failure/message file, and
    where its full text is (the output itself was already shown live, once)."""
    from easy_sm.docker.local_mode import read_text_head

    lines = read_text_head(report).splitlines()
    message = f"{what} failed (exit {code})"
    if lines:
        return JobFailedError(
            f"{message}: {lines[0]}",
            f"full text in {report}; fix it, then run `{rerun}` again",
            exit_code=code,
        )
    return JobFailedError(
        message, f"see the output above; fix it, then run `{rerun}` again", exit_code=code
    )


def _container_output() -> Sink:
    """Where a job's container output goes: stderr (stdout carries the result), or nowhere
    with --quiet."""
    from easy_sm.docker.containers import discard, stream_to

    if console.verbosity.quiet:
        return discard
    return stream_to(sys.stderr)


@local_app.command()
def train(
    app_name: AppNameOption = None,
    hyperparameters: HyperparametersOption = None,
    hyperparameters_file: HyperparametersFileOption = None,
    env: EnvOption = None,
    package_model: Annotated[
        bool,
        typer.Option(
            "--package-model",
            help="Also write test_dir/output/model.tar.gz, as SageMaker packages the model.",
        ),
    ] = False,
    instance_count: LocalInstanceCountOption = 1,
    input_sharded: ShardedOption = False,
    gpus: GpusOption = None,
    no_build: NoBuildOption = False,
    metric: MetricOption = None,
    with_code: CodeOption = False,
) -> None:
    """Train locally, in the app's image.

    Runs `IMAGE train` with local_test/test_dir mounted at /opt/ml, as SageMaker would, and
    prints the model folder (or model.tar.gz with --package-model).

    \b
    Example:
        easy_sm local train --hyperparameters C=0.5
        easy_sm local train -c 3 --input-sharded --hyperparameters epochs=2
    """
    from easy_sm import hyperparameters as hps
    from easy_sm import metrics
    from easy_sm.docker.containers import check_can_run, parse_gpus, run_foreground
    from easy_sm.docker.local_mode import (
        package_model as make_tarball,
    )
    from easy_sm.docker.local_mode import training_spec
    from easy_sm.docker.multihost import train_on_hosts

    user_env = parse_key_values(env, "--env", env_keys=True)
    values = hps.parse(hyperparameters, hyperparameters_file)
    scanner = metrics.MetricScanner(metrics.parse(metric))
    gpu_request = parse_gpus(gpus)
    # --code runs the project's code from the `code` channel: the image's copy may be old
    local = _local_app(app_name, no_build=no_build or with_code)
    check_can_run(local.image)  # before test_dir/model and output/data are emptied
    from easy_sm.docker import code_archive

    code_archive.remove_local_channel(local.require_test_dir())
    if with_code:
        # the `code` channel, laid out as SageMaker lays out `train --code`'s
        project = load_project(app_name)
        packed = code_archive.pack_code(project.project_dir, project.module_dir)
        code_archive.write_local_channel(packed, local.test_dir)
        console.info(f"code channel: {packed.files} files of your code ({packed.file_name})")
    try:
        sink = _container_output()
        if instance_count > 1:
            train_on_hosts(
                local,
                values,
                user_env,
                instance_count,
                input_sharded,
                gpu_request,
                sink=metrics.tee(sink, scanner, 2),
            )
            code = 0
            failure_file = local.test_dir / "output" / "failure"
        else:
            spec, failure_file = training_spec(
                local, values, user_env, gpus=gpu_request, sharded=input_sharded
            )
            code = run_foreground(
                spec,
                stdout=metrics.tee(sink, scanner, 1),
                stderr=metrics.tee(sink, scanner, 2),
                on_start=lambda: _announce(spec),
            )
        scanner.finish()
        for line in scanner.report():
            console.info(line)
        for line in scanner.warnings():
            console.warn(line)
    finally:
        code_archive.remove_local_channel(local.test_dir)
    if code != 0:
        raise _failed("local training", code, failure_file, "easy_sm local train")
    model_dir = local.test_dir / "model"
    if package_model:
        console.result(str(make_tarball(local.test_dir)))
    else:
        console.result(str(model_dir))


@local_app.command()
def process(
    file: Annotated[
        str,
        typer.Option(
            "--file",
            "-f",
            metavar="FILE",
            help="Script in easy_sm_base/processing/ to run, e.g. process_data.py.",
        ),
    ],
    app_name: AppNameOption = None,
    env: EnvOption = None,
    gpus: GpusOption = None,
    no_build: NoBuildOption = False,
) -> None:
    """Run a processing script locally.

    Runs `IMAGE process FILE` (FILE in easy_sm_base/processing/) and prints the output folder.

    \b
    Example:
        easy_sm local process -f process_data.py
    """
    from easy_sm.commands.build import ensure_fresh
    from easy_sm.docker.containers import parse_gpus, run_foreground
    from easy_sm.docker.local_mode import processing_script, processing_spec

    user_env = parse_key_values(env, "--env", env_keys=True)
    gpu_request = parse_gpus(gpus)
    local = _local_app(app_name)
    processing_script(local, file)  # a wrong -f fails before any build
    ensure_fresh(load_project(app_name), no_build=no_build)
    spec = processing_spec(local, file, user_env)
    spec.gpus = gpu_request
    sink = _container_output()
    code = run_foreground(spec, stdout=sink, stderr=sink, on_start=lambda: _announce(spec))
    if code != 0:
        message_file = local.test_dir / "output" / "message"
        rerun = shlex.join(["easy_sm", "local", "process", "-f", file])
        raise _failed("local processing", code, message_file, rerun)
    console.result(str(local.test_dir / "processing" / "output"))


@local_app.command(context_settings={"ignore_unknown_options": True})
def run(
    command: Annotated[
        list[str],
        typer.Argument(help="The command to run in the image, after `--`.", show_default=False),
    ],
    app_name: AppNameOption = None,
    env: EnvOption = None,
    gpus: GpusOption = None,
    no_build: NoBuildOption = False,
) -> None:
    """Run any command in the app's image locally.

    Everything after `--` is passed untouched. The command's stdout and stderr are passed
    through; easy_sm exits with the command's exit code.

    \b
    Example:
        easy_sm local run -- python -c 'import sklearn; print(sklearn.__version__)'
    """
    from easy_sm.docker.containers import parse_gpus, run_foreground, stream_to
    from easy_sm.docker.local_mode import run_spec

    user_env = parse_key_values(env, "--env", env_keys=True)
    if not command:
        raise UsageError("no command given", "e.g. easy_sm local run -- python -V")
    gpu_request = parse_gpus(gpus)
    local = _local_app(app_name, no_build=no_build)
    spec = run_spec(local, command, user_env)
    spec.gpus = gpu_request
    code = run_foreground(
        spec,
        stdout=stream_to(sys.stdout),
        stderr=stream_to(sys.stderr),
        on_start=lambda: _announce(spec),
    )
    if code != 0:
        raise JobFailedError(f"command exited with code {code}", exit_code=code)


@local_app.command()
def deploy(
    app_name: AppNameOption = None,
    port: PortOption = 8080,
    timeout: Annotated[
        float,
        typer.Option(
            "--timeout",
            min=1,
            metavar="SECONDS",
            help="Seconds to wait for GET /ping to answer 200.",
        ),
    ] = 300,
    env: EnvOption = None,
    gpus: GpusOption = None,
    no_build: NoBuildOption = False,
    model: LocalModelOption = None,
) -> None:
    """Serve the trained model locally.

    Starts `IMAGE serve` (detached) with test_dir/model, or --model (a model.tar.gz, a folder
    or s3://…), on 127.0.0.1:PORT, waits until GET /ping answers 200 and prints the URL. Stop
    it with `easy_sm local stop`.

    \b
    Example:
        easy_sm local deploy -p 8080
        easy_sm local deploy --model $(easy_sm get-model-artifacts -j JOB)
    """
    from easy_sm.commands.local_transform import stage_packaged_model
    from easy_sm.docker.containers import parse_gpus, start_server
    from easy_sm.docker.engine import connect
    from easy_sm.docker.local_mode import serving_spec
    from easy_sm.docker.packaged_model import mount_model, parse_model_source

    user_env = parse_key_values(env, "--env", env_keys=True)
    gpu_request = parse_gpus(gpus)
    source = parse_model_source(model) if model is not None else None
    local = _local_app(app_name, no_build=no_build)
    engine = connect()
    spec = serving_spec(local, user_env)
    spec.gpus = gpu_request
    model_dir = local.test_dir / "model"
    staged = stage_packaged_model(source, load_project(app_name)) if source else None
    if staged is not None:
        mount_model(spec, staged)
    elif not any(model_dir.iterdir()):
        console.warn(f"{model_dir} is empty: run `easy_sm local train` first")

    def started() -> None:
        _announce(spec)
        console.info(f"waiting up to {timeout:g} s for http://127.0.0.1:{port}/ping")

    try:
        url = start_server(
            engine,
            spec,
            port,
            timeout=timeout,
            on_wait=lambda waited: console.info(f"  still waiting for /ping ({waited:.0f} s)"),
            on_start=started,
            on_log=console.info,
        )
    except BaseException:
        if staged is not None:
            staged.release()  # the server never ran: nothing else will remove the model
        raise
    console.info(f"serving at {url} (stop it with `easy_sm local stop -p {port}`)")
    console.result(url)


@local_app.command()
def stop(
    app_name: AppNameOption = None,
    port: Annotated[
        int | None,
        typer.Option(
            "--port",
            "-p",
            min=1,
            max=65535,
            metavar="PORT",
            help="Only the deployment on this port.",
        ),
    ] = None,
) -> None:
    """Stop this app's local deployments.

    All of them, or the one on -p PORT.

    \b
    Example:
        easy_sm local stop -p 8080
    """
    from easy_sm.commands.helpers import get_app_name
    from easy_sm.docker.containers import find_servers, stop_servers
    from easy_sm.docker.engine import connect
    from easy_sm.docker.packaged_model import release_models, remove_orphaned_models

    name = get_app_name(app_name)
    engine = connect()
    found = find_servers(engine, name, port)
    remove_orphaned_models(engine)  # --model folders whose container is gone
    where = f" on port {port}" if port is not None else ""
    if not found:
        console.info(f"no local deployment of {name}{where} is running")
        return
    for url in stop_servers(engine, found):
        console.info(f"stopped {url}")
    release_models(found)  # the --model folders extracted for them
