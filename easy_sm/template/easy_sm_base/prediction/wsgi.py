"""The model server's WSGI app: `GET /ping`, `POST /invocations`, `GET /execution-parameters`.

`serve` runs it under gunicorn (`wsgi:create_app()`, once per worker). The model is loaded in a
background thread when a worker starts, so `/ping` answers at once: 503 until EVERY worker has
loaded its copy, then 200 until the server stops (the workers share that state, see Readiness):
a worker restarted later loads its copy before it takes any request, while the others serve.
`/invocations` waits for the load; if `model_fn` fails the traceback is logged and the worker
exits with gunicorn's boot-error code, which stops the server (fail fast). With
EASY_SM_PRELOAD=true the model is loaded once, in gunicorn's master, before the workers fork.

Managed by easy_sm: `easy_sm update-scripts` refreshes this file. Put your code in inference.py.
"""

from __future__ import annotations

import csv
import gc
import io
import json
import logging
import mmap
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from types import ModuleType
from typing import Any, ClassVar

log = logging.getLogger("easy_sm.serve")

StartResponse = Callable[..., Any]
Environ = dict[str, Any]

CSV = "text/csv"
JSON = "application/json"
JSONLINES = "application/jsonlines"
# Media types the built-in input_fn / output_fn understand, with their common aliases.
ALIASES = {
    CSV: CSV,
    "application/csv": CSV,
    JSON: JSON,
    JSONLINES: JSONLINES,
    "application/x-jsonlines": JSONLINES,
    "application/jsonl": JSONLINES,
}
DEFAULT_MAX_PAYLOAD_MB = 6.0
WORKER_BOOT_ERROR = 3  # gunicorn's exit code for "worker failed to boot": the server halts
_CHUNK = 64 * 1024
# A refused body is read and thrown away (up to this much) so that the client reads the 413
# and can keep using its connection; past it the server drops the connection.
_DISCARD_LIMIT = 64 * 1024 * 1024


class HttpError(Exception):
    """An answer other than 200. Raise it from your hooks for a specific status, e.g.
    `raise HttpError(400, "expected 4 features")`; a ValueError from input_fn also gives 400."""

    REASONS: ClassVar[dict[int, str]] = {
        400: "Bad Request",
        404: "Not Found",
        405: "Method Not Allowed",
        406: "Not Acceptable",
        413: "Payload Too Large",
        415: "Unsupported Media Type",
        500: "Internal Server Error",
        503: "Service Unavailable",
    }

    def __init__(self, status: int, message: str, headers: list[tuple[str, str]] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or []

    @property
    def status_line(self) -> str:
        return f"{self.status} {self.REASONS.get(self.status, 'Error')}"


def media_type(header: str | None) -> str:
    """`text/csv; charset=utf-8` -> `text/csv` (lower case, parameters dropped)."""
    return (header or "").split(";", 1)[0].strip().lower()


def negotiate(accept: str | None) -> str:
    """The response type for an `Accept` header: CSV when absent or `*/*`, else the supported
    type the client prefers (q-values honoured). Raises 406 when none is acceptable."""
    if not accept or accept == "*/*":
        return CSV
    choices: list[tuple[float, int, str]] = []
    for position, item in enumerate(accept.split(",")):
        kind, *params = (part.strip() for part in item.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if kind and quality > 0:
            choices.append((-quality, position, kind.lower()))
    for _, _, kind in sorted(choices):
        if kind in ALIASES:
            return ALIASES[kind]
        if kind in ("*/*", "text/*"):
            return CSV
        if kind == "application/*":
            return JSON
    raise HttpError(
        406,
        f"cannot answer in {accept!r}; accept text/csv (default), application/json or "
        "application/jsonlines",
    )


def _rows_from_json(payload: Any) -> Any:
    if isinstance(payload, dict):
        for key in ("instances", "features", "inputs"):
            if key in payload:
                payload = payload[key]
                break
        else:
            raise ValueError('a JSON object needs an "instances" (or "features") list')
    if isinstance(payload, list) and payload and isinstance(payload[0], dict):
        # SageMaker's built-in algorithms' format: {"instances": [{"features": [...]}, ...]}
        payload = [record.get("features") for record in payload]
    return payload


def _reject_csv_header(first: list[str]) -> None:
    """A 400 that says what happened when the first CSV line is a header row (no value of it
    is a number): SageMaker sends data rows only, so the header must be dropped."""
    for value in first:
        try:
            float(value)
            return
        except ValueError:
            continue
    shown = ",".join(first)
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    raise HttpError(
        400,
        f"the first CSV line is a header row ({shown!r}): send data rows only, without the "
        "header (drop it with `tail -n +2 data.csv`; in pandas, to_csv(header=False))",
    )


def default_input_fn(body: bytes, content_type: str) -> Any:
    """Decode a request into a 2-D float array, one row per record.

    text/csv: one record per line, no header. application/json: `[[...], ...]`, one record
    `[...]`, or `{"instances": [...]}`. application/jsonlines: one JSON record per line.
    """
    import numpy as np

    kind = ALIASES.get(media_type(content_type) or CSV)
    if kind is None:
        raise HttpError(
            415,
            f"unsupported content type {media_type(content_type)!r}; send text/csv, "
            "application/json or application/jsonlines",
        )
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise HttpError(400, f"malformed {kind} payload: not UTF-8 ({exc.reason})") from None
    if not text.strip():
        raise HttpError(400, f"empty {kind} payload: send one or more records")
    try:
        if kind == CSV:
            rows = [row for row in csv.reader(io.StringIO(text)) if row]
            width = len(rows[0])
            for number, row in enumerate(rows, start=1):
                if len(row) != width:
                    raise ValueError(f"line {number} has {len(row)} values, line 1 has {width}")
            _reject_csv_header(rows[0])
            data = np.array([[float(v) for v in row] for row in rows], dtype=float)
        elif kind == JSON:
            data = np.asarray(_rows_from_json(json.loads(text)), dtype=float)
        else:
            lines = [json.loads(line) for line in text.splitlines() if line.strip()]
            data = np.asarray([_rows_from_json(line) for line in lines], dtype=float)
    except HttpError:
        raise
    except (ValueError, TypeError) as exc:
        raise HttpError(400, f"malformed {kind} payload: {exc}") from None
    if data.ndim == 1:
        data = data.reshape(1, -1)
    if data.ndim != 2 or data.shape[0] == 0 or data.shape[1] == 0:
        raise HttpError(400, f"malformed {kind} payload: expected a list of records of numbers")
    return data


def default_output_fn(predictions: Any, accept: str) -> tuple[bytes, str]:
    """Encode predictions: CSV (one line per record), JSON `{"predictions": [...]}` or JSON
    Lines, as the `Accept` header asks."""
    kind = negotiate(accept)
    values = predictions.tolist() if hasattr(predictions, "tolist") else list(predictions)
    if kind == CSV:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerows(value if isinstance(value, list) else (value,) for value in values)
        return out.getvalue().encode("utf-8"), CSV
    if kind == JSON:
        return json.dumps({"predictions": values}).encode("utf-8"), JSON
    text = "".join(json.dumps(value) + "\n" for value in values)
    return text.encode("utf-8"), JSONLINES


def _discard(stream: Any, most: int) -> None:
    """Read and drop up to `most` bytes of a request body."""
    while most > 0:
        part = stream.read(min(_CHUNK, most))
        if not part:
            return
        most -= len(part)


def _answer(
    start_response: StartResponse,
    status: str,
    body: bytes,
    content_type: str = "text/plain; charset=utf-8",
    headers: list[tuple[str, str]] | None = None,
) -> list[bytes]:
    start_response(
        status,
        [("Content-Type", content_type), ("Content-Length", str(len(body))), *(headers or [])],
    )
    return [body]


class Readiness:
    """Whether the whole server is ready, shared by gunicorn's master and all its workers.

    One anonymous shared memory page, made in the master before it forks the workers: a "ready"
    byte and one byte per worker slot (free, loading, loaded). The master hands each worker it
    starts a free slot and frees it when the worker exits; a worker marks its slot loaded once
    its model_fn returned. The server is ready once `workers` live slots are loaded, and from
    then on stays ready until it stops: a worker that is restarted later (crash, out of
    memory) loads its copy before it accepts a request, while the others serve.
    """

    FREE, LOADING, LOADED = 0, 1, 2

    def __init__(self, workers: int) -> None:
        self.workers = workers
        # Twice the slots: room for replacements started before the old workers are gone.
        self._memory = mmap.mmap(-1, 1 + 2 * workers)

    def claim_slot(self) -> int | None:
        """A free slot for a worker about to start (in the master), marked loading."""
        for slot in range(1, len(self._memory)):
            if self._memory[slot] == self.FREE:
                self._memory[slot] = self.LOADING
                return slot
        return None

    def release_slot(self, slot: int | None) -> None:
        """The worker holding `slot` has exited (in the master)."""
        if slot is not None:
            self._memory[slot] = self.FREE

    def mark_loaded(self, slot: int | None) -> None:
        """This worker's model is loaded (in the worker)."""
        if slot is not None:
            self._memory[slot] = self.LOADED
        self.is_ready()

    def mark_ready(self) -> None:
        """Every worker has the model (preloaded in the master before the fork)."""
        self._memory[0] = 1

    def is_ready(self) -> bool:
        if self._memory[0]:
            return True
        if self._memory[1:].count(self.LOADED) >= self.workers:
            self._memory[0] = 1  # latched: never goes back
            return True
        return False


class ModelServer:
    """The WSGI app. `hooks` is the user's inference module (model_fn, predict_fn and
    optionally input_fn, output_fn)."""

    def __init__(
        self,
        hooks: ModuleType,
        model_dir: str,
        *,
        max_payload_mb: float = DEFAULT_MAX_PAYLOAD_MB,
        max_concurrent_transforms: int = 1,
        load_wait_seconds: float = 60.0,
        on_load_failure: Callable[[BaseException], None] | None = None,
        readiness: Readiness | None = None,
        slot: int | None = None,
    ) -> None:
        self.hooks = hooks
        self.readiness = readiness  # None: a server of one process, ready once loaded
        self.slot = slot
        self.model_dir = model_dir
        self.max_payload_bytes = int(max_payload_mb * 1024 * 1024)
        self.max_payload_mb = max_payload_mb
        self.max_concurrent_transforms = max_concurrent_transforms
        self.load_wait_seconds = load_wait_seconds
        self.on_load_failure = on_load_failure
        self.input_fn: Callable[[bytes, str], Any] = getattr(hooks, "input_fn", default_input_fn)
        self.user_output_fn: Callable[[Any, str], Any] | None = getattr(hooks, "output_fn", None)
        self.model: Any = None
        self.load_error: BaseException | None = None
        self.loaded = threading.Event()
        self._expected_features: int | None = None

    # -- model loading -------------------------------------------------------------------
    def load(self) -> None:
        """Run model_fn (blocking). On failure keeps the error and calls on_load_failure."""
        started = time.monotonic()
        try:
            model = self.hooks.model_fn(self.model_dir)
        except BaseException as exc:
            self.load_error = exc
            log.error(
                "model_fn(%r) failed; the model server cannot serve:\n%s",
                self.model_dir,
                traceback.format_exc(),
            )
            if self.on_load_failure is not None:
                self.on_load_failure(exc)
            return
        self.model = model
        features = getattr(model, "n_features_in_", None)
        self._expected_features = features if isinstance(features, int) else None
        self.loaded.set()
        if self.readiness is not None:
            self.readiness.mark_loaded(self.slot)
        log.info("model loaded from %s in %.2f s", self.model_dir, time.monotonic() - started)

    def ready(self) -> bool:
        """What /ping says: every worker has its model (this one may be a late replacement)."""
        if self.readiness is None:
            return self.loaded.is_set()
        return self.readiness.is_ready()

    def load_in_background(self) -> threading.Thread:
        thread = threading.Thread(target=self.load, name="model-loader", daemon=True)
        thread.start()
        return thread

    # -- WSGI ----------------------------------------------------------------------------
    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        try:
            if path == "/invocations":
                if method != "POST":
                    raise HttpError(405, "use POST /invocations", [("Allow", "POST")])
                return self.invocations(environ, start_response)
            if path == "/ping":
                if method not in ("GET", "HEAD"):
                    raise HttpError(405, "use GET /ping", [("Allow", "GET, HEAD")])
                if self.ready():
                    return _answer(start_response, "200 OK", b"\n")
                state = "failed to load" if self.load_error else "loading"
                return _answer(
                    start_response, "503 Service Unavailable", f"model {state}\n".encode()
                )
            if path == "/execution-parameters":
                if method not in ("GET", "HEAD"):
                    raise HttpError(405, "use GET /execution-parameters", [("Allow", "GET, HEAD")])
                return self.execution_parameters(start_response)
            raise HttpError(404, f"no such path {path!r}: use /ping and /invocations")
        except HttpError as exc:
            return self.error(start_response, exc)

    def execution_parameters(self, start_response: StartResponse) -> list[bytes]:
        """What batch transform should use when the job does not say (SageMaker asks once)."""
        params = {
            "MaxConcurrentTransforms": self.max_concurrent_transforms,
            "BatchStrategy": "MULTI_RECORD",
            "MaxPayloadInMB": max(1, int(self.max_payload_mb)),
        }
        return _answer(start_response, "200 OK", json.dumps(params).encode(), JSON)

    def error(self, start_response: StartResponse, exc: HttpError) -> list[bytes]:
        body = f"{exc.status_line}: {exc.message}\n".encode()
        return _answer(start_response, exc.status_line, body, headers=exc.headers)

    def read_body(self, environ: Environ) -> bytes:
        """The request body, or 413 when it is over the payload limit."""
        stream = environ["wsgi.input"]
        limit = self.max_payload_bytes
        too_large = HttpError(
            413,
            f"payload over SAGEMAKER_MAX_PAYLOAD_IN_MB={self.max_payload_mb:g}; split it into "
            "smaller requests (batch transform: MaxPayloadInMB, SplitType=Line)",
        )
        length_header = environ.get("CONTENT_LENGTH") or ""
        if length_header:
            try:
                length = int(length_header)
            except ValueError:
                raise HttpError(400, f"bad Content-Length {length_header!r}") from None
            if length > limit:
                _discard(stream, min(length, _DISCARD_LIMIT))
                raise too_large
            return stream.read(length) if length > 0 else b""
        # No Content-Length (chunked upload): read at most one byte past the limit.
        parts: list[bytes] = []
        size = 0
        while True:
            part = stream.read(min(_CHUNK, limit + 1 - size))
            if not part:
                return b"".join(parts)
            parts.append(part)
            size += len(part)
            if size > limit:
                parts.clear()
                _discard(stream, _DISCARD_LIMIT)
                raise too_large

    def invocations(self, environ: Environ, start_response: StartResponse) -> list[bytes]:
        body = self.read_body(environ)
        if not self.loaded.wait(self.load_wait_seconds):
            state = "failed to load" if self.load_error else "still loading"
            raise HttpError(503, f"model {state}; see the server log", [("Retry-After", "5")])
        accept = environ.get("HTTP_ACCEPT") or ""
        # Refuse an unacceptable Accept before spending time on the model.
        accept_type = negotiate(accept) if self.user_output_fn is None else None
        try:
            data = self.input_fn(body, environ.get("CONTENT_TYPE") or CSV)
        except HttpError:
            raise
        except (ValueError, TypeError, UnicodeDecodeError) as exc:
            raise HttpError(400, f"malformed payload: {exc}") from None
        self.check_features(data)
        try:
            predictions = self.hooks.predict_fn(data, self.model)
            if self.user_output_fn is None:
                payload, content_type = default_output_fn(predictions, accept_type or CSV)
            else:
                payload, content_type = self.encode_user_output(predictions, accept)
        except HttpError:
            raise
        except Exception as exc:
            log.error(
                "prediction failed for a %d-byte %s request:\n%s",
                len(body),
                environ.get("CONTENT_TYPE") or CSV,
                traceback.format_exc(),
            )
            first_line = (str(exc).strip().splitlines() or [""])[0][:300]
            message = f"model error: {type(exc).__name__}: {first_line}"
            raise HttpError(500, f"{message} (traceback in the server log)") from None
        return _answer(start_response, "200 OK", payload, content_type)

    def check_features(self, data: Any) -> None:
        expected = self._expected_features
        shape = getattr(data, "shape", None)
        if expected is None or shape is None or len(shape) != 2:
            return
        if shape[1] != expected:
            raise HttpError(
                400, f"wrong number of features: the model expects {expected}, got {shape[1]}"
            )

    def encode_user_output(self, predictions: Any, accept: str) -> tuple[bytes, str]:
        assert self.user_output_fn is not None
        wanted = accept if accept and accept != "*/*" else CSV
        result = self.user_output_fn(predictions, wanted)
        content_type = wanted.split(",")[0].strip()
        if isinstance(result, tuple):
            result, content_type = result
        if isinstance(result, str):
            result = result.encode("utf-8")
        return bytes(result), content_type


def _exit_worker(exc: BaseException) -> None:
    """Stop this gunicorn worker so that the server halts instead of answering 503 forever."""
    logging.shutdown()
    sys.stderr.flush()
    os._exit(WORKER_BOOT_ERROR)


def _env_number(name: str, default: float) -> float:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        number = float(value)
    except ValueError:
        raise SystemExit(f"{name}={value!r} is not a number") from None
    if number <= 0:
        raise SystemExit(f"{name}={value!r} must be positive")
    return number


def _stop_server(exc: BaseException) -> None:
    """model_fn failed in gunicorn's master (preload): stop before any worker starts."""
    raise SystemExit(WORKER_BOOT_ERROR)


def _load_with_heartbeat(server: ModelServer, heartbeat: Callable[[], None] | None) -> None:
    """Load in this thread, telling gunicorn meanwhile that the worker is alive (else a load
    longer than the timeout would get the worker killed and restarted forever)."""
    if heartbeat is None:
        server.load()
        return
    done = threading.Event()

    def beat() -> None:
        while not done.wait(1.0):
            heartbeat()

    threading.Thread(target=beat, name="model-loader-heartbeat", daemon=True).start()
    try:
        server.load()
    finally:
        done.set()


def create_app(
    readiness: Readiness | None = None,
    slot: int | None = None,
    *,
    preload: bool = False,
    heartbeat: Callable[[], None] | None = None,
) -> ModelServer:
    """The app gunicorn serves (`wsgi:create_app()`): imports inference.py, loads the model.

    In a worker that starts with the server, the model loads in a background thread, so that
    /ping answers (503) at once. A worker that replaces one after the server said it was ready
    loads before it takes a request (`heartbeat` keeps gunicorn from timing it out), so no
    request waits for it. With `preload` (in gunicorn's master, EASY_SM_PRELOAD=true) the model
    loads here, once, and the forked workers share its memory.
    """
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.INFO,
            stream=sys.stderr,
            format="%(asctime)s [%(process)d] [%(levelname)s] %(message)s",
        )
    here = os.path.dirname(os.path.abspath(__file__))
    if here not in sys.path:
        sys.path.insert(0, here)
    import inference

    workers = int(_env_number("SAGEMAKER_MODEL_SERVER_WORKERS", os.cpu_count() or 1))
    server = ModelServer(
        inference,
        os.environ.get("SM_MODEL_DIR", "/opt/ml/model"),
        max_payload_mb=_env_number("SAGEMAKER_MAX_PAYLOAD_IN_MB", DEFAULT_MAX_PAYLOAD_MB),
        max_concurrent_transforms=workers,
        load_wait_seconds=_env_number("SAGEMAKER_MODEL_SERVER_TIMEOUT", 60.0),
        on_load_failure=_stop_server if preload else _exit_worker,
        readiness=readiness,
        slot=slot,
    )
    if preload:
        server.load()
        if readiness is not None:
            readiness.mark_ready()
        # Keep the collector from writing to the model's objects: their pages stay shared.
        gc.freeze()
    elif readiness is not None and readiness.is_ready():
        _load_with_heartbeat(server, heartbeat)
    else:
        server.load_in_background()
    return server
