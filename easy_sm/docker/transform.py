"""Local batch transform: a SageMaker transform job, run against the image's `serve`.

What SageMaker does for each instance of a transform job, reproduced on this machine:

- start the serving container (`IMAGE serve`, the model at /opt/ml/model) with
  `SAGEMAKER_BATCH=true` and the job's `SAGEMAKER_BATCH_STRATEGY`,
  `SAGEMAKER_MAX_PAYLOAD_IN_MB`, `SAGEMAKER_MAX_CONCURRENT_TRANSFORMS`;
- settings the job leaves out come from the container's `GET /execution-parameters`, then
  from SageMaker's defaults (MaxPayloadInMB 6, MaxConcurrentTransforms 1, BatchStrategy
  MultiRecord, as the SageMaker Python SDK's local mode applies them);
- each input file is split into records (`SplitType=Line`: one record per line; `None`: the
  whole file), records are sent one per request (`SingleRecord`) or packed into mini-batches
  of at most MaxPayloadInMB (`MultiRecord`), with MaxConcurrentTransforms requests in flight;
- the answers, in input order, make `<file>.out` (the input tree mirrored), joined as
  `AssembleWith` says (`Line`: a newline after each answer that does not end with one);
- the first failed request fails the job, naming the file and its lines, with the server's
  answer; a record over the payload limit fails it too, as on SageMaker.

Outputs are written whole: into a temporary file beside the target, renamed when complete.
"""

from __future__ import annotations

import http.client
import json
import os
import threading
import time
import urllib.parse
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any

from easy_sm.docker.containers import RunSpec, port_is_free
from easy_sm.errors import JobFailedError, UsageError

MB = 1024 * 1024
# SageMaker's defaults (CreateTransformJob) for what neither the job nor the container says.
DEFAULT_MAX_PAYLOAD_MB = 6
DEFAULT_MAX_CONCURRENT = 1
DEFAULT_STRATEGY = "MultiRecord"
# CreateTransformJob: MaxPayloadInMB <= 100, and MaxConcurrentTransforms * MaxPayloadInMB <= 100.
MAX_PAYLOAD_MB = 100
# ModelClientConfig.InvocationsTimeoutInSeconds' default.
INVOCATION_TIMEOUT_SECONDS = 600
PROGRESS_EVERY_SECONDS = 5.0

STRATEGIES = ("SingleRecord", "MultiRecord")
SPLIT_TYPES = ("None", "Line")
ASSEMBLE_WITH = ("None", "Line")
_STRATEGY_NAMES = {
    "singlerecord": "SingleRecord",
    "single_record": "SingleRecord",
    "multirecord": "MultiRecord",
    "multi_record": "MultiRecord",
}


@dataclass(frozen=True)
class TransformOptions:
    """What the user asked for; None = not given (ask the container, then the defaults)."""

    content_type: str | None = None
    accept: str | None = None
    split_type: str = "None"
    strategy: str | None = None
    max_payload_mb: int | None = None
    max_concurrent: int | None = None
    assemble_with: str = "None"

    def validate(self) -> None:
        """SageMaker's CreateTransformJob checks, before anything starts."""
        payload = self.max_payload_mb
        if payload is not None and not 1 <= payload <= MAX_PAYLOAD_MB:
            raise UsageError(
                f"--max-payload {payload} is out of range", f"use 1 to {MAX_PAYLOAD_MB} (MB)"
            )
        if self.max_concurrent is not None and self.max_concurrent < 1:
            raise UsageError(f"--max-concurrent {self.max_concurrent} is out of range", "use 1+")
        if (
            payload is not None
            and self.max_concurrent is not None
            and payload * self.max_concurrent > MAX_PAYLOAD_MB
        ):
            raise UsageError(
                f"--max-concurrent {self.max_concurrent} x --max-payload {payload} MB is over "
                f"SageMaker's {MAX_PAYLOAD_MB} MB",
                "lower one of them",
            )

    def container_environment(self) -> dict[str, str]:
        """The batch variables SageMaker gives the serving container for this job."""
        env = {"SAGEMAKER_BATCH": "true"}
        if self.strategy is not None:
            env["SAGEMAKER_BATCH_STRATEGY"] = (
                "SINGLE_RECORD" if self.strategy == "SingleRecord" else "MULTI_RECORD"
            )
        if self.max_payload_mb is not None:
            env["SAGEMAKER_MAX_PAYLOAD_IN_MB"] = str(self.max_payload_mb)
        if self.max_concurrent is not None:
            env["SAGEMAKER_MAX_CONCURRENT_TRANSFORMS"] = str(self.max_concurrent)
        return env


@dataclass(frozen=True)
class TransformSettings:
    """The settings a transform runs with, every one decided."""

    content_type: str | None
    accept: str | None
    split_type: str
    strategy: str
    max_payload_mb: int
    max_concurrent: int
    assemble_with: str

    @property
    def max_payload_bytes(self) -> int:
        return self.max_payload_mb * MB

    def describe(self) -> str:
        return (
            f"SplitType={self.split_type}, BatchStrategy={self.strategy}, "
            f"MaxPayloadInMB={self.max_payload_mb}, MaxConcurrentTransforms={self.max_concurrent}, "
            f"AssembleWith={self.assemble_with}"
        )


def _positive_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number >= 1 else None


def resolve_settings(
    options: TransformOptions, execution_parameters: Mapping[str, Any] | None
) -> TransformSettings:
    """Flags first, then the container's /execution-parameters, then SageMaker's defaults."""
    found = execution_parameters or {}
    strategy = options.strategy
    if strategy is None:
        named = str(found.get("BatchStrategy", "")).strip().lower()
        strategy = _STRATEGY_NAMES.get(named, DEFAULT_STRATEGY)
    payload = options.max_payload_mb
    if payload is None:
        payload = min(_positive_int(found.get("MaxPayloadInMB")) or DEFAULT_MAX_PAYLOAD_MB, 100)
    concurrent = options.max_concurrent
    if concurrent is None:
        concurrent = _positive_int(found.get("MaxConcurrentTransforms")) or DEFAULT_MAX_CONCURRENT
    return TransformSettings(
        content_type=options.content_type,
        accept=options.accept,
        split_type=options.split_type,
        strategy=strategy,
        max_payload_mb=payload,
        max_concurrent=concurrent,
        assemble_with=options.assemble_with,
    )


# -- the files ------------------------------------------------------------------------------


@dataclass(frozen=True)
class InputFile:
    path: Path
    relative: str  # POSIX path under the input folder
    target: Path  # <output>/<relative>.out


def plan_files(input_dir: Path, output_dir: Path) -> list[InputFile]:
    """Every regular file under `input_dir` (sorted, as S3 lists keys) and its `.out` file."""
    if not input_dir.is_dir():
        what = "does not exist" if not input_dir.exists() else "is not a folder"
        raise UsageError(f"-i/--input {input_dir} {what}", "give the folder holding the input")
    source = input_dir.resolve()
    target = output_dir.resolve()
    if target == source or source in target.parents:
        raise UsageError(
            f"-o/--output {output_dir} is inside -i/--input {input_dir}",
            "write the output to a folder outside the input",
        )
    if target.exists() and not target.is_dir():
        raise UsageError(f"-o/--output {output_dir} is not a folder", "give a folder")
    found: list[InputFile] = []
    for root, _dirs, files in os.walk(source):
        for name in files:
            path = Path(root) / name
            if not path.is_file():
                continue
            relative = path.relative_to(source).as_posix()
            found.append(InputFile(path, relative, target / f"{relative}.out"))
    if not found:
        raise UsageError(f"-i/--input {input_dir} holds no files", "put the input files in it")
    return sorted(found, key=lambda item: item.relative)


@dataclass(frozen=True)
class Batch:
    """One request's payload: lines `first`..`last` of a file (0, 0 for a whole file)."""

    first: int
    last: int
    payload: bytes


def _too_large(item: InputFile, what: str, size: int, limit_mb: int, hint: str) -> JobFailedError:
    return JobFailedError(
        f"{item.relative}: {what} is {size / MB:.1f} MB, over the {limit_mb} MB payload limit "
        "(SageMaker fails the job the same way)",
        hint,
    )


def read_batches(item: InputFile, settings: TransformSettings) -> Iterator[Batch]:
    """The requests for one file, in order. Blank lines are not records."""
    limit = settings.max_payload_bytes
    if settings.split_type == "None":
        size = item.path.stat().st_size
        if size > limit:
            raise _too_large(
                item,
                "the file",
                size,
                settings.max_payload_mb,
                "--split-type Line sends it line by line; or raise --max-payload "
                f"(at most {MAX_PAYLOAD_MB})",
            )
        yield Batch(0, 0, item.path.read_bytes())
        return
    single = settings.strategy == "SingleRecord"
    parts: list[bytes] = []
    size = 0
    first = last = number = 0
    with item.path.open("rb") as handle:
        for line in handle:
            number += 1
            if not line.strip(b"\r\n"):
                continue
            if len(line) > limit:
                raise _too_large(
                    item,
                    f"line {number}",
                    len(line),
                    settings.max_payload_mb,
                    f"raise --max-payload (at most {MAX_PAYLOAD_MB}) or make the record smaller",
                )
            if single:
                yield Batch(number, number, line)
                continue
            if parts and size + len(line) > limit:
                yield Batch(first, last, b"".join(parts))
                parts, size = [], 0
            if not parts:
                first = number
            parts.append(line)
            size += len(line)
            last = number
    if parts:
        yield Batch(first, last, b"".join(parts))


# -- the requests ---------------------------------------------------------------------------


@dataclass
class Answer:
    status: int
    body: bytes


class InvocationClient:
    """POST /invocations over one keep-alive connection per thread (stdlib http.client)."""

    def __init__(self, url: str, settings: TransformSettings) -> None:
        parsed = urllib.parse.urlsplit(url)
        self.host = parsed.hostname or "127.0.0.1"
        self.port = parsed.port or 80
        self.headers: dict[str, str] = {}
        if settings.content_type:
            self.headers["Content-Type"] = settings.content_type
        if settings.accept:
            self.headers["Accept"] = settings.accept
        self._local = threading.local()
        self._opened: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()

    def _connection(self) -> http.client.HTTPConnection:
        connection: http.client.HTTPConnection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = http.client.HTTPConnection(
                self.host, self.port, timeout=INVOCATION_TIMEOUT_SECONDS
            )
            self._local.connection = connection
            with self._lock:
                self._opened.append(connection)
        return connection

    def invoke(self, payload: bytes) -> Answer:
        """The server's answer; a dropped keep-alive connection is retried once."""
        for attempt in (1, 2):
            connection = self._connection()
            try:
                connection.request("POST", "/invocations", body=payload, headers=self.headers)
                response = connection.getresponse()
                return Answer(response.status, response.read())
            except (http.client.HTTPException, ConnectionError) as exc:
                connection.close()
                self._local.connection = None
                if attempt == 2:
                    return Answer(0, f"no answer ({type(exc).__name__}: {exc})".encode())
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        with self._lock:
            for connection in self._opened:
                connection.close()
            self._opened.clear()


def fetch_execution_parameters(url: str, timeout: float = 5.0) -> dict[str, Any] | None:
    """The container's GET /execution-parameters, or None when it has none (any non-200)."""
    parsed = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parsed.hostname or "", parsed.port, timeout=timeout)
    try:
        connection.request("GET", "/execution-parameters")
        response = connection.getresponse()
        body = response.read()
        if response.status != 200:
            return None
        found = json.loads(body)
    except (OSError, http.client.HTTPException, ValueError):
        return None
    finally:
        connection.close()
    return found if isinstance(found, dict) else None


def _first_line(body: bytes, limit: int = 300) -> str:
    text = body.decode("utf-8", "replace").strip()
    line = text.splitlines()[0] if text else "(empty answer)"
    return line[:limit]


# -- the job --------------------------------------------------------------------------------


@dataclass
class TransformReport:
    files: int = 0
    records: int = 0
    requests: int = 0
    seconds: float = 0.0
    outputs: list[Path] = field(default_factory=list)


class _Output:
    """One `.out` file being written: a temp file beside the target, renamed when complete."""

    def __init__(self, item: InputFile) -> None:
        self.item = item
        item.target.parent.mkdir(parents=True, exist_ok=True)
        self.temp = item.target.with_name(f".{item.target.name}.{os.getpid()}.tmp")
        self.handle: IO[bytes] | None = self.temp.open("wb")

    def write(self, data: bytes) -> None:
        assert self.handle is not None
        self.handle.write(data)

    def commit(self) -> None:
        assert self.handle is not None
        self.handle.close()
        self.handle = None
        os.replace(self.temp, self.item.target)

    def abort(self) -> None:
        if self.handle is not None:
            self.handle.close()
            self.handle = None
        self.temp.unlink(missing_ok=True)


@dataclass
class _Pending:
    output: _Output
    batch: Batch | None  # None: the file's end
    future: Future[Answer] | None = None


def transform_files(
    url: str,
    files: list[InputFile],
    settings: TransformSettings,
    *,
    on_progress: Callable[[TransformReport], None] | None = None,
) -> TransformReport:
    """Send every file's records to the server at `url`; write the `.out` files."""
    report = TransformReport()
    started = time.monotonic()
    last_note = started
    client = InvocationClient(url, settings)
    line_after = settings.assemble_with == "Line"
    window: deque[_Pending] = deque()
    open_outputs: list[_Output] = []
    depth = settings.max_concurrent * 2
    pool = ThreadPoolExecutor(settings.max_concurrent, thread_name_prefix="easy_sm-transform")

    def drain_one() -> None:
        nonlocal last_note
        pending = window.popleft()
        if pending.batch is None:
            pending.output.commit()
            open_outputs.remove(pending.output)
            report.files += 1
            report.outputs.append(pending.output.item.target)
            return
        assert pending.future is not None
        answer = pending.future.result()
        if answer.status != 200:
            raise _failed(pending.output.item, pending.batch, answer)
        pending.output.write(answer.body)
        if line_after and not answer.body.endswith(b"\n"):
            pending.output.write(b"\n")
        report.requests += 1
        batch = pending.batch
        report.records += batch.last - batch.first + 1 if batch.first else 1
        now = time.monotonic()
        if on_progress is not None and now - last_note >= PROGRESS_EVERY_SECONDS:
            last_note = now
            report.seconds = now - started
            on_progress(report)

    try:
        for item in files:
            output = _Output(item)
            open_outputs.append(output)
            for batch in read_batches(item, settings):
                future = pool.submit(client.invoke, batch.payload)
                window.append(_Pending(output, batch, future))
                while len(window) > depth:
                    drain_one()
            window.append(_Pending(output, None))
        while window:
            drain_one()
    finally:
        pool.shutdown(wait=not window, cancel_futures=True)
        for output in open_outputs:
            output.abort()
        client.close()
    report.seconds = time.monotonic() - started
    return report


def _failed(item: InputFile, batch: Batch, answer: Answer) -> JobFailedError:
    where = item.relative
    if batch.first == batch.last != 0:
        where += f" (line {batch.first})"
    elif batch.first:
        where += f" (lines {batch.first}-{batch.last})"
    who = f"the model server answered {answer.status}" if answer.status else "the model server"
    return JobFailedError(
        f"batch transform failed on {where}: {who}: {_first_line(answer.body)}",
        "fix the input or inference.py (the server's log is above), then run it again",
    )


def transform_spec(serving: RunSpec, options: TransformOptions) -> RunSpec:
    """The serving container `spec` as a transform job runs it: the batch variables set, and a
    kind of its own (so `local stop` leaves a running transform alone)."""
    env = {**serving.environment, **options.container_environment()}
    return replace(serving, kind="transform", name="", environment=env, labels={}, ports={})


def free_port() -> int:
    """A port on 127.0.0.1 nothing listens on right now."""
    import socket

    for _ in range(20):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port_is_free(port):
            return port
    raise UsageError("no free port on 127.0.0.1", "stop some local servers")  # pragma: no cover


def run_batch_transform(
    engine: Any,
    spec: RunSpec,
    files: list[InputFile],
    options: TransformOptions,
    *,
    timeout: float,
    on_server_start: Callable[[], None] | None = None,
    on_log: Callable[[str], None] | None = None,
    on_start: Callable[[TransformSettings], None] | None = None,
    on_progress: Callable[[TransformReport], None] | None = None,
    on_failure_log: Callable[[str], None] | None = None,
) -> TransformReport:
    """Start the serving container on a free port, transform `files`, and remove the container
    (on success, failure and Ctrl-C). `on_server_start` is called once the container has
    started, `on_start` once the settings are known, `on_log` with the log of a server that
    never turned healthy, `on_failure_log` with the log's tail when a request failed."""
    from easy_sm.docker.containers import start_server
    from easy_sm.errors import InterruptedByUser

    url = start_server(
        engine, spec, free_port(), timeout=timeout, on_start=on_server_start, on_log=on_log
    )
    try:
        settings = resolve_settings(options, fetch_execution_parameters(url))
        if on_start is not None:
            on_start(settings)
        try:
            return transform_files(url, files, settings, on_progress=on_progress)
        except JobFailedError:
            if on_failure_log is not None:
                log = _container_log(engine, spec.name)
                if log:
                    on_failure_log(log)
            raise
        except KeyboardInterrupt:
            raise InterruptedByUser(
                "interrupted: the transform stopped and its container was removed",
                "finished .out files were kept; run it again to redo the rest",
            ) from None
    finally:
        remove_container(engine, spec.name)


def _container_log(engine: Any, name: str) -> str:
    """The last lines of the container's log, or "" when it cannot be read (the job's own
    error matters more)."""
    import docker.errors

    from easy_sm.docker.containers import tail_logs

    try:
        return tail_logs(engine.containers.get(name))
    except docker.errors.DockerException:
        return ""


def remove_container(engine: Any, name: str) -> None:
    """Remove the container `name` at once (SIGKILL): nothing is in flight any more."""
    import docker.errors

    from easy_sm.docker.engine import docker_errors

    with docker_errors(f"removing {name}"):
        try:
            engine.containers.get(name).remove(force=True)
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as exc:
            if exc.status_code != 409:  # 409: removal already in progress
                raise
