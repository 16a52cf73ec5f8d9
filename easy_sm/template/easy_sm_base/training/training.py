"""Your training code. easy_sm's `training/train` calls `train()` inside the container.

This example trains a logistic-regression classifier on the CSV files of the `training`
channel (first column the label, the others numeric features, no header) and saves it to the
model directory. Replace the body with your own; keep the signature.
"""

from __future__ import annotations

import glob
import json
import os

import joblib
import numpy as np
from sklearn.linear_model import LogisticRegression


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

    features, labels = load_csv_dir(input_data_path)
    model = LogisticRegression(C=c, max_iter=max_iter)
    model.fit(features, labels)
    accuracy = float(model.score(features, labels))

    os.makedirs(model_save_path, exist_ok=True)
    joblib.dump(model, os.path.join(model_save_path, "model.joblib"))
    with open(os.path.join(model_save_path, "metadata.json"), "w", encoding="utf-8") as handle:
        json.dump(
            {"hyperparameters": hyperparameters, "train_accuracy": accuracy, "rows": len(labels)},
            handle,
            indent=2,
        )
    print(f"trained on {len(labels)} rows, C={c}, max_iter={max_iter}, accuracy={accuracy:.3f}")
