"""The template's model server (prediction/wsgi.py), called in-process as a WSGI app with the
example model trained by the template's training.py."""

from __future__ import annotations

import importlib.util
import io
import json
import logging
import threading
import types
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

TEMPLATE = Path(__file__).resolve().parents[2] / "easy_sm" / "template" / "easy_sm_base"
PREDICTION = TEMPLATE / "prediction"
IRIS = TEMPLATE / "local_test" / "test_dir" / "input" / "data" / "training"
SETOSA = "5.1,3.5,1.4,0.2"
VIRGINICA = "6.7,3.0,5.2,2.3"


def load(path: Path, name: str) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


wsgi = load(PREDICTION / "wsgi.py", "easy_sm_template_wsgi")


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example model, trained once by the template's training.py."""
    training = load(TEMPLATE / "training" / "training.py", "easy_sm_template_training")
    directory = tmp_path_factory.mktemp("model")
    training.train(str(IRIS), str(directory))
    return directory


@pytest.fixture(scope="module")
def inference() -> types.ModuleType:
    return load(PREDICTION / "inference.py", "easy_sm_template_inference")


def make_server(hooks: Any, model_dir: Path | str, **options: Any) -> Any:
    server = wsgi.ModelServer(hooks, str(model_dir), **options)
    server.load()
    return server


@pytest.fixture
def server(inference: types.ModuleType, model_dir: Path) -> Any:
    return make_server(inference, model_dir)


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode()


def call(
    app: Callable[..., Any],
    method: str,
    path: str,
    body: bytes = b"",
    *,
    content_type: str | None = "text/csv",
    accept: str | None = None,
    chunked: bool = False,
) -> Answer:
    """One request through the WSGI interface, as gunicorn would make it."""
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "wsgi.input": io.BytesIO(body),
    }
    if content_type is not None:
        environ["CONTENT_TYPE"] = content_type
    if accept is not None:
        environ["HTTP_ACCEPT"] = accept
    if not chunked:
        environ["CONTENT_LENGTH"] = str(len(body))
    seen: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        seen["status"] = int(status.split()[0])
        seen["headers"] = dict(headers)

    chunks = app(environ, start_response)
    answer = Answer(seen["status"], seen["headers"], b"".join(chunks))
    assert answer.headers["Content-Length"] == str(len(answer.body))
    return answer


def invoke(app: Callable[..., Any], body: str | bytes, **kwargs: Any) -> Answer:
    data = body.encode() if isinstance(body, str) else body
    return call(app, "POST", "/invocations", data, **kwargs)


# -- health and parameters ----------------------------------------------------------------------
def test_ping_answers_503_while_the_model_loads_and_200_once_loaded(model_dir: Path) -> None:
    release = threading.Event()

    def slow_model_fn(directory: str) -> object:
        release.wait(10)
        return object()

    server = wsgi.ModelServer(types.SimpleNamespace(model_fn=slow_model_fn), str(model_dir))
    loader = server.load_in_background()
    loading = call(server, "GET", "/ping")
    assert (loading.status, loading.text) == (503, "model loading\n")
    release.set()
    loader.join(10)
    assert call(server, "GET", "/ping").status == 200
    assert call(server, "HEAD", "/ping").status == 200


def test_invocations_wait_for_a_model_that_is_still_loading(model_dir: Path) -> None:
    release = threading.Event()
    hooks = types.SimpleNamespace(
        model_fn=lambda directory: release.wait(10) and "model",
        predict_fn=lambda data, model: np.array([f"{model}:{len(data)}"]),
    )
    server = wsgi.ModelServer(hooks, str(model_dir))
    server.load_in_background()
    threading.Timer(0.2, release.set).start()
    answer = invoke(server, f"{SETOSA}\n{SETOSA}")
    assert (answer.status, answer.text) == (200, "model:2\n")


def test_ping_is_200_only_once_every_worker_has_loaded_and_then_stays_200(
    model_dir: Path,
) -> None:
    readiness = wsgi.Readiness(2)
    first_slot, second_slot = readiness.claim_slot(), readiness.claim_slot()
    hooks = types.SimpleNamespace(model_fn=lambda directory: "model")
    first = wsgi.ModelServer(hooks, str(model_dir), readiness=readiness, slot=first_slot)
    second = wsgi.ModelServer(hooks, str(model_dir), readiness=readiness, slot=second_slot)

    first.load()
    assert call(first, "GET", "/ping").status == 503  # loaded, but its sibling is not
    assert call(second, "GET", "/ping").status == 503
    second.load()
    assert [call(app, "GET", "/ping").status for app in (first, second)] == [200, 200]

    # The second worker exits (crash, restart); its replacement has not loaded yet.
    readiness.release_slot(second_slot)
    replacement = wsgi.ModelServer(
        hooks, str(model_dir), readiness=readiness, slot=readiness.claim_slot()
    )
    assert [call(app, "GET", "/ping").status for app in (first, replacement)] == [200, 200]


def test_a_worker_replaced_before_the_server_was_ready_is_waited_for(model_dir: Path) -> None:
    readiness = wsgi.Readiness(2)
    first, second = readiness.claim_slot(), readiness.claim_slot()
    readiness.mark_loaded(first)
    readiness.release_slot(second)  # exited while loading
    readiness.mark_loaded(readiness.claim_slot())  # its replacement loaded
    assert readiness.is_ready()
    again = wsgi.Readiness(2)
    loaded = again.claim_slot()
    again.mark_loaded(loaded)
    again.release_slot(loaded)  # loaded, then exited: it no longer counts
    again.claim_slot()
    again.mark_loaded(again.claim_slot())
    assert not again.is_ready()


def test_a_failing_model_fn_is_logged_reported_and_keeps_ping_at_503(
    model_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def broken_model_fn(directory: str) -> object:
        raise FileNotFoundError(f"{directory}/model.joblib")

    failures: list[BaseException] = []
    server = wsgi.ModelServer(
        types.SimpleNamespace(model_fn=broken_model_fn),
        str(model_dir),
        load_wait_seconds=0.1,
        on_load_failure=failures.append,
    )
    with caplog.at_level(logging.ERROR, logger="easy_sm.serve"):
        server.load()
    assert [type(exc) for exc in failures] == [FileNotFoundError]
    assert "Traceback" in caplog.text and "FileNotFoundError" in caplog.text
    ping = call(server, "GET", "/ping")
    assert (ping.status, ping.text) == (503, "model failed to load\n")
    answer = invoke(server, SETOSA)
    assert answer.status == 503
    assert "failed to load" in answer.text


def test_execution_parameters_describe_batch_transform_defaults(
    inference: types.ModuleType, model_dir: Path
) -> None:
    server = make_server(inference, model_dir, max_payload_mb=6, max_concurrent_transforms=3)
    answer = call(server, "GET", "/execution-parameters")
    assert answer.status == 200
    assert answer.headers["Content-Type"] == "application/json"
    assert json.loads(answer.body) == {
        "MaxConcurrentTransforms": 3,
        "BatchStrategy": "MULTI_RECORD",
        "MaxPayloadInMB": 6,
    }


# -- predictions -----------------------------------------------------------------------------
def test_csv_records_get_one_csv_prediction_line_each(server: Any) -> None:
    answer = invoke(server, f"{SETOSA}\n{VIRGINICA}\n")
    assert answer.status == 200
    assert answer.headers["Content-Type"] == "text/csv"
    assert answer.text == "setosa\nvirginica\n"


def test_a_multi_record_batch_of_many_csv_lines_is_predicted_in_order(server: Any) -> None:
    lines = [SETOSA, VIRGINICA] * 2500
    answer = invoke(server, "\r\n".join(lines) + "\r\n", content_type="text/csv; charset=utf-8")
    assert answer.status == 200
    assert answer.text.splitlines() == ["setosa", "virginica"] * 2500


@pytest.mark.parametrize(
    "payload",
    [
        f"[[{SETOSA}], [{VIRGINICA}]]",
        f'{{"instances": [[{SETOSA}], [{VIRGINICA}]]}}',
        f'{{"instances": [{{"features": [{SETOSA}]}}, {{"features": [{VIRGINICA}]}}]}}',
    ],
    ids=["list-of-records", "instances", "instances-of-features"],
)
def test_json_requests_get_json_predictions_when_accepted(server: Any, payload: str) -> None:
    answer = invoke(server, payload, content_type="application/json", accept="application/json")
    assert answer.status == 200
    assert answer.headers["Content-Type"] == "application/json"
    assert json.loads(answer.body) == {"predictions": ["setosa", "virginica"]}


def test_a_single_json_record_is_one_prediction(server: Any) -> None:
    answer = invoke(server, f"[{VIRGINICA}]", content_type="application/json")
    assert (answer.status, answer.text) == (200, "virginica\n")


def test_json_lines_in_and_out(server: Any) -> None:
    answer = invoke(
        server,
        f"[{SETOSA}]\n[{VIRGINICA}]\n",
        content_type="application/jsonlines",
        accept="application/jsonlines",
    )
    assert answer.status == 200
    assert answer.text == '"setosa"\n"virginica"\n'


@pytest.mark.parametrize(
    ("accept", "content_type"),
    [
        (None, "text/csv"),
        ("*/*", "text/csv"),
        ("text/csv", "text/csv"),
        ("application/json", "application/json"),
        ("text/html;q=0.9, application/json;q=0.8, */*;q=0.1", "application/json"),
        ("application/json;q=0.2, text/csv", "text/csv"),
        ("application/*", "application/json"),
    ],
)
def test_accept_header_chooses_the_response_type(
    server: Any, accept: str | None, content_type: str
) -> None:
    answer = invoke(server, SETOSA, accept=accept)
    assert answer.status == 200
    assert answer.headers["Content-Type"] == content_type


def test_requests_without_content_type_are_read_as_csv(server: Any) -> None:
    answer = invoke(server, SETOSA, content_type=None)
    assert (answer.status, answer.text) == (200, "setosa\n")


# -- bad requests: a clear 4xx, and the server keeps serving ---------------------------------
@pytest.mark.parametrize(
    ("body", "content_type", "accept", "status", "message"),
    [
        (SETOSA, "text/plain", None, 415, "unsupported content type 'text/plain'"),
        (SETOSA, "image/png", None, 415, "send text/csv, application/json"),
        ("5.1,abc,1.4,0.2", "text/csv", None, 400, "could not convert string to float: 'abc'"),
        (
            f"sepal_length,sepal_width,petal_length,petal_width\n{SETOSA}",
            "text/csv",
            None,
            400,
            "the first CSV line is a header row ('sepal_length,sepal_width,petal_length,"
            "petal_width'): send data rows only, without the header (drop it with `tail -n +2",
        ),
        (f"{SETOSA}\n1.0,2.0,3.0", "text/csv", None, 400, "line 2 has 3 values, line 1 has 4"),
        ("", "text/csv", None, 400, "empty text/csv payload"),
        ("  \n", "text/csv", None, 400, "empty text/csv payload"),
        (b"\xff\xfe1,2", "text/csv", None, 400, "not UTF-8"),
        ("[[5.1, 3.5", "application/json", None, 400, "malformed application/json payload"),
        ('{"rows": [[1, 2, 3, 4]]}', "application/json", None, 400, '"instances"'),
        ('[["a", "b", "c", "d"]]', "application/json", None, 400, "malformed application/json"),
        ("[[1, 2], [1, 2, 3]]", "application/json", None, 400, "malformed application/json"),
        ("1.0,2.0,3.0", "text/csv", None, 400, "the model expects 4, got 3"),
        ("[[1, 2, 3, 4, 5]]", "application/json", None, 400, "the model expects 4, got 5"),
        (SETOSA, "text/csv", "image/png", 406, "cannot answer in 'image/png'"),
        (SETOSA, "text/csv", "text/csv;q=0, text/html", 406, "accept text/csv (default)"),
    ],
    ids=[
        "text-plain",
        "image",
        "not-a-number",
        "csv-header-row",
        "ragged-csv",
        "empty",
        "blank",
        "not-utf8",
        "truncated-json",
        "json-object-without-instances",
        "json-strings",
        "ragged-json",
        "too-few-features",
        "too-many-features",
        "unacceptable-accept",
        "csv-refused-by-q0",
    ],
)
def test_bad_requests_get_a_clear_4xx_and_the_next_request_succeeds(
    server: Any,
    body: str | bytes,
    content_type: str,
    accept: str | None,
    status: int,
    message: str,
) -> None:
    answer = invoke(server, body, content_type=content_type, accept=accept)
    assert answer.status == status
    assert answer.headers["Content-Type"].startswith("text/plain")
    assert answer.text.startswith(f"{status} ")
    assert message in answer.text
    assert invoke(server, SETOSA).text == "setosa\n"


def test_a_payload_over_the_limit_is_refused_with_413(
    inference: types.ModuleType, model_dir: Path
) -> None:
    server = make_server(inference, model_dir, max_payload_mb=1)
    body = (SETOSA + "\n").encode() * (1024 * 1024 // 16 + 1)
    assert len(body) > 1024 * 1024
    answer = invoke(server, body)
    assert answer.status == 413
    assert "SAGEMAKER_MAX_PAYLOAD_IN_MB=1" in answer.text
    chunked = invoke(server, body, chunked=True)
    assert chunked.status == 413
    just_under = body[: 1024 * 1024 - 1024]
    just_under = just_under[: just_under.rindex(b"\n") + 1]
    assert invoke(server, just_under, chunked=True).status == 200


def test_a_model_error_answers_500_logs_the_traceback_and_serving_goes_on(
    server: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="easy_sm.serve"):
        answer = invoke(server, "nan,3.5,1.4,0.2")
    assert answer.status == 500
    assert answer.text.startswith("500 Internal Server Error: model error: ValueError: Input X")
    assert "traceback in the server log" in answer.text
    assert "Traceback (most recent call last)" in caplog.text
    assert "prediction failed for a 15-byte text/csv request" in caplog.text
    assert invoke(server, VIRGINICA).text == "virginica\n"


@pytest.mark.parametrize(
    ("method", "path", "status", "allow"),
    [
        ("GET", "/invocations", 405, "POST"),
        ("POST", "/ping", 405, "GET, HEAD"),
        ("POST", "/execution-parameters", 405, "GET, HEAD"),
        ("GET", "/predict", 404, None),
    ],
)
def test_unknown_paths_and_methods_are_refused(
    server: Any, method: str, path: str, status: int, allow: str | None
) -> None:
    answer = call(server, method, path)
    assert answer.status == status
    assert answer.headers.get("Allow") == allow


# -- the user's optional hooks -----------------------------------------------------------------
def test_user_input_fn_and_output_fn_replace_the_built_in_ones(
    inference: types.ModuleType, model_dir: Path
) -> None:
    def input_fn(body: bytes, content_type: str) -> Any:
        if content_type != "text/plain":
            raise ValueError(f"only text/plain, not {content_type}")
        return np.array([[float(v) for v in body.split()]])

    def output_fn(predictions: Any, accept: str) -> tuple[str, str]:
        return f"<{predictions[0]}>", "text/x-label"

    hooks = types.SimpleNamespace(
        model_fn=inference.model_fn,
        predict_fn=inference.predict_fn,
        input_fn=input_fn,
        output_fn=output_fn,
    )
    server = make_server(hooks, model_dir)
    answer = invoke(server, "5.1 3.5 1.4 0.2", content_type="text/plain", accept="text/x-label")
    assert (answer.status, answer.text) == (200, "<setosa>")
    assert answer.headers["Content-Type"] == "text/x-label"
    refused = invoke(server, SETOSA, content_type="text/csv")
    assert refused.status == 400
    assert "only text/plain, not text/csv" in refused.text


def test_user_output_fn_returning_bytes_is_sent_as_the_accepted_type(
    inference: types.ModuleType, model_dir: Path
) -> None:
    hooks = types.SimpleNamespace(
        model_fn=inference.model_fn,
        predict_fn=inference.predict_fn,
        output_fn=lambda predictions, accept: "|".join(predictions).encode(),
    )
    server = make_server(hooks, model_dir)
    answer = invoke(server, f"{SETOSA}\n{VIRGINICA}", accept="application/x-labels")
    assert (answer.status, answer.text) == (200, "setosa|virginica")
    assert answer.headers["Content-Type"] == "application/x-labels"
    default = invoke(server, SETOSA)
    assert default.headers["Content-Type"] == "text/csv"


def test_hooks_can_answer_with_a_chosen_status(model_dir: Path) -> None:
    def predict_fn(data: Any, model: Any) -> Any:
        raise wsgi.HttpError(422, "records must be sorted")

    server = make_server(
        types.SimpleNamespace(model_fn=lambda directory: "m", predict_fn=predict_fn), model_dir
    )
    answer = invoke(server, SETOSA)
    assert answer.status == 422
    assert answer.text == "422 Error: records must be sorted\n"


def test_multi_column_predictions_are_written_as_csv_rows(model_dir: Path) -> None:
    hooks = types.SimpleNamespace(
        model_fn=lambda directory: "m",
        predict_fn=lambda data, model: np.round(data[:, :2] * 2, 1),
    )
    server = make_server(hooks, model_dir)
    assert invoke(server, f"{SETOSA}\n{VIRGINICA}").text == "10.2,7.0\n13.4,6.0\n"
