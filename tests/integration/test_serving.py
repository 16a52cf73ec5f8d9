"""The template's model server in the real container: `easy_sm local deploy` of the example app
(built once per session, see conftest.py), predictions, bad requests, and SIGTERM."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from tests.conftest import free_port
from tests.integration.conftest import remove_image_everywhere, run_cli
from tests.unit.test_serving_gunicorn import SLOW_INFERENCE

pytestmark = pytest.mark.docker

BASE = Path("ex-app/easy_sm_base")
SETOSA = "5.1,3.5,1.4,0.2"
VERSICOLOR = "6.0,2.9,4.5,1.5"
VIRGINICA = "6.7,3.0,5.2,2.3"


@pytest.fixture(scope="module")
def trained_project(
    example_project: Path, example_image: str, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A copy of the example project in which `easy_sm local train` has run."""
    project = tmp_path_factory.mktemp("serving") / "project"
    shutil.copytree(example_project, project)
    code, _out, err = run_cli(["local", "train"], project)
    assert code == 0, err
    assert (project / BASE / "local_test/test_dir/model/model.joblib").is_file()
    return project


def deploy(project: Path, port: int, *extra: str) -> str:
    code, out, err = run_cli(
        ["local", "deploy", "-p", str(port), "--timeout", "120", *extra], project
    )
    assert code == 0, err
    return out.strip()


@pytest.fixture(scope="module")
def endpoint(trained_project: Path) -> Iterator[str]:
    """`easy_sm local deploy` of the example model; stopped after this module."""
    port = free_port()
    url = deploy(trained_project, port)
    assert url == f"http://127.0.0.1:{port}"
    try:
        yield url
    finally:
        run_cli(["local", "stop", "-p", str(port)], trained_project)


def server_log(docker_client: object, url: str) -> str:
    port = url.rsplit(":", 1)[1]
    (container,) = docker_client.containers.list(  # type: ignore[attr-defined]
        filters={"label": ["easy_sm.app=ex-app", f"easy_sm.port={port}"]}
    )
    return str(container.logs().decode("utf-8", "replace"))


def post(
    url: str,
    body: str | bytes,
    content_type: str = "text/csv",
    accept: str | None = None,
    session: requests.Session | None = None,
) -> requests.Response:
    headers = {"Content-Type": content_type}
    if accept:
        headers["Accept"] = accept
    return (session or requests).post(f"{url}/invocations", data=body, headers=headers, timeout=60)


def test_deployed_model_predicts_csv_and_json(endpoint: str) -> None:
    assert requests.get(f"{endpoint}/ping", timeout=2).status_code == 200

    answer = post(endpoint, f"{SETOSA}\n{VERSICOLOR}\n{VIRGINICA}\n")
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "text/csv"
    assert answer.text == "setosa\nversicolor\nvirginica\n"

    answer = post(
        endpoint,
        json.dumps({"instances": [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]}),
        "application/json",
        "application/json",
    )
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "application/json"
    assert answer.json() == {"predictions": ["setosa", "virginica"]}

    answer = post(endpoint, f"[[{VERSICOLOR}]]", "application/json")
    assert (answer.status_code, answer.text) == (200, "versicolor\n")


def test_a_multi_record_batch_of_many_csv_lines_is_predicted_in_order(endpoint: str) -> None:
    lines = [SETOSA, VERSICOLOR, VIRGINICA] * 10_000
    answer = post(endpoint, "\n".join(lines) + "\n")
    assert answer.status_code == 200
    assert answer.text.splitlines() == ["setosa", "versicolor", "virginica"] * 10_000


def test_execution_parameters_answer_as_the_contract_describes(endpoint: str) -> None:
    answer = requests.get(f"{endpoint}/execution-parameters", timeout=5)
    assert answer.status_code == 200
    parameters = answer.json()
    assert parameters["BatchStrategy"] == "MULTI_RECORD"
    assert parameters["MaxPayloadInMB"] == 6
    assert parameters["MaxConcurrentTransforms"] >= 1


@pytest.mark.parametrize(
    ("body", "content_type", "accept", "status", "message"),
    [
        (SETOSA, "text/plain", None, 415, "unsupported content type 'text/plain'"),
        ("5.1,3.5,oops,0.2", "text/csv", None, 400, "could not convert string to float"),
        ('{"instances": [[5.1, 3.5', "application/json", None, 400, "malformed application/json"),
        ("5.1,3.5,1.4", "text/csv", None, 400, "the model expects 4, got 3"),
        (SETOSA, "text/csv", "application/xml", 406, "cannot answer in 'application/xml'"),
        ((SETOSA + "\n") * 420_000, "text/csv", None, 413, "SAGEMAKER_MAX_PAYLOAD_IN_MB=6"),
    ],
    ids=[
        "unsupported-type",
        "malformed-csv",
        "malformed-json",
        "wrong-feature-count",
        "unacceptable",
        "over-6-MB",
    ],
)
def test_each_bad_request_gets_its_4xx_and_the_next_request_succeeds(
    endpoint: str, body: str, content_type: str, accept: str | None, status: int, message: str
) -> None:
    session = requests.Session()
    answer = post(endpoint, body, content_type, accept, session)
    assert answer.status_code == status
    assert message in answer.text
    following = post(endpoint, VIRGINICA, session=session)
    assert (following.status_code, following.text) == (200, "virginica\n")


def test_a_model_error_answers_500_with_the_traceback_in_the_log_and_serving_goes_on(
    endpoint: str, docker_client: object
) -> None:
    answer = post(endpoint, "nan,3.5,1.4,0.2")
    assert answer.status_code == 500
    assert "model error: ValueError: Input X contains NaN" in answer.text
    log = server_log(docker_client, endpoint)
    assert "Traceback (most recent call last)" in log
    assert "prediction failed" in log
    assert post(endpoint, SETOSA).text == "setosa\n"


@pytest.fixture
def slow_project(trained_project: Path, tmp_path: Path) -> Iterator[Path]:
    """A copy of the trained project whose inference.py sleeps TEST_PREDICT_SECONDS in
    predict_fn, built under its own tag (every layer but the code comes from the cache)."""
    project = tmp_path / "slow"
    shutil.copytree(trained_project, project)
    (project / BASE / "prediction/inference.py").write_text(SLOW_INFERENCE, encoding="utf-8")
    config_path = project / "ex-app.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config["docker_tag"] = f"{config['docker_tag']}-slow"
    config_path.write_text(json.dumps(config, indent=4) + "\n", encoding="utf-8")
    code, out, err = run_cli(["build"], project)
    assert code == 0, err
    try:
        yield project
    finally:
        run_cli(["local", "stop"], project)
        remove_image_everywhere(out.strip())


def test_sigterm_during_a_slow_request_lets_it_finish(slow_project: Path) -> None:
    port = free_port()
    url = deploy(slow_project, port, "--env", "TEST_PREDICT_SECONDS=4")
    with ThreadPoolExecutor(1) as pool:
        slow = pool.submit(post, url, f"{SETOSA}\n{VIRGINICA}")
        time.sleep(1.5)  # the request is inside predict_fn
        stopping = time.monotonic()
        code, _out, err = run_cli(["local", "stop", "-p", str(port)], slow_project)
        stopped_after = time.monotonic() - stopping
        answer = slow.result(60)
    assert code == 0, err
    assert (answer.status_code, answer.text) == (200, "setosa\nvirginica\n")
    # `local stop` sends SIGTERM and waits 30 s before SIGKILL: the server exited by itself.
    assert stopped_after < 25
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{url}/ping", timeout=2)


def test_ping_never_answers_503_after_local_deploy_returned(slow_project: Path) -> None:
    """Four workers whose model_fn takes 0.2-1.7 s: `local deploy` returns on the first 200,
    and from then on every GET /ping (a new connection each, so every worker answers some)
    is 200. Three deploys in a row."""
    # Under an app name of its own, so that `local stop` of ex-app (by a test session running
    # beside this one) leaves these deployments alone.
    shutil.copy(slow_project / "ex-app.json", slow_project / "ready-probe.json")
    for _ in range(3):
        port = free_port()
        url = deploy(
            slow_project,
            port,
            *("-a", "ready-probe"),
            *("--env", "SAGEMAKER_MODEL_SERVER_WORKERS=4"),
            *("--env", "TEST_LOAD_SECONDS=0.2"),
            *("--env", "TEST_LOAD_JITTER=1.5"),
        )
        statuses: list[int] = []
        try:
            until = time.monotonic() + 2.0  # past the slowest worker's load
            while time.monotonic() < until:
                statuses.append(requests.get(f"{url}/ping", timeout=5).status_code)
        finally:
            run_cli(["local", "stop", "-a", "ready-probe", "-p", str(port)], slow_project)
        assert len(statuses) > 30
        assert {status: statuses.count(status) for status in statuses} == {200: len(statuses)}
