"""Metric definitions and tuning ranges: one description for the cloud and local mode."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

from easy_sm import metrics, search_space
from easy_sm.errors import UsageError


def test_default_definitions_match_the_example_apps_documented_line() -> None:
    defaults = metrics.parse(None)
    assert [m.name for m in defaults] == list(metrics.DEFAULT_NAMES)
    scanner = metrics.MetricScanner(defaults)
    scanner.feed(b"trained on 120 rows\nmetric train:accuracy=0.9750\nmetric validation:acc")
    scanner.feed(b"uracy=0.9667\n", stream=1)
    assert scanner.finish() == {"train:accuracy": 0.975, "validation:accuracy": 0.9667}
    assert list(scanner.report()) == ["train:accuracy = 0.975", "validation:accuracy = 0.9667"]
    assert list(scanner.warnings()) == []  # the defaults are not asked for: no noise


def test_the_default_regex_is_what_sagemaker_gets_and_takes_the_last_value() -> None:
    (metric,) = metrics.parse(["validation:loss"])
    assert metrics.definitions([metric]) == [
        {"Name": "validation:loss", "Regex": metrics.default_regex("validation:loss")}
    ]
    scanner = metrics.MetricScanner([metric])
    for line in ("metric validation:loss=1e-3", "metric validation:loss=-2.5", "metric x=1"):
        scanner.scan_line(line)
    assert scanner.values == {"validation:loss": -2.5}


def test_custom_regexes_and_missing_metrics_are_reported() -> None:
    found = metrics.parse(["f1=F1 score: ([0-9.]+)", "auc"])
    scanner = metrics.MetricScanner(found)
    scanner.feed(b"F1 score: 0.81\r\nmetric recall=0.7\n")
    scanner.finish()
    assert scanner.values == {"f1": 0.81}
    assert list(scanner.report()) == ["f1 = 0.81"]
    warnings = list(scanner.warnings())
    assert warnings[0].startswith("metric auc: no log line matched")
    assert "SageMaker would not find it either" in warnings[0]
    assert "prints metric recall but no --metric defines it" in warnings[1]
    assert len(warnings) == 2


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("loss=([0-9", "invalid regex"),
        ("loss=loss [0-9]+", "has no (group)"),
        ("=x", "the name must be"),
    ],
)
def test_bad_metric_flags_are_usage_errors(item: str, message: str) -> None:
    with pytest.raises(UsageError, match=re.escape(message)):
        metrics.parse([item])


def test_the_objective_is_always_a_metric_definition() -> None:
    found = metrics.with_objective(metrics.parse(["f1"]), "validation:rmse")
    assert [m.name for m in found] == ["f1", "validation:rmse"]
    assert found[1].regex == metrics.default_regex("validation:rmse")
    kept = metrics.with_objective(metrics.parse(["f1=F1 ([0-9.]+)"]), "f1")
    assert [(m.name, m.regex, m.asked) for m in kept] == [("f1", "F1 ([0-9.]+)", True)]


def test_ranges_from_flags_become_sagemakers_parameter_ranges() -> None:
    ranges = search_space.parse_ranges(
        [
            "C=continuous:0.01:10:log",
            "max_iter=integer:100:1000",
            "solver=categorical:lbfgs,saga",
            "tol=continuous:0:0.5:reverse-log",
        ]
    )
    assert search_space.api_ranges(ranges) == {
        "ContinuousParameterRanges": [
            {"Name": "C", "MinValue": "0.01", "MaxValue": "10", "ScalingType": "Logarithmic"},
            {
                "Name": "tol",
                "MinValue": "0",
                "MaxValue": "0.5",
                "ScalingType": "ReverseLogarithmic",
            },
        ],
        "IntegerParameterRanges": [
            {"Name": "max_iter", "MinValue": "100", "MaxValue": "1000", "ScalingType": "Auto"}
        ],
        "CategoricalParameterRanges": [{"Name": "solver", "Values": ["lbfgs", "saga"]}],
    }


def test_a_ranges_file_takes_strings_lists_and_objects_and_flags_win(tmp_path: Path) -> None:
    path = tmp_path / "ranges.json"
    path.write_text(
        json.dumps(
            {
                "C": "continuous:0.1:1",
                "solver": ["lbfgs", "saga"],
                "max_iter": {"type": "integer", "min": 10, "max": 20, "scaling": "linear"},
            }
        )
    )
    ranges = search_space.parse_ranges(["C=continuous:1:2"], path)
    by_name = {r.name: r for r in ranges}
    assert (by_name["C"].low, by_name["C"].high) == (1.0, 2.0)
    assert by_name["solver"].values == ("lbfgs", "saga")
    assert by_name["max_iter"].as_api()["ScalingType"] == "Linear"


def test_a_yaml_ranges_file_is_read_with_pyyaml(tmp_path: Path) -> None:
    pytest.importorskip("yaml")
    path = tmp_path / "ranges.yaml"
    path.write_text("C: continuous:0.1:1:log\nsolver: [lbfgs, saga]\n")
    ranges = search_space.parse_ranges(None, path)
    assert [(r.name, r.kind) for r in ranges] == [("C", "continuous"), ("solver", "categorical")]


def test_a_yaml_ranges_file_without_pyyaml_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "yaml", None)  # `import yaml` raises ImportError
    path = tmp_path / "ranges.yml"
    path.write_text("C: continuous:0.1:1\n")
    with pytest.raises(UsageError, match="reading YAML needs PyYAML, which is not installed"):
        search_space.parse_ranges(None, path)


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("C", "expected NAME=TYPE"),
        ("C=float:1:2", "unknown type 'float'"),
        ("C=continuous:2:1", "is not below the maximum"),
        ("C=continuous:0:1:log", "log scaling needs a minimum above 0"),
        ("C=continuous:0:1:cubic", "unknown scaling 'cubic'"),
        ("n=integer:1.5:4", "'1.5' is not an integer"),
        ("s=categorical:a,,b", "takes 1-30 non-empty values"),
        ("t=continuous:0:1:reverse-log", "reverse-log scaling takes continuous ranges"),
    ],
)
def test_bad_ranges_are_usage_errors(item: str, message: str) -> None:
    with pytest.raises(UsageError, match=re.escape(message)):
        search_space.parse_ranges([item])


def test_strategies_locally_and_grid_rules() -> None:
    numeric = search_space.parse_ranges(["C=continuous:0.1:1"])
    assert search_space.check_strategy("bayesian", numeric) == "Bayesian"
    with pytest.raises(UsageError, match="runs only on SageMaker"):
        search_space.check_strategy("Bayesian", numeric, local=True)
    with pytest.raises(UsageError, match="Grid takes only categorical ranges; C is not"):
        search_space.check_strategy("Grid", numeric, local=True)
    with pytest.raises(UsageError, match="is not a strategy"):
        search_space.check_strategy("Genetic", numeric)


def test_random_trials_are_reproducible_with_a_seed_and_stay_in_range() -> None:
    ranges = search_space.parse_ranges(
        ["C=continuous:0.01:10:log", "n=integer:1:3", "s=categorical:a,b"]
    )
    first = list(search_space.trials(ranges, "Random", 20, seed=7))
    assert first == list(search_space.trials(ranges, "Random", 20, seed=7))
    assert first != list(search_space.trials(ranges, "Random", 20, seed=8))
    assert all(0.01 <= float(t["C"]) <= 10 for t in first)
    assert {t["n"] for t in first} <= {"1", "2", "3"}
    assert {t["s"] for t in first} == {"a", "b"}


def test_grid_trials_are_every_combination() -> None:
    ranges = search_space.parse_ranges(["a=categorical:1,2", "b=categorical:x,y,z"])
    grid = list(search_space.trials(ranges, "Grid", None, None))
    assert len(grid) == search_space.grid_size(ranges) == 6
    assert {(t["a"], t["b"]) for t in grid} == {(a, b) for a in "12" for b in "xyz"}


def test_a_hyperparameter_cannot_be_tuned_and_static() -> None:
    ranges = search_space.parse_ranges(["C=continuous:0.1:1"])
    with pytest.raises(UsageError, match="both tuned"):
        search_space.check_static(ranges, {"C": "1"})


def tuning_spec(**overrides: object) -> object:
    from easy_sm.sagemaker.training import TrainingSpec
    from easy_sm.sagemaker.tuning import TuningSpec

    training = TrainingSpec(
        image_uri="img",
        role_arn="arn:aws:iam::123456789012:role/r",
        input_s3="s3://bucket/in",
        output_s3="s3://bucket/out",
        instance_type="ml.m5.large",
        base_job_name="iris",
        metrics=metrics.with_objective(metrics.parse(None), "validation:loss"),
    )
    values: dict[str, object] = {
        "training": training,
        "ranges": search_space.parse_ranges(["solver=categorical:lbfgs,saga"]),
        "objective": search_space.Objective("validation:loss", maximize=False),
        **overrides,
    }
    return TuningSpec(**values)  # type: ignore[arg-type]


def test_a_grid_tuning_request_minimizing_leaves_the_job_count_to_sagemaker() -> None:
    from easy_sm.sagemaker.tuning import tuning_job_name, tuning_job_request

    name = tuning_job_name("a-very-long-base-name-for-a-tuning-job")
    assert len(name) <= 32 and name.startswith("a-very-long")
    config = tuning_job_request(tuning_spec(strategy="Grid", max_parallel=2), name)[
        "HyperParameterTuningJobConfig"
    ]
    assert config["HyperParameterTuningJobObjective"] == {
        "Type": "Minimize",
        "MetricName": "validation:loss",
    }
    assert config["ResourceLimits"] == {"MaxParallelTrainingJobs": 2}
    capped = tuning_job_request(tuning_spec(strategy="Grid", max_jobs=4), name)
    assert capped["HyperParameterTuningJobConfig"]["ResourceLimits"] == {
        "MaxParallelTrainingJobs": 1,
        "MaxNumberOfTrainingJobs": 4,
    }
    huge = search_space.parse_ranges(
        [f"p{i}=categorical:" + ",".join("abcdefghij") for i in range(3)]
    )
    with pytest.raises(UsageError, match="Grid over 1000 combinations"):
        tuning_job_request(tuning_spec(strategy="Grid", ranges=huge), name)
    many = metrics.with_objective(metrics.parse([f"m{i}" for i in range(20)]), "validation:loss")
    spec = tuning_spec()
    spec.training.metrics = many  # type: ignore[attr-defined]
    with pytest.raises(UsageError, match="21 metric definitions given"):
        tuning_job_request(spec, name)
