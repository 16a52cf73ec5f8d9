"""`easy_sm local tune`: hyperparameter tuning on this machine, with the same range, objective
and metric flags as `easy_sm tune`. Registered onto the `local` group of commands/local.py."""

from __future__ import annotations

from typing import Annotated

import typer

from easy_sm import console
from easy_sm.commands.helpers import parse_key_values
from easy_sm.commands.local import _local_app, local_app
from easy_sm.commands.options import (
    AppNameOption,
    EnvOption,
    HyperparametersFileOption,
    HyperparametersOption,
    MaximizeOption,
    MaxJobsOption,
    MetricOption,
    NoBuildOption,
    ObjectiveOption,
    RangeOption,
    RangesFileOption,
)
from easy_sm.errors import JobFailedError


def tune(
    objective: ObjectiveOption,
    maximize: MaximizeOption = True,
    range_: RangeOption = None,
    ranges_file: RangesFileOption = None,
    strategy: Annotated[
        str, typer.Option("--strategy", help="Search strategy: Random or Grid.")
    ] = "Random",
    max_jobs: MaxJobsOption = None,
    parallel: Annotated[
        int, typer.Option("--parallel", min=1, help="Trials (containers) to run at once.")
    ] = 1,
    seed: Annotated[
        int | None, typer.Option("--seed", help="Seed of the Random strategy (reproducible).")
    ] = None,
    app_name: AppNameOption = None,
    hyperparameters: HyperparametersOption = None,
    hyperparameters_file: HyperparametersFileOption = None,
    env: EnvOption = None,
    metric: MetricOption = None,
    no_build: NoBuildOption = False,
) -> None:
    """Tune hyperparameters locally; print the best model folder.

    Each trial is a `local train` in test_dir/tuning/<trial>/; a leaderboard goes to stderr.

    \b
    Example: easy_sm local tune --range C=continuous:0.01:10:log \\
      --objective validation:accuracy --max-jobs 8 --parallel 2 --seed 1
    """
    from easy_sm import hyperparameters as hps
    from easy_sm import metrics, search_space
    from easy_sm.docker import local_tune
    from easy_sm.docker.containers import check_can_run, run_foreground

    ranges = search_space.parse_ranges(range_, ranges_file)
    canonical = search_space.check_strategy(strategy, ranges, local=True)
    static = hps.parse(hyperparameters, hyperparameters_file)
    search_space.check_static(ranges, static)
    if canonical == "Grid" and max_jobs is None:
        max_jobs = search_space.grid_size(ranges)
    goal = search_space.Objective(objective, maximize)
    definitions = metrics.with_objective(metrics.parse(metric), objective)
    environment = parse_key_values(env, "--env", env_keys=True)
    tuning = local_tune.LocalTuning(
        app=_local_app(app_name, no_build=no_build),  # rebuilt first if its sources changed
        objective=goal,
        metrics=definitions,
        static=static,
        environment=environment,
        parallel=parallel,
    )
    candidates = search_space.trials(ranges, canonical, max_jobs or 10, seed)
    check_can_run(tuning.app.image)  # before plan() removes the last local tune's trials
    trials = local_tune.plan(tuning.app, candidates)
    console.info(
        f"local tuning: {len(trials)} trials ({canonical}), {parallel} at once, "
        f"{'maximizing' if maximize else 'minimizing'} {objective}"
    )

    def started(trial: local_tune.Trial, _spec: object) -> None:
        values = " ".join(f"{k}={v}" for k, v in trial.hyperparameters.items())
        console.info(f"{trial.name} started: {values}")

    def done(trial: local_tune.Trial) -> None:
        if trial.status == "Completed":
            console.info(
                f"{trial.name} completed: {objective} = {trial.objective:g} ({trial.seconds:.1f} s)"
            )
        elif trial.status != "Stopped":
            console.info(f"{trial.name} {trial.status}: {trial.reason} (log: {trial.log})")

    local_tune.run_trials(tuning, trials, run_foreground, on_start=started, on_done=done)
    for line in local_tune.leaderboard(trials, goal):
        console.info(line)
    best = local_tune.ranked(trials, goal)[0]
    if best.status != "Completed":
        raise JobFailedError(
            f"no trial reported {objective}",
            f"see the trials' logs ({trials[0].log.parent.parent}/*/{local_tune.LOG_NAME}); "
            f"the log must print `metric {objective}=VALUE` or match its --metric regex",
        )
    console.result(str(best.model_dir))


def register(app: typer.Typer) -> None:
    """Add `local tune` to the `local` group (the root app gets it through that group)."""
    local_app.command("tune")(tune)
