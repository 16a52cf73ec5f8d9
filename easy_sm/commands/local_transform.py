"""`easy_sm local batch-transform`: a SageMaker batch transform job on this machine, and the
`--model PATH|s3://…` plumbing it shares with `local deploy`. Registered on `local_app`."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from easy_sm import console
from easy_sm.commands.helpers import load_project, parse_key_values
from easy_sm.commands.local import _announce, _local_app, local_app
from easy_sm.commands.options import (
    AppNameOption,
    EnvOption,
    GpusOption,
    LocalModelOption,
    NoBuildOption,
)

if TYPE_CHECKING:
    from easy_sm.commands.helpers import Project
    from easy_sm.docker.packaged_model import ModelSource, StagedModel
    from easy_sm.docker.transform import TransformReport, TransformSettings


class SplitType(StrEnum):
    NONE = "None"
    LINE = "Line"


class Strategy(StrEnum):
    SINGLE = "SingleRecord"
    MULTI = "MultiRecord"


class AssembleWith(StrEnum):
    NONE = "None"
    LINE = "Line"


def stage_packaged_model(source: ModelSource, project: Project) -> StagedModel:
    """`--model` as a folder to mount: an S3 archive downloaded with the app's AWS settings,
    an archive extracted (checked member by member), a folder as it is."""
    from easy_sm.docker.packaged_model import stage_model

    def download(uri: str, target: Path) -> None:
        from easy_sm.commands.cloud_common import sagemaker_client

        sagemaker_client(project.app_name, project=project).download_model(uri, target)

    return stage_model(source, download, on_step=console.info)


def _progress(report: TransformReport) -> None:
    console.info(f"  {report.records} records, {report.files} files done ({report.seconds:.0f} s)")


@local_app.command("batch-transform")
def batch_transform(
    input_dir: Annotated[
        Path,
        typer.Option("--input", "-i", help="Folder of input files; its tree is mirrored in -o."),
    ],
    output_dir: Annotated[
        Path, typer.Option("--output", "-o", help="Folder that receives one <file>.out per file.")
    ],
    model: LocalModelOption = None,
    app_name: AppNameOption = None,
    content_type: Annotated[
        str | None,
        typer.Option("--content-type", help="Content-Type of the requests, e.g. text/csv."),
    ] = None,
    accept: Annotated[
        str | None, typer.Option("--accept", help="Accept header: the answers' MIME type.")
    ] = None,
    split_type: Annotated[
        SplitType,
        typer.Option("--split-type", help="Line: one record per line; None: each file whole."),
    ] = SplitType.NONE,
    strategy: Annotated[
        Strategy | None,
        typer.Option(
            "--strategy",
            help="Records per request: one, or as many as fit --max-payload "
            "(default: the container's /execution-parameters, else MultiRecord).",
        ),
    ] = None,
    max_payload: Annotated[
        int | None,
        typer.Option(
            "--max-payload",
            min=1,
            max=100,
            help="Largest request in MB (default: /execution-parameters, else 6).",
        ),
    ] = None,
    max_concurrent: Annotated[
        int | None,
        typer.Option(
            "--max-concurrent",
            min=1,
            help="Requests in flight (default: /execution-parameters, else 1).",
        ),
    ] = None,
    assemble_with: Annotated[
        AssembleWith,
        typer.Option(
            "--assemble-with", help="Line: a newline after each answer; None: answers as they are."
        ),
    ] = AssembleWith.NONE,
    env: EnvOption = None,
    gpus: GpusOption = None,
    no_build: NoBuildOption = False,
    timeout: Annotated[
        float,
        typer.Option("--timeout", min=1, help="Seconds to wait for GET /ping to answer 200."),
    ] = 300,
) -> None:
    """Batch-transform a folder locally, as SageMaker does.

    Every file under -i goes through POST /invocations as SageMaker sends it; the answers
    make <file>.out under -o. Prints the output folder.

    Example: easy_sm local batch-transform -i data/ -o out/ --split-type Line
    """
    from easy_sm.docker.containers import parse_gpus
    from easy_sm.docker.engine import connect
    from easy_sm.docker.local_mode import serving_spec
    from easy_sm.docker.packaged_model import mount_model, parse_model_source
    from easy_sm.docker.transform import (
        TransformOptions,
        plan_files,
        run_batch_transform,
        transform_spec,
    )

    options = TransformOptions(
        content_type=content_type,
        accept=accept,
        split_type=split_type.value,
        strategy=strategy.value if strategy is not None else None,
        max_payload_mb=max_payload,
        max_concurrent=max_concurrent,
        assemble_with=assemble_with.value,
    )
    options.validate()
    user_env = parse_key_values(env, "--env", env_keys=True)
    gpu_request = parse_gpus(gpus)
    source = parse_model_source(model) if model is not None else None
    files = plan_files(input_dir, output_dir)
    local = _local_app(app_name, no_build=no_build)
    engine = connect()
    spec = transform_spec(serving_spec(local, user_env), options)
    spec.gpus = gpu_request
    staged = stage_packaged_model(source, load_project(app_name)) if source else None
    try:
        if staged is not None:
            mount_model(spec, staged)
        elif not any((local.test_dir / "model").iterdir()):
            console.warn(f"{local.test_dir / 'model'} is empty: run `easy_sm local train` first")

        def started(settings: TransformSettings) -> None:
            console.info(f"transforming {len(files)} files: {settings.describe()}")

        report = run_batch_transform(
            engine,
            spec,
            files,
            options,
            timeout=timeout,
            on_server_start=lambda: _announce(spec),
            on_log=console.info,
            on_start=started,
            on_progress=_progress,
            on_failure_log=lambda log: console.info(
                f"--- last lines of the serving container's log ---\n{log}"
            ),
        )
    finally:
        if staged is not None:
            staged.release()
    rate = report.records / report.seconds if report.seconds else 0.0
    console.info(
        f"transformed {report.records} records of {report.files} files in {report.requests} "
        f"requests, {report.seconds:.2f} s ({rate:,.0f} records/s)"
    )
    console.result(str(output_dir.resolve()))
