"""The SageMaker job commands: train, process, run, batch-transform, list-training-jobs,
get-model-artifacts, logs, stop-training-job. stdout carries only each command's result."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from easy_sm import console
from easy_sm.commands.cloud_common import (
    CommandTable,
    pack_code,
    print_json,
    sagemaker_client,
    training_job_fields,
    warn_if_pushed_image_is_stale,
    when,
)
from easy_sm.commands.helpers import load_project, parse_key_values
from easy_sm.commands.options import (
    AppNameOption,
    BaseJobNameOption,
    ChannelOption,
    CheckpointOption,
    CodeOption,
    Ec2TypeOption,
    EnvOption,
    HyperparametersFileOption,
    HyperparametersOption,
    IamRoleOption,
    InstanceCountOption,
    JobNameOption,
    JsonOption,
    LogsOption,
    MaxRunOption,
    MaxWaitOption,
    MetricOption,
    ModelOption,
    NoWaitOption,
    ProcessInputOption,
    ProcessOutputOption,
    ShardedOption,
    SkipChecksOption,
    SpotOption,
    TagOption,
    TrainingJobNameOption,
    TrainInputOption,
    TrainOutputOption,
    UnusedRoleOption,
    VolumeOption,
)
from easy_sm.errors import UsageError

if TYPE_CHECKING:
    from easy_sm.commands.helpers import Project

SPLIT_TYPES = ("None", "Line", "RecordIO", "TFRecord")


def train(
    input_s3_dir: TrainInputOption,
    output_s3_dir: TrainOutputOption,
    ec2_type: Ec2TypeOption,
    base_job_name: BaseJobNameOption,
    iam_role_arn: IamRoleOption = None,
    app_name: AppNameOption = None,
    instance_count: InstanceCountOption = 1,
    input_sharded: ShardedOption = False,
    no_wait: NoWaitOption = False,
    logs: LogsOption = True,
    hyperparameters: HyperparametersOption = None,
    hyperparameters_file: HyperparametersFileOption = None,
    channel: ChannelOption = None,
    env: EnvOption = None,
    volume_size: VolumeOption = 30,
    max_run: MaxRunOption = 24 * 3600,
    spot: SpotOption = False,
    max_wait: MaxWaitOption = None,
    checkpoint_s3_uri: CheckpointOption = None,
    tag: TagOption = None,
    metric: MetricOption = None,
    code: CodeOption = False,
    keep_alive: Annotated[
        int | None,
        typer.Option(
            "--keep-alive",
            min=1,
            max=3600,
            help="Keep the instances warm this many seconds after the job (warm pool).",
        ),
    ] = None,
    skip_checks: SkipChecksOption = False,
) -> None:
    """Train on SageMaker.

    Waits for the job (its logs on stderr) and prints the model's S3 path.

    \b
    Example:
        easy_sm train -n iris -e ml.m5.large -i s3://my-bucket/data -o s3://my-bucket/models
    """
    spec = training_job_fields(
        input_s3=input_s3_dir,
        output_s3=output_s3_dir,
        instance_type=ec2_type,
        base_job_name=base_job_name,
        instance_count=instance_count,
        input_sharded=input_sharded,
        hyperparameters=hyperparameters,
        hyperparameters_file=hyperparameters_file,
        channel=channel,
        env=env,
        tag=tag,
        volume_size=volume_size,
        max_run=max_run,
        spot=spot,
        max_wait=max_wait,
        checkpoint_s3_uri=checkpoint_s3_uri,
        metric=metric,
    )
    spec["keep_alive_seconds"] = keep_alive
    project = load_project(app_name)
    packed = pack_code(project) if code else None
    sagemaker = sagemaker_client(app_name, iam_role_arn, needs_role=True, project=project)
    console.result(
        sagemaker.train(
            wait=not no_wait,
            stream_logs=logs,
            code=packed,
            skip_checks=skip_checks,
            check_image=lambda: warn_if_pushed_image_is_stale(project, sagemaker),
            **spec,
        )
    )


def batch_transform(
    s3_model_location: ModelOption,
    s3_input_location: Annotated[
        str, typer.Option("--s3-input-location", "-i", help="S3 prefix of the input data.")
    ],
    s3_output_location: Annotated[
        str, typer.Option("--s3-output-location", "-o", help="S3 prefix for the predictions.")
    ],
    ec2_type: Ec2TypeOption,
    num_instances: Annotated[
        int, typer.Option("--num-instances", min=1, help="Number of instances.")
    ] = 1,
    iam_role_arn: IamRoleOption = None,
    app_name: AppNameOption = None,
    wait: Annotated[
        bool, typer.Option("--wait", "-w", help="Wait until the job ends; fail if it fails.")
    ] = False,
    job_name: Annotated[
        str | None,
        typer.Option("--job-name", "-n", help="Exact job name (default: a unique one)."),
    ] = None,
    content_type: Annotated[
        str | None, typer.Option("--content-type", help="MIME type of the input, e.g. text/csv.")
    ] = None,
    split_type: Annotated[
        str | None,
        typer.Option(
            "--split-type", help="How to split input files: None, Line, RecordIO, TFRecord."
        ),
    ] = None,
    accept: Annotated[str | None, typer.Option("--accept", help="MIME type of the output.")] = None,
    logs: LogsOption = True,
    tag: Annotated[
        list[str] | None,
        typer.Option("--tag", help="Tag KEY=VALUE for the model and the job (repeatable)."),
    ] = None,
    skip_checks: SkipChecksOption = False,
) -> None:
    """Run a batch transform job on SageMaker.

    Prints the job's name (with --wait, once it has completed).

    \b
    Example:
        easy_sm batch-transform -e ml.m5.large -m s3://b/model.tar.gz -i s3://b/in -o s3://b/out
    """
    if split_type is not None and split_type not in SPLIT_TYPES:
        raise UsageError(
            f"--split-type {split_type!r} is not a split type", "use " + ", ".join(SPLIT_TYPES)
        )
    sagemaker = sagemaker_client(app_name, iam_role_arn, needs_role=True)
    name = sagemaker.batch_transform(
        s3_model_location,
        wait=wait,
        stream_logs=logs,
        input_s3=s3_input_location,
        output_s3=s3_output_location,
        instance_type=ec2_type,
        instance_count=num_instances,
        job_name=job_name,
        content_type=content_type,
        split_type=split_type,
        accept=accept,
        tags=parse_key_values(tag, "--tag"),
        skip_checks=skip_checks,
    )
    console.result(name)


def _processing(
    arguments: list[str],
    *,
    app_name: str | None,
    project: Project | None = None,
    iam_role_arn: str | None,
    ec2_type: str,
    base_job_name: str | None,
    instance_count: int,
    s3_input_location: str | None,
    s3_output_location: str | None,
    input_sharded: bool,
    env: list[str] | None,
    no_wait: bool,
    logs: bool,
    volume_size: int,
    max_run: int,
    tag: list[str] | None,
    code: bool = False,
    skip_checks: bool = False,
) -> None:
    environment = parse_key_values(env, "--env", env_keys=True)
    tags = parse_key_values(tag, "--tag")
    project = project or load_project(app_name)
    sagemaker = sagemaker_client(app_name, iam_role_arn, needs_role=True, project=project)
    checked_project = project
    name = sagemaker.process(
        code=pack_code(project) if code else None,
        check_image=lambda: warn_if_pushed_image_is_stale(checked_project, sagemaker),
        wait=not no_wait,
        stream_logs=logs,
        arguments=arguments,
        instance_type=ec2_type,
        base_job_name=base_job_name or f"{sagemaker.name_prefix}-{arguments[0]}",
        instance_count=instance_count,
        input_s3=s3_input_location,
        output_s3=s3_output_location,
        input_sharded=input_sharded,
        environment=environment,
        volume_size_gb=volume_size,
        max_run_seconds=max_run,
        tags=tags,
        skip_checks=skip_checks,
    )
    console.result(name)


def process(
    file: Annotated[
        str, typer.Option("--file", "-f", help="Script in easy_sm_base/processing/ to run.")
    ],
    ec2_type: Ec2TypeOption,
    base_job_name: BaseJobNameOption,
    iam_role_arn: IamRoleOption = None,
    app_name: AppNameOption = None,
    instance_count: InstanceCountOption = 1,
    s3_input_location: ProcessInputOption = None,
    s3_output_location: ProcessOutputOption = None,
    input_sharded: ShardedOption = False,
    env: EnvOption = None,
    no_wait: NoWaitOption = False,
    logs: LogsOption = True,
    volume_size: VolumeOption = 30,
    max_run: MaxRunOption = 24 * 3600,
    tag: TagOption = None,
    code: CodeOption = False,
    skip_checks: SkipChecksOption = False,
) -> None:
    """Run a processing script on SageMaker.

    Runs easy_sm_base/processing/FILE as a processing job and prints the job's name.

    \b
    Example:
        easy_sm process -f process_data.py -n prep -e ml.m5.large -i s3://b/raw -o s3://b/clean
    """
    from easy_sm.sagemaker.processing import process_arguments

    project = load_project(app_name)
    arguments = process_arguments(file, project.base_dir / "processing")
    _processing(
        arguments,
        app_name=project.app_name,
        project=project,
        iam_role_arn=iam_role_arn,
        ec2_type=ec2_type,
        base_job_name=base_job_name,
        instance_count=instance_count,
        s3_input_location=s3_input_location,
        s3_output_location=s3_output_location,
        input_sharded=input_sharded,
        env=env,
        no_wait=no_wait,
        logs=logs,
        volume_size=volume_size,
        max_run=max_run,
        tag=tag,
        code=code,
        skip_checks=skip_checks,
    )


def run(
    command: Annotated[
        list[str], typer.Argument(help="The command to run in the image, after `--`.")
    ],
    ec2_type: Ec2TypeOption,
    base_job_name: Annotated[
        str | None,
        typer.Option("--base-job-name", "-n", help="Base of the job name (default: {image}-run)."),
    ] = None,
    iam_role_arn: IamRoleOption = None,
    app_name: AppNameOption = None,
    instance_count: InstanceCountOption = 1,
    s3_input_location: ProcessInputOption = None,
    s3_output_location: ProcessOutputOption = None,
    input_sharded: ShardedOption = False,
    env: EnvOption = None,
    no_wait: NoWaitOption = False,
    logs: LogsOption = True,
    volume_size: VolumeOption = 30,
    max_run: MaxRunOption = 24 * 3600,
    tag: TagOption = None,
    code: CodeOption = False,
    skip_checks: SkipChecksOption = False,
) -> None:
    """Run any command in the app's image on SageMaker.

    Runs it as a processing job (everything after `--` is passed untouched) and prints the job's
    name.

    \b
    Example:
        easy_sm run -e ml.m5.large -- python -c 'import sklearn; print(sklearn.__version__)'
    """
    _processing(
        ["run", *command],
        app_name=app_name,
        iam_role_arn=iam_role_arn,
        ec2_type=ec2_type,
        base_job_name=base_job_name,
        instance_count=instance_count,
        s3_input_location=s3_input_location,
        s3_output_location=s3_output_location,
        input_sharded=input_sharded,
        env=env,
        no_wait=no_wait,
        logs=logs,
        volume_size=volume_size,
        max_run=max_run,
        tag=tag,
        code=code,
        skip_checks=skip_checks,
    )


def list_training_jobs(
    app_name: AppNameOption = None,
    max_results: Annotated[
        int, typer.Option("--max-results", "-m", min=1, help="How many recent jobs to show.")
    ] = 5,
    names_only: Annotated[
        bool, typer.Option("--names-only", "-n", help="Print only job names, newest first.")
    ] = False,
    as_json: JsonOption = False,
    iam_role_arn: UnusedRoleOption = None,
) -> None:
    """List recent training jobs, newest first.

    One `name  status  created` line per job (only names with -n, or --json).

    \b
    Example:
        easy_sm list-training-jobs -m 5 -n
    """
    found = sagemaker_client(app_name).list_training_jobs(max_results)
    if as_json:
        print_json(found)
        return
    for job in found:
        if names_only:
            console.result(str(job.get("TrainingJobName")))
        else:
            console.result(
                f"{job.get('TrainingJobName')}  {job.get('TrainingJobStatus')}  "
                f"{when(job.get('CreationTime'))}"
            )


def get_model_artifacts(
    training_job_name: TrainingJobNameOption,
    app_name: AppNameOption = None,
    iam_role_arn: UnusedRoleOption = None,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json", help="Print the job's model path, status and final metrics as JSON."
        ),
    ] = False,
) -> None:
    """Print the S3 path of a training job's model.

    The job must have completed; the path is its model.tar.gz (with --json: also its status
    and final metrics).

    \b
    Example:
        easy_sm get-model-artifacts -j iris-20261126-101500-1a2b
    """
    sagemaker = sagemaker_client(app_name)
    if as_json:
        print_json(sagemaker.model_summary(training_job_name))
        return
    console.result(sagemaker.get_model_artifacts(training_job_name))


def logs(
    job_name: JobNameOption,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing until the job ends.")
    ] = False,
    app_name: AppNameOption = None,
) -> None:
    """Print a job's CloudWatch log lines.

    On stdout; with --follow, until the job ends.

    \b
    Example:
        easy_sm logs -j iris-20261126-101500-1a2b --follow
    """
    sagemaker_client(app_name).job_logs(job_name, follow=follow, sink=console.result)


def stop_training_job(
    job_name: TrainingJobNameOption,
    app_name: AppNameOption = None,
) -> None:
    """Stop a training job on SageMaker.

    Asks SageMaker to stop it and prints its name.

    \b
    Example:
        easy_sm stop-training-job -j iris-20261126-101500-1a2b
    """
    console.result(sagemaker_client(app_name).stop_training_job(job_name))


# `easy_sm <name>` registers just its own command (see __main__.app_for).
_TABLE = CommandTable(
    {
        "train": (train, {}),
        "batch-transform": (batch_transform, {}),
        "process": (process, {}),
        "run": (run, {"context_settings": {"allow_interspersed_args": False}}),
        "list-training-jobs": (list_training_jobs, {}),
        "get-model-artifacts": (get_model_artifacts, {}),
        "logs": (logs, {}),
        "stop-training-job": (stop_training_job, {}),
    }
)
COMMANDS = _TABLE.names
register = _TABLE.register
