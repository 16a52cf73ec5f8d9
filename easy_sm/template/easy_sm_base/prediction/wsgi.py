"""The model server's WSGI app: /ping, /invocations, /execution-parameters.

Managed by easy_sm: `easy_sm update-scripts` refreshes this file. Put your code in inference.py.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import sys
import traceback
from collections.abc import Callable, Iterable
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import inference

MODEL_DIR = os.environ.get("SM_MODEL_DIR", "/opt/ml/model")
log = logging.getLogger("easy_sm.serve")

StartResponse = Callable[..., Any]


class BadRequest(Exception):
    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.status = status


def default_input_fn(body: bytes, content_type: str) -> Any:
    import numpy as np

    kind = (content_type or "text/csv").split(";")[0].strip().lower()
    text = body.decode("utf-8")
    try:
        if kind == "text/csv":
            rows = [row for row in csv.reader(io.StringIO(text)) if row]
            data = np.array([[float(v) for v in row] for row in rows])
        elif kind == "application/json":
            payload = json.loads(text)
            if isinstance(payload, dict):
                payload = payload.get("instances", payload.get("features"))
            data = np.array(payload, dtype=float)
            if data.ndim == 1:
                data = data.reshape(1, -1)
        else:
            raise BadRequest(
                "415 Unsupported Media Type",
                f"unsupported content type {kind!r}; send text/csv or application/json",
            )
    except (ValueError, TypeError) as exc:
        raise BadRequest("400 Bad Request", f"malformed {kind} payload: {exc}") from None
    if data.ndim != 2 or data.shape[0] == 0:
        raise BadRequest("400 Bad Request", "expected one or more rows of features")
    return data


def default_output_fn(predictions: Any, accept: str) -> tuple[bytes, str]:
    values = predictions.tolist() if hasattr(predictions, "tolist") else list(predictions)
    kind = (accept or "text/csv").split(";")[0].strip().lower()
    if kind in ("*/*", "", "text/csv"):
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        for value in values:
            writer.writerow(value if isinstance(value, list) else [value])
        return out.getvalue().encode(), "text/csv"
    if kind == "application/json":
        return json.dumps({"predictions": values}).encode(), "application/json"
    raise BadRequest(
        "406 Not Acceptable", f"cannot answer in {kind!r}; accept text/csv or application/json"
    )


input_fn = getattr(inference, "input_fn", default_input_fn)
output_fn = getattr(inference, "output_fn", default_output_fn)
model: Any = None
try:
    model = inference.model_fn(MODEL_DIR)
except Exception:
    log.error("model_fn failed; /ping answers 503\n%s", traceback.format_exc())


def _answer(
    start_response: StartResponse, status: str, body: bytes, content_type: str = "text/plain"
) -> Iterable[bytes]:
    start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(body)))])
    return [body]


def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    path = environ.get("PATH_INFO", "")
    method = environ.get("REQUEST_METHOD", "GET")
    if path == "/ping":
        return _answer(
            start_response, "200 OK" if model is not None else "503 Service Unavailable", b"\n"
        )
    if path == "/execution-parameters":
        params = {
            "MaxConcurrentTransforms": os.cpu_count() or 1,
            "BatchStrategy": "MULTI_RECORD",
            "MaxPayloadInMB": 6,
        }
        return _answer(start_response, "200 OK", json.dumps(params).encode(), "application/json")
    if path == "/invocations" and method == "POST":
        if model is None:
            return _answer(start_response, "503 Service Unavailable", b"model not loaded\n")
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length) if length else b""
            data = input_fn(body, environ.get("CONTENT_TYPE", "text/csv"))
            predictions = inference.predict_fn(data, model)
            payload, content_type = output_fn(predictions, environ.get("HTTP_ACCEPT", "text/csv"))
        except BadRequest as exc:
            return _answer(start_response, exc.status, (str(exc) + "\n").encode())
        except Exception as exc:
            log.error("prediction failed\n%s", traceback.format_exc())
            return _answer(
                start_response,
                "500 Internal Server Error",
                f"model error: {type(exc).__name__}: {exc}\n".encode(),
            )
        return _answer(start_response, "200 OK", payload, content_type)
    return _answer(start_response, "404 Not Found", b"not found\n")
