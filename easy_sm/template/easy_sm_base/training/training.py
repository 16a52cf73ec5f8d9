"""Your training code. easy_sm's `training/train` calls `train()` inside the container.

This example trains a logistic-regression classifier on the CSV files of the `training`
channel (first column the label, the others numeric features, no header), scores it on a
validation split it holds out, and saves it to the model directory. Replace the body with your
own; keep the signature.

Metrics are printed one per line as `metric NAME=VALUE` (e.g. `metric validation:accuracy=0.9667`):
easy_sm's default metric definitions match that format, so SageMaker (and `easy_sm local train`)
report them, and `easy_sm tune --objective validation:accuracy` can optimise them.
"""

from __future__ import annotations

import glob
import json
import os

import joblib
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split


def load_csv_dir(path: str) -> tuple[np.ndarray, np.ndarray]:
    """Read every *.csv under `path`: labels from column 0, features from the rest."""
    files = sorted(glob.glob(os.path.join(path, "**", "*.csv"), recursive=True))
    if not files:
        raise ValueError(f"no .csv files in {path}")
    rows = []
    for name in files:
        with open(name, encoding="utf-8") as handle:
            rows.extend(line.strip().split(",") for line in handle if line.strip())
    labels = np.array([row[0] for row in rows])
    features = np.array([[float(v) for v in row[1:]] for row in rows])
    return features, labels


def train(input_data_path: str, model_save_path: str, hyperparameters: dict | None = None) -> None:
    """Train on the data in `input_data_path` and save the model in `model_save_path`.

    `hyperparameters` holds the job's hyperparameters; SageMaker passes every value as a string.
    """
    hyperparameters = hyperparameters or {}
    c = float(hyperparameters.get("C", "1.0"))
    max_iter = int(hyperparameters.get("max_iter", "200"))
    solver = hyperparameters.get("solver", "lbfgs")
    validation_fraction = float(hyperparameters.get("validation_fraction", "0.2"))

    features, labels = load_csv_dir(input_data_path)
    x_train, x_valid, y_train, y_valid = train_test_split(
        features, labels, test_size=validation_fraction, random_state=0, stratify=labels
    )
    model = LogisticRegression(C=c, max_iter=max_iter, solver=solver)
    model.fit(x_train, y_train)
    accuracy = float(model.score(x_train, y_train))
    validation_accuracy = float(model.score(x_valid, y_valid))

    os.makedirs(model_save_path, exist_ok=True)
    joblib.dump(model, os.path.join(model_save_path, "model.joblib"))
    with open(os.path.join(model_save_path, "metadata.json"), "w", encoding="utf-8") as handle:
        json.dump(
            {
                "hyperparameters": hyperparameters,
                "train_accuracy": accuracy,
                "validation_accuracy": validation_accuracy,
                "rows": len(labels),
                "validation_rows": len(y_valid),
            },
            handle,
            indent=2,
        )
    print(
        f"trained on {len(y_train)} rows ({len(y_valid)} held out for validation), "
        f"C={c}, max_iter={max_iter}, solver={solver}"
    )
    print(f"metric train:accuracy={accuracy:.4f}")
    print(f"metric validation:accuracy={validation_accuracy:.4f}", flush=True)
