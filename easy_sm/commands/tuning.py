"""`easy_sm tune` and `easy_sm list-tuning-jobs`: SageMaker hyperparameter tuning jobs, run with
the same training flags as `easy_sm train`. stdout carries only each command's result."""

from __future__ import annotations

from typing import Annotated

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
from easy_sm.commands.helpers import load_project
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
    JsonOption,
    MaximizeOption,
    MaxJobsOption,
    MaxRunOption,
    MaxWaitOption,
    MetricOption,
    NoWaitOption,
    ObjectiveOption,
    RangeOption,
    RangesFileOption,
    ShardedOption,
    SkipChecksOption,
    SpotOption,
    TagOption,
    TrainInputOption,
    TrainOutputOption,
    UnusedRoleOption,
    VolumeOption,
)


def tune(
    input_s3_dir: TrainInputOption,
    output_s3_dir: TrainOutputOption,
    ec2_type: Ec2TypeOption,
    base_job_name: BaseJobNameOption,
    objective: ObjectiveOption,
    maximize: MaximizeOption = True,
    range_: RangeOption = None,
    ranges_file: RangesFileOption = None,
    strategy: Annotated[
        str,
        typer.Option("--strategy", help="Search strategy: Bayesian, Random, Grid or Hyperband."),
    ] = "Bayesian",
    max_jobs: MaxJobsOption = None,
    max_parallel: Annotated[
        int, typer.Option("--max-parallel", min=1, help="Training jobs to run at once.")
    ] = 1,
    early_stopping: Annotated[
        bool,
        typer.Option("--early-stopping", help="Let SageMaker stop unpromising training jobs."),
    ] = False,
    iam_role_arn: IamRoleOption = None,
    app_name: AppNameOption = None,
    instance_count: InstanceCountOption = 1,
    input_sharded: ShardedOption = False,
    no_wait: NoWaitOption = False,
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
    skip_checks: SkipChecksOption = False,
) -> None:
    """Run a hyperparameter tuning job; print the best job.

    Waits, showing each training job's status and objective on stderr, then prints the best
    training job's name (with --no-wait: the tuning job's name).

    \b
    Example: easy_sm tune -i s3://b/data -o s3://b/out -e ml.m5.large -n my-app \\
      --range C=continuous:0.01:10:log --objective validation:accuracy --max-jobs 8
    """
    from easy_sm import metrics, search_space

    ranges = search_space.parse_ranges(range_, ranges_file)
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
    spec["metrics"] = metrics.with_objective(spec["metrics"], objective)
    spec |= {
        "ranges": ranges,
        "objective": search_space.Objective(objective, maximize),
        "strategy": search_space.check_strategy(strategy, ranges),
        "max_jobs": max_jobs,
        "max_parallel": max_parallel,
        "early_stopping": early_stopping,
    }
    project = load_project(app_name)
    sagemaker = sagemaker_client(app_name, iam_role_arn, needs_role=True, project=project)
    console.result(
        sagemaker.tune(
            wait=not no_wait,
            code=pack_code(project) if code else None,
            skip_checks=skip_checks,
            check_image=lambda: warn_if_pushed_image_is_stale(project, sagemaker),
            **spec,
        )
    )


def list_tuning_jobs(
    app_name: AppNameOption = None,
    max_results: Annotated[
        int, typer.Option("--max-results", "-m", min=1, help="How many recent jobs to show.")
    ] = 5,
    as_json: JsonOption = False,
    iam_role_arn: UnusedRoleOption = None,
) -> None:
    """List recent tuning jobs, newest first.

    Plain lines are `name  status  created`.

    Example: easy_sm list-tuning-jobs -m 10 --json
    """
    found = sagemaker_client(app_name).list_tuning_jobs(max_results)
    if as_json:
        print_json(found)
        return
    for job in found:
        console.result(
            f"{job.get('HyperParameterTuningJobName')}  {job.get('HyperParameterTuningJobStatus')}"
            f"  {when(job.get('CreationTime'))}"
        )


# `easy_sm <name>` registers just its own command (see __main__.app_for).
_TABLE = CommandTable(
    {
        "tune": (tune, {}),
        "list-tuning-jobs": (list_tuning_jobs, {}),
    }
)
COMMANDS = _TABLE.names
register = _TABLE.register
