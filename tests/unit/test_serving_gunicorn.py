"""The template's `prediction/serve` run as a real gunicorn server on 127.0.0.1 (no Docker):
settings from the SageMaker environment variables, HTTP answers, SIGTERM, a failing model."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.conftest import free_port

TEMPLATE = Path(__file__).resolve().parents[2] / "easy_sm" / "template" / "easy_sm_base"
IRIS = TEMPLATE / "local_test" / "test_dir" / "input" / "data" / "training"
SETOSA = "5.1,3.5,1.4,0.2"
VIRGINICA = "6.7,3.0,5.2,2.3"

# A test-only inference.py: the example's hooks, slowed down or broken on demand.
SLOW_INFERENCE = """\
import os
import random
import time

import joblib


def model_fn(model_dir):
    jitter = random.uniform(0, float(os.environ.get("TEST_LOAD_JITTER", "0")))
    time.sleep(float(os.environ.get("TEST_LOAD_SECONDS", "0")) + jitter)
    if os.environ.get("TEST_LOAD_FAILS"):
        raise RuntimeError("cannot load the model (test)")
    return joblib.load(os.path.join(model_dir, "model.joblib"))


def predict_fn(data, model):
    time.sleep(float(os.environ.get("TEST_PREDICT_SECONDS", "0")))
    return model.predict(data)
"""


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    spec = importlib.util.spec_from_file_location(
        "easy_sm_template_training_g", TEMPLATE / "training" / "training.py"
    )
    assert spec and spec.loader
    training = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(training)
    directory = tmp_path_factory.mktemp("model")
    training.train(str(IRIS), str(directory))
    return directory


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


class Launcher:
    """Starts `serve` from a copy of the template's prediction/ folder; stops what it started."""

    def __init__(self, tmp_path: Path, model_dir: Path) -> None:
        self.tmp_path = tmp_path
        self.model_dir = model_dir
        self.started: list[subprocess.Popen[bytes]] = []

    def start(
        self, env: dict[str, str] | None = None, *, slow_hooks: bool = False, wait: bool = True
    ) -> Server:
        folder = self.tmp_path / f"prediction-{len(self.started)}"
        shutil.copytree(TEMPLATE / "prediction", folder)
        if slow_hooks:
            (folder / "inference.py").write_text(SLOW_INFERENCE, encoding="utf-8")
        port = free_port()
        log = folder / "server.log"
        process = subprocess.Popen(
            [sys.executable, str(folder / "serve")],
            env={
                **os.environ,
                "SM_MODEL_DIR": str(self.model_dir),
                "SAGEMAKER_BIND_TO_PORT": str(port),
                "EASY_SM_BIND_HOST": "127.0.0.1",
                "SAGEMAKER_MODEL_SERVER_WORKERS": "1",
                **(env or {}),
            },
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        self.started.append(process)
        server = Server(process, f"http://127.0.0.1:{port}", log)
        if wait:
            wait_until_healthy(server)
        return server

    def stop_all(self) -> None:
        for process in self.started:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(10)


@pytest.fixture
def launcher(tmp_path: Path, model_dir: Path) -> Iterator[Launcher]:
    launcher = Launcher(tmp_path, model_dir)
    try:
        yield launcher
    finally:
        launcher.stop_all()


def wait_until_healthy(server: Server, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(f"serve exited with {server.process.returncode}:\n{server.output()}")
        try:
            if requests.get(f"{server.url}/ping", timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.1)
    pytest.fail(f"serve never answered GET /ping with 200:\n{server.output()}")


def post(
    session: requests.Session | None,
    url: str,
    body: str | bytes | Iterator[bytes],
    content_type: str = "text/csv",
    accept: str | None = None,
) -> requests.Response:
    headers = {"Content-Type": content_type}
    if accept:
        headers["Accept"] = accept
    sender = session or requests
    return sender.post(f"{url}/invocations", data=body, headers=headers, timeout=30)


def test_serves_csv_and_json_and_keeps_serving_after_each_bad_request(
    launcher: Launcher,
) -> None:
    server = launcher.start()
    session = requests.Session()  # one keep-alive connection through all of it
    answer = post(session, server.url, f"{SETOSA}\n{VIRGINICA}\n")
    assert (answer.status_code, answer.text) == (200, "setosa\nvirginica\n")
    assert answer.headers["Content-Type"] == "text/csv"
    answer = post(session, server.url, f"[[{VIRGINICA}]]", "application/json", "application/json")
    assert (answer.status_code, answer.json()) == (200, {"predictions": ["virginica"]})

    bad_requests = [
        ((SETOSA, "text/plain", None), 415),
        (("1,2,x,4", "text/csv", None), 400),
        (("1,2,3", "text/csv", None), 400),
        (("{", "application/json", None), 400),
        ((SETOSA, "text/csv", "image/png"), 406),
        (("nan,3.5,1.4,0.2", "text/csv", None), 500),
    ]
    for (body, content_type, accept), status in bad_requests:
        answer = post(session, server.url, body, content_type, accept)
        assert answer.status_code == status, (body, answer.text)
        assert answer.text.startswith(f"{status} ")
        after = post(session, server.url, SETOSA)
        assert (after.status_code, after.text) == (200, "setosa\n")

    assert "Traceback (most recent call last)" in server.output()
    assert "ValueError: Input X contains NaN" in server.output()


def test_payload_over_the_limit_gets_413_and_the_connection_stays_usable(
    launcher: Launcher,
) -> None:
    server = launcher.start({"SAGEMAKER_MAX_PAYLOAD_IN_MB": "1"})
    session = requests.Session()
    big = (SETOSA + "\n").encode() * (3 * 1024 * 1024 // 16)
    answer = post(session, server.url, big)
    assert answer.status_code == 413
    assert "SAGEMAKER_MAX_PAYLOAD_IN_MB=1" in answer.text
    chunks = (big[i : i + 65536] for i in range(0, len(big), 65536))
    assert post(session, server.url, chunks).status_code == 413  # chunked upload
    assert post(session, server.url, SETOSA).text == "setosa\n"
    batch = post(session, server.url, big[: 900 * 1024])
    assert batch.status_code == 200
    assert len(batch.text.splitlines()) == 900 * 1024 // 16


def test_settings_come_from_the_sagemaker_environment_variables(launcher: Launcher) -> None:
    server = launcher.start(
        {"SAGEMAKER_MODEL_SERVER_WORKERS": "3", "SAGEMAKER_MAX_PAYLOAD_IN_MB": "2"}
    )
    answer = requests.get(f"{server.url}/execution-parameters", timeout=10)
    assert answer.json() == {
        "MaxConcurrentTransforms": 3,
        "BatchStrategy": "MULTI_RECORD",
        "MaxPayloadInMB": 2,
    }
    assert "3 worker(s)" in server.output()
    deadline = time.monotonic() + 30  # /ping is 200: all loaded; wait for the last log line
    while server.output().count("model loaded from") < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert server.output().count("model loaded from") == 3


def test_a_bad_setting_stops_the_server_with_a_clear_message(launcher: Launcher) -> None:
    server = launcher.start({"SAGEMAKER_MODEL_SERVER_WORKERS": "many"}, wait=False)
    assert server.process.wait(30) != 0
    assert "SAGEMAKER_MODEL_SERVER_WORKERS='many' must be a positive whole number" in (
        server.output()
    )


def test_ping_answers_503_fast_while_the_model_loads(launcher: Launcher) -> None:
    server = launcher.start({"TEST_LOAD_SECONDS": "4"}, slow_hooks=True, wait=False)
    statuses = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and 200 not in statuses:
        started = time.monotonic()
        try:
            statuses.append(requests.get(f"{server.url}/ping", timeout=2).status_code)
            assert time.monotonic() - started < 2.0  # the contract: within 2 s
        except requests.ConnectionError:
            pass  # not listening yet
        time.sleep(0.2)
    assert 503 in statuses
    assert statuses[-1] == 200
    assert post(None, server.url, SETOSA).text == "setosa\n"


def test_ping_stays_fast_while_a_long_prediction_runs(launcher: Launcher) -> None:
    server = launcher.start({"TEST_PREDICT_SECONDS": "4"}, slow_hooks=True)
    with ThreadPoolExecutor(1) as pool:
        slow = pool.submit(post, None, server.url, SETOSA)
        time.sleep(0.5)
        started = time.monotonic()
        assert requests.get(f"{server.url}/ping", timeout=2).status_code == 200
        assert time.monotonic() - started < 2.0  # the contract: within 2 s
        assert slow.result(30).text == "setosa\n"


def test_a_failing_model_fn_stops_the_server_with_the_traceback_in_its_log(
    launcher: Launcher,
) -> None:
    server = launcher.start(
        {"TEST_LOAD_FAILS": "1", "SAGEMAKER_MODEL_SERVER_WORKERS": "2"},
        slow_hooks=True,
        wait=False,
    )
    assert server.process.wait(30) == 3  # gunicorn's "worker failed to boot"
    output = server.output()
    assert "model_fn('" in output and "failed; the model server cannot serve" in output
    assert "RuntimeError: cannot load the model (test)" in output
    assert "HaltServer" not in output  # the cause, not gunicorn's internals


def test_sigterm_lets_the_request_in_flight_finish_then_exits(launcher: Launcher) -> None:
    server = launcher.start({"TEST_PREDICT_SECONDS": "3"}, slow_hooks=True)
    arrived = threading.Event()
    with ThreadPoolExecutor(1) as pool:

        def slow_request() -> requests.Response:
            arrived.set()
            return post(None, server.url, f"{SETOSA}\n{VIRGINICA}")

        slow: Future[requests.Response] = pool.submit(slow_request)
        arrived.wait(5)
        time.sleep(1.0)  # the request is inside predict_fn
        stopping = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        answer = slow.result(30)
        assert (answer.status_code, answer.text) == (200, "setosa\nvirginica\n")
        assert server.process.wait(30) == 0
        assert time.monotonic() - stopping < 25
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{server.url}/ping", timeout=2)
    assert "Handling signal: term" in server.output()


def test_access_log_is_off_by_default_and_on_with_easy_sm_access_log(
    launcher: Launcher,
) -> None:
    quiet = launcher.start()
    loud = launcher.start({"EASY_SM_ACCESS_LOG": "true"})
    for server in (quiet, loud):
        assert post(None, server.url, SETOSA).status_code == 200
    deadline = time.monotonic() + 10
    while '"POST /invocations HTTP/1.1" 200' not in loud.output():
        assert time.monotonic() < deadline, loud.output()
        time.sleep(0.1)
    assert "POST /invocations" not in quiet.output()


def test_execution_parameters_default_to_one_transform_per_worker(launcher: Launcher) -> None:
    server = launcher.start({"SAGEMAKER_MODEL_SERVER_WORKERS": ""})
    parameters = json.loads(requests.get(f"{server.url}/execution-parameters", timeout=10).text)
    assert parameters["MaxConcurrentTransforms"] == (os.cpu_count() or 1)
    assert parameters["MaxPayloadInMB"] == 6


def worker_pids(server: Server) -> list[int]:
    """The gunicorn workers: the children of the master (`serve` itself)."""
    pid = server.process.pid
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text(encoding="ascii")
    return sorted(int(child) for child in children.split())


def ping_statuses_from_the_first_200(server: Server, seconds: float) -> list[int]:
    """GET /ping as fast as one client can, a new connection each time (so that every worker
    answers some): the statuses from the first 200 on, for `seconds` (0: no answer). Before
    the first 200, workers importing inference.py may leave a connection unanswered a while."""
    statuses: list[int] = []
    give_up = time.monotonic() + 60
    first_200: float | None = None
    while first_200 is None or time.monotonic() - first_200 < seconds:
        if first_200 is None and time.monotonic() > give_up:
            pytest.fail(f"serve never answered GET /ping with 200:\n{server.output()}")
        try:
            status = requests.get(f"{server.url}/ping", timeout=5).status_code
        except requests.RequestException:
            status = 0
        if first_200 is None and status == 200:
            first_200 = time.monotonic()
        if first_200 is not None:
            statuses.append(status)
    return statuses


def test_ping_never_answers_503_again_once_it_answered_200(launcher: Launcher) -> None:
    server = launcher.start(
        {
            "SAGEMAKER_MODEL_SERVER_WORKERS": "6",
            "TEST_LOAD_SECONDS": "0.5",
            "TEST_LOAD_JITTER": "2.5",  # the workers finish loading over 2.5 s
        },
        slow_hooks=True,
        wait=False,
    )
    statuses = ping_statuses_from_the_first_200(server, seconds=3.0)
    assert len(statuses) > 50
    assert {status: statuses.count(status) for status in statuses} == {200: len(statuses)}
    assert server.output().count("model loaded from") == 6


def test_a_worker_killed_later_is_replaced_while_the_others_answer_every_request(
    launcher: Launcher,
) -> None:
    server = launcher.start(
        {"SAGEMAKER_MODEL_SERVER_WORKERS": "3", "TEST_LOAD_SECONDS": "2"}, slow_hooks=True
    )
    before = worker_pids(server)
    assert len(before) == 3
    os.kill(before[0], signal.SIGKILL)  # as the kernel's out-of-memory killer would
    answers: list[tuple[str, int, str]] = []
    slowest = 0.0
    until = time.monotonic() + 4.0  # the replacement loads its model for 2 s of it
    while time.monotonic() < until:
        ping = requests.get(f"{server.url}/ping", timeout=5)
        answers.append(("ping", ping.status_code, ping.text))
        started = time.monotonic()
        answer = post(None, server.url, SETOSA)
        slowest = max(slowest, time.monotonic() - started)
        answers.append(("invocations", answer.status_code, answer.text))
    assert {answer for answer in answers} == {("ping", 200, "\n"), ("invocations", 200, "setosa\n")}
    assert slowest < 1.5  # no request waited for the replacement's model
    deadline = time.monotonic() + 20
    while server.output().count("model loaded from") < 4:
        assert time.monotonic() < deadline, server.output()
        time.sleep(0.1)
    after = worker_pids(server)
    assert len(after) == 3 and before[0] not in after
    assert f"Worker (pid:{before[0]}) was sent SIGKILL" in server.output()


def test_preload_runs_model_fn_once_in_the_master_before_the_workers_fork(
    launcher: Launcher,
) -> None:
    server = launcher.start({"SAGEMAKER_MODEL_SERVER_WORKERS": "3", "EASY_SM_PRELOAD": "true"})
    session = requests.Session()
    for _ in range(6):
        assert post(None, server.url, f"{SETOSA}\n{VIRGINICA}").text == "setosa\nvirginica\n"
    assert post(session, server.url, SETOSA).text == "setosa\n"
    deadline = time.monotonic() + 20  # forked workers answer at once: the last may still come
    while len(worker_pids(server)) < 3:
        assert time.monotonic() < deadline, server.output()
        time.sleep(0.1)
    output = server.output()
    assert "3 worker(s) x 4 thread(s), timeout 60 s, model preloaded before the fork" in output
    assert output.count("model loaded from") == 1
    assert f"[{server.process.pid}] [INFO] model loaded from" in output  # in the master


def test_preload_with_a_failing_model_fn_stops_before_any_worker_starts(
    launcher: Launcher,
) -> None:
    server = launcher.start(
        {"EASY_SM_PRELOAD": "true", "TEST_LOAD_FAILS": "1", "SAGEMAKER_MODEL_SERVER_WORKERS": "2"},
        slow_hooks=True,
        wait=False,
    )
    assert server.process.wait(30) == 3
    output = server.output()
    assert "RuntimeError: cannot load the model (test)" in output
    assert "Booting worker" not in output


def test_a_bad_preload_setting_stops_the_server_with_a_clear_message(launcher: Launcher) -> None:
    server = launcher.start({"EASY_SM_PRELOAD": "maybe"}, wait=False)
    assert server.process.wait(30) != 0
    assert "EASY_SM_PRELOAD='maybe' must be true or false" in server.output()
