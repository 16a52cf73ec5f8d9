"""Your inference code. The model server (`serve`, managed by easy_sm) calls these hooks.

- `model_fn(model_dir)`: load the model once per server worker from `model_dir`
  (/opt/ml/model, where SageMaker extracts model.tar.gz).
- `predict_fn(data, model)`: predictions for a 2-D array of features (one row per record).

Optionally define `input_fn(body, content_type)` and/or `output_fn(predictions, accept)` to
replace the built-in CSV/JSON handling of the server.
"""

from __future__ import annotations

import os
from typing import Any

import joblib


def model_fn(model_dir: str) -> Any:
    """Load the model saved by training.py."""
    return joblib.load(os.path.join(model_dir, "model.joblib"))


def predict_fn(input_data: Any, model: Any) -> Any:
    """Predict one label per row of `input_data`."""
    return model.predict(input_data)
