"""Your inference code. The model server (`serve` + `wsgi.py`, managed by easy_sm) calls these
hooks; edit them freely, the server plumbing is refreshed by `easy_sm update-scripts`.

- `model_fn(model_dir)`: load the model, once per server worker, from `model_dir`
  (/opt/ml/model, where SageMaker extracts model.tar.gz). If it raises, the server stops and
  the traceback is in the container's log. With EASY_SM_PRELOAD=true it runs once, before
  the workers fork, and they share the model's memory: then it must not start threads or
  open a GPU context.
- `predict_fn(data, model)`: predictions for `data`, by default a 2-D float array with one row
  per record. An exception here answers 500 and logs the traceback; the server goes on.

Optionally define, to replace the built-in text/csv, application/json and
application/jsonlines handling:
- `input_fn(body: bytes, content_type: str)`: decode a request; raise ValueError for a
  malformed one (answered 400).
- `output_fn(predictions, accept: str)`: encode the answer; return bytes/str (sent as the
  `accept` type) or a `(body, content_type)` tuple.
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
