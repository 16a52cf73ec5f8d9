"""One parser for `train` and `local train`: the same input gives the same hyperparameters."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from easy_sm import hyperparameters as hps
from easy_sm.errors import UsageError


def test_values_are_stringified_like_sagemaker() -> None:
    assert hps.stringify("a") == "a"
    assert hps.stringify(0.5) == "0.5"
    assert hps.stringify(True) == "true"
    assert hps.stringify([1, "x"]) == '[1, "x"]'
    assert hps.stringify({"k": None}) == '{"k": null}'


def test_pairs_at_files_and_the_file_option_merge_in_order(tmp_path: Path) -> None:
    path = tmp_path / "hp.json"
    path.write_text(json.dumps({"epochs": 3, "dropout": 0.5, "name": "x", "on": True}))
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"name": "from-file-option", "lr": 0.1}))
    parsed = hps.parse([f"@{path}", "epochs=5", "eq=a=b", "empty="], other)
    assert parsed == {
        "name": "x",
        "lr": "0.1",
        "epochs": "5",
        "dropout": "0.5",
        "on": "true",
        "eq": "a=b",
        "empty": "",
    }


@pytest.mark.parametrize(
    ("content", "message"),
    [("[1, 2]", "expected a JSON object, got list"), ("{bad", "invalid JSON at line 1")],
)
def test_bad_files_are_usage_errors(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "hp.json"
    path.write_text(content)
    for items, file in (([f"@{path}"], None), ([], path)):
        with pytest.raises(UsageError, match=re.escape(message)):
            hps.parse(items, file)


def test_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such file"):
        hps.parse([f"@{tmp_path / 'nope.json'}"])
    with pytest.raises(UsageError, match="no such file"):
        hps.parse([], tmp_path / "nope.json")


@pytest.mark.parametrize("item", ["novalue", "=1"])
def test_malformed_pairs_are_usage_errors(item: str) -> None:
    with pytest.raises(UsageError, match=re.escape("expected KEY=VALUE or @file.json")):
        hps.parse([item])


def test_sagemaker_limits_are_enforced() -> None:
    with pytest.raises(UsageError, match="too long"):
        hps.parse([f"k={'x' * 2501}"])
    with pytest.raises(UsageError, match="101 hyperparameters given"):
        hps.parse([f"k{i}=1" for i in range(101)])
