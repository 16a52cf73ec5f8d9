"""`local train -c N` on the real engine: three hosts on a network of their own exchange a
message over TCP (names resolve, ports connect), shard the data, merge their artifacts, and
leave no container or network behind, whether the job succeeds or a host fails."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import SESSION_ID, remove_image_everywhere, run_cli

pytestmark = pytest.mark.docker

BASE = Path("ex-app/easy_sm_base")
TEST_DIR = BASE / "local_test/test_dir"
DISTRIBUTED = Path(__file__).parent / "data" / "distributed_training.py"


@pytest.fixture(scope="module")
def distributed_project(
    example_project: Path, example_image: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    """The example project with the distributed training.py, under a tag of its own (the
    first `local train` builds it: every layer but the code comes from the cache)."""
    project = tmp_path_factory.mktemp("multihost") / "project"
    shutil.copytree(example_project, project)
    shutil.copy(DISTRIBUTED, project / BASE / "training/training.py")
    data = project / TEST_DIR / "input/data/training"
    shutil.rmtree(data)
    data.mkdir()
    for k in range(1, 8):
        (data / f"part-{k}.txt").write_text(f"{k}\n")
    config_path = project / "ex-app.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config["docker_tag"] = f"pytest-{SESSION_ID}-multihost"
    config_path.write_text(json.dumps(config), encoding="utf-8")
    try:
        yield project
    finally:
        remove_image_everywhere(f"ex-app:{config['docker_tag']}")


def leftovers(docker_client: object, stderr: str) -> tuple[list[object], list[object]]:
    """The run's containers and network, found by the network name the run announced."""
    network = re.search(r"on network (easy-sm-ex-app-train-([0-9a-f]+))", stderr)
    assert network, stderr
    containers = docker_client.containers.list(  # type: ignore[attr-defined]
        all=True, filters={"label": f"easy_sm.run={network.group(2)}"}
    )
    networks = docker_client.networks.list(names=[network.group(1)])  # type: ignore[attr-defined]
    return containers, networks


def test_three_hosts_resolve_each_other_shard_the_data_and_merge_their_models(
    distributed_project: Path, docker_client: object
) -> None:
    code, out, err = run_cli(["local", "train", "-c", "3", "--input-sharded"], distributed_project)
    assert code == 0, err
    test_dir = distributed_project / TEST_DIR
    assert out == f"{test_dir / 'model'}\n"
    # algo-2 and algo-3 reached algo-1 by name on port 7777, and got the reduced total back
    reduced = json.loads((test_dir / "model/reduced.json").read_text())
    assert reduced == {"total": 28, "peers": ["algo-2", "algo-3"]}
    shares = {}
    for host in ("algo-1", "algo-2", "algo-3"):
        written = json.loads((test_dir / f"model/{host}.json").read_text())
        assert written["total"] == 28
        assert written["env"]["SM_CURRENT_HOST"] == host
        assert json.loads(written["env"]["SM_HOSTS"]) == ["algo-1", "algo-2", "algo-3"]
        assert written["env"]["SM_NETWORK_INTERFACE_NAME"] == "eth0"
        shares[host] = written["files"]
        # each host's own files stay inspectable
        assert (test_dir / f"hosts/{host}/model/{host}.json").is_file()
        config = json.loads(
            (test_dir / f"hosts/{host}/input/config/resourceconfig.json").read_text()
        )
        assert config["current_host"] == host
    assert shares == {
        "algo-1": ["part-1.txt", "part-4.txt", "part-7.txt"],
        "algo-2": ["part-2.txt", "part-5.txt"],
        "algo-3": ["part-3.txt", "part-6.txt"],
    }
    assert "algo-2 | algo-2: my files" in err
    assert leftovers(docker_client, err) == ([], [])


def test_a_failing_host_fails_the_job_with_its_failure_and_cleans_up(
    distributed_project: Path, docker_client: object
) -> None:
    code, out, err = run_cli(
        ["local", "train", "-c", "3", "--hyperparameters", "fail_on=algo-2"], distributed_project
    )
    assert code == 255, err
    assert out == ""
    failure = distributed_project / TEST_DIR / "hosts/algo-2/output/failure"
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert errors == [
        "error: local training failed on algo-2 (exit 255): RuntimeError: boom on algo-2 "
        "(algo-1, algo-3 stopped with it) — "
        f"full text in {failure}; fix it, then run `easy_sm local train` again"
    ]
    assert "algo-2 | RuntimeError: boom on algo-2" in err  # its output, live
    assert "boom on algo-2" in failure.read_text()
    assert leftovers(docker_client, err) == ([], [])


def test_ctrl_c_stops_and_removes_every_host_and_the_network(
    distributed_project: Path, docker_client: object
) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "easy_sm",
            "local",
            "train",
            "-c",
            "2",
            "--hyperparameters",
            "hold=60",
        ],
        cwd=distributed_project,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        announced = ""
        while "on network" not in announced:
            line = proc.stderr.readline()
            assert line, "easy_sm ended before starting the hosts"
            announced += line
        run_id = re.search(r"easy-sm-ex-app-train-([0-9a-f]+)", announced).group(1)  # type: ignore[union-attr]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            running = docker_client.containers.list(  # type: ignore[attr-defined]
                filters={"label": f"easy_sm.run={run_id}", "status": "running"}
            )
            if len(running) == 2:
                break
            time.sleep(0.2)
        assert len(running) == 2, "the hosts never started"
        proc.send_signal(signal.SIGINT)
        _out, rest = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, rest
    assert "stopped and removed the 2 containers" in rest
    assert leftovers(docker_client, announced) == ([], [])
