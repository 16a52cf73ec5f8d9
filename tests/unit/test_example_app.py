"""The template's example app, tested outside Docker: train on the shipped CSV, then predict."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

TEMPLATE = Path(__file__).resolve().parents[2] / "easy_sm" / "template" / "easy_sm_base"
DATA = TEMPLATE / "local_test" / "test_dir" / "input" / "data" / "training"


def load(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_training_fits_a_model_that_predicts_the_iris_classes(tmp_path: Path) -> None:
    training = load(TEMPLATE / "training" / "training.py", "example_training")
    inference = load(TEMPLATE / "prediction" / "inference.py", "example_inference")
    model_dir = tmp_path / "model"
    training.train(str(DATA), str(model_dir), {"C": "2.0", "max_iter": "300"})

    metadata = json.loads((model_dir / "metadata.json").read_text())
    assert metadata["hyperparameters"] == {"C": "2.0", "max_iter": "300"}
    assert metadata["rows"] == 150
    assert metadata["train_accuracy"] > 0.9

    model = inference.model_fn(str(model_dir))
    predictions = inference.predict_fn([[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]], model)
    assert list(predictions) == ["setosa", "virginica"]


def test_training_without_csv_files_fails_with_a_clear_message(tmp_path: Path) -> None:
    training = load(TEMPLATE / "training" / "training.py", "example_training2")
    with pytest.raises(ValueError, match=r"no \.csv files"):
        training.train(str(tmp_path), str(tmp_path / "model"))


def sagemaker_layout(tmp_path: Path, hyperparameters: dict[str, str]) -> Path:
    root = tmp_path / "ml"
    shutil.copytree(DATA, root / "input" / "data" / "training")
    (root / "input" / "config").mkdir(parents=True)
    (root / "input" / "config" / "hyperparameters.json").write_text(json.dumps(hyperparameters))
    (root / "input" / "config" / "inputdataconfig.json").write_text(
        json.dumps({"training": {"ContentType": "text/csv", "TrainingInputMode": "File"}})
    )
    return root


def run_train(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SM_BASE_DIR": str(root), "SM_MODEL_DIR": str(root / "model")}
    return subprocess.run(
        [sys.executable, str(TEMPLATE / "training" / "train")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_train_entry_point_reads_hyperparameters_and_saves_the_model(tmp_path: Path) -> None:
    root = sagemaker_layout(tmp_path, {"C": "0.5"})
    done = run_train(root)
    assert done.returncode == 0, done.stderr
    assert (root / "model" / "model.joblib").is_file()
    assert json.loads((root / "model" / "metadata.json").read_text())["hyperparameters"] == {
        "C": "0.5"
    }
    assert not (root / "output" / "failure").exists()


def test_train_entry_point_writes_the_failure_file_and_exits_non_zero(tmp_path: Path) -> None:
    root = sagemaker_layout(tmp_path, {"C": "not-a-number"})
    done = run_train(root)
    assert done.returncode != 0
    failure = (root / "output" / "failure").read_text()
    assert failure.startswith("ValueError: could not convert string to float: 'not-a-number'")


def test_training_holds_out_a_validation_split_and_prints_metric_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from easy_sm import metrics

    training = load(TEMPLATE / "training" / "training.py", "example_training3")
    training.train(str(DATA), str(tmp_path / "model"), {"C": "0.5"})
    metadata = json.loads((tmp_path / "model" / "metadata.json").read_text())
    assert (metadata["rows"], metadata["validation_rows"]) == (150, 30)
    scanner = metrics.MetricScanner(metrics.parse(None))
    scanner.feed(capsys.readouterr().out.encode())
    found = scanner.finish()
    assert found["validation:accuracy"] == round(metadata["validation_accuracy"], 4)
    assert found["train:accuracy"] == round(metadata["train_accuracy"], 4)
    assert found["validation:accuracy"] > 0.8
