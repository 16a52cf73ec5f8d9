"""`local train -c N`: a multi-instance training job as SageMaker runs it, on one engine.

N containers `algo-1` ... `algo-N` on a user-defined bridge network made for the run (each
resolvable by its host name), each with its own `/opt/ml` under `test_dir/hosts/algo-K/`:

  test_dir/hosts/algo-K            -> /opt/ml          (input/config, model, output)
  test_dir/input/data              -> /opt/ml/input/data   (every host sees every file), or
  test_dir/hosts/algo-K/input/data    that host's ShardedByS3Key share (--input-sharded)

Artifacts as SageMaker makes them: every host's `/opt/ml/model` (and `/opt/ml/output/data`)
is uploaded and merged into the one model.tar.gz (output.tar.gz); SageMaker asks containers
not to write clashing names. Here they are merged, in host order, into `test_dir/model` and
`test_dir/output/data`, with a warning per clashing name. Any host failing fails the job and
stops the others. Containers and the network are removed on success, failure and Ctrl-C.
"""

from __future__ import annotations

import os
import shlex
import shutil
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from easy_sm import console
from easy_sm.docker.code_archive import CODE_CHANNEL
from easy_sm.docker.containers import (
    STOP_GRACE_SECONDS,
    Mount,
    RunSpec,
    Sink,
    container_config,
    invoking_user,
)
from easy_sm.docker.engine_api import EngineApi, unix_socket_path
from easy_sm.docker.local_mode import (
    OPT_ML,
    LocalApp,
    base_environment,
    empty_folder,
    job_name,
    num_gpus,
    prepare_training,
    read_text_head,
    resource_config,
    training_environment,
    write_training_config,
)
from easy_sm.errors import DockerError, InterruptedByUser, JobFailedError, UsageError

MAX_HOSTS = 8
LABEL_RUN = "easy_sm.run"


@dataclass
class Host:
    name: str  # algo-K
    folder: Path  # test_dir/hosts/algo-K, its /opt/ml
    spec: RunSpec

    @property
    def failure_file(self) -> Path:
        return self.folder / "output" / "failure"


@dataclass
class MultiHostJob:
    name: str
    network: str
    run_id: str
    test_dir: Path
    hosts: list[Host] = field(default_factory=list)


def host_names(count: int) -> list[str]:
    return [f"algo-{k}" for k in range(1, count + 1)]


def channel_files(channel: Path) -> list[str]:
    """The files of a channel folder as S3 keys below it (posix), in key order."""
    found = [
        path.relative_to(channel).as_posix()
        for path in channel.rglob("*")
        if path.is_file() and not path.name.startswith(".")
    ]
    return sorted(found)


def shard(keys: list[str], count: int) -> list[list[str]]:
    """ShardedByS3Key: the keys in key order, dealt to the hosts in turn (key k to host
    k mod N), so each host gets about 1/N of the objects."""
    return [keys[index::count] for index in range(count)]


def _place(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)  # instant, and no extra disk space
    except OSError:
        shutil.copy2(source, target)


def prepare_multihost_training(
    app: LocalApp,
    hyperparameters: Mapping[str, str],
    user_env: Mapping[str, str],
    count: int,
    *,
    sharded: bool = False,
    gpus: int = 0,
) -> MultiHostJob:
    """Lay out one `/opt/ml` per host and return the job's container specs."""
    if not 1 <= count <= MAX_HOSTS:
        raise UsageError(
            f"-c/--instance-count {count}: local training runs 1 to {MAX_HOSTS} hosts",
            f"use at most {MAX_HOSTS} locally; the cloud `easy_sm train -c` takes more",
        )
    name = job_name(app.app_name)
    found, _failure = prepare_training(app, hyperparameters, name, gpus=gpus, sharded=sharded)
    test_dir = app.test_dir
    hosts_dir = test_dir / "hosts"
    if hosts_dir.is_dir() and not hosts_dir.is_symlink():
        shutil.rmtree(hosts_dir)
    run_id = uuid.uuid4().hex[:8]
    network = f"easy-sm-{app.app_name}-train-{run_id}"
    job = MultiHostJob(name=name, network=network, run_id=run_id, test_dir=test_dir)
    names = host_names(count)
    data = test_dir / "input" / "data"
    shares: dict[str, list[list[str]]] = {}
    if sharded:
        # the data channels are split; the `code` channel (--code) goes whole to every host
        shares = {
            channel: shard(channel_files(data / channel), 1 if channel == CODE_CHANNEL else count)
            for channel in found
        }
    gpu_count = num_gpus(gpus)
    for index, host in enumerate(names):
        folder = hosts_dir / host
        for sub in ("model", "output/data", "input/config", "input/data"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        mounts = [Mount(str(folder.resolve()), OPT_ML)]
        if sharded:
            for channel in found:
                (folder / "input" / "data" / channel).mkdir(parents=True, exist_ok=True)
                share = shares[channel][0 if channel == CODE_CHANNEL else index]
                for key in share:
                    _place(data / channel / key, folder / "input" / "data" / channel / key)
        else:
            mounts.append(Mount(str(data.resolve()), f"{OPT_ML}/input/data"))
        write_training_config(
            folder / "input" / "config",
            hyperparameters,
            data,
            found,
            resource_config(host, names, gpus),
            sharded=sharded,
        )
        env = {
            **base_environment(),
            **training_environment(
                app,
                name,
                hyperparameters,
                found,
                current_host=host,
                hosts=names,
                gpu_count=gpu_count,
            ),
            **user_env,
        }
        spec = RunSpec(
            image=app.image,
            command=["train"],
            app_name=app.app_name,
            kind="train",
            mounts=mounts,
            environment=env,
            user=invoking_user(),
            labels={LABEL_RUN: run_id},
            name=f"easy-sm-{app.app_name}-train-{run_id}-{host}",
            gpus=gpus,
            network=job.network,
            hostname=host,
        )
        job.hosts.append(Host(host, folder, spec))
    return job


class _Prefixer:
    """Writes a host's output line by line, each line prefixed `algo-2 | `, as compose does."""

    def __init__(self, host: str, width: int, sink: Sink, lock: threading.Lock) -> None:
        self.prefix = f"{host.ljust(width)} | ".encode()
        self.sink = sink
        self.lock = lock
        self.pending = b""

    def feed(self, chunk: bytes) -> None:
        lines = (self.pending + chunk).split(b"\n")
        self.pending = lines.pop()
        if lines:
            with self.lock:
                self.sink(b"".join(self.prefix + line + b"\n" for line in lines))

    def close(self) -> None:
        if self.pending:
            with self.lock:
                self.sink(self.prefix + self.pending + b"\n")
            self.pending = b""


def run_hosts(
    api: EngineApi,
    job: MultiHostJob,
    sink: Sink,
    on_start: Callable[[], None] | None = None,
) -> dict[str, int]:
    """Run every host of `job` to completion on its own network; return each host's exit
    code. When a host fails, the others are stopped (as SageMaker ends a failed job).
    Containers and the network are removed whatever happens; Ctrl-C raises InterruptedByUser.
    """
    api.ping()
    network_id = ""
    started: dict[str, str] = {}
    codes: dict[str, int] = {}
    errors: list[BaseException] = []
    failed = threading.Event()
    lock = threading.Lock()
    width = max(len(host.name) for host in job.hosts)

    def follow(host: Host, container_id: str) -> None:
        prefixer = _Prefixer(host.name, width, sink, lock)
        try:
            for _stream, chunk in api.follow_logs(container_id):
                prefixer.feed(chunk)
            prefixer.close()
            codes[host.name] = api.wait(container_id)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
            codes.setdefault(host.name, -1)
        if codes[host.name] != 0:
            failed.set()

    threads: list[threading.Thread] = []
    try:
        network_id = api.create_network(
            job.network, {"easy_sm.app": job.hosts[0].spec.app_name, LABEL_RUN: job.run_id}
        )
        for host in job.hosts:
            started[host.name] = api.create(host.spec.name, container_config(host.spec))
        for host in job.hosts:
            api.start(started[host.name])
        if on_start:
            on_start()
        for host in job.hosts:
            thread = threading.Thread(target=follow, args=(host, started[host.name]), daemon=True)
            thread.start()
            threads.append(thread)
        stopped = False
        while any(t.is_alive() for t in threads):
            if failed.is_set() and not stopped:
                stopped = True
                _stop_all(api, [started[h.name] for h in job.hosts if h.name not in codes])
            for thread in threads:
                thread.join(timeout=0.1)
        if errors and not isinstance(errors[0], DockerError):
            raise DockerError(f"following the containers failed: {errors[0]}")
        if errors:
            raise errors[0]
        return codes
    except KeyboardInterrupt:
        console.info(
            f"stopping the {len(started)} containers of {job.name} "
            f"(SIGTERM, SIGKILL after {STOP_GRACE_SECONDS} s)…"
        )
        _stop_all(api, list(started.values()))
        raise InterruptedByUser(
            f"interrupted: stopped and removed the {len(job.hosts)} containers of {job.name}"
        ) from None
    finally:
        # by name where the id is unknown: an interrupted create may still have made it
        for host in job.hosts:
            api.remove(started.get(host.name, host.spec.name))
        api.remove_network(network_id or job.network)


def _stop_all(api: EngineApi, container_ids: list[str]) -> None:
    """Stop containers in parallel (SIGTERM, SIGKILL after the grace period)."""
    workers = [
        threading.Thread(target=api.stop, args=(cid, STOP_GRACE_SECONDS), daemon=True)
        for cid in container_ids
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()


def collect_artifacts(job: MultiHostJob) -> list[str]:
    """Merge every host's model/ into test_dir/model and output/data/ into
    test_dir/output/data (host order; a later host's file replaces an earlier one's).
    Returns one line per clashing name, naming the hosts."""
    clashes: list[str] = []
    for sub in ("model", "output/data"):
        target = job.test_dir / sub
        target.mkdir(parents=True, exist_ok=True)
        empty_folder(target)
        owner: dict[str, str] = {}
        for host in job.hosts:
            source = host.folder / sub
            for path in sorted(source.rglob("*")):
                if path.is_dir() and not path.is_symlink():
                    continue
                rel = path.relative_to(source).as_posix()
                if rel in owner:
                    clashes.append(f"{sub}/{rel} written by {owner[rel]} and {host.name}")
                owner[rel] = host.name
                destination = target / rel
                destination.parent.mkdir(parents=True, exist_ok=True)
                if destination.is_symlink() or destination.exists():
                    destination.unlink()
                shutil.copy2(path, destination, follow_symlinks=False)
    return clashes


def train_on_hosts(
    local: LocalApp,
    values: dict[str, str],
    user_env: dict[str, str],
    count: int,
    sharded: bool,
    gpus: int,
    *,
    sink: Sink,
) -> MultiHostJob:
    """`local train -c N`: lay out the hosts, run them, merge their artifacts as SageMaker
    merges them. Raises JobFailedError naming the failed host(s) with their failure files."""
    socket_path = unix_socket_path()
    if socket_path is None:
        raise DockerError(
            "multi-instance local training needs a local Docker engine (a unix socket)",
            "unset DOCKER_HOST or point it at unix:///..., or train with -c 1",
        )
    api = EngineApi(socket_path)
    api.ping()
    job = prepare_multihost_training(local, values, user_env, count, sharded=sharded, gpus=gpus)
    for host in job.hosts:
        console.detail(shlex.join(host.spec.docker_argv()))

    def announce() -> None:
        console.info(
            f"running {local.image} train on {count} hosts "
            f"({', '.join(h.name for h in job.hosts)}) on network {job.network}"
        )

    codes = run_hosts(api, job, sink, on_start=announce)
    failed = [name for name, code in codes.items() if code != 0]
    if failed:
        raise _host_failed(job, codes, failed)
    for clash in collect_artifacts(job):
        console.warn(f"{clash}: SageMaker's model.tar.gz would hold only one of them")
    return job


def _host_failed(job: MultiHostJob, codes: dict[str, int], failed: list[str]) -> JobFailedError:
    """One line: the host that failed first, the first line of its failure file, where the
    full text is (its output was shown live, prefixed by its name)."""
    first = failed[0]
    host = next(h for h in job.hosts if h.name == first)
    message = f"local training failed on {first} (exit {codes[first]})"
    others = [h.name for h in job.hosts if h.name in failed and h.name != first]
    stopped = f" ({', '.join(others)} stopped with it)" if others else ""
    lines = read_text_head(host.failure_file).splitlines()
    rerun = "fix it, then run `easy_sm local train` again"
    exit_code = codes[first] if codes[first] > 0 else None
    if lines:
        return JobFailedError(
            f"{message}: {lines[0]}{stopped}",
            f"full text in {host.failure_file}; {rerun}",
            exit_code=exit_code,
        )
    return JobFailedError(
        f"{message}{stopped}",
        f"see its output above (prefixed {first}) and {host.folder}; {rerun}",
        exit_code=exit_code,
    )
