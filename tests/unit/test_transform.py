"""The batch transform engine (easy_sm/docker/transform.py) against an in-process HTTP server:
splitting, batching, ordering, settings precedence, failures and whole-file writes."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from easy_sm.docker.transform import (
    MB,
    InputFile,
    TransformOptions,
    TransformSettings,
    plan_files,
    read_batches,
    resolve_settings,
    transform_files,
)
from easy_sm.errors import JobFailedError, UsageError


class Recorder:
    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self.headers: list[dict[str, str]] = []
        self.lock = threading.Lock()
        self.in_flight = 0
        self.most_in_flight = 0
        self.delay = 0.0


def make_handler(recorder: Recorder) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            import time

            body = self.rfile.read(int(self.headers["Content-Length"]))
            with recorder.lock:
                recorder.bodies.append(body)
                recorder.headers.append(dict(self.headers))
                recorder.in_flight += 1
                recorder.most_in_flight = max(recorder.most_in_flight, recorder.in_flight)
            time.sleep(recorder.delay)
            with recorder.lock:
                recorder.in_flight -= 1
            if b"bad" in body:
                answer, status = b"400 Bad Request: wrong number of features\n", 400
            else:
                # one answer line per record: the record upper-cased
                answer = b"".join(
                    line.strip().upper() + b"\n" for line in body.splitlines() if line.strip()
                )
                status = 200
            self.send_response(status)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

    return Handler


@pytest.fixture
def server() -> Iterator[tuple[str, Recorder]]:
    recorder = Recorder()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(recorder))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", recorder
    finally:
        httpd.shutdown()
        httpd.server_close()


def settings(**changes: object) -> TransformSettings:
    base: dict[str, object] = {
        "content_type": "text/csv",
        "accept": None,
        "split_type": "Line",
        "strategy": "MultiRecord",
        "max_payload_mb": 6,
        "max_concurrent": 1,
        "assemble_with": "None",
    }
    base.update(changes)
    return TransformSettings(**base)  # type: ignore[arg-type]


def one_file(tmp_path: Path, content: bytes, name: str = "in.csv") -> InputFile:
    path = tmp_path / name
    path.write_bytes(content)
    return InputFile(path, name, tmp_path / "out" / f"{name}.out")


# -- settings -------------------------------------------------------------------------------


def test_flags_win_over_execution_parameters_which_win_over_sagemaker_defaults() -> None:
    params = {"BatchStrategy": "SINGLE_RECORD", "MaxPayloadInMB": 3, "MaxConcurrentTransforms": 4}
    from_container = resolve_settings(TransformOptions(), params)
    assert (from_container.strategy, from_container.max_payload_mb) == ("SingleRecord", 3)
    assert from_container.max_concurrent == 4
    flags = TransformOptions(strategy="MultiRecord", max_payload_mb=10, max_concurrent=2)
    from_flags = resolve_settings(flags, params)
    assert (from_flags.strategy, from_flags.max_payload_mb, from_flags.max_concurrent) == (
        "MultiRecord",
        10,
        2,
    )
    defaults = resolve_settings(TransformOptions(), None)
    assert (defaults.strategy, defaults.max_payload_mb, defaults.max_concurrent) == (
        "MultiRecord",
        6,
        1,
    )


def test_nonsense_execution_parameters_fall_back_to_the_defaults() -> None:
    params = {"BatchStrategy": "ALL", "MaxPayloadInMB": "x", "MaxConcurrentTransforms": 0}
    resolved = resolve_settings(TransformOptions(), params)
    assert (resolved.strategy, resolved.max_payload_mb, resolved.max_concurrent) == (
        "MultiRecord",
        6,
        1,
    )


def test_concurrency_times_payload_over_100_mb_is_refused_as_sagemaker_does() -> None:
    with pytest.raises(UsageError, match="over SageMaker's 100 MB"):
        TransformOptions(max_payload_mb=20, max_concurrent=6).validate()
    TransformOptions(max_payload_mb=20, max_concurrent=5).validate()


def test_only_the_given_settings_reach_the_container_environment() -> None:
    assert TransformOptions().container_environment() == {"SAGEMAKER_BATCH": "true"}
    env = TransformOptions(
        strategy="SingleRecord", max_payload_mb=2, max_concurrent=3
    ).container_environment()
    assert env == {
        "SAGEMAKER_BATCH": "true",
        "SAGEMAKER_BATCH_STRATEGY": "SINGLE_RECORD",
        "SAGEMAKER_MAX_PAYLOAD_IN_MB": "2",
        "SAGEMAKER_MAX_CONCURRENT_TRANSFORMS": "3",
    }


# -- files and batches ----------------------------------------------------------------------


def test_plan_files_mirrors_the_input_tree_in_key_order(tmp_path: Path) -> None:
    source = tmp_path / "in"
    (source / "b" / "c").mkdir(parents=True)
    for name in ("z.csv", "a.csv", "b/x.csv", "b/c/y.csv"):
        (source / name).write_text("1\n")
    planned = plan_files(source, tmp_path / "out")
    assert [f.relative for f in planned] == ["a.csv", "b/c/y.csv", "b/x.csv", "z.csv"]
    assert planned[1].target == (tmp_path / "out" / "b" / "c" / "y.csv.out").resolve()


def test_plan_files_refuses_an_output_inside_the_input_and_an_empty_input(tmp_path: Path) -> None:
    source = tmp_path / "in"
    source.mkdir()
    with pytest.raises(UsageError, match="holds no files"):
        plan_files(source, tmp_path / "out")
    (source / "a.csv").write_text("1\n")
    with pytest.raises(UsageError, match="is inside -i/--input"):
        plan_files(source, source / "out")
    with pytest.raises(UsageError, match="does not exist"):
        plan_files(tmp_path / "missing", tmp_path / "out")


def test_multi_record_packs_lines_up_to_the_payload_limit(tmp_path: Path) -> None:
    line = b"x" * (MB // 3 - 1) + b"\n"  # three fit in 1 MB, four do not
    item = one_file(tmp_path, line * 7)
    batches = list(read_batches(item, settings(max_payload_mb=1)))
    assert [(b.first, b.last) for b in batches] == [(1, 3), (4, 6), (7, 7)]
    assert all(len(b.payload) <= MB for b in batches)
    assert b"".join(b.payload for b in batches) == line * 7


def test_single_record_sends_one_line_per_request_and_skips_blank_lines(tmp_path: Path) -> None:
    item = one_file(tmp_path, b"a\n\nb\r\nc")
    batches = list(read_batches(item, settings(strategy="SingleRecord")))
    assert [(b.first, b.last, b.payload) for b in batches] == [
        (1, 1, b"a\n"),
        (3, 3, b"b\r\n"),
        (4, 4, b"c"),
    ]


def test_a_record_over_the_payload_limit_fails_the_job(tmp_path: Path) -> None:
    item = one_file(tmp_path, b"ok\n" + b"x" * (MB + 1) + b"\n")
    with pytest.raises(JobFailedError, match=r"in.csv: line 2 is 1.0 MB, over the 1 MB payload"):
        list(read_batches(item, settings(max_payload_mb=1)))
    with pytest.raises(JobFailedError, match=r"in.csv: the file is 1.0 MB.*--split-type Line"):
        list(read_batches(item, settings(max_payload_mb=1, split_type="None")))


# -- the transform --------------------------------------------------------------------------


def test_outputs_hold_each_records_answer_in_input_order_with_requests_in_parallel(
    tmp_path: Path, server: tuple[str, Recorder]
) -> None:
    url, recorder = server
    recorder.delay = 0.02
    files = [
        one_file(tmp_path, b"".join(b"r%d-%d\n" % (f, i) for i in range(40)), f"{f}.csv")
        for f in range(3)
    ]
    chosen = settings(strategy="SingleRecord", max_concurrent=4, accept="text/csv")
    report = transform_files(url, files, chosen)
    assert (report.files, report.records, report.requests) == (3, 120, 120)
    for f, item in enumerate(files):
        expected = b"".join(b"R%d-%d\n" % (f, i) for i in range(40))
        assert item.target.read_bytes() == expected
    assert recorder.most_in_flight == 4
    assert recorder.headers[0]["Content-Type"] == "text/csv"
    assert recorder.headers[0]["Accept"] == "text/csv"
    assert not list((tmp_path / "out").glob(".*.tmp"))


def test_assemble_with_line_adds_a_newline_only_where_an_answer_lacks_one(
    tmp_path: Path, server: tuple[str, Recorder]
) -> None:
    url, _ = server
    item = one_file(tmp_path, b"a\nb\n")
    transform_files(url, [item], settings(split_type="None", assemble_with="Line"))
    assert item.target.read_bytes() == b"A\nB\n"


def test_a_failed_request_fails_the_job_naming_the_file_and_lines_and_leaves_no_partial_file(
    tmp_path: Path, server: tuple[str, Recorder]
) -> None:
    url, _ = server
    good = one_file(tmp_path, b"a\nb\n", "a.csv")
    bad = one_file(tmp_path, b"c\nd\nbad\ne\n", "b.csv")
    with pytest.raises(JobFailedError) as failure:
        transform_files(url, [good, bad], settings(strategy="SingleRecord", max_concurrent=2))
    assert str(failure.value).startswith(
        "batch transform failed on b.csv (line 3): the model server answered 400: "
        "400 Bad Request: wrong number of features"
    )
    assert good.target.read_bytes() == b"A\nB\n"
    assert not bad.target.exists()
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["a.csv.out"]


def test_a_failed_mini_batch_names_its_line_range(
    tmp_path: Path, server: tuple[str, Recorder]
) -> None:
    url, _ = server
    item = one_file(tmp_path, b"a\n\nbad\nc\n")
    with pytest.raises(
        JobFailedError, match=r"in.csv \(lines 1-4\): the model server answered 400"
    ):
        transform_files(url, [item], settings())


def test_an_unreachable_server_fails_the_job(tmp_path: Path) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    item = one_file(tmp_path, b"a\n")
    with pytest.raises(JobFailedError, match=r"in\.csv \(line 1\): the model server: no answer"):
        transform_files(f"http://127.0.0.1:{port}", [item], settings())


def test_execution_parameters_are_read_from_the_server(tmp_path: Path) -> None:
    from easy_sm.docker.transform import fetch_execution_parameters

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            body = json.dumps({"BatchStrategy": "SINGLE_RECORD"}).encode()
            self.send_response(200 if self.path == "/execution-parameters" else 404)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}"
        assert fetch_execution_parameters(url) == {"BatchStrategy": "SINGLE_RECORD"}
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert fetch_execution_parameters(url) is None  # nobody listens any more
